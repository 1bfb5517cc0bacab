/* The workstation: `glmterm [chat]` — the libuv loop that couples the curses interface, the
 * engine thread and the conversation files.
 *
 * One loop on the main thread owns every uv handle, every curses call and all UI state:
 *   - stdin: uv_poll readable -> ui_screen_read until it says nothing is pending (curses
 *     buffers input the fd poll cannot see);
 *   - SIGWINCH: uv_signal -> ui_screen_resize (libuv's handler replaces curses' own);
 *   - the engine: its sink (engine thread) copies each event into `evq` under a mutex and calls
 *     uv_async_send; the async callback drains the whole queue;
 *   - a one-second timer checkpoints a streaming reply (history partial records) and ticks
 *     the clock on the status bar while loading or generating;
 *   - a uv_check handle redraws at most once per loop turn, only when something is dirty.
 * The model loads on the libuv threadpool (file mapping and validation, not inference) while
 * the interface is already usable; inference runs on the engine's own thread.
 *
 * Data model: the conversation is the history file's message tree (app_hist_conv); the chat
 * pane shows the current branch (`path`), one cached rendering (`struct view`) per message,
 * re-rendered when its text or the width changes; drawing walks only the visible lines.
 */
#include "app/app.h"
#include "app/config_int.h"
#include "app/history_int.h"
#include "engine/engine.h"
#include "ui/ui.h"

#include <curses.h> /* KEY_* constants only: ui/ makes every curses call */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define LIST_WIDTH     28 /* conversation list pane, columns */
#define INPUT_MAX_ROWS 10 /* the input editor grows up to this many text rows */

enum { PANE_CHAT = 1, PANE_LIST = 2 };
enum focus { FOCUS_INPUT, FOCUS_CHAT, FOCUS_LIST };

/* One engine event, copied off the engine thread. */
struct evnode {
    struct eng_event ev;
    int32_t *ids;
    char *message;
    struct evnode *next;
};

/* The rendering of one message of the current branch. */
struct view {
    int32_t idx;             /* message index in conv */
    int width;               /* width it was rendered at, 0 = stale */
    size_t text_len;         /* length of the text it was rendered from */
    int first_code;          /* code blocks numbered before this message's */
    uint32_t sib_pos, n_sib; /* this message is branch sib_pos of n_sib (1-based) */
    int n_code;              /* code blocks in this message */
    struct ui_lines lines;
};

struct tui {
    uv_loop_t *loop;
    uv_poll_t in_poll;
    uv_signal_t sig_winch, sig_term, sig_hup;
    uv_async_t async;
    uv_timer_t tick;
    uv_check_t redraw;
    uv_work_t load_work;
    bool quitting;

    /* engine events queue (shared with the engine thread) */
    pthread_mutex_t qmu;
    struct evnode *qhead, *qtail;

    /* model */
    char *model_arg;  /* as given (-m, /model) */
    char *model_path; /* resolved */
    char *model_name; /* shown in the status bar */
    bool loading;
    double load_started;
    _Atomic int load_permille; /* progress of reading the weights, from the load thread */
    _Atomic bool load_cancel;
    char *load_error;
    struct tok_vocab *vocab; /* load results, handed over in after_load */
    struct eng_model *model;
    struct eng_session *session;
    struct eng_engine *engine;
    enum tok_template_kind kind;
    bool demo;
    struct eng_sampler_params sampling;
    bool random_seed; /* a new seed per generation (no seed configured) */
    enum eng_kv_type kv_type;
    int32_t n_threads; /* compute threads; 0 = physical cores */
    bool mlock;        /* --mlock: lock each loaded model's weights in RAM */
    bool mlock_failed; /* the load failed there: the program ends with status 1 */
    char *fatal;       /* printed on stderr once the terminal is restored */
    char *profile;     /* the config profile in use, or NULL */
    int32_t n_predict;
    int32_t n_ctx;

    /* generation */
    bool generating;
    uint64_t req_id;
    int32_t reply_idx;
    struct tok_stream stream;
    struct tok_buf reply;
    double gen_started, first_token_at;
    int32_t n_gen, n_prompt, ctx_used;
    double last_ttft_ms, last_tps;

    /* conversation */
    struct app_hist_conv *conv;
    int32_t *path;
    size_t n_path;
    struct view *views;
    size_t n_views;
    int32_t editing; /* /edit: the user message being replaced, or -1 */

    /* interface */
    struct theme theme;
    struct ui_editor *editor;
    struct ui_layout *layout;
    enum focus focus;
    bool show_list;
    bool follow; /* chat pinned to the bottom */
    size_t top;  /* first chat line shown when not following */
    int chat_h, chat_w;
    bool help; /* F1 overlay */
    size_t help_top;
    struct ui_lines overlay; /* help or /tokens text */
    char overlay_title[64];
    bool quit_armed;  /* Ctrl-C pressed once while idle */
    bool send_alt;    /* config keys.send = alt-enter */
    char notice[512]; /* one-line status message */
    enum theme_role notice_role;
    struct app_hist_list list;
    size_t list_sel;
    char list_filter[128]; /* typed in the list pane: a search over every conversation */
    unsigned list_gen;     /* list refreshes asked for; a job's result counts if it is the last */
    bool list_busy;        /* a list job runs on the threadpool */
    bool list_again;       /* another refresh was asked for meanwhile */
    struct ui_rect main_area;
    int code_blocks; /* fenced code blocks seen in the rendering (for /copy) */
    bool dirty;
    int exit_status;
};

static struct tui *g_tui; /* for the fatal-signal path only */

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void notice(struct tui *t, enum theme_role role, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void notice(struct tui *t, enum theme_role role, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->notice, sizeof t->notice, fmt, ap);
    va_end(ap);
    for (char *p = t->notice; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
    t->notice_role = role;
    t->dirty = true;
}

/* ---- conversation views ------------------------------------------------------------------ */

static void views_reset(struct tui *t)
{
    for (size_t i = 0; i < t->n_views; i++)
        ui_lines_done(&t->views[i].lines);
    free(t->views);
    t->views = NULL;
    t->n_views = 0;
}

/* Rebuilds the current branch and its (stale) views. */
static void path_refresh(struct tui *t)
{
    free(t->path);
    t->path = NULL;
    t->n_path = 0;
    views_reset(t);
    if (!t->conv || t->conv->leaf < 0) return;
    if (app_hist_path(t->conv, t->conv->leaf, &t->path, &t->n_path) != 0) return;
    t->views = calloc(t->n_path ? t->n_path : 1, sizeof *t->views);
    if (!t->views) return;
    t->n_views = t->n_path;
    for (size_t i = 0; i < t->n_path; i++)
        t->views[i].idx = t->path[i];
    /* Branch positions in one pass over the tree: count each parent's children, and note the
     * rank of every message of the branch among its siblings (file order). */
    size_t n = t->conv->n_msgs;
    uint32_t *count = calloc(n + 1, sizeof *count); /* index parent + 1 */
    int32_t *on_path = malloc((n ? n : 1) * sizeof *on_path);
    if (count && on_path) {
        for (size_t i = 0; i < n; i++)
            on_path[i] = -1;
        for (size_t i = 0; i < t->n_path; i++)
            on_path[t->path[i]] = (int32_t)i;
        for (size_t i = 0; i < n; i++) {
            uint32_t *c = &count[t->conv->msgs[i].parent + 1];
            (*c)++;
            if (on_path[i] >= 0) t->views[on_path[i]].sib_pos = *c;
        }
        for (size_t i = 0; i < t->n_path; i++)
            t->views[i].n_sib = count[t->conv->msgs[t->path[i]].parent + 1];
    }
    free(count);
    free(on_path);
    t->dirty = true;
}

static const char *role_label(const struct app_hist_msg *m)
{
    switch (m->role) {
    case APP_HIST_SYSTEM: return "system";
    case APP_HIST_USER: return "you";
    case APP_HIST_ASSISTANT: return "glm";
    case APP_HIST_OBSERVATION: return "tool";
    }
    return "?";
}

static enum theme_role role_theme(const struct app_hist_msg *m)
{
    switch (m->role) {
    case APP_HIST_SYSTEM: return THEME_SYSTEM;
    case APP_HIST_USER: return THEME_USER;
    case APP_HIST_ASSISTANT: return THEME_ASSISTANT;
    case APP_HIST_OBSERVATION: return THEME_OBSERVATION;
    }
    return THEME_NORMAL;
}

/* The text shown for a message: the reply being streamed comes from t->reply. */
static const char *view_text(const struct tui *t, const struct app_hist_msg *m, int32_t idx,
                             size_t *len)
{
    if (t->generating && idx == t->reply_idx) {
        *len = t->reply.len;
        return t->reply.s ? t->reply.s : "";
    }
    *len = strlen(m->content);
    return m->content;
}

/* Renders one message: a header line (label, branch position, model, timings, state), the
 * body as markdown (assistant) or plain wrapped text, and a blank separator line. */
static void view_render(struct tui *t, struct view *v, int width)
{
    const struct app_hist_msg *m = &t->conv->msgs[v->idx];
    size_t len;
    const char *text = view_text(t, m, v->idx, &len);
    ui_lines_clear(&v->lines);
    char head[256];
    int off = snprintf(head, sizeof head, "%s", role_label(m));
    if (v->n_sib > 1)
        off += snprintf(head + off, sizeof head - (size_t)off, "  ‹%u/%u›", (unsigned)v->sib_pos,
                        (unsigned)v->n_sib);
    if (m->metadata && *m->metadata)
        off += snprintf(head + off, sizeof head - (size_t)off, "  ⚙ %s", m->metadata);
    if (m->role == APP_HIST_ASSISTANT && m->timings.present)
        off += snprintf(head + off, sizeof head - (size_t)off, "  · %.0f tok/s · ttft %.2f s",
                        m->timings.tokens_per_s, m->timings.ttft_ms / 1000.0);
    if (t->generating && v->idx == t->reply_idx)
        snprintf(head + off, sizeof head - (size_t)off, "  · generating…");
    else if (!m->complete)
        snprintf(head + off, sizeof head - (size_t)off, "  · incomplete");
    ui_wrap_plain(head, strlen(head), width, role_theme(m), &v->lines);
    /* GLM-4 replies start with their metadata line: an empty one for plain text. */
    v->text_len = len; /* what views_update compares: the full text, before the strip below */
    if (m->role == APP_HIST_ASSISTANT && len > 0 && text[0] == '\n') text++, len--;
    int counter = t->code_blocks;
    v->first_code = counter;
    if (m->role == APP_HIST_ASSISTANT || m->role == APP_HIST_SYSTEM)
        ui_md_render(text, len, width, THEME_NORMAL, &counter, &v->lines);
    else
        ui_wrap_plain(text, len, width, THEME_NORMAL, &v->lines);
    v->n_code = counter - v->first_code;
    t->code_blocks = counter;
    ui_wrap_plain("", 0, width, THEME_NORMAL, &v->lines);
    v->width = width;
}

/* Renders stale views (width change, streaming text). Code block numbers count through the
 * branch, so everything after a changed view is renumbered too. */
static void views_update(struct tui *t, int width)
{
    bool renumber = false;
    t->code_blocks = 0;
    for (size_t i = 0; i < t->n_views; i++) {
        struct view *v = &t->views[i];
        const struct app_hist_msg *m = &t->conv->msgs[v->idx];
        size_t len;
        view_text(t, m, v->idx, &len);
        bool streaming = t->generating && v->idx == t->reply_idx;
        if (renumber || v->width != width || streaming || v->text_len != len) {
            view_render(t, v, width);
            renumber = true;
        } else {
            t->code_blocks = v->first_code + v->n_code;
        }
    }
}

static size_t total_lines(const struct tui *t)
{
    size_t n = 0;
    for (size_t i = 0; i < t->n_views; i++)
        n += t->views[i].lines.n;
    return n;
}

/* ---- the prompt -------------------------------------------------------------------------- */

/* The current branch as GLM-4 messages (borrowing the conversation's strings). */
static struct tok_message *branch_messages(const struct tui *t, size_t upto, size_t *n)
{
    struct tok_message *msgs = calloc(upto ? upto : 1, sizeof *msgs);
    if (!msgs) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < upto; i++) {
        const struct app_hist_msg *m = &t->conv->msgs[t->path[i]];
        msgs[k].role = app_hist_role_name(m->role);
        msgs[k].content = m->content;
        msgs[k].metadata = m->metadata;
        k++;
    }
    *n = k;
    return msgs;
}

/* Builds the prompt ids for the branch up to (not including) path position `upto`, with a
 * generation prompt; fills turn starts (positions of role tokens) and the kept prefix. */
static int build_prompt(struct tui *t, size_t upto, struct tok_prompt *p, struct tok_ids *turns,
                        int32_t *n_keep, char **why)
{
    size_t n;
    struct tok_message *msgs = branch_messages(t, upto, &n);
    if (!msgs) return -1;
    memset(p, 0, sizeof *p);
    int rc = tok_prompt_build(t->vocab, t->kind, msgs, n, NULL, true, p, why);
    free(msgs);
    if (rc != TOK_OK) return -1;
    *n_keep = 0;
    for (size_t i = 0; i < p->ids.n; i++) {
        int32_t id = p->ids.v[i];
        if (id == TOK_GLM4_USER || id == TOK_GLM4_ASSISTANT || id == TOK_GLM4_OBSERVATION ||
            id == TOK_GLM4_SYSTEM) {
            tok_ids_push(turns, (int32_t)i);
        }
    }
    /* Keep everything before the first non-system turn (system prompt and tools). */
    for (size_t i = 0; i < turns->n; i++) {
        if (p->ids.v[turns->v[i]] != TOK_GLM4_SYSTEM) {
            *n_keep = turns->v[i];
            break;
        }
    }
    return 0;
}

/* ---- engine events (engine thread -> loop) ---------------------------------------------- */

static int engine_sink(const struct eng_event *ev, void *user)
{
    struct tui *t = user;
    struct evnode *n = calloc(1, sizeof *n);
    if (!n) return 0; /* dropped: the DONE event still arrives from later allocations */
    n->ev = *ev;
    if (ev->type == ENG_EVENT_TOKENS && ev->n_ids > 0) {
        n->ids = malloc((size_t)ev->n_ids * sizeof *n->ids);
        if (n->ids)
            memcpy(n->ids, ev->ids, (size_t)ev->n_ids * sizeof *n->ids);
        else
            n->ev.n_ids = 0;
    }
    n->ev.ids = n->ids;
    n->ev.logits = NULL;
    if (ev->message) n->message = strdup(ev->message);
    n->ev.message = n->message;
    pthread_mutex_lock(&t->qmu);
    if (t->qtail)
        t->qtail->next = n;
    else
        t->qhead = n;
    t->qtail = n;
    pthread_mutex_unlock(&t->qmu);
    uv_async_send(&t->async);
    return 0;
}

static void finish_reply(struct tui *t, bool complete, const char *why_text)
{
    if (!t->generating) return;
    tok_stream_flush(&t->stream, &t->reply);
    double gen_s = (now_ms() - t->first_token_at) / 1000.0;
    struct app_hist_timings tm = {.present = true,
                                  .ttft_ms = t->last_ttft_ms,
                                  .tokens_per_s =
                                      t->n_gen > 1 && gen_s > 0 ? (t->n_gen - 1) / gen_s : 0,
                                  .n_gen = t->n_gen,
                                  .n_prompt = t->n_prompt};
    t->last_tps = tm.tokens_per_s;
    char *why = NULL;
    if (app_hist_reply_finish(t->conv, t->reply_idx, t->reply.s ? t->reply.s : "", t->reply.len,
                              NULL, &tm, complete, &why) != 0) {
        notice(t, THEME_ERROR, "history: %s", why ? why : "write failed");
        free(why);
    }
    t->generating = false;
    if (why_text) notice(t, complete ? THEME_DIM : THEME_WARNING, "%s", why_text);
    path_refresh(t);
}

static void on_async(uv_async_t *h)
{
    struct tui *t = h->data;
    pthread_mutex_lock(&t->qmu);
    struct evnode *n = t->qhead;
    t->qhead = t->qtail = NULL;
    pthread_mutex_unlock(&t->qmu);
    while (n) {
        struct evnode *next = n->next;
        const struct eng_event *ev = &n->ev;
        if (t->generating && ev->request == t->req_id) {
            switch (ev->type) {
            case ENG_EVENT_TOKENS:
                if (t->n_gen == 0) {
                    t->first_token_at = now_ms();
                    t->last_ttft_ms = t->first_token_at - t->gen_started;
                }
                for (int32_t i = 0; i < ev->n_ids; i++)
                    tok_stream_feed(&t->stream, t->vocab, ev->ids[i], &t->reply);
                t->n_gen += ev->n_ids;
                t->ctx_used += ev->n_ids;
                app_hist_reply_partial(t->conv, t->reply_idx, t->reply.s ? t->reply.s : "",
                                       t->reply.len, NULL);
                t->dirty = true;
                break;
            case ENG_EVENT_TRUNCATED:
                notice(t, THEME_WARNING,
                       "the conversation outgrew the context: %d tokens of old turns dropped",
                       (int)ev->n_dropped);
                break;
            case ENG_EVENT_DONE: {
                t->n_prompt = ev->timings.n_prefill + ev->timings.n_reused;
                const char *why = ev->stop == ENG_STOP_CANCELLED ? "cancelled"
                                  : ev->stop == ENG_STOP_CONTEXT ? "stopped: the context is full"
                                  : ev->stop == ENG_STOP_LENGTH  ? "stopped: token limit"
                                                                 : NULL;
                finish_reply(t, ev->stop == ENG_STOP_EOS || ev->stop == ENG_STOP_LENGTH, why);
                break;
            }
            case ENG_EVENT_ERROR: finish_reply(t, false, ev->message); break;
            case ENG_EVENT_LOGITS: break;
            }
        }
        free(n->ids);
        free(n->message);
        free(n);
        n = next;
    }
}

/* ---- generation ------------------------------------------------------------------------- */

static void start_reply(struct tui *t)
{
    char *why = NULL;
    if (!t->engine) {
        notice(t, THEME_WARNING,
               t->loading ? "the model is still loading…"
                          : "no model: /model PATH, or /model demo");
        return;
    }
    struct tok_prompt p;
    struct tok_ids turns = {0};
    int32_t n_keep = 0;
    if (build_prompt(t, t->n_path, &p, &turns, &n_keep, &why) != 0) {
        notice(t, THEME_ERROR, "prompt: %s", why ? why : "out of memory");
        free(why);
        tok_ids_done(&turns);
        return;
    }
    int32_t parent = t->n_path ? t->path[t->n_path - 1] : -1;
    int32_t idx = app_hist_reply_begin(t->conv, parent, APP_HIST_ASSISTANT, t->model_name, &why);
    if (idx < 0) {
        notice(t, THEME_ERROR, "history: %s", why ? why : "write failed");
        free(why);
        tok_prompt_done(&p);
        tok_ids_done(&turns);
        return;
    }
    const int32_t stops[] = {TOK_GLM4_EOS, TOK_GLM4_USER, TOK_GLM4_OBSERVATION};
    struct eng_request r = {.id = ++t->req_id,
                            .session = t->session,
                            .prompt = p.ids.v,
                            .n_prompt = (int32_t)p.ids.n,
                            .n_predict = t->n_predict,
                            .sampling = t->sampling,
                            .stop_ids = stops,
                            .n_stop_ids = 3,
                            .n_keep = n_keep,
                            .turn_starts = turns.v,
                            .n_turn_starts = (int32_t)turns.n};
    if (t->random_seed) r.sampling.seed ^= (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull;
    if (eng_engine_submit(t->engine, &r, &why) != ENG_OK) {
        notice(t, THEME_ERROR, "engine: %s", why ? why : "out of memory");
        free(why);
        app_hist_reply_finish(t->conv, idx, "", 0, NULL, NULL, false, NULL);
        tok_prompt_done(&p);
        tok_ids_done(&turns);
        return;
    }
    t->generating = true;
    t->reply_idx = idx;
    t->reply.len = 0;
    tok_stream_init(&t->stream);
    t->gen_started = now_ms();
    t->first_token_at = t->gen_started;
    t->n_gen = 0;
    t->n_prompt = (int32_t)p.ids.n;
    t->ctx_used = (int32_t)p.ids.n;
    t->follow = true;
    tok_prompt_done(&p);
    tok_ids_done(&turns);
    path_refresh(t);
}

static void cancel_reply(struct tui *t)
{
    if (t->generating && t->engine) eng_engine_cancel(t->engine, t->req_id);
}

static void send_text(struct tui *t, const char *text)
{
    char *why = NULL;
    if (t->generating) {
        notice(t, THEME_WARNING, "still generating: Ctrl-C cancels");
        return;
    }
    if (!t->conv) {
        t->conv = app_hist_create(t->model_name, t->profile, &why);
        if (!t->conv) {
            notice(t, THEME_ERROR, "history: %s", why ? why : "cannot create a conversation");
            free(why);
            return;
        }
    }
    int32_t idx;
    if (t->editing >= 0) {
        idx = app_hist_edit(t->conv, t->editing, text, &why);
        t->editing = -1;
    } else {
        struct app_hist_new m = {.parent = t->n_path ? t->path[t->n_path - 1] : -1,
                                 .role = APP_HIST_USER,
                                 .content = text,
                                 .content_len = strlen(text)};
        idx = app_hist_append(t->conv, &m, &why);
    }
    if (idx < 0) {
        notice(t, THEME_ERROR, "history: %s", why ? why : "write failed");
        free(why);
        return;
    }
    path_refresh(t);
    t->follow = true;
    start_reply(t);
}

/* ---- model loading (threadpool: mapping and validation only) ------------------------------ */

static int load_progress(double fraction, void *user)
{
    struct tui *t = user;
    atomic_store(&t->load_permille, (int)(fraction * 1000));
    return atomic_load(&t->load_cancel) ? 1 : 0;
}

static void load_work(uv_work_t *w)
{
    struct tui *t = w->data;
    char *why = NULL;
    char demo[4096];
    const char *path = app_model_resolve(t->model_arg, demo, sizeof demo, &why);
    if (path) {
        t->model_path = strdup(path);
        t->vocab = app_tokenizer_open(path, &t->kind, &why);
    }
    if (t->vocab) t->model = eng_model_load(path, &why);
    if (t->model && t->mlock && eng_model_mlock(t->model, &why) != 0) {
        t->mlock_failed = true;
        eng_model_free(t->model);
        t->model = NULL;
    }
    if (t->model) eng_model_prefault(t->model, load_progress, t);
    if (t->model) {
        struct eng_session_opts o = {
            .n_ctx = t->n_ctx, .kv_type = t->kv_type, .n_threads = t->n_threads};
        t->session = eng_session_new(t->model, &o, &why);
    }
    if (!t->session)
        t->load_error = why ? why : strdup("out of memory");
    else
        free(why);
}

static void after_load(uv_work_t *w, int status)
{
    struct tui *t = w->data;
    t->loading = false;
    char *why = NULL;
    if (!t->load_error && status == 0) {
        t->engine = eng_engine_new(t->model, engine_sink, t, &why);
        if (!t->engine) t->load_error = why ? why : strdup("cannot start the engine");
    }
    if (t->load_error && t->mlock_failed) {
        /* --mlock was asked for explicitly: a model that cannot be locked ends the program
         * (status 1) with the reason on stderr, as `glmterm run --mlock` does. */
        free(t->fatal);
        t->fatal = strdup(t->load_error);
        t->exit_status = APP_EXIT_RUNTIME;
        t->quitting = true;
    }
    if (t->load_error) {
        notice(t, THEME_ERROR, "%s", t->load_error);
        eng_session_free(t->session);
        eng_model_free(t->model);
        tok_vocab_free(t->vocab);
        t->session = NULL;
        t->model = NULL;
        t->vocab = NULL;
        free(t->model_name);
        t->model_name = NULL;
        return;
    }
    t->n_ctx = eng_session_n_ctx(t->session);
    if (t->demo)
        notice(t, THEME_WARNING,
               "demo model loaded: tiny and RANDOMLY initialised — it produces noise, not "
               "answers");
    else
        notice(t, THEME_DIM, "model loaded: %s (%s)", t->model_name, eng_model_arch(t->model));
    t->dirty = true;
}

static void load_model(struct tui *t, const char *arg)
{
    if (t->loading) {
        notice(t, THEME_WARNING, "a model is already loading");
        return;
    }
    if (t->generating) {
        notice(t, THEME_WARNING, "stop the generation first (Ctrl-C)");
        return;
    }
    eng_engine_free(t->engine);
    eng_session_free(t->session);
    eng_model_free(t->model);
    tok_vocab_free(t->vocab);
    t->engine = NULL;
    t->session = NULL;
    t->model = NULL;
    t->vocab = NULL;
    free(t->model_arg);
    free(t->model_path);
    free(t->model_name);
    free(t->load_error);
    t->model_path = NULL;
    t->load_error = NULL;
    t->mlock_failed = false;
    t->model_arg = strdup(arg);
    t->demo = strcmp(arg, "demo") == 0;
    const char *base = strrchr(arg, '/');
    while (base && base[1] == 0 && base > arg) { /* "dir/" */
        const char *p = base - 1;
        while (p > arg && *p != '/')
            p--;
        base = p == arg && *p != '/' ? NULL : p;
        break;
    }
    t->model_name = strdup(t->demo ? "demo (random weights)" : base ? base + 1 : arg);
    t->loading = true;
    t->load_started = now_ms();
    atomic_store(&t->load_permille, 0);
    atomic_store(&t->load_cancel, false);
    t->load_work.data = t;
    if (uv_queue_work(t->loop, &t->load_work, load_work, after_load) != 0) {
        t->loading = false;
        notice(t, THEME_ERROR, "cannot start loading the model");
    }
    t->dirty = true;
}

/* ---- conversations -------------------------------------------------------------------- */

static void open_conversation(struct tui *t, const char *prefix)
{
    char *id = NULL, *why = NULL;
    if (t->generating) {
        notice(t, THEME_WARNING, "stop the generation first (Ctrl-C)");
        return;
    }
    if (app_hist_resolve(prefix, &id, &why) != 0) {
        notice(t, THEME_ERROR, "%s", why ? why : "no such conversation");
        free(why);
        return;
    }
    struct app_hist_conv *c = app_hist_open(id, true, &why);
    free(id);
    if (!c) {
        notice(t, THEME_ERROR, "%s", why ? why : "cannot open the conversation");
        free(why);
        return;
    }
    app_hist_free(t->conv);
    t->conv = c;
    t->editing = -1;
    path_refresh(t);
    t->follow = true;
    if (c->warning)
        notice(t, THEME_WARNING, "%s", c->warning);
    else {
        char *title = app_hist_title(c);
        notice(t, THEME_DIM, "opened: %s", title ? title : c->id);
        free(title);
    }
}

static void new_conversation(struct tui *t)
{
    if (t->generating) {
        notice(t, THEME_WARNING, "stop the generation first (Ctrl-C)");
        return;
    }
    app_hist_free(t->conv);
    t->conv = NULL; /* the file is created with the first message */
    t->editing = -1;
    path_refresh(t);
    notice(t, THEME_DIM, "new conversation");
}

/* The conversation list is read (and searched: every conversation file) on the libuv
 * threadpool, so typing in the list never waits for the disk. One job at a time: a refresh
 * asked for while one runs is remembered and started when it ends, with the filter of that
 * moment; a result whose generation is no longer the latest is dropped. */
struct list_job {
    uv_work_t work;
    struct tui *t;
    char filter[sizeof((struct tui *)0)->list_filter];
    unsigned gen;
    struct app_hist_list result;
};

static void list_refresh(struct tui *t);

static void list_work(uv_work_t *w)
{
    struct list_job *j = w->data;
    if (j->filter[0])
        app_hist_search(j->filter, &j->result, NULL);
    else
        app_hist_list(&j->result, NULL);
}

static void list_after(uv_work_t *w, int status)
{
    struct list_job *j = w->data;
    struct tui *t = j->t;
    t->list_busy = false;
    if (status == 0 && j->gen == t->list_gen && !t->quitting) {
        app_hist_list_done(&t->list);
        t->list = j->result;
        if (t->list_sel >= t->list.n) t->list_sel = t->list.n ? t->list.n - 1 : 0;
        t->dirty = true;
    } else {
        app_hist_list_done(&j->result);
    }
    free(j);
    if (t->list_again && !t->quitting) {
        t->list_again = false;
        list_refresh(t);
    }
}

static void list_refresh(struct tui *t)
{
    t->list_gen++;
    t->dirty = true; /* the title shows the search as running */
    if (t->list_busy) {
        t->list_again = true;
        return;
    }
    struct list_job *j = calloc(1, sizeof *j);
    if (j) {
        j->t = t;
        j->gen = t->list_gen;
        j->work.data = j;
        snprintf(j->filter, sizeof j->filter, "%s", t->list_filter);
        if (uv_queue_work(t->loop, &j->work, list_work, list_after) == 0) {
            t->list_busy = true;
            return;
        }
        free(j);
    }
    /* no threadpool job: read it here */
    app_hist_list_done(&t->list);
    memset(&t->list, 0, sizeof t->list);
    if (t->list_filter[0])
        app_hist_search(t->list_filter, &t->list, NULL);
    else
        app_hist_list(&t->list, NULL);
    if (t->list_sel >= t->list.n) t->list_sel = t->list.n ? t->list.n - 1 : 0;
}

/* ---- slash commands ----------------------------------------------------------------------- */

static const char *const COMMANDS[] = {
    "/new",  "/open",   "/save",   "/export", "/system", "/model", "/params", "/retry",
    "/edit", "/branch", "/tokens", "/theme",  "/copy",   "/clear", "/help",   "/quit",
};
#define N_COMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static const char HELP_TEXT[] =
    "# glmterm keys\n\n"
    "| key | what |\n|---|---|\n"
    "| Enter | send (Alt-Enter: newline; swapped with `\"send\": \"alt-enter\"` in config) |\n"
    "| Ctrl-C | cancel a generation; when idle, press twice to quit |\n"
    "| F1 | this help (Esc closes) |\n"
    "| F2 | conversation list |\n"
    "| Tab | complete a /command, else move focus (input, chat, list) |\n"
    "| PgUp / PgDn, wheel | scroll the chat |\n"
    "| Home / End | top / bottom of the chat (in the chat pane) |\n"
    "| Alt-c, Alt-1..9 | copy the last / the N-th code block (OSC 52: works over SSH and in "
    "tmux; else a file) |\n"
    "| Alt-z | zoom the focused pane |\n"
    "| Alt-Left / Alt-Right | narrow / widen the conversation list |\n"
    "| (in the list) typing | search every conversation; Backspace edits, Esc clears |\n"
    "| Ctrl-A/E/B/F/D/H/K/U/W/Y, Alt-B/F/D | emacs editing |\n"
    "| Up / Down | input history (on the first / last line) |\n\n"
    "# commands\n\n"
    "| command | what |\n|---|---|\n"
    "| /new | a new conversation |\n"
    "| /open [ID] | open a conversation (F2 lists them) |\n"
    "| /save [FILE] | where the conversation is kept, or copy it to FILE |\n"
    "| /export [FILE] | the current branch as Markdown |\n"
    "| /system TEXT | a new branch starting with this system prompt |\n"
    "| /model PATH\\|demo | load a GGUF file, a Hugging Face directory or the demo |\n"
    "| /params [k=v ...] | temp, top_p, top_k, min_p, repeat_penalty, seed, n_predict |\n"
    "| /retry | a new reply to the last message (a branch) |\n"
    "| /edit | edit your last message; sending makes a branch |\n"
    "| /branch [next\\|prev\\|N] | list or switch branches of the last reply |\n"
    "| /tokens | the exact prompt: text with special tokens, and its ids |\n"
    "| /theme [NAME] | list themes or switch live |\n"
    "| /copy [N] | copy code block N (default: the last) |\n"
    "| /clear | a new conversation keeping the system prompt |\n"
    "| /help | this help |\n"
    "| /quit | quit |\n\n"
    "Conversations are saved as you go in `$XDG_DATA_HOME/glmterm/conversations` "
    "(see `glmterm history`).\n";

static void show_overlay(struct tui *t, const char *title, const char *md, size_t len)
{
    ui_lines_clear(&t->overlay);
    struct ui_rect r = ui_overlay_rect();
    int counter = 0;
    ui_md_render(md, len, r.w > 10 ? r.w : 10, THEME_NORMAL, &counter, &t->overlay);
    snprintf(t->overlay_title, sizeof t->overlay_title, "%s", title);
    t->help = true;
    t->help_top = 0;
    t->dirty = true;
}

/* The source text of code block N (numbered through the branch), or NULL. */
static char *code_block_text(const struct tui *t, int n, size_t *len)
{
    for (size_t i = 0; i < t->n_views; i++) {
        const struct view *v = &t->views[i];
        if (n <= v->first_code || n > v->first_code + v->n_code) continue;
        const struct app_hist_msg *m = &t->conv->msgs[v->idx];
        size_t tl;
        const char *text = view_text(t, m, v->idx, &tl);
        return ui_md_code_block(text, tl, n - v->first_code, len);
    }
    return NULL;
}

static void copy_block(struct tui *t, int n)
{
    if (n <= 0) n = t->code_blocks;
    if (n <= 0 || n > t->code_blocks) {
        notice(t, THEME_WARNING, "no code block %d (there are %d)", n, t->code_blocks);
        return;
    }
    size_t len;
    char *text = code_block_text(t, n, &len);
    if (!text) return;
    if (ui_osc52_copy(text, len) == 0) {
        notice(t, THEME_DIM, "code block %d copied (%zu bytes) via OSC 52", n, len);
    } else {
        /* Fallback: a file the user can read from anywhere. */
        char path[256];
        snprintf(path, sizeof path, "%s/glmterm-copy-%d.txt",
                 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
        FILE *f = fopen(path, "w");
        if (f && fwrite(text, 1, len, f) == len && fclose(f) == 0)
            notice(t, THEME_DIM, "code block %d written to %s", n, path);
        else
            notice(t, THEME_ERROR, "cannot copy: %s", strerror(errno));
    }
    free(text);
}

static void cmd_params(struct tui *t, char *args)
{
    if (!*args) {
        notice(t, THEME_DIM,
               "temp=%.2f top_p=%.2f top_k=%d min_p=%.2f repeat_penalty=%.2f seed=%llu "
               "n_predict=%d",
               t->sampling.temperature, t->sampling.top_p, (int)t->sampling.top_k,
               t->sampling.min_p, t->sampling.repeat_penalty, (unsigned long long)t->sampling.seed,
               (int)t->n_predict);
        return;
    }
    struct eng_sampler_params p = t->sampling;
    int32_t n_predict = t->n_predict;
    bool fixed_seed = false;
    for (char *tok = strtok(args, " "); tok; tok = strtok(NULL, " ")) {
        char *eq = strchr(tok, '=');
        char *end = NULL;
        if (!eq) goto bad;
        *eq = 0;
        double v = strtod(eq + 1, &end);
        if (end == eq + 1 || *end || !isfinite(v)) goto bad;
        if (!strcmp(tok, "temp") && v >= 0)
            p.temperature = (float)v;
        else if (!strcmp(tok, "top_p") && v > 0 && v <= 1)
            p.top_p = (float)v;
        else if (!strcmp(tok, "top_k") && v >= 0)
            p.top_k = (int32_t)v;
        else if (!strcmp(tok, "min_p") && v >= 0 && v <= 1)
            p.min_p = (float)v;
        else if (!strcmp(tok, "repeat_penalty") && v > 0)
            p.repeat_penalty = (float)v;
        else if (!strcmp(tok, "seed") && v >= 0)
            p.seed = (uint64_t)v, fixed_seed = true;
        else if (!strcmp(tok, "n_predict") && v >= -1)
            n_predict = (int32_t)v;
        else
            goto bad;
        continue;
    bad:
        notice(t, THEME_ERROR, "/params: '%s' is not KEY=VALUE with a valid value (see /help)",
               tok);
        return;
    }
    t->sampling = p;
    t->n_predict = n_predict;
    if (fixed_seed) t->random_seed = false; /* the same seed, the same reply */
    cmd_params(t, (char[]){0});
}

static void cmd_branch(struct tui *t, const char *arg)
{
    if (!t->conv || t->n_path == 0) {
        notice(t, THEME_WARNING, "no messages yet");
        return;
    }
    int32_t last = t->path[t->n_path - 1];
    int32_t sib[256];
    size_t n = app_hist_children(t->conv, t->conv->msgs[last].parent, sib, 256);
    if (n > 256) n = 256;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        if (sib[i] == last) pos = i;
    size_t want = pos;
    if (!*arg) {
        notice(t, THEME_DIM, "branch %zu of %zu here (/branch next, prev or N)", pos + 1, n);
        return;
    } else if (!strcmp(arg, "next")) {
        want = (pos + 1) % n;
    } else if (!strcmp(arg, "prev")) {
        want = (pos + n - 1) % n;
    } else {
        long k = strtol(arg, NULL, 10);
        if (k < 1 || (size_t)k > n) {
            notice(t, THEME_ERROR, "/branch: there are %zu branches", n);
            return;
        }
        want = (size_t)k - 1;
    }
    char *why = NULL;
    if (app_hist_select(t->conv, app_hist_branch_leaf(t->conv, sib[want]), &why) != 0) {
        notice(t, THEME_ERROR, "%s", why ? why : "cannot switch");
        free(why);
        return;
    }
    path_refresh(t);
    notice(t, THEME_DIM, "branch %zu of %zu", want + 1, n);
}

static void cmd_tokens(struct tui *t)
{
    if (!t->vocab) {
        notice(t, THEME_WARNING, "load a model first: the prompt depends on its tokenizer");
        return;
    }
    struct tok_prompt p;
    struct tok_ids turns = {0};
    int32_t keep;
    char *why = NULL;
    if (build_prompt(t, t->n_path, &p, &turns, &keep, &why) != 0) {
        notice(t, THEME_ERROR, "prompt: %s", why ? why : "out of memory");
        free(why);
        return;
    }
    struct tok_buf md = {0};
    char line[64];
    snprintf(line, sizeof line, "**%zu tokens**, template %s\n\n", p.ids.n,
             tok_template_name(t->kind));
    tok_buf_puts(&md, line);
    tok_buf_puts(&md, "```text\n");
    tok_buf_append(&md, p.text.s ? p.text.s : "", p.text.len);
    tok_buf_puts(&md, "\n```\n\n```ids\n");
    for (size_t i = 0; i < p.ids.n; i++) {
        snprintf(line, sizeof line, "%s%d", i ? " " : "", (int)p.ids.v[i]);
        tok_buf_puts(&md, line);
    }
    tok_buf_puts(&md, "\n```\n");
    show_overlay(t, "prompt", md.s, md.len);
    tok_buf_done(&md);
    tok_prompt_done(&p);
    tok_ids_done(&turns);
}

static void cmd_theme(struct tui *t, const char *name)
{
    if (!*name) {
        char **names = NULL;
        int n = theme_list(NULL, &names);
        struct tok_buf b = {0};
        for (int i = 0; i < n; i++) {
            if (i) tok_buf_puts(&b, ", ");
            tok_buf_puts(&b, names[i]);
        }
        notice(t, THEME_DIM, "themes: %s (now %s)", b.s ? b.s : "", t->theme.name);
        tok_buf_done(&b);
        theme_list_free(names, n);
        return;
    }
    char *why = NULL;
    struct theme th;
    if (theme_load(name, NULL, &th, &why) != 0) {
        notice(t, THEME_ERROR, "%s", why ? why : "no such theme");
        free(why);
        return;
    }
    t->theme = th;
    ui_screen_set_theme(&t->theme);
    notice(t, THEME_DIM, "theme: %s", th.name);
}

static void command(struct tui *t, char *line)
{
    char *args = line + strcspn(line, " ");
    if (*args) *args++ = 0;
    while (*args == ' ')
        args++;
    char *why = NULL;
    if (!strcmp(line, "/new")) {
        new_conversation(t);
    } else if (!strcmp(line, "/open")) {
        if (*args)
            open_conversation(t, args);
        else {
            t->show_list = true;
            t->focus = FOCUS_LIST;
            list_refresh(t);
        }
    } else if (!strcmp(line, "/save")) {
        if (!t->conv)
            notice(t, THEME_WARNING, "nothing to save yet");
        else if (!*args)
            notice(t, THEME_DIM, "saved as you go: %s", t->conv->path);
        else {
            size_t len;
            char *w2 = NULL;
            FILE *in = fopen(t->conv->path, "rb");
            char *data =
                in ? app_read_stream(in, t->conv->path, APP_HIST_MAX_FILE, &len, &w2) : NULL;
            if (in) fclose(in);
            int ofd = data ? open(args, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
            FILE *out = ofd >= 0 ? fdopen(ofd, "wb") : NULL;
            if (ofd >= 0 && !out) close(ofd);
            if (out && fwrite(data, 1, len, out) == len && fclose(out) == 0)
                notice(t, THEME_DIM, "copied to %s", args);
            else
                notice(t, THEME_ERROR, "%s: %s", args, w2 ? w2 : strerror(errno));
            free(data);
            free(w2);
        }
    } else if (!strcmp(line, "/export")) {
        if (!t->conv) {
            notice(t, THEME_WARNING, "nothing to export yet");
        } else {
            size_t len;
            char *md = app_hist_export_md(t->conv, &len);
            char path[1024];
            if (*args)
                snprintf(path, sizeof path, "%s", args);
            else
                snprintf(path, sizeof path, "%s.md", t->conv->id);
            int fd = md ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
            FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
            if (fd >= 0 && !f) close(fd);
            if (f && fwrite(md, 1, len, f) == len && fclose(f) == 0)
                notice(t, THEME_DIM, "exported to %s", path);
            else
                notice(t, THEME_ERROR, "%s: %s", path, strerror(errno));
            free(md);
        }
    } else if (!strcmp(line, "/system")) {
        if (!*args) {
            notice(t, THEME_WARNING, "/system TEXT");
        } else if (!t->generating) {
            if (!t->conv) t->conv = app_hist_create(t->model_name, t->profile, &why);
            struct app_hist_new m = {.parent = -1,
                                     .role = APP_HIST_SYSTEM,
                                     .content = args,
                                     .content_len = strlen(args)};
            if (!t->conv || app_hist_append(t->conv, &m, &why) < 0)
                notice(t, THEME_ERROR, "history: %s", why ? why : "write failed");
            else
                notice(t, THEME_DIM, "system prompt set: a new branch starts here");
            free(why);
            path_refresh(t);
        }
    } else if (!strcmp(line, "/model")) {
        if (*args)
            load_model(t, args);
        else
            notice(t, THEME_DIM, "model: %s", t->model_name ? t->model_name : "none");
    } else if (!strcmp(line, "/params")) {
        cmd_params(t, args);
    } else if (!strcmp(line, "/retry")) {
        if (t->generating || !t->conv || !t->n_path) {
            notice(t, THEME_WARNING, "nothing to retry");
        } else {
            /* The reply to retry is the last assistant message of the branch. */
            size_t k = t->n_path;
            while (k > 0 && t->conv->msgs[t->path[k - 1]].role != APP_HIST_ASSISTANT)
                k--;
            if (k == 0) {
                start_reply(t);
            } else {
                int32_t parent = t->conv->msgs[t->path[k - 1]].parent;
                if (parent >= 0 && app_hist_select(t->conv, parent, &why) == 0) {
                    path_refresh(t);
                    start_reply(t);
                } else {
                    notice(t, THEME_ERROR, "%s", why ? why : "cannot retry");
                }
                free(why);
            }
        }
    } else if (!strcmp(line, "/edit")) {
        size_t k = t->n_path;
        while (k > 0 && t->conv->msgs[t->path[k - 1]].role != APP_HIST_USER)
            k--;
        if (!t->conv || k == 0) {
            notice(t, THEME_WARNING, "no message of yours to edit");
        } else {
            t->editing = t->path[k - 1];
            ui_editor_set_text(t->editor, t->conv->msgs[t->editing].content);
            notice(t, THEME_DIM, "editing your message: Enter sends it as a new branch");
        }
    } else if (!strcmp(line, "/branch")) {
        cmd_branch(t, args);
    } else if (!strcmp(line, "/tokens")) {
        cmd_tokens(t);
    } else if (!strcmp(line, "/theme")) {
        cmd_theme(t, args);
    } else if (!strcmp(line, "/copy")) {
        copy_block(t, *args ? atoi(args) : 0);
    } else if (!strcmp(line, "/clear")) {
        const char *sys = NULL;
        if (t->conv && t->n_path && t->conv->msgs[t->path[0]].role == APP_HIST_SYSTEM)
            sys = t->conv->msgs[t->path[0]].content;
        char *keep = sys ? strdup(sys) : NULL;
        new_conversation(t);
        if (keep) {
            t->conv = app_hist_create(t->model_name, t->profile, &why);
            struct app_hist_new m = {.parent = -1,
                                     .role = APP_HIST_SYSTEM,
                                     .content = keep,
                                     .content_len = strlen(keep)};
            if (t->conv) app_hist_append(t->conv, &m, NULL);
            free(why);
            free(keep);
            path_refresh(t);
        }
    } else if (!strcmp(line, "/help")) {
        show_overlay(t, "help", HELP_TEXT, sizeof HELP_TEXT - 1);
    } else if (!strcmp(line, "/quit")) {
        t->quitting = true;
    } else {
        notice(t, THEME_ERROR, "%s: unknown command (/help lists them)", line);
    }
}

/* Tab on a /command: complete the unique match, or list the candidates. */
static void complete_command(struct tui *t)
{
    size_t len;
    const char *text = ui_editor_text(t->editor, &len);
    const char *match = NULL;
    int n = 0;
    char list[512] = "";
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strncmp(COMMANDS[i], text, len) == 0) {
            match = COMMANDS[i];
            n++;
            strncat(list, COMMANDS[i], sizeof list - strlen(list) - 2);
            strcat(list, " ");
        }
    }
    if (n == 1) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s ", match);
        ui_editor_set_text(t->editor, buf);
    } else if (n > 1) {
        notice(t, THEME_DIM, "%s", list);
    }
    t->dirty = true;
}

/* ---- drawing ---------------------------------------------------------------------------- */

static void draw_status(struct tui *t, int cols)
{
    char left[512], state[128];
    if (t->loading) {
        /* A ten-cell bar of the weights read so far. */
        int pm = atomic_load(&t->load_permille), cells = pm / 100;
        char bar[64] = "";
        for (int i = 0; i < 10; i++)
            strcat(bar, i < cells ? "█" : "░");
        snprintf(state, sizeof state, "loading %s %d%%", bar, pm / 10);
    } else if (t->generating)
        snprintf(state, sizeof state, "generating");
    else if (!t->engine)
        snprintf(state, sizeof state, "no model");
    else
        snprintf(state, sizeof state, "ready");
    double tps = t->last_tps;
    if (t->generating && t->n_gen > 1) {
        double s = (now_ms() - t->first_token_at) / 1000.0;
        if (s > 0) tps = (t->n_gen - 1) / s;
    }
    char ctx[64] = "";
    if (t->n_ctx > 0)
        snprintf(ctx, sizeof ctx, " · ctx %.1fk/%.1fk", t->ctx_used / 1000.0, t->n_ctx / 1000.0);
    snprintf(left, sizeof left, " glmterm · %s%s%s%s · ttft %.2f s · %.1f tok/s · %s",
             t->profile ? t->profile : "", t->profile ? ": " : "",
             t->model_name ? t->model_name : "no model", ctx, t->last_ttft_ms / 1000.0, tps, state);
    ui_draw_text(0, 0, cols, left, THEME_STATUS);
}

static void draw_chat(struct tui *t, struct ui_rect r, bool focused)
{
    char title[256];
    char *conv_title = t->conv ? app_hist_title(t->conv) : NULL;
    snprintf(title, sizeof title, "chat%s%s", conv_title ? " · " : "",
             conv_title ? conv_title : "");
    free(conv_title);
    ui_draw_border(r, title, focused);
    struct ui_rect in = {r.y + 1, r.x + 1, r.h - 2, r.w - 2};
    if (in.h <= 0 || in.w <= 0) return;
    t->chat_h = in.h;
    t->chat_w = in.w;
    if (!t->conv || t->n_views == 0) {
        static const char WELCOME[] =
            "# Welcome to glmterm\n\n"
            "A workstation for **GLM-4** models. To chat you need a model:\n\n"
            "- a GGUF file of GLM-4-9B-chat (for example a `Q4_K_M` quantisation): "
            "`glmterm -m glm-4-9b-chat.Q4_K_M.gguf`, or `/model PATH` here;\n"
            "- a Hugging Face directory of THUDM/glm-4-9b-chat or GLM-4-9B-0414 "
            "(config.json, safetensors, tokenizer), loaded directly;\n"
            "- a remote server (Zhipu BigModel, vLLM, ollama, llama.cpp server) as a profile in "
            "`config.json` — remote models arrive in a later version;\n"
            "- or try the built-in **demo**: `/model demo` (a tiny, randomly initialised "
            "GLM-4 — it shows how everything works, but it writes noise).\n\n"
            "Then type a message and press **Enter**. F1 lists every key and command; "
            "`glmterm --resume` reopens your last conversation.\n";
        struct ui_lines w = {0};
        int counter = 0;
        ui_md_render(WELCOME, sizeof WELCOME - 1, in.w, THEME_NORMAL, &counter, &w);
        ui_draw_lines(in, &w, 0);
        ui_lines_done(&w);
        return;
    }
    views_update(t, in.w);
    size_t total = total_lines(t);
    size_t max_top = total > (size_t)in.h ? total - (size_t)in.h : 0;
    if (t->follow || t->top > max_top) t->top = max_top;
    if (t->top == max_top) t->follow = true;
    /* Find the view holding line `top`, then draw view slices until the pane is full. */
    size_t line = 0, i = 0;
    while (i < t->n_views && line + t->views[i].lines.n <= t->top)
        line += t->views[i++].lines.n;
    int y = 0;
    size_t first = t->top - line;
    for (; i < t->n_views && y < in.h; i++) {
        const struct ui_lines *l = &t->views[i].lines;
        if (first >= l->n) {
            first = 0;
            continue;
        }
        int rows = (int)(l->n - first);
        if (rows > in.h - y) rows = in.h - y;
        struct ui_rect slice = {in.y + y, in.x, rows, in.w};
        ui_draw_lines(slice, l, first);
        y += rows;
        first = 0;
    }
    if (y < in.h) {
        struct ui_lines empty = {0};
        ui_draw_lines((struct ui_rect){in.y + y, in.x, in.h - y, in.w}, &empty, 0);
    }
}

static void draw_list(struct tui *t, struct ui_rect r, bool focused)
{
    char title[192];
    if (t->list_filter[0])
        snprintf(title, sizeof title, "search: %s%s", t->list_filter,
                 t->list_busy ? " (searching)" : "");
    else
        snprintf(title, sizeof title, "conversations · type to search");
    ui_draw_border(r, title, focused);
    for (int row = 0; row < r.h - 2; row++) {
        size_t k = (size_t)row;
        if (t->list_sel >= (size_t)(r.h - 2)) k += t->list_sel - (size_t)(r.h - 3);
        const char *entry = k < t->list.n ? t->list.v[k].title : "";
        bool cur = t->conv && k < t->list.n && !strcmp(t->list.v[k].id, t->conv->id);
        char buf[256];
        snprintf(buf, sizeof buf, "%s%s", cur ? "> " : "  ", entry);
        ui_draw_text(r.y + 1 + row, r.x + 1, r.w - 2, k < t->list.n ? buf : "",
                     k == t->list_sel && focused ? THEME_SELECTION : THEME_NORMAL);
    }
}

static void draw(struct tui *t)
{
    int rows, cols;
    ui_screen_size(&rows, &cols);
    ui_screen_clear();
    if (rows < 6 || cols < 20) {
        ui_draw_text(0, 0, cols, "glmterm: window too small", THEME_WARNING);
        ui_screen_flush();
        return;
    }
    draw_status(t, cols);
    /* The input: a bordered editor growing with its text, a hint line below. */
    struct ui_lines ed = {0};
    int cur_row = 0, cur_col = 0;
    ui_editor_set_width(t->editor, cols - 4);
    ui_editor_layout(t->editor, cols - 4, &ed, &cur_row, &cur_col);
    int text_rows = (int)ed.n < 1 ? 1 : (int)ed.n;
    if (text_rows > INPUT_MAX_ROWS) text_rows = INPUT_MAX_ROWS;
    int input_h = text_rows + 2;
    int notice_row = rows - 1;
    struct ui_rect input = {notice_row - input_h, 0, input_h, cols};
    struct ui_rect main_area = {1, 0, input.y - 1, cols};
    t->main_area = main_area;
    ui_layout_set_hidden(t->layout, PANE_LIST, !t->show_list);
    int panes[4];
    struct ui_rect rects[4];
    int n = ui_layout_compute(t->layout, main_area, panes, rects, 4);
    for (int i = 0; i < n; i++) {
        if (panes[i] == PANE_CHAT)
            draw_chat(t, rects[i], t->focus == FOCUS_CHAT);
        else if (panes[i] == PANE_LIST)
            draw_list(t, rects[i], t->focus == FOCUS_LIST);
    }
    ui_draw_border(input, t->editing >= 0 ? "edit (a new branch)" : "message",
                   t->focus == FOCUS_INPUT);
    size_t first = cur_row >= text_rows ? (size_t)(cur_row - text_rows + 1) : 0;
    ui_draw_lines((struct ui_rect){input.y + 1, 2, text_rows, cols - 4}, &ed, first);
    ui_lines_done(&ed);
    if (t->notice[0])
        ui_draw_text(notice_row, 0, cols, t->notice, t->notice_role);
    else
        ui_draw_text(notice_row, 0, cols,
                     t->send_alt ? " Alt-Enter send · Enter newline · Ctrl-C cancel · F1 help"
                                 : " Enter send · Alt-Enter newline · Ctrl-C cancel · F1 help",
                     THEME_HINT);
    if (t->help) ui_draw_overlay(t->overlay_title, &t->overlay, t->help_top);
    ui_screen_cursor(input.y + 1 + cur_row - (int)first, 2 + cur_col,
                     t->focus == FOCUS_INPUT && !t->help);
    ui_screen_flush();
}

static void on_check(uv_check_t *h)
{
    struct tui *t = h->data;
    if (t->quitting) {
        uv_stop(t->loop);
        return;
    }
    if (t->dirty) {
        t->dirty = false;
        draw(t);
    }
}

/* ---- keys ------------------------------------------------------------------------------- */

static void scroll_chat(struct tui *t, long delta)
{
    size_t total = total_lines(t);
    size_t max_top = total > (size_t)t->chat_h ? total - (size_t)t->chat_h : 0;
    if (t->follow) t->top = max_top;
    long top = (long)t->top + delta;
    if (top < 0) top = 0;
    if ((size_t)top >= max_top) {
        t->top = max_top;
        t->follow = true;
    } else {
        t->top = (size_t)top;
        t->follow = false;
    }
    t->dirty = true;
}

static void handle_key(struct tui *t, uint32_t key, bool is_key, bool alt)
{
    t->dirty = true;
    if (!is_key && key == 4 && t->focus == FOCUS_INPUT && !t->generating) {
        size_t len; /* Ctrl-D on an empty input: quit, as in a shell (twice, as Ctrl-C) */
        ui_editor_text(t->editor, &len);
        if (len == 0) key = 3;
    }
    if (!is_key && key == 3) { /* Ctrl-C */
        if (t->generating) {
            cancel_reply(t);
            notice(t, THEME_DIM, "cancelling…");
        } else if (t->quit_armed) {
            t->quitting = true;
        } else {
            t->quit_armed = true;
            notice(t, THEME_WARNING, "press Ctrl-C again to quit (or /quit)");
        }
        return;
    }
    t->quit_armed = false;
    if (t->help) {
        struct ui_rect r = ui_overlay_rect();
        if ((!is_key && (key == 27 || key == 'q')) || (is_key && key == KEY_F(1)))
            t->help = false;
        else if (is_key && (key == KEY_NPAGE || key == KEY_DOWN || key == UI_KEY_WHEEL_DOWN))
            t->help_top += key == KEY_NPAGE ? (size_t)r.h : 1;
        else if (is_key && (key == KEY_PPAGE || key == KEY_UP || key == UI_KEY_WHEEL_UP))
            t->help_top = t->help_top > (key == KEY_PPAGE ? (size_t)r.h : 1)
                              ? t->help_top - (key == KEY_PPAGE ? (size_t)r.h : 1)
                              : 0;
        return;
    }
    if (is_key) {
        switch (key) {
        case KEY_F(1): show_overlay(t, "help", HELP_TEXT, sizeof HELP_TEXT - 1); return;
        case KEY_F(2):
            t->show_list = !t->show_list;
            if (t->show_list) list_refresh(t);
            t->focus = t->show_list ? FOCUS_LIST : FOCUS_INPUT;
            return;
        case KEY_PPAGE: scroll_chat(t, -(long)(t->chat_h > 2 ? t->chat_h - 2 : 1)); return;
        case KEY_NPAGE: scroll_chat(t, t->chat_h > 2 ? t->chat_h - 2 : 1); return;
        case UI_KEY_WHEEL_UP: scroll_chat(t, -3); return;
        case UI_KEY_WHEEL_DOWN: scroll_chat(t, 3); return;
        case UI_KEY_PASTE_BEGIN: ui_editor_paste_begin(t->editor); return;
        case UI_KEY_PASTE_END: ui_editor_paste_end(t->editor); return;
        case UI_KEY_RESIZE:
            for (size_t i = 0; i < t->n_views; i++)
                t->views[i].width = 0;
            return;
        default: break;
        }
    }
    if (alt && !is_key && key == 'c') {
        copy_block(t, 0);
        return;
    }
    if (alt && !is_key && key >= '1' && key <= '9') { /* Alt-N: code block N */
        copy_block(t, (int)(key - '0'));
        return;
    }
    if (alt && is_key && (key == KEY_LEFT || key == KEY_RIGHT) && t->show_list) {
        ui_layout_resize(t->layout, PANE_LIST, key == KEY_RIGHT ? 2 : -2, t->main_area);
        return;
    }
    if (alt && !is_key && key == 'z') {
        int z = ui_layout_zoomed(t->layout);
        int pane = t->focus == FOCUS_LIST ? PANE_LIST : PANE_CHAT;
        ui_layout_set_zoom(t->layout, z == pane ? -1 : pane);
        return;
    }
    if (!is_key && key == '\t' && !alt) {
        size_t len;
        const char *text = ui_editor_text(t->editor, &len);
        if (t->focus == FOCUS_INPUT && len > 0 && text[0] == '/' && !memchr(text, ' ', len)) {
            complete_command(t);
            return;
        }
        t->focus = t->focus == FOCUS_INPUT  ? FOCUS_CHAT
                   : t->focus == FOCUS_CHAT ? (t->show_list ? FOCUS_LIST : FOCUS_INPUT)
                                            : FOCUS_INPUT;
        return;
    }
    if (t->focus == FOCUS_CHAT && is_key) {
        if (key == KEY_UP) return scroll_chat(t, -1);
        if (key == KEY_DOWN) return scroll_chat(t, 1);
        if (key == KEY_HOME) return scroll_chat(t, -(long)total_lines(t));
        if (key == KEY_END) return scroll_chat(t, (long)total_lines(t));
    }
    if (t->focus == FOCUS_LIST) {
        size_t fl = strlen(t->list_filter);
        if (!is_key && !alt && key >= 32 && key != 127 && key < 0x110000 &&
            fl + 5 < sizeof t->list_filter) {
            /* Type to search: the filter is UTF-8 text. */
            char u[5] = {0};
            if (key < 0x80) {
                u[0] = (char)key;
            } else if (key < 0x800) {
                u[0] = (char)(0xC0 | key >> 6);
                u[1] = (char)(0x80 | (key & 63));
            } else if (key < 0x10000) {
                u[0] = (char)(0xE0 | key >> 12);
                u[1] = (char)(0x80 | ((key >> 6) & 63));
                u[2] = (char)(0x80 | (key & 63));
            } else {
                u[0] = (char)(0xF0 | key >> 18);
                u[1] = (char)(0x80 | ((key >> 12) & 63));
                u[2] = (char)(0x80 | ((key >> 6) & 63));
                u[3] = (char)(0x80 | (key & 63));
            }
            strcat(t->list_filter, u);
            t->list_sel = 0;
            list_refresh(t);
            return;
        }
        if ((is_key && key == KEY_BACKSPACE) || (!is_key && (key == 127 || key == 8))) {
            while (fl > 0 && ((unsigned char)t->list_filter[fl - 1] & 0xC0) == 0x80)
                fl--;
            if (fl > 0) t->list_filter[fl - 1] = 0;
            list_refresh(t);
            return;
        }
        if (!is_key && key == 27 && t->list_filter[0]) {
            t->list_filter[0] = 0;
            list_refresh(t);
            return;
        }
        if (is_key && key == KEY_UP && t->list_sel > 0)
            t->list_sel--;
        else if (is_key && key == KEY_DOWN && t->list_sel + 1 < t->list.n)
            t->list_sel++;
        else if (!is_key && (key == '\r' || key == '\n') && t->list_sel < t->list.n)
            open_conversation(t, t->list.v[t->list_sel].id), t->focus = FOCUS_INPUT;
        else if (!is_key && key == 27)
            t->focus = FOCUS_INPUT;
        return;
    }
    if (t->focus == FOCUS_CHAT && !is_key && key >= 32) t->focus = FOCUS_INPUT;
    if (t->focus != FOCUS_INPUT) return;
    enum ui_editor_action a = ui_editor_key(t->editor, key, is_key, alt);
    if (a == UI_EDIT_SEND) {
        size_t len;
        const char *text = ui_editor_text(t->editor, &len);
        if (len == 0) return;
        char *copy = strndup(text, len);
        if (!copy) return;
        ui_editor_history_push(t->editor);
        ui_editor_clear(t->editor);
        t->notice[0] = 0;
        if (copy[0] == '/')
            command(t, copy);
        else
            send_text(t, copy);
        free(copy);
    }
}

static void on_stdin(uv_poll_t *h, int status, int events)
{
    struct tui *t = h->data;
    uint32_t key;
    bool is_key, alt;
    while (ui_screen_read(&key, &is_key, &alt) == 0)
        handle_key(t, key, is_key, alt);
    if (status < 0) t->quitting = true; /* the terminal went away */
}

static void on_winch(uv_signal_t *h, int sig)
{
    struct tui *t = h->data;
    ui_screen_resize();
    /* The resize key arrives through ui_screen_read; read it now. */
    on_stdin(&t->in_poll, 0, UV_READABLE);
    for (size_t i = 0; i < t->n_views; i++)
        t->views[i].width = 0;
    t->dirty = true;
}

static void on_term(uv_signal_t *h, int sig)
{
    struct tui *t = h->data;
    cancel_reply(t);
    t->quitting = true;
}

static void on_tick(uv_timer_t *h)
{
    struct tui *t = h->data;
    if (t->generating && t->conv)
        app_hist_reply_partial(t->conv, t->reply_idx, t->reply.s ? t->reply.s : "", t->reply.len,
                               NULL);
    if (t->loading || t->generating) t->dirty = true;
}

static void fatal_signal(int sig)
{
    ui_emergency_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* ---- entry --------------------------------------------------------------------------------- */

static const char CHAT_USAGE[] =
    "usage: glmterm [--config FILE] [chat] [-m MODEL|--profile NAME] [--resume] [--theme NAME]\n"
    "               [-c CTX] [--mlock]\n"
    "\n"
    "The terminal workstation. MODEL is a .gguf file, a Hugging Face directory, or `demo`\n"
    "(a tiny random-weight GLM-4 built in). Without -m the welcome screen explains how to get\n"
    "a model; /model loads one later.\n"
    "\n"
    "  -m, --model MODEL  load MODEL at start (in the background); MODEL may also name a\n"
    "                     profile of the config file\n"
    "      --profile NAME a profile of the config file (default: its default_profile)\n"
    "      --resume       reopen the most recent conversation\n"
    "      --theme NAME   colour theme (default-dark, light, solarized-dark, high-contrast)\n"
    "  -c, --ctx-size N   context length (default min(trained, 4096))\n"
    "      --mlock        lock the model's weights in RAM (mlock); when that fails (`ulimit\n"
    "                     -l` below the model's size) glmterm ends with status 1\n"
    "  -h, --help         this help; F1 in the program lists keys and commands\n";

int app_cmd_chat(int argc, char **argv)
{
    static const struct option opts[] = {
        {"model", required_argument, NULL, 'm'},   {"resume", no_argument, NULL, 'R'},
        {"theme", required_argument, NULL, 'T'},   {"ctx-size", required_argument, NULL, 'c'},
        {"profile", required_argument, NULL, 'P'}, {"mlock", no_argument, NULL, 'K'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *model = NULL, *theme_name = NULL, *profile_name = NULL;
    bool resume = false, lock = false;
    long n_ctx = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:c:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': model = optarg; break;
        case 'R': resume = true; break;
        case 'T': theme_name = optarg; break;
        case 'c': n_ctx = strtol(optarg, NULL, 10); break;
        case 'P': profile_name = optarg; break;
        case 'K': lock = true; break;
        case 'h': fputs(CHAT_USAGE, stdout); return APP_EXIT_OK;
        default: fputs(CHAT_USAGE, stderr); return APP_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        app_error("chat: unexpected argument '%s'", argv[optind]);
        return APP_EXIT_USAGE;
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        app_error("chat: needs a terminal (for scripts: glmterm run)");
        return APP_EXIT_USAGE;
    }
    setlocale(LC_ALL, "");
    char *why = NULL;
    struct app_config cfg;
    app_config_init(&cfg);
    if (app_config_load(&cfg, app_config_path(), &why) != 0) {
        app_error("%s", why ? why : "config: cannot load");
        free(why);
        app_config_done(&cfg);
        return APP_EXIT_RUNTIME;
    }
    /* The profile: --profile, -m naming a profile, or the config's default. */
    const struct app_profile *prof = NULL;
    if (profile_name) {
        prof = app_config_profile(&cfg, profile_name);
        if (!prof) {
            app_error("%s: no profile '%s'", cfg.path ? cfg.path : "config", profile_name);
            app_config_done(&cfg);
            return APP_EXIT_USAGE;
        }
    } else if (model && app_config_profile(&cfg, model)) {
        prof = app_config_profile(&cfg, model);
        model = NULL;
    } else if (!model && cfg.default_profile) {
        prof = app_config_profile(&cfg, cfg.default_profile);
    }
    if (prof && prof->type == APP_PROFILE_REMOTE) {
        app_error("%s: profile '%s' is remote; remote models are not built yet in this version",
                  cfg.path ? cfg.path : "config", prof->name);
        app_config_done(&cfg);
        return APP_EXIT_USAGE;
    }
    struct tui *t = calloc(1, sizeof *t);
    if (!t) {
        app_config_done(&cfg);
        return APP_EXIT_RUNTIME;
    }
    theme_default(&t->theme);
    const char *want_theme = theme_name ? theme_name : cfg.theme[0] ? cfg.theme : NULL;
    if (want_theme && theme_load(want_theme, NULL, &t->theme, &why) != 0) {
        app_error("%s", why ? why : "theme: cannot load");
        free(why);
        free(t);
        app_config_done(&cfg);
        return APP_EXIT_RUNTIME;
    }
    eng_sampler_params_default(&t->sampling);
    t->random_seed = true;
    t->kv_type = ENG_KV_F16;
    t->n_predict = -1;
    t->n_ctx = (int32_t)n_ctx;
    t->mlock = lock;
    if (prof) {
        t->profile = strdup(prof->name);
        if (!model) model = prof->model;
        if (!n_ctx) t->n_ctx = prof->ctx;
        t->n_threads = prof->threads;
        t->kv_type = prof->kv_type == APP_KV_F32 ? ENG_KV_F32 : ENG_KV_F16;
        t->sampling.temperature = (float)prof->sampling.temperature;
        t->sampling.top_p = (float)prof->sampling.top_p;
        t->sampling.top_k = prof->sampling.top_k;
        t->sampling.min_p = (float)prof->sampling.min_p;
        t->sampling.repeat_penalty = (float)prof->sampling.repeat_penalty;
        if (prof->sampling.has_seed) {
            t->sampling.seed = prof->sampling.seed;
            t->random_seed = false;
        }
    }
    t->editing = -1;
    t->follow = true;
    t->focus = FOCUS_INPUT;
    t->reply_idx = -1;
    t->editor = ui_editor_new();
    ui_editor_set_enter_newline(t->editor, cfg.send_key == APP_SEND_ALT_ENTER);
    t->send_alt = cfg.send_key == APP_SEND_ALT_ENTER;
    /* The conversation list on the left (hidden until F2), the chat beside it. */
    t->layout = ui_layout_new(PANE_LIST);
    ui_layout_split(t->layout, PANE_LIST, UI_SPLIT_H, PANE_CHAT, 0.75);
    pthread_mutex_init(&t->qmu, NULL);
    if (resume) {
        char *id = NULL;
        if (app_hist_latest(&id, &why) != 0 || !id) {
            app_error("--resume: %s", why ? why : "no conversation to resume");
            free(why);
            ui_editor_free(t->editor);
            ui_layout_free(t->layout);
            free(t->profile);
            free(t);
            app_config_done(&cfg);
            return APP_EXIT_RUNTIME;
        }
        t->conv = app_hist_open(id, true, &why);
        free(id);
        if (!t->conv) {
            app_error("--resume: %s", why ? why : "cannot open");
            free(why);
            ui_editor_free(t->editor);
            ui_layout_free(t->layout);
            free(t->profile);
            free(t);
            app_config_done(&cfg);
            return APP_EXIT_RUNTIME;
        }
    }
    if (ui_screen_init(&t->theme, &why) != 0) {
        app_error("chat: %s", why ? why : "cannot initialise the terminal");
        free(why);
        app_hist_free(t->conv);
        ui_editor_free(t->editor);
        ui_layout_free(t->layout);
        free(t->profile);
        free(t);
        app_config_done(&cfg);
        return APP_EXIT_RUNTIME;
    }
    g_tui = t;
    signal(SIGSEGV, fatal_signal);
    signal(SIGABRT, fatal_signal);
    signal(SIGBUS, fatal_signal);
    signal(SIGFPE, fatal_signal);

    t->loop = uv_default_loop();
    uv_poll_init(t->loop, &t->in_poll, STDIN_FILENO);
    t->in_poll.data = t;
    uv_poll_start(&t->in_poll, UV_READABLE, on_stdin);
    uv_signal_init(t->loop, &t->sig_winch);
    t->sig_winch.data = t;
    uv_signal_start(&t->sig_winch, on_winch, SIGWINCH);
    uv_signal_init(t->loop, &t->sig_term);
    t->sig_term.data = t;
    uv_signal_start(&t->sig_term, on_term, SIGTERM);
    uv_signal_init(t->loop, &t->sig_hup);
    t->sig_hup.data = t;
    uv_signal_start(&t->sig_hup, on_term, SIGHUP);
    uv_async_init(t->loop, &t->async, on_async);
    t->async.data = t;
    uv_timer_init(t->loop, &t->tick);
    t->tick.data = t;
    uv_timer_start(&t->tick, on_tick, 250, 250); /* the reply checkpoint caps itself at 1 s */
    uv_check_init(t->loop, &t->redraw);
    t->redraw.data = t;
    uv_check_start(&t->redraw, on_check);

    path_refresh(t);
    if (t->conv && t->conv->warning) notice(t, THEME_WARNING, "%s", t->conv->warning);
    if (model) load_model(t, model);
    app_config_done(&cfg); /* load_model copied what it needs */
    t->dirty = true;
    draw(t);
    uv_run(t->loop, UV_RUN_DEFAULT);

    /* Shutdown: stop the engine (cancels a generation; the reply is kept as incomplete). */
    if (t->generating) {
        eng_engine_cancel(t->engine, t->req_id);
        finish_reply(t, false, NULL);
    }
    ui_screen_done();
    if (t->fatal) app_error("%s", t->fatal);
    if (t->loading) {
        atomic_store(&t->load_cancel, true);
        uv_cancel((uv_req_t *)&t->load_work);
    }
    uv_poll_stop(&t->in_poll);
    uv_close((uv_handle_t *)&t->in_poll, NULL);
    uv_close((uv_handle_t *)&t->sig_winch, NULL);
    uv_close((uv_handle_t *)&t->sig_term, NULL);
    uv_close((uv_handle_t *)&t->sig_hup, NULL);
    uv_close((uv_handle_t *)&t->async, NULL);
    uv_close((uv_handle_t *)&t->tick, NULL);
    uv_close((uv_handle_t *)&t->redraw, NULL);
    uv_run(t->loop, UV_RUN_DEFAULT); /* close callbacks, a pending load */
    eng_engine_free(t->engine);
    eng_session_free(t->session);
    eng_model_free(t->model);
    tok_vocab_free(t->vocab);
    for (struct evnode *n = t->qhead, *next; n; n = next) {
        next = n->next;
        free(n->ids);
        free(n->message);
        free(n);
    }
    int status = t->exit_status;
    if (t->conv) {
        char *title = app_hist_title(t->conv);
        printf("glmterm: conversation %s saved (%s); glmterm --resume reopens it\n", t->conv->id,
               title ? title : "");
        free(title);
    }
    app_hist_free(t->conv);
    app_hist_list_done(&t->list);
    views_reset(t);
    free(t->path);
    ui_lines_done(&t->overlay);
    ui_editor_free(t->editor);
    ui_layout_free(t->layout);
    tok_buf_done(&t->reply);
    free(t->model_arg);
    free(t->model_path);
    free(t->model_name);
    free(t->load_error);
    free(t->fatal);
    free(t->profile);
    pthread_mutex_destroy(&t->qmu);
    uv_loop_close(t->loop);
    g_tui = NULL;
    free(t);
    return status;
}
