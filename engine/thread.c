/* The engine thread: requests in through a queue, events out through the caller's sink.
 *
 * One `struct eng_engine` owns one thread that runs every request for the sessions handed to
 * it, in submission order. A request carries the whole prompt of a conversation; the thread
 * keeps, per session, the ids already in its KV cache and evaluates only what follows their
 * longest common prefix with the new prompt (prefix reuse). When the prompt would not leave
 * room to generate, the oldest turns after the protected prefix (system + tools block) are
 * dropped at the caller's turn boundaries and a TRUNCATED event says how many tokens went.
 *
 * Events: TOKENS (batched: flushed every TOKEN_BATCH ids or FLUSH_MS, and before DONE),
 * LOGITS (only when asked: one row per evaluated position), TRUNCATED, DONE (reason and
 * timings) and ERROR (one line). The sink runs on the engine thread; it must not block for
 * long (the app's sink enqueues and calls uv_async_send) and may return nonzero to end the
 * request (a stop string it recognised). Cancellation is an atomic request id checked between
 * tokens and, through the session's abort callback, before every layer of every batch, so it
 * takes effect within one layer even in the middle of a long prompt.
 *
 * The engine never touches uv, curses, curl or cJSON; it knows only ids.
 */
#include "engine/eng_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Prompt evaluation chunk for requests that want every row's logits (e->logits holds that
 * many rows); other prompts go to eng_session_eval whole, in the session's own batches, and a
 * cancel stops them between layers (eng_session_set_abort). */
#define PREFILL_CHUNK 32
/* Token events: at most this many ids or this many milliseconds per event. */
#define TOKEN_BATCH 16
#define FLUSH_MS    30.0

struct job {
    struct eng_request r; /* arrays below are owned copies */
    struct job *next;
};

/* What the thread knows of a session: the ids in its cache, in order. */
struct slot {
    struct eng_session *session;
    int32_t *ids;
    int32_t n, cap;
    struct slot *next;
};

struct eng_engine {
    const struct eng_model *model;
    eng_sink_cb sink;
    void *user;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;     /* queue, under mu */
    bool quit;                   /* under mu */
    _Atomic uint64_t cancel_id;  /* a request id to cancel, 0 = none */
    _Atomic bool cancel_all;     /* set by eng_engine_free */
    _Atomic uint64_t running_id; /* the request being run, 0 = idle */
    struct slot *slots;          /* engine thread only */
    float *logits;               /* (PREFILL_CHUNK, n_vocab) scratch, engine thread only */
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void job_free(struct job *j)
{
    if (!j) return;
    free((void *)j->r.prompt);
    free((void *)j->r.stop_ids);
    free((void *)j->r.turn_starts);
    free(j);
}

static bool cancelled(struct eng_engine *e, uint64_t id)
{
    return atomic_load(&e->cancel_all) || atomic_load(&e->cancel_id) == id;
}

static struct slot *slot_for(struct eng_engine *e, struct eng_session *s)
{
    for (struct slot *sl = e->slots; sl; sl = sl->next)
        if (sl->session == s) return sl;
    struct slot *sl = calloc(1, sizeof *sl);
    if (!sl) return NULL;
    sl->session = s;
    sl->n = eng_session_n_past(s); /* a session used before: unknown ids, reuse nothing */
    if (sl->n > 0) {
        eng_session_truncate(s, 0);
        sl->n = 0;
    }
    sl->next = e->slots;
    e->slots = sl;
    return sl;
}

static int slot_push(struct slot *sl, const int32_t *ids, int32_t n)
{
    if (sl->n + n > sl->cap) {
        int32_t cap = sl->cap ? sl->cap : 256;
        while (cap < sl->n + n)
            cap *= 2;
        int32_t *v = realloc(sl->ids, (size_t)cap * sizeof *v);
        if (!v) return ENG_ERR_NOMEM;
        sl->ids = v;
        sl->cap = cap;
    }
    memcpy(sl->ids + sl->n, ids, (size_t)n * sizeof *ids);
    sl->n += n;
    return ENG_OK;
}

/* Emits an event; returns true when the sink asks to stop. */
static bool emit(struct eng_engine *e, struct eng_event *ev)
{
    return e->sink(ev, e->user) != 0;
}

static void emit_error(struct eng_engine *e, uint64_t id, const char *msg)
{
    struct eng_event ev = {.type = ENG_EVENT_ERROR, .request = id, .message = msg};
    emit(e, &ev);
}

/* Fits the prompt into the context: returns the number of tokens dropped (0 if none) after
 * rewriting r->prompt/n_prompt, or -1 when it cannot fit. `reserve` tokens stay free. */
static int32_t fit_context(struct eng_request *r, int32_t n_ctx, int32_t reserve)
{
    if (r->n_prompt + reserve <= n_ctx) return 0;
    int32_t keep = r->n_keep < 0 ? 0 : r->n_keep;
    if (keep > r->n_prompt) keep = r->n_prompt;
    for (int32_t t = 0; t < r->n_turn_starts; t++) {
        int32_t start = r->turn_starts[t];
        if (start <= keep || start >= r->n_prompt) continue;
        if (keep + (r->n_prompt - start) + reserve <= n_ctx) {
            int32_t *p = (int32_t *)r->prompt;
            memmove(p + keep, p + start, (size_t)(r->n_prompt - start) * sizeof *p);
            r->n_prompt = keep + (r->n_prompt - start);
            return start - keep;
        }
    }
    return -1;
}

/* What the session's abort callback checks while this engine runs a request on it. */
struct abort_ctx {
    struct eng_engine *e;
    uint64_t id;
};

static bool abort_check(void *user)
{
    const struct abort_ctx *a = user;
    return cancelled(a->e, a->id);
}

static void run_job(struct eng_engine *e, struct eng_request *r)
{
    struct eng_event ev;
    struct eng_timings tm = {0};
    struct eng_sampler *smp = NULL;
    char *why = NULL;
    int32_t n_vocab = eng_model_n_vocab(e->model);
    double t0 = now_ms();
    enum eng_stop stop = ENG_STOP_LENGTH;
    int32_t stop_id = -1;
    int32_t batch[TOKEN_BATCH];
    int32_t n_batch = 0;
    double last_flush = t0;

    struct slot *sl = slot_for(e, r->session);
    if (!sl) {
        emit_error(e, r->id, "engine: out of memory");
        return;
    }
    if (r->n_prompt <= 0) {
        emit_error(e, r->id, "engine: empty prompt");
        return;
    }
    for (int32_t i = 0; i < r->n_prompt; i++) {
        if (r->prompt[i] < 0 || r->prompt[i] >= n_vocab) {
            char msg[96];
            snprintf(msg, sizeof msg, "engine: prompt id %d at %d is outside the vocabulary",
                     (int)r->prompt[i], (int)i);
            emit_error(e, r->id, msg);
            return;
        }
    }
    int32_t n_ctx = eng_session_n_ctx(r->session);
    int32_t want = r->n_predict < 0 ? n_ctx : r->n_predict;
    int32_t reserve = want < n_ctx / 2 ? want : n_ctx / 2;
    int32_t dropped = fit_context(r, n_ctx, reserve);
    if (dropped < 0) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "engine: prompt of %d tokens does not fit the context of %d (with %d kept "
                 "for the reply) even after dropping old turns",
                 (int)r->n_prompt, (int)n_ctx, (int)reserve);
        emit_error(e, r->id, msg);
        return;
    }
    if (dropped > 0) {
        ev =
            (struct eng_event){.type = ENG_EVENT_TRUNCATED, .request = r->id, .n_dropped = dropped};
        emit(e, &ev);
    }

    /* Prefix reuse: keep the longest common prefix, but always evaluate at least one token so
     * there are logits to sample from. */
    int32_t lcp = 0;
    while (lcp < sl->n && lcp < r->n_prompt && sl->ids[lcp] == r->prompt[lcp])
        lcp++;
    if (lcp == r->n_prompt) lcp--;
    if (eng_session_truncate(r->session, lcp) != ENG_OK) {
        emit_error(e, r->id, "engine: cannot rewind the KV cache");
        return;
    }
    sl->n = lcp;
    tm.n_reused = lcp;

    if (r->n_predict != 0) {
        smp = eng_sampler_new(&r->sampling, n_vocab, &why);
        if (!smp) {
            emit_error(e, r->id, why ? why : "engine: out of memory");
            free(why);
            return;
        }
        int32_t from =
            r->n_prompt > r->sampling.repeat_last_n ? r->n_prompt - r->sampling.repeat_last_n : 0;
        for (int32_t i = from; i < r->n_prompt; i++)
            eng_sampler_accept(smp, r->prompt[i]);
    }

    /* Prefill: whole, or in chunks of PREFILL_CHUNK rows when every row's logits are wanted. */
    double tp = now_ms();
    for (int32_t at = lcp; at < r->n_prompt;) {
        if (cancelled(e, r->id)) {
            stop = ENG_STOP_CANCELLED;
            goto done;
        }
        int32_t n = r->n_prompt - at;
        if (r->logits_all && n > PREFILL_CHUNK) n = PREFILL_CHUNK;
        const int32_t past = eng_session_n_past(r->session);
        const int rc =
            eng_session_eval(r->session, r->prompt + at, n, e->logits, r->logits_all, &why);
        if (rc == ENG_ERR_CANCELLED) { /* stopped between layers: keep what it completed */
            free(why);
            why = NULL;
            slot_push(sl, r->prompt + at, eng_session_n_past(r->session) - past);
            stop = ENG_STOP_CANCELLED;
            goto done;
        }
        if (rc != ENG_OK) {
            emit_error(e, r->id, why ? why : "engine: evaluation failed");
            free(why);
            why = NULL;
            sl->n = eng_session_n_past(r->session);
            goto out;
        }
        slot_push(sl, r->prompt + at, n);
        if (r->logits_all) {
            ev = (struct eng_event){.type = ENG_EVENT_LOGITS,
                                    .request = r->id,
                                    .logits = e->logits,
                                    .n_rows = n,
                                    .n_vocab = n_vocab};
            if (emit(e, &ev)) {
                stop = ENG_STOP_SINK;
                goto done;
            }
        }
        at += n;
    }
    tm.n_prefill = r->n_prompt - lcp;
    tm.prefill_ms = now_ms() - tp;
    /* The last evaluation's last row holds the logits to sample from. */
    const float *last = e->logits;
    if (r->logits_all) {
        int32_t rows = (r->n_prompt - lcp) % PREFILL_CHUNK;
        if (rows == 0) rows = PREFILL_CHUNK;
        last = e->logits + (size_t)(rows - 1) * (size_t)n_vocab;
    }
    if (r->n_predict == 0) goto done;

    double tg = now_ms();
    for (int32_t i = 0; want < 0 || i < want; i++) {
        if (cancelled(e, r->id)) {
            stop = ENG_STOP_CANCELLED;
            break;
        }
        int32_t id = eng_sampler_sample(smp, last);
        if (tm.n_gen == 0) tm.ttft_ms = now_ms() - t0;
        bool is_stop = false;
        for (int32_t k = 0; k < r->n_stop_ids; k++)
            is_stop |= r->stop_ids[k] == id;
        if (is_stop) {
            stop = ENG_STOP_EOS;
            stop_id = id;
            break;
        }
        eng_sampler_accept(smp, id);
        tm.n_gen++;
        batch[n_batch++] = id;
        if (n_batch == TOKEN_BATCH || now_ms() - last_flush >= FLUSH_MS) {
            ev = (struct eng_event){
                .type = ENG_EVENT_TOKENS, .request = r->id, .ids = batch, .n_ids = n_batch};
            n_batch = 0;
            last_flush = now_ms();
            if (emit(e, &ev)) {
                stop = ENG_STOP_SINK;
                break;
            }
        }
        if (i + 1 == want) break; /* the last token needs no evaluation */
        if (eng_session_n_past(r->session) >= n_ctx) {
            stop = ENG_STOP_CONTEXT;
            break;
        }
        const int rc = eng_session_eval(r->session, &id, 1, e->logits, false, &why);
        if (rc == ENG_ERR_CANCELLED) { /* the token is emitted; its evaluation was cut short */
            free(why);
            why = NULL;
            stop = ENG_STOP_CANCELLED;
            break;
        }
        if (rc != ENG_OK) {
            emit_error(e, r->id, why ? why : "engine: evaluation failed");
            free(why);
            why = NULL;
            sl->n = eng_session_n_past(r->session);
            goto out;
        }
        slot_push(sl, &id, 1);
        last = e->logits;
        if (r->logits_all) {
            ev = (struct eng_event){.type = ENG_EVENT_LOGITS,
                                    .request = r->id,
                                    .logits = e->logits,
                                    .n_rows = 1,
                                    .n_vocab = n_vocab};
            if (emit(e, &ev)) {
                stop = ENG_STOP_SINK;
                break;
            }
        }
    }
    tm.gen_ms = now_ms() - tg;
done:
    if (n_batch > 0) {
        ev = (struct eng_event){
            .type = ENG_EVENT_TOKENS, .request = r->id, .ids = batch, .n_ids = n_batch};
        emit(e, &ev);
    }
    tm.total_ms = now_ms() - t0;
    ev = (struct eng_event){
        .type = ENG_EVENT_DONE, .request = r->id, .stop = stop, .stop_id = stop_id, .timings = tm};
    emit(e, &ev);
out:
    eng_sampler_free(smp);
}

static void *engine_main(void *arg)
{
    struct eng_engine *e = arg;
    for (;;) {
        pthread_mutex_lock(&e->mu);
        while (!e->head && !e->quit)
            pthread_cond_wait(&e->cv, &e->mu);
        if (!e->head) { /* quit with an empty queue */
            pthread_mutex_unlock(&e->mu);
            break;
        }
        struct job *j = e->head;
        e->head = j->next;
        if (!e->head) e->tail = NULL;
        atomic_store(&e->running_id, j->r.id);
        pthread_mutex_unlock(&e->mu);
        if (cancelled(e, j->r.id)) {
            struct eng_event ev = {.type = ENG_EVENT_DONE,
                                   .request = j->r.id,
                                   .stop = ENG_STOP_CANCELLED,
                                   .stop_id = -1};
            emit(e, &ev);
        } else {
            struct abort_ctx ac = {.e = e, .id = j->r.id}; /* a cancel stops a prompt mid-way */
            eng_session_set_abort(j->r.session, abort_check, &ac);
            run_job(e, &j->r);
            eng_session_set_abort(j->r.session, NULL, NULL);
        }
        atomic_store(&e->running_id, 0);
        /* A cancel aimed at this request is spent. */
        uint64_t id = j->r.id;
        atomic_compare_exchange_strong(&e->cancel_id, &id, 0);
        job_free(j);
    }
    return NULL;
}

struct eng_engine *eng_engine_new(const struct eng_model *m, eng_sink_cb sink, void *user,
                                  char **why)
{
    struct eng_engine *e = calloc(1, sizeof *e);
    if (!e) {
        eng_fail(why, ENG_ERR_NOMEM, "engine: out of memory");
        return NULL;
    }
    e->model = m;
    e->sink = sink;
    e->user = user;
    e->logits = malloc((size_t)PREFILL_CHUNK * (size_t)eng_model_n_vocab(m) * sizeof(float));
    if (!e->logits) {
        free(e);
        eng_fail(why, ENG_ERR_NOMEM, "engine: out of memory for logits");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    int rc = pthread_create(&e->thread, NULL, engine_main, e);
    if (rc != 0) {
        pthread_mutex_destroy(&e->mu);
        pthread_cond_destroy(&e->cv);
        free(e->logits);
        free(e);
        eng_fail(why, ENG_ERR_NOMEM, "engine: cannot start thread: %s", strerror(rc));
        return NULL;
    }
    return e;
}

static void *dup_array(const void *p, size_t n, size_t size)
{
    if (n == 0) return NULL;
    void *q = malloc(n * size);
    if (q) memcpy(q, p, n * size);
    return q;
}

int eng_engine_submit(struct eng_engine *e, const struct eng_request *r, char **why)
{
    if (!r->session || r->id == 0 || r->n_prompt <= 0 || r->n_stop_ids < 0 || r->n_turn_starts < 0)
        return eng_fail(why, ENG_ERR_RANGE,
                        "engine: a request needs a session, an id > 0 and a prompt");
    struct job *j = calloc(1, sizeof *j);
    if (!j) return eng_fail(why, ENG_ERR_NOMEM, "engine: out of memory");
    j->r = *r;
    j->r.prompt = dup_array(r->prompt, (size_t)r->n_prompt, sizeof *r->prompt);
    j->r.stop_ids = dup_array(r->stop_ids, (size_t)r->n_stop_ids, sizeof *r->stop_ids);
    j->r.turn_starts = dup_array(r->turn_starts, (size_t)r->n_turn_starts, sizeof *r->turn_starts);
    if (!j->r.prompt || (r->n_stop_ids && !j->r.stop_ids) ||
        (r->n_turn_starts && !j->r.turn_starts)) {
        job_free(j);
        return eng_fail(why, ENG_ERR_NOMEM, "engine: out of memory");
    }
    pthread_mutex_lock(&e->mu);
    if (e->tail)
        e->tail->next = j;
    else
        e->head = j;
    e->tail = j;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    return ENG_OK;
}

void eng_engine_cancel(struct eng_engine *e, uint64_t request_id)
{
    atomic_store(&e->cancel_id, request_id);
}

void eng_engine_free(struct eng_engine *e)
{
    if (!e) return;
    atomic_store(&e->cancel_all, true);
    pthread_mutex_lock(&e->mu);
    e->quit = true;
    pthread_cond_signal(&e->cv);
    pthread_mutex_unlock(&e->mu);
    pthread_join(e->thread, NULL);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    for (struct slot *sl = e->slots, *next; sl; sl = next) {
        next = sl->next;
        free(sl->ids);
        free(sl);
    }
    free(e->logits);
    free(e);
}

void eng_engine_forget_session(struct eng_engine *e, struct eng_session *s)
{
    /* Only safe while no request for `s` is queued or running (documented in the header). */
    pthread_mutex_lock(&e->mu);
    for (struct slot **p = &e->slots; *p; p = &(*p)->next) {
        if ((*p)->session == s) {
            struct slot *dead = *p;
            *p = dead->next;
            free(dead->ids);
            free(dead);
            break;
        }
    }
    pthread_mutex_unlock(&e->mu);
}
