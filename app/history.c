/* history — the conversation store (history_int.h has the file format and the API).
 *
 * A conversation in memory is an array of messages in file order; a message's parent is an
 * index that is always smaller than its own, so the tree needs no pointers and cannot have
 * cycles, even when the file is hostile. Loading replays the records in order: partial
 * records create or update an incomplete message, a message record finishes it, select and
 * title records change the current leaf and the title. Writing goes the other way: the
 * in-memory change is made first, serialised as one line, written with one write() and
 * fsync'd; a failed write rolls the change back and closes the file for appending, so memory
 * never claims more than the disk holds. A torn tail found at open time is not cut away (the
 * file is never rewritten): the first append seals it with a "torn" record that names the
 * line, so later loads skip it knowingly.
 */
#include "app/app.h"
#include "app/history_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tokenizer/tokenizer.h"
#include "ui/ui.h"

#define SNIPPET_BEFORE 30 /* bytes of context before a search match */
#define SNIPPET_AFTER  50

static const char *const ROLE_NAMES[] = {"system", "user", "assistant", "observation"};

const char *app_hist_role_name(enum app_hist_role role)
{
    return (unsigned)role < 4 ? ROLE_NAMES[role] : "?";
}

/* ---- small helpers ------------------------------------------------------------------------ */

static int fail(char **why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char **why, const char *fmt, ...)
{
    if (why) {
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(why, fmt, ap) < 0) *why = NULL;
        va_end(ap);
    }
    return -1;
}

static char *xstrdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Decodes one UTF-8 sequence at s (n > 0 bytes left): returns its length and *cp, or 0 when
 * the bytes are not valid UTF-8 (overlong forms, surrogates and > U+10FFFF included). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t v, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, v = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, v = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, v = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* Valid UTF-8 without NUL bytes (cJSON strings end at NUL): a new string where each invalid
 * byte and NUL is U+FFFD. */
static char *utf8_fix(const char *s, size_t len)
{
    struct tok_buf b = {0};
    if (tok_buf_append(&b, "", 0) != 0) return NULL;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)s + i, len - i, &cp);
        if (k == 0 || cp == 0) {
            if (tok_buf_append(&b, "\xef\xbf\xbd", 3) != 0) goto nomem;
            i += k ? k : 1;
            continue;
        }
        if (tok_buf_append(&b, s + i, k) != 0) goto nomem;
        i += k;
    }
    return b.s;
nomem:
    tok_buf_done(&b);
    return NULL;
}

int app_hist_cp_width(uint32_t cp)
{
    /* The ui module's width (utf8proc, grapheme-aware) of the one code point. */
    char u[4];
    size_t n;
    if (cp < 0x80)
        u[0] = (char)cp, n = 1;
    else if (cp < 0x800)
        u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), n = 2;
    else if (cp < 0x10000)
        u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 63)),
        u[2] = (char)(0x80 | (cp & 63)), n = 3;
    else
        u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 63)),
        u[2] = (char)(0x80 | ((cp >> 6) & 63)), u[3] = (char)(0x80 | (cp & 63)), n = 4;
    return ui_width(u, n);
}

char *app_hist_sanitize(const char *s, size_t len, bool keep_newlines)
{
    return ui_sanitize(s, len, keep_newlines, NULL);
}

void app_hist_format_time(int64_t ms, char *buf, size_t size)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int frac = (int)(ms - (int64_t)t * 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(buf, size, "1970-01-01T00:00:00.000Z");
        return;
    }
    snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
}

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int app_hist_parse_time(const char *s, int64_t *ms)
{
    int y, mo, d, h, mi, sec, frac = 0;
    if (strlen(s) < 19 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != ' ') || digits(s + 11, 2, &h) ||
        s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return -1;
    const char *p = s + 19;
    if (*p == '.') {
        int n = 0;
        for (p++; *p >= '0' && *p <= '9'; p++, n++)
            if (n < 3) frac = frac * 10 + (*p - '0');
        if (n == 0) return -1;
        for (; n < 3; n++)
            frac *= 10;
    }
    int off = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = (oh * 60 + om) * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return -1;
    }
    if (*p) return -1;
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = mo - 1,
                    .tm_mday = d,
                    .tm_hour = h,
                    .tm_min = mi,
                    .tm_sec = sec};
    time_t t = timegm(&tm);
    *ms = ((int64_t)t - (int64_t)off * 60) * 1000 + frac;
    return 0;
}

/* A conversation id: [A-Za-z0-9_-], 1..64 bytes (it becomes a file name). */
static bool id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
    }
    return true;
}

/* ---- places ------------------------------------------------------------------------------- */

char *app_hist_dir(char **why)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    char *out = NULL;
    int r;
    /* XDG base directory spec: a relative path in the variable is invalid and ignored. */
    if (xdg && xdg[0] == '/') {
        r = asprintf(&out, "%s/glmterm/conversations", xdg);
    } else {
        const char *home = getenv("HOME");
        if (!home || home[0] != '/') {
            fail(why, "history: neither XDG_DATA_HOME nor HOME is set");
            return NULL;
        }
        r = asprintf(&out, "%s/.local/share/glmterm/conversations", home);
    }
    if (r < 0) {
        fail(why, "history: out of memory");
        return NULL;
    }
    return out;
}

/* ---- conversations in memory ---------------------------------------------------------------- */

static void msg_done(struct app_hist_msg *m)
{
    free(m->id);
    free(m->content);
    free(m->metadata);
    free(m->model);
    cJSON_Delete(m->tools);
    memset(m, 0, sizeof *m);
}

void app_hist_free(struct app_hist_conv *c)
{
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    for (size_t i = 0; i < c->n_msgs; i++)
        msg_done(&c->msgs[i]);
    free(c->msgs);
    free(c->id);
    free(c->path);
    free(c->model);
    free(c->profile);
    free(c->title);
    free(c->warning);
    free(c);
}

static struct app_hist_conv *conv_new(const char *path)
{
    struct app_hist_conv *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->fd = -1;
    c->leaf = -1;
    c->next_num = 1;
    c->path = strdup(path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 6 && strcmp(base + n - 6, ".jsonl") == 0) n -= 6;
    c->id = strndup(base, n);
    if (!c->path || !c->id) {
        app_hist_free(c);
        return NULL;
    }
    return c;
}

/* A new zeroed message at the end; NULL on no memory or too many. */
static struct app_hist_msg *msg_push(struct app_hist_conv *c)
{
    if (c->n_msgs >= APP_HIST_MAX_MSGS) return NULL;
    if (c->n_msgs == c->cap_msgs) {
        size_t cap = c->cap_msgs ? c->cap_msgs * 2 : 16;
        struct app_hist_msg *v = realloc(c->msgs, cap * sizeof *v);
        if (!v) return NULL;
        c->msgs = v;
        c->cap_msgs = cap;
    }
    struct app_hist_msg *m = &c->msgs[c->n_msgs++];
    memset(m, 0, sizeof *m);
    m->parent = -1;
    return m;
}

int32_t app_hist_find(const struct app_hist_conv *c, const char *id)
{
    /* Newest first: partial records update the most recent messages. */
    for (size_t i = c->n_msgs; i-- > 0;)
        if (strcmp(c->msgs[i].id, id) == 0) return (int32_t)i;
    return -1;
}

/* Keeps next_num above every "m<N>" id. */
static void note_id(struct app_hist_conv *c, const char *id)
{
    if (id[0] != 'm' || !id[1]) return;
    char *end;
    errno = 0;
    unsigned long v = strtoul(id + 1, &end, 10);
    if (*end || errno || id[1] < '0' || id[1] > '9' || v >= UINT32_MAX - 1) return;
    if (v + 1 > c->next_num) c->next_num = (uint32_t)v + 1;
}

/* True when `id` is "m<N>" with N above every id seen so far: a new message, no search
 * needed (ids are numbered in file order, so loading stays linear in the file). */
static bool id_is_new(const struct app_hist_conv *c, const char *id)
{
    if (id[0] != 'm' || id[1] < '0' || id[1] > '9') return false;
    char *end;
    errno = 0;
    unsigned long v = strtoul(id + 1, &end, 10);
    return !*end && !errno && v >= c->next_num;
}

/* ---- loading ------------------------------------------------------------------------------ */

struct loader {
    struct app_hist_conv *c;
    uint32_t line;
    char **why;
};

static int field_err(struct loader *ld, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int field_err(struct loader *ld, const char *field, const char *fmt, ...)
{
    if (ld->why) {
        char *msg = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
        va_end(ap);
        /* Values quoted from the file are untrusted: one line, no escapes, bounded. */
        char *clean =
            msg ? app_hist_sanitize(msg, strlen(msg) < 240 ? strlen(msg) : 240, false) : NULL;
        if (asprintf(ld->why, "%s:%u: %s: %s", ld->c->path, ld->line, field,
                     clean ? clean : "invalid") < 0)
            *ld->why = NULL;
        free(clean);
        free(msg);
    }
    return -1;
}

/* Optional string member: *out borrowed (NULL when absent or null). */
static int get_opt_str(struct loader *ld, const cJSON *rec, const char *key, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(rec, key);
    *out = NULL;
    if (!it || cJSON_IsNull(it)) return 0;
    if (!cJSON_IsString(it) || !it->valuestring) return field_err(ld, key, "expected a string");
    *out = it->valuestring;
    return 0;
}

static int get_str(struct loader *ld, const cJSON *rec, const char *key, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(rec, key);
    *out = NULL; /* set on failure too: callers' locals are never read uninitialised */
    if (!it) return field_err(ld, key, "missing");
    if (!cJSON_IsString(it) || !it->valuestring) return field_err(ld, key, "expected a string");
    *out = it->valuestring;
    return 0;
}

static int get_time(struct loader *ld, const cJSON *rec, const char *key, bool required,
                    int64_t *ms)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(rec, key);
    if (!it && !required) return 0;
    if (!it) return field_err(ld, key, "missing");
    if (!cJSON_IsString(it) || !it->valuestring || app_hist_parse_time(it->valuestring, ms) != 0)
        return field_err(ld, key, "expected an ISO-8601 time such as 2026-11-26T18:45:12Z");
    if (*ms > ld->c->updated_ms) ld->c->updated_ms = *ms;
    return 0;
}

static int get_timings(struct loader *ld, const cJSON *rec, struct app_hist_timings *t)
{
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(rec, "timings");
    memset(t, 0, sizeof *t);
    if (!o || cJSON_IsNull(o)) return 0;
    if (!cJSON_IsObject(o)) return field_err(ld, "timings", "expected an object");
    static const char *const keys[] = {"ttft_ms", "tokens_per_s", "n_gen", "n_prompt"};
    double v[4] = {0};
    for (int i = 0; i < 4; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, keys[i]);
        if (!it) continue;
        if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || it->valuedouble < 0 ||
            (i >= 2 && (it->valuedouble != floor(it->valuedouble) || it->valuedouble > 9e15))) {
            char f[32];
            snprintf(f, sizeof f, "timings.%s", keys[i]);
            return field_err(ld, f, "expected a non-negative %s", i >= 2 ? "integer" : "number");
        }
        v[i] = it->valuedouble;
    }
    t->present = true;
    t->ttft_ms = v[0];
    t->tokens_per_s = v[1];
    t->n_gen = (int64_t)v[2];
    t->n_prompt = (int64_t)v[3];
    return 0;
}

static int replace_str(char **dst, const char *src)
{
    char *s = NULL;
    if (src && !(s = strdup(src))) return -1;
    free(*dst);
    *dst = s;
    return 0;
}

/* A "message" (partial == false) or "partial" record. */
static int load_msg(struct loader *ld, const cJSON *rec, bool partial)
{
    struct app_hist_conv *c = ld->c;
    const char *id, *content, *parent_id, *role_s, *metadata, *model;
    if (get_str(ld, rec, "id", &id) != 0) return -1;
    if (!id[0] || strlen(id) > APP_HIST_MAX_ID)
        return field_err(ld, "id", "expected 1 to %d bytes", APP_HIST_MAX_ID);
    const cJSON *par = cJSON_GetObjectItemCaseSensitive(rec, "parent");
    if (!par) return field_err(ld, "parent", "missing (null for the first message)");
    int32_t parent = -1;
    if (!cJSON_IsNull(par)) {
        if (!cJSON_IsString(par) || !par->valuestring)
            return field_err(ld, "parent", "expected a message id or null");
        parent_id = par->valuestring;
        parent = app_hist_find(c, parent_id);
        if (parent < 0) return field_err(ld, "parent", "no earlier message '%s'", parent_id);
    }
    if (get_str(ld, rec, "role", &role_s) != 0) return -1;
    int role = -1;
    for (int i = 0; i < 4; i++)
        if (strcmp(role_s, ROLE_NAMES[i]) == 0) role = i;
    if (role < 0)
        return field_err(ld, "role", "expected system, user, assistant or observation, not '%s'",
                         role_s);
    if (get_str(ld, rec, "content", &content) != 0) return -1;
    if (get_opt_str(ld, rec, "metadata", &metadata) != 0) return -1;
    if (get_opt_str(ld, rec, "model", &model) != 0) return -1;
    const cJSON *tools = cJSON_GetObjectItemCaseSensitive(rec, "tools");
    if (tools && cJSON_IsNull(tools)) tools = NULL;
    if (tools && !cJSON_IsArray(tools)) return field_err(ld, "tools", "expected an array");
    if (tools && role != APP_HIST_SYSTEM)
        return field_err(ld, "tools", "only the system message carries tools");
    struct app_hist_timings timings;
    if (get_timings(ld, rec, &timings) != 0) return -1;
    int64_t created = 0;
    if (get_time(ld, rec, "created", true, &created) != 0) return -1;
    bool complete = false;
    if (!partial) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(rec, "complete");
        if (!it) return field_err(ld, "complete", "missing");
        if (!cJSON_IsBool(it)) return field_err(ld, "complete", "expected true or false");
        complete = cJSON_IsTrue(it);
    }

    int32_t idx = id_is_new(c, id) ? -1 : app_hist_find(c, id);
    struct app_hist_msg *m;
    if (idx >= 0) {
        m = &c->msgs[idx];
        if (m->finished) return field_err(ld, "id", "message '%s' is already complete", id);
        if (m->parent != parent) return field_err(ld, "parent", "differs from '%s' before", id);
        if ((int)m->role != role) return field_err(ld, "role", "differs from '%s' before", id);
    } else {
        if (!(m = msg_push(c))) return field_err(ld, "id", "out of memory or too many messages");
        idx = (int32_t)(c->n_msgs - 1);
        m->parent = parent;
        m->role = (enum app_hist_role)role;
        m->created_ms = created;
        if (!(m->id = strdup(id))) goto nomem;
        note_id(c, id);
    }
    if (replace_str(&m->content, content) != 0 || replace_str(&m->metadata, metadata) != 0 ||
        replace_str(&m->model, model) != 0)
        goto nomem;
    cJSON_Delete(m->tools);
    m->tools = NULL;
    if (tools && !(m->tools = cJSON_Duplicate(tools, 1))) goto nomem;
    m->timings = timings;
    m->complete = complete;
    m->finished = !partial;
    c->leaf = idx;
    return 0;
nomem:
    return field_err(ld, "content", "out of memory");
}

static int load_header(struct loader *ld, const cJSON *rec)
{
    struct app_hist_conv *c = ld->c;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "version");
    if (!v) return field_err(ld, "version", "missing");
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1)
        return field_err(ld, "version", "expected a positive integer");
    if (v->valuedouble > APP_HIST_VERSION)
        return field_err(ld, "version", "format %.0f is newer than this glmterm reads (%d)",
                         v->valuedouble, APP_HIST_VERSION);
    const char *id, *model, *profile;
    if (get_str(ld, rec, "id", &id) != 0) return -1;
    if (get_opt_str(ld, rec, "model", &model) != 0 ||
        get_opt_str(ld, rec, "profile", &profile) != 0)
        return -1;
    if (get_time(ld, rec, "created", true, &c->created_ms) != 0) return -1;
    if (replace_str(&c->model, model) != 0 || replace_str(&c->profile, profile) != 0)
        return field_err(ld, "model", "out of memory");
    return 0;
}

static int load_record(struct loader *ld, const cJSON *rec)
{
    struct app_hist_conv *c = ld->c;
    const char *type;
    if (get_str(ld, rec, "type", &type) != 0) return -1;
    if (ld->line == 1) {
        if (strcmp(type, "header") != 0)
            return field_err(ld, "type", "the first line must be the header, not '%s'", type);
        return load_header(ld, rec);
    }
    if (strcmp(type, "header") == 0) return field_err(ld, "type", "a second header");
    if (strcmp(type, "message") == 0) return load_msg(ld, rec, false);
    if (strcmp(type, "partial") == 0) return load_msg(ld, rec, true);
    if (strcmp(type, "select") == 0) {
        const char *leaf;
        int64_t t;
        if (get_str(ld, rec, "leaf", &leaf) != 0) return -1;
        int32_t idx = app_hist_find(c, leaf);
        if (idx < 0) return field_err(ld, "leaf", "no earlier message '%s'", leaf);
        if (get_time(ld, rec, "created", false, &t) != 0) return -1;
        c->leaf = idx;
        return 0;
    }
    if (strcmp(type, "title") == 0) {
        const char *title;
        int64_t t;
        if (get_str(ld, rec, "title", &title) != 0) return -1;
        if (get_time(ld, rec, "created", false, &t) != 0) return -1;
        if (replace_str(&c->title, title) != 0) return field_err(ld, "title", "out of memory");
        return 0;
    }
    /* "branch", "torn" (checked by the caller), "vote", "tool" ...: newer or informational. */
    return 0;
}

/* A torn record that names line `line` of `bytes` bytes. */
static bool is_torn_marker(const cJSON *rec, uint32_t line, size_t bytes)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(rec, "type");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(rec, "line");
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(rec, "bytes");
    return cJSON_IsString(t) && t->valuestring && strcmp(t->valuestring, "torn") == 0 &&
           cJSON_IsNumber(l) && l->valuedouble == (double)line && cJSON_IsNumber(b) &&
           b->valuedouble == (double)bytes;
}

/* Parses one line as a JSON object; NULL when it is not exactly one. */
static cJSON *parse_line(const char *s, size_t n)
{
    if (n == 0 || n > APP_HIST_MAX_LINE) return NULL;
    const char *end = NULL;
    cJSON *rec = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (!rec) return NULL;
    while (end && end < s + n && (*end == ' ' || *end == '\t' || *end == '\r'))
        end++;
    if (!cJSON_IsObject(rec) || !end || end != s + n) {
        cJSON_Delete(rec);
        return NULL;
    }
    return rec;
}

static int load_buf(struct app_hist_conv *c, const char *buf, size_t len, char **why)
{
    struct loader ld = {.c = c, .why = why};
    bool pending = false; /* the previous line was invalid: only a torn record may follow */
    uint32_t bad_line = 0;
    size_t bad_bytes = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(buf + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
        size_t next = pos + n + (nl ? 1 : 0);
        bool last = next >= len;
        ld.line++;
        cJSON *rec = parse_line(buf + pos, n);
        if (!rec) {
            if (pending)
                return fail(why, "%s:%u: not a JSON object (a damaged line)", c->path, bad_line);
            if (last && ld.line > 1) {
                if (asprintf(&c->warning, "conversation %s: last line torn (%zu bytes) — ignored",
                             c->id, n) < 0)
                    c->warning = NULL;
                c->tail = nl ? APP_HIST_TAIL_TORN_CLOSED : APP_HIST_TAIL_TORN_OPEN;
                c->torn_line = ld.line;
                c->torn_bytes = n;
                break;
            }
            if (ld.line == 1)
                return fail(why, "%s:1: not a conversation header (%zu bytes)", c->path, n);
            pending = true;
            bad_line = ld.line;
            bad_bytes = n;
            pos = next;
            continue;
        }
        if (pending) {
            if (!is_torn_marker(rec, bad_line, bad_bytes)) {
                cJSON_Delete(rec);
                return fail(why, "%s:%u: not a JSON object (a damaged line)", c->path, bad_line);
            }
            pending = false;
        }
        int rc = load_record(&ld, rec);
        cJSON_Delete(rec);
        if (rc != 0) return -1;
        c->tail = nl ? APP_HIST_TAIL_CLEAN : APP_HIST_TAIL_UNTERMINATED;
        pos = next;
    }
    if (ld.line == 0) return fail(why, "%s: empty file (no header)", c->path);
    c->n_lines = ld.line;
    if (c->updated_ms < c->created_ms) c->updated_ms = c->created_ms;
    return 0;
}

/* One writer per conversation: two processes appending would both pick the next message id.
 * The lock goes with the descriptor, so a killed glmterm releases it. */
static int lock_writer(int fd, const char *path, char **why)
{
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) return 0;
    if (errno == EWOULDBLOCK) return fail(why, "%s: open for writing in another glmterm", path);
    return fail(why, "%s: flock: %s", path, strerror(errno));
}

struct app_hist_conv *app_hist_load_file(const char *path, bool writable, char **why)
{
    struct app_hist_conv *c = conv_new(path);
    char *buf = NULL;
    int fd = -1;
    if (!c) {
        fail(why, "%s: out of memory", path);
        goto err;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fail(why, "%s: %s", path, strerror(errno));
        goto err;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        fail(why, "%s: %s", path, strerror(errno));
        goto err;
    }
    if (!S_ISREG(st.st_mode)) {
        fail(why, "%s: not a regular file", path);
        goto err;
    }
    if ((uint64_t)st.st_size > APP_HIST_MAX_FILE) {
        fail(why, "%s: larger than %llu MiB", path, APP_HIST_MAX_FILE >> 20);
        goto err;
    }
    size_t size = (size_t)st.st_size, got = 0;
    if (!(buf = malloc(size + 1))) {
        fail(why, "%s: out of memory", path);
        goto err;
    }
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            fail(why, "%s: %s", path, strerror(errno));
            goto err;
        }
        if (r == 0) break; /* shrank meanwhile: parse what is there */
        got += (size_t)r;
    }
    buf[got] = 0;
    if (close(fd) != 0) {
        fd = -1;
        fail(why, "%s: %s", path, strerror(errno));
        goto err;
    }
    fd = -1;
    if (load_buf(c, buf, got, why) != 0) goto err;
    free(buf);
    buf = NULL;
    if (writable) {
        c->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (c->fd < 0 || lock_writer(c->fd, path, why) != 0) {
            if (c->fd < 0) fail(why, "%s: %s", path, strerror(errno));
            goto err;
        }
    }
    return c;
err:
    if (fd >= 0) close(fd);
    free(buf);
    app_hist_free(c);
    return NULL;
}

struct app_hist_conv *app_hist_open(const char *id, bool writable, char **why)
{
    if (!id_ok(id)) {
        fail(why, "%s: not a conversation id", id);
        return NULL;
    }
    char *dir = app_hist_dir(why), *path = NULL;
    struct app_hist_conv *c = NULL;
    if (!dir) return NULL;
    if (asprintf(&path, "%s/%s.jsonl", dir, id) < 0) {
        path = NULL;
        fail(why, "history: out of memory");
        goto out;
    }
    c = app_hist_load_file(path, writable, why);
out:
    free(dir);
    free(path);
    return c;
}

/* ---- appending ---------------------------------------------------------------------------- */

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes `rec` as one line (after sealing a torn tail) and fsyncs. On failure the file is
 * closed for appending: what it holds is found out by the next load. */
static int append_record(struct app_hist_conv *c, const cJSON *rec, char **why)
{
    char *json = NULL, *line = NULL;
    int rc = -1;
    if (c->fd < 0) return fail(why, "%s: not open for appending", c->path);
    if (!(json = cJSON_PrintUnformatted(rec))) {
        fail(why, "%s: out of memory", c->path);
        goto out;
    }
    size_t jn = strlen(json);
    if (jn > APP_HIST_MAX_LINE) {
        fail(why, "%s: record of %zu bytes is over the %u MiB line limit", c->path, jn,
             APP_HIST_MAX_LINE >> 20);
        goto out;
    }
    char seal[96] = "";
    uint32_t extra = 0;
    if (c->tail == APP_HIST_TAIL_UNTERMINATED) {
        snprintf(seal, sizeof seal, "\n");
    } else if (c->tail == APP_HIST_TAIL_TORN_OPEN || c->tail == APP_HIST_TAIL_TORN_CLOSED) {
        snprintf(seal, sizeof seal, "%s{\"type\":\"torn\",\"line\":%u,\"bytes\":%zu}\n",
                 c->tail == APP_HIST_TAIL_TORN_OPEN ? "\n" : "", c->torn_line, c->torn_bytes);
        extra = 1;
    }
    size_t sn = strlen(seal);
    if (!(line = malloc(sn + jn + 2))) {
        fail(why, "%s: out of memory", c->path);
        goto out;
    }
    memcpy(line, seal, sn);
    memcpy(line + sn, json, jn);
    line[sn + jn] = '\n';
    if (write_all(c->fd, line, sn + jn + 1) != 0 || fsync(c->fd) != 0) {
        fail(why, "%s: %s", c->path, strerror(errno));
        close(c->fd);
        c->fd = -1;
        goto out;
    }
    c->n_fsync++;
    c->n_lines += extra + 1;
    c->tail = APP_HIST_TAIL_CLEAN;
    rc = 0;
out:
    free(json);
    free(line);
    return rc;
}

static bool add_str(cJSON *o, const char *key, const char *v)
{
    return v ? cJSON_AddStringToObject(o, key, v) != NULL : cJSON_AddNullToObject(o, key) != NULL;
}

static bool add_time(cJSON *o, int64_t ms)
{
    char t[96]; /* 24 bytes in practice; room for any int in every field (-Wformat-truncation) */
    app_hist_format_time(ms, t, sizeof t);
    return add_str(o, "created", t);
}

/* The record of message `m` ("message" or "partial"). NULL on no memory. */
static cJSON *msg_record(const struct app_hist_conv *c, const struct app_hist_msg *m, bool partial)
{
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    bool ok = add_str(o, "type", partial ? "partial" : "message") && add_str(o, "id", m->id) &&
              add_str(o, "parent", m->parent >= 0 ? c->msgs[m->parent].id : NULL) &&
              add_str(o, "role", app_hist_role_name(m->role)) && add_str(o, "content", m->content);
    if (ok && m->metadata) ok = add_str(o, "metadata", m->metadata);
    if (ok && m->tools) {
        cJSON *t = cJSON_Duplicate(m->tools, 1);
        ok = t && cJSON_AddItemToObject(o, "tools", t);
        if (!ok) cJSON_Delete(t);
    }
    if (ok && m->model) ok = add_str(o, "model", m->model);
    if (ok && m->timings.present) {
        cJSON *t = cJSON_AddObjectToObject(o, "timings");
        ok = t && cJSON_AddNumberToObject(t, "ttft_ms", m->timings.ttft_ms) &&
             cJSON_AddNumberToObject(t, "tokens_per_s", m->timings.tokens_per_s) &&
             cJSON_AddNumberToObject(t, "n_gen", (double)m->timings.n_gen) &&
             cJSON_AddNumberToObject(t, "n_prompt", (double)m->timings.n_prompt);
    }
    ok = ok && add_time(o, partial ? now_ms() : m->created_ms);
    if (ok && !partial) ok = cJSON_AddBoolToObject(o, "complete", m->complete) != NULL;
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* Writes message idx's record; 0 or -1. */
static int write_msg(struct app_hist_conv *c, int32_t idx, bool partial, char **why)
{
    cJSON *rec = msg_record(c, &c->msgs[idx], partial);
    if (!rec) return fail(why, "%s: out of memory", c->path);
    int rc = append_record(c, rec, why);
    cJSON_Delete(rec);
    if (rc == 0) c->updated_ms = now_ms();
    return rc;
}

/* A new message at the end, filled from `in`; -1 (nothing added) on bad input. */
static int32_t msg_add(struct app_hist_conv *c, const struct app_hist_new *in, char **why)
{
    if (in->parent < -1 || in->parent >= (int32_t)c->n_msgs)
        return fail(why, "%s: parent %d: no such message", c->path, in->parent);
    if ((unsigned)in->role > APP_HIST_OBSERVATION) return fail(why, "%s: bad role", c->path);
    if (in->tools && in->role != APP_HIST_SYSTEM)
        return fail(why, "%s: only the system message carries tools", c->path);
    if (c->next_num >= UINT32_MAX - 1) return fail(why, "%s: out of message ids", c->path);
    struct app_hist_msg *m = msg_push(c);
    if (!m) return fail(why, "%s: out of memory or too many messages", c->path);
    m->parent = in->parent;
    m->role = in->role;
    m->created_ms = now_ms();
    bool ok = asprintf(&m->id, "m%u", c->next_num) >= 0;
    if (!ok) m->id = NULL;
    const char *content = in->content ? in->content : "";
    size_t clen = in->content ? in->content_len : 0;
    ok = ok && (m->content = utf8_fix(content, clen)) != NULL;
    if (ok && in->metadata) ok = (m->metadata = utf8_fix(in->metadata, strlen(in->metadata)));
    if (ok && in->model) ok = (m->model = utf8_fix(in->model, strlen(in->model)));
    if (ok && in->tools) ok = (m->tools = cJSON_Duplicate(in->tools, 1));
    if (ok && in->timings) m->timings = *in->timings;
    if (!ok) {
        msg_done(m);
        c->n_msgs--;
        return fail(why, "%s: out of memory", c->path);
    }
    c->next_num++;
    return (int32_t)(c->n_msgs - 1);
}

/* Undoes msg_add of the last message after a failed write. */
static void msg_drop_last(struct app_hist_conv *c, int32_t old_leaf)
{
    msg_done(&c->msgs[--c->n_msgs]);
    c->next_num--;
    c->leaf = old_leaf;
}

int32_t app_hist_append(struct app_hist_conv *c, const struct app_hist_new *in, char **why)
{
    int32_t old_leaf = c->leaf;
    int32_t idx = msg_add(c, in, why);
    if (idx < 0) return -1;
    c->msgs[idx].complete = true;
    c->msgs[idx].finished = true;
    c->leaf = idx;
    if (write_msg(c, idx, false, why) != 0) {
        msg_drop_last(c, old_leaf);
        return -1;
    }
    return idx;
}

int32_t app_hist_reply_begin(struct app_hist_conv *c, int32_t parent, enum app_hist_role role,
                             const char *model, char **why)
{
    struct app_hist_new in = {.parent = parent, .role = role, .model = model};
    int32_t old_leaf = c->leaf;
    int32_t idx = msg_add(c, &in, why);
    if (idx < 0) return -1;
    c->leaf = idx;
    if (write_msg(c, idx, true, why) != 0) {
        msg_drop_last(c, old_leaf);
        return -1;
    }
    c->msgs[idx].last_partial_ms = mono_ms();
    return idx;
}

static int check_reply(struct app_hist_conv *c, int32_t idx, char **why)
{
    if (idx < 0 || (size_t)idx >= c->n_msgs) return fail(why, "%s: no message %d", c->path, idx);
    if (c->msgs[idx].finished)
        return fail(why, "%s: message %s is already finished", c->path, c->msgs[idx].id);
    return 0;
}

int app_hist_reply_partial(struct app_hist_conv *c, int32_t idx, const char *content, size_t len,
                           char **why)
{
    if (check_reply(c, idx, why) != 0) return -1;
    struct app_hist_msg *m = &c->msgs[idx];
    int64_t now = mono_ms();
    if (m->last_partial_ms && now - m->last_partial_ms < APP_HIST_PARTIAL_MS) return 0;
    char *text = utf8_fix(content, len);
    if (!text) return fail(why, "%s: out of memory", c->path);
    if (strcmp(text, m->content) == 0) {
        free(text);
        return 0;
    }
    char *old = m->content;
    m->content = text;
    if (write_msg(c, idx, true, why) != 0) {
        m->content = old;
        free(text);
        return -1;
    }
    free(old);
    m->last_partial_ms = now;
    return 1;
}

int app_hist_reply_finish(struct app_hist_conv *c, int32_t idx, const char *content, size_t len,
                          const char *metadata, const struct app_hist_timings *timings,
                          bool complete, char **why)
{
    if (check_reply(c, idx, why) != 0) return -1;
    struct app_hist_msg *m = &c->msgs[idx];
    struct app_hist_msg saved = *m;
    char *text = utf8_fix(content ? content : "", content ? len : 0);
    char *meta = metadata ? utf8_fix(metadata, strlen(metadata)) : NULL;
    if (!text || (metadata && !meta)) {
        free(text);
        free(meta);
        return fail(why, "%s: out of memory", c->path);
    }
    m->content = text;
    m->metadata = meta;
    if (timings) m->timings = *timings;
    m->complete = complete;
    m->finished = true;
    if (write_msg(c, idx, false, why) != 0) {
        free(text);
        free(meta);
        *m = saved;
        return -1;
    }
    free(saved.content);
    free(saved.metadata);
    c->leaf = idx;
    return 0;
}

int32_t app_hist_retry(struct app_hist_conv *c, int32_t old, const char *model, char **why)
{
    if (old < 0 || (size_t)old >= c->n_msgs) return fail(why, "%s: no message %d", c->path, old);
    if (c->msgs[old].role != APP_HIST_ASSISTANT)
        return fail(why, "%s: %s is not a reply", c->path, c->msgs[old].id);
    return app_hist_reply_begin(c, c->msgs[old].parent, APP_HIST_ASSISTANT, model, why);
}

int32_t app_hist_edit(struct app_hist_conv *c, int32_t old, const char *content, char **why)
{
    if (old < 0 || (size_t)old >= c->n_msgs) return fail(why, "%s: no message %d", c->path, old);
    if (c->msgs[old].role != APP_HIST_USER)
        return fail(why, "%s: %s is not a user message", c->path, c->msgs[old].id);
    struct app_hist_new in = {.parent = c->msgs[old].parent,
                              .role = APP_HIST_USER,
                              .content = content,
                              .content_len = content ? strlen(content) : 0};
    return app_hist_append(c, &in, why);
}

int app_hist_select(struct app_hist_conv *c, int32_t idx, char **why)
{
    if (idx < 0 || (size_t)idx >= c->n_msgs) return fail(why, "%s: no message %d", c->path, idx);
    cJSON *rec = cJSON_CreateObject();
    int rc = -1;
    if (!rec || !add_str(rec, "type", "select") || !add_str(rec, "leaf", c->msgs[idx].id) ||
        !add_time(rec, now_ms())) {
        fail(why, "%s: out of memory", c->path);
        goto out;
    }
    if (append_record(c, rec, why) != 0) goto out;
    c->leaf = idx;
    c->updated_ms = now_ms();
    rc = 0;
out:
    cJSON_Delete(rec);
    return rc;
}

int app_hist_set_title(struct app_hist_conv *c, const char *title, char **why)
{
    char *t = utf8_fix(title, strlen(title));
    cJSON *rec = cJSON_CreateObject();
    int rc = -1;
    if (!t || !rec || !add_str(rec, "type", "title") || !add_str(rec, "title", t) ||
        !add_time(rec, now_ms())) {
        fail(why, "%s: out of memory", c->path);
        goto out;
    }
    if (append_record(c, rec, why) != 0) goto out;
    free(c->title);
    c->title = t;
    t = NULL;
    c->updated_ms = now_ms();
    rc = 0;
out:
    free(t);
    cJSON_Delete(rec);
    return rc;
}

struct app_hist_conv *app_hist_create(const char *model, const char *profile, char **why)
{
    char *dir = app_hist_dir(why), *path = NULL;
    struct app_hist_conv *c = NULL;
    cJSON *rec = NULL;
    int fd = -1;
    if (!dir || app_mkdirs(dir, why) != 0) goto err;
    int64_t now = now_ms();
    for (int attempt = 0; fd < 0; attempt++) {
        time_t t = (time_t)(now / 1000);
        struct tm tm;
        char stamp[32];
        uint16_t r;
        if (!gmtime_r(&t, &tm) || strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm) == 0) {
            fail(why, "history: cannot format the time");
            goto err;
        }
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) {
            fail(why, "history: getrandom: %s", strerror(errno));
            goto err;
        }
        free(path);
        if (asprintf(&path, "%s/%s-%04x.jsonl", dir, stamp, r) < 0) {
            path = NULL;
            fail(why, "history: out of memory");
            goto err;
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0 && (errno != EEXIST || attempt >= 64)) {
            fail(why, "%s: %s", path, strerror(errno));
            goto err;
        }
    }
    /* The umask may have taken bits away; 0600 exactly is the contract. */
    if (fchmod(fd, 0600) != 0) {
        fail(why, "%s: %s", path, strerror(errno));
        goto err;
    }
    if (lock_writer(fd, path, why) != 0) goto err;
    if (!(c = conv_new(path))) {
        fail(why, "history: out of memory");
        goto err;
    }
    c->fd = fd;
    fd = -1;
    c->created_ms = c->updated_ms = now;
    if ((model && !(c->model = utf8_fix(model, strlen(model)))) ||
        (profile && !(c->profile = utf8_fix(profile, strlen(profile))))) {
        fail(why, "history: out of memory");
        goto err;
    }
    rec = cJSON_CreateObject();
    if (!rec || !add_str(rec, "type", "header") ||
        !cJSON_AddNumberToObject(rec, "version", APP_HIST_VERSION) || !add_str(rec, "id", c->id) ||
        !add_time(rec, now) || !add_str(rec, "app", "glmterm " GLMTERM_VERSION) ||
        !add_str(rec, "model", c->model) || !add_str(rec, "profile", c->profile)) {
        fail(why, "history: out of memory");
        goto err;
    }
    if (append_record(c, rec, why) != 0) goto err;
    c->n_lines = 1;
    /* The new directory entry must survive a crash too. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) {
        fail(why, "%s: %s", dir, strerror(errno));
        if (dfd >= 0) close(dfd);
        goto err;
    }
    if (close(dfd) != 0) {
        fail(why, "%s: %s", dir, strerror(errno));
        goto err;
    }
    cJSON_Delete(rec);
    free(dir);
    free(path);
    return c;
err:
    if (fd >= 0) close(fd);
    if (path && (fd >= 0 || c)) unlink(path);
    cJSON_Delete(rec);
    app_hist_free(c);
    free(dir);
    free(path);
    return NULL;
}

/* ---- the tree ----------------------------------------------------------------------------- */

int app_hist_path(const struct app_hist_conv *c, int32_t leaf, int32_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (leaf < 0 || (size_t)leaf >= c->n_msgs) return 0;
    size_t depth = 0;
    for (int32_t i = leaf; i >= 0; i = c->msgs[i].parent)
        depth++;
    int32_t *v = malloc(depth * sizeof *v);
    if (!v) return -1;
    size_t k = depth;
    for (int32_t i = leaf; i >= 0; i = c->msgs[i].parent)
        v[--k] = i;
    *out = v;
    *n = depth;
    return 0;
}

size_t app_hist_children(const struct app_hist_conv *c, int32_t parent, int32_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = (size_t)(parent + 1); i < c->n_msgs; i++) {
        if (c->msgs[i].parent != parent) continue;
        if (n < cap) out[n] = (int32_t)i;
        n++;
    }
    return n;
}

int32_t app_hist_branch_leaf(const struct app_hist_conv *c, int32_t idx)
{
    if (idx < 0 || (size_t)idx >= c->n_msgs) return -1;
    /* Children come after their parent, so one forward scan finds the newest child. */
    for (;;) {
        int32_t child = -1;
        for (size_t i = (size_t)idx + 1; i < c->n_msgs; i++)
            if (c->msgs[i].parent == idx) child = (int32_t)i;
        if (child < 0) return idx;
        idx = child;
    }
}

/* The first line of `s`, sanitised and cut to `cols` columns ("…" marks a cut). */
static char *first_line_cut(const char *s, int cols)
{
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
        s++;
    size_t n = strcspn(s, "\n\r");
    char *clean = app_hist_sanitize(s, n, false);
    if (!clean) return NULL;
    size_t len = strlen(clean), i = 0, cut = 0;
    int w = 0;
    bool over = false;
    while (i < len) {
        uint32_t cp;
        size_t k = utf8_next((const unsigned char *)clean + i, len - i, &cp);
        if (k == 0) k = 1, cp = 0xfffd;
        int cw = app_hist_cp_width(cp);
        if (w + cw > cols - 1 && !cut) cut = i; /* where "…" would go */
        if (w + cw > cols) {
            over = true;
            break;
        }
        w += cw;
        i += k;
    }
    if (over) {
        char *cutted = NULL;
        if (asprintf(&cutted, "%.*s…", (int)cut, clean) < 0) cutted = NULL;
        free(clean);
        return cutted;
    }
    while (len && clean[len - 1] == ' ')
        clean[--len] = 0;
    return clean;
}

char *app_hist_title(const struct app_hist_conv *c)
{
    if (c->title && c->title[0]) return first_line_cut(c->title, APP_HIST_TITLE_COLS);
    int32_t *path;
    size_t n;
    if (app_hist_path(c, c->leaf, &path, &n) != 0) return NULL;
    const char *first = NULL;
    for (size_t i = 0; i < n && !first; i++)
        if (c->msgs[path[i]].role == APP_HIST_USER && c->msgs[path[i]].content[0])
            first = c->msgs[path[i]].content;
    /* A conversation whose branch starts elsewhere still has a first user message. */
    for (size_t i = 0; i < c->n_msgs && !first; i++)
        if (c->msgs[i].role == APP_HIST_USER && c->msgs[i].content[0]) first = c->msgs[i].content;
    free(path);
    return first ? first_line_cut(first, APP_HIST_TITLE_COLS) : strdup("(untitled)");
}

/* ---- Markdown ----------------------------------------------------------------------------- */

/* A code fence longer than any backtick run in `s`. */
static void fence_for(const char *s, char *fence, size_t size)
{
    size_t run = 0, best = 0;
    for (; *s; s++) {
        run = *s == '`' ? run + 1 : 0;
        if (run > best) best = run;
    }
    size_t n = best + 1 < 3 ? 3 : best + 1;
    if (n > size - 1) n = size - 1;
    memset(fence, '`', n);
    fence[n] = 0;
}

static int md_fenced(struct tok_buf *b, const char *lang, const char *s)
{
    char fence[64];
    fence_for(s, fence, sizeof fence);
    size_t n = strlen(s);
    return tok_buf_puts(b, fence) || tok_buf_puts(b, lang) || tok_buf_puts(b, "\n") ||
           tok_buf_puts(b, s) || (n && s[n - 1] != '\n' ? tok_buf_puts(b, "\n") : 0) ||
           tok_buf_puts(b, fence) || tok_buf_puts(b, "\n\n");
}

static int md_tools(struct tok_buf *b, const cJSON *tools)
{
    if (tok_buf_puts(b, "**Tools:**")) return -1;
    const cJSON *t;
    int k = 0;
    cJSON_ArrayForEach(t, tools)
    {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn ? fn : t, "name");
        if (!cJSON_IsString(name)) name = cJSON_GetObjectItemCaseSensitive(t, "type");
        if (!cJSON_IsString(name) || !name->valuestring) continue;
        if (tok_buf_puts(b, k++ ? ", `" : " `") || tok_buf_puts(b, name->valuestring) ||
            tok_buf_puts(b, "`"))
            return -1;
    }
    return tok_buf_puts(b, "\n\n");
}

char *app_hist_export_md(const struct app_hist_conv *c, size_t *len)
{
    static const char *const HEADINGS[] = {"System", "User", "Assistant", "Observation"};
    struct tok_buf b = {0};
    int32_t *path = NULL;
    size_t n = 0;
    char *title = app_hist_title(c);
    char when[40];
    if (!title || app_hist_path(c, c->leaf, &path, &n) != 0) goto nomem;
    app_hist_format_time(c->created_ms, when, sizeof when);
    if (tok_buf_puts(&b, "# ") || tok_buf_puts(&b, title) ||
        tok_buf_puts(&b, "\n\n*glmterm conversation ") || tok_buf_puts(&b, c->id) ||
        tok_buf_puts(&b, ", started ") || tok_buf_puts(&b, when))
        goto nomem;
    if (c->model && (tok_buf_puts(&b, ", model ") || tok_buf_puts(&b, c->model))) goto nomem;
    if (tok_buf_puts(&b, "*\n\n")) goto nomem;
    for (size_t i = 0; i < n; i++) {
        const struct app_hist_msg *m = &c->msgs[path[i]];
        const char *meta = m->metadata && m->metadata[0] ? m->metadata : NULL;
        if (tok_buf_puts(&b, "## ") || tok_buf_puts(&b, HEADINGS[m->role])) goto nomem;
        if (meta && (tok_buf_puts(&b, m->role == APP_HIST_ASSISTANT ? " · tool call `" : " · `") ||
                     tok_buf_puts(&b, meta) || tok_buf_puts(&b, "`")))
            goto nomem;
        if (!m->complete && tok_buf_puts(&b, " *(incomplete)*")) goto nomem;
        if (tok_buf_puts(&b, "\n\n")) goto nomem;
        if (m->role == APP_HIST_OBSERVATION || (m->role == APP_HIST_ASSISTANT && meta)) {
            const char *lang = "";
            if (meta && strcmp(meta, "python") == 0 && m->role == APP_HIST_ASSISTANT)
                lang = "python";
            else if (m->content[0] == '{' || m->content[0] == '[')
                lang = "json";
            if (md_fenced(&b, lang, m->content)) goto nomem;
        } else {
            size_t cn = strlen(m->content);
            if (tok_buf_puts(&b, m->content) ||
                tok_buf_puts(&b, cn && m->content[cn - 1] == '\n' ? "\n" : "\n\n"))
                goto nomem;
        }
        if (m->tools && md_tools(&b, m->tools)) goto nomem;
    }
    if (tok_buf_append(&b, "", 0)) goto nomem;
    free(title);
    free(path);
    *len = b.len;
    return b.s;
nomem:
    free(title);
    free(path);
    tok_buf_done(&b);
    return NULL;
}

/* ---- all conversations -------------------------------------------------------------------- */

static void entry_done(struct app_hist_entry *e)
{
    free(e->id);
    free(e->title);
    free(e->snippet);
    free(e->match_id);
}

void app_hist_list_done(struct app_hist_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        entry_done(&l->v[i]);
    for (size_t i = 0; i < l->n_warnings; i++)
        free(l->warnings[i]);
    free(l->v);
    free(l->warnings);
    memset(l, 0, sizeof *l);
}

static int add_warning(struct app_hist_list *l, char *w)
{
    if (!w) return -1;
    char **v = realloc(l->warnings, (l->n_warnings + 1) * sizeof *v);
    if (!v) {
        free(w);
        return -1;
    }
    l->warnings = v;
    l->warnings[l->n_warnings++] = w;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct app_hist_entry *x = a, *y = b;
    if (x->updated_ms != y->updated_ms) return x->updated_ms > y->updated_ms ? -1 : 1;
    return -strcmp(x->id, y->id);
}

/* Ids of the conversation files in `dir`, sorted; a missing dir is none. */
static int list_ids(const char *dir, char ***ids, size_t *n, char **why)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : fail(why, "%s: %s", dir, strerror(errno));
    int rc = -1;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(d);
        if (!de) {
            if (errno) {
                fail(why, "%s: %s", dir, strerror(errno));
                goto out;
            }
            break;
        }
        size_t len = strlen(de->d_name);
        if (len <= 6 || strcmp(de->d_name + len - 6, ".jsonl") != 0) continue;
        char *id = strndup(de->d_name, len - 6);
        if (!id) goto nomem;
        if (!id_ok(id)) {
            free(id);
            continue;
        }
        char **v = realloc(*ids, (*n + 1) * sizeof *v);
        if (!v) {
            free(id);
            goto nomem;
        }
        *ids = v;
        (*ids)[(*n)++] = id;
    }
    rc = 0;
    goto out;
nomem:
    fail(why, "history: out of memory");
out:
    closedir(d);
    if (rc != 0) {
        for (size_t i = 0; i < *n; i++)
            free((*ids)[i]);
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    return rc;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

/* ASCII case-insensitive search of `needle` (nn bytes) in `hay`; offset or -1. */
static ptrdiff_t find_ci(const char *hay, const char *needle, size_t nn)
{
    size_t hn = strlen(hay);
    if (nn == 0 || nn > hn) return -1;
    for (size_t i = 0; i + nn <= hn; i++) {
        size_t k = 0;
        while (k < nn) {
            unsigned char a = (unsigned char)hay[i + k], b = (unsigned char)needle[k];
            if (a >= 'A' && a <= 'Z') a += 32;
            if (b >= 'A' && b <= 'Z') b += 32;
            if (a != b) break;
            k++;
        }
        if (k == nn) return (ptrdiff_t)i;
    }
    return -1;
}

/* One line of context around s[at, at + n), cut at UTF-8 boundaries, "…" at cut ends. */
static char *snippet(const char *s, size_t at, size_t n)
{
    size_t len = strlen(s);
    size_t a = at > SNIPPET_BEFORE ? at - SNIPPET_BEFORE : 0;
    size_t z = at + n + SNIPPET_AFTER < len ? at + n + SNIPPET_AFTER : len;
    while (a > 0 && ((unsigned char)s[a] & 0xc0) == 0x80)
        a--;
    while (z < len && ((unsigned char)s[z] & 0xc0) == 0x80)
        z++;
    char *mid = app_hist_sanitize(s + a, z - a, false), *out = NULL;
    if (!mid) return NULL;
    if (asprintf(&out, "%s%s%s", a > 0 ? "…" : "", mid, z < len ? "…" : "") < 0) out = NULL;
    free(mid);
    return out;
}

/* The list (query NULL) or the search results (query set). */
static int collect(const char *query, struct app_hist_list *out, char **why)
{
    memset(out, 0, sizeof *out);
    char *dir = app_hist_dir(why), *path = NULL;
    char **ids = NULL;
    size_t n_ids = 0;
    int rc = -1;
    if (!dir || list_ids(dir, &ids, &n_ids, why) != 0) goto out;
    if (n_ids && !(out->v = calloc(n_ids, sizeof *out->v))) goto nomem;
    size_t qn = query ? strlen(query) : 0;
    for (size_t i = 0; i < n_ids; i++) {
        char *err = NULL;
        free(path);
        if (asprintf(&path, "%s/%s.jsonl", dir, ids[i]) < 0) {
            path = NULL;
            goto nomem;
        }
        struct app_hist_conv *c = app_hist_load_file(path, false, &err);
        if (!c) {
            if (add_warning(out, err ? err : strdup(path)) != 0) goto nomem;
            continue;
        }
        if (c->warning && add_warning(out, strdup(c->warning)) != 0) {
            app_hist_free(c);
            goto nomem;
        }
        struct app_hist_entry *e = &out->v[out->n];
        if (query) {
            for (size_t k = 0; k < c->n_msgs && !e->snippet; k++) {
                ptrdiff_t at = find_ci(c->msgs[k].content, query, qn);
                if (at < 0) continue;
                if (!(e->snippet = snippet(c->msgs[k].content, (size_t)at, qn)) ||
                    !(e->match_id = strdup(c->msgs[k].id))) {
                    app_hist_free(c);
                    entry_done(e);
                    goto nomem;
                }
            }
            if (!e->snippet) {
                app_hist_free(c);
                continue;
            }
        }
        e->id = xstrdup(c->id);
        e->title = app_hist_title(c);
        e->updated_ms = c->updated_ms;
        e->n_msgs = c->n_msgs;
        app_hist_free(c);
        out->n++;
        if (!e->id || !e->title) goto nomem;
    }
    if (out->n) qsort(out->v, out->n, sizeof *out->v, entry_cmp);
    rc = 0;
    goto out;
nomem:
    fail(why, "history: out of memory");
out:
    if (rc != 0) app_hist_list_done(out);
    free_ids(ids, n_ids);
    free(dir);
    free(path);
    return rc;
}

int app_hist_list(struct app_hist_list *out, char **why)
{
    return collect(NULL, out, why);
}

int app_hist_search(const char *text, struct app_hist_list *out, char **why)
{
    if (!text || !text[0]) {
        memset(out, 0, sizeof *out);
        return fail(why, "search: empty text");
    }
    return collect(text, out, why);
}

int app_hist_resolve(const char *prefix, char **id, char **why)
{
    *id = NULL;
    if (!id_ok(prefix)) return fail(why, "%s: not a conversation id", prefix);
    char *dir = app_hist_dir(why);
    char **ids = NULL;
    size_t n_ids = 0, hits = 0, pn = strlen(prefix);
    const char *hit = NULL;
    int rc = -1;
    if (!dir || list_ids(dir, &ids, &n_ids, why) != 0) goto out;
    for (size_t i = 0; i < n_ids; i++) {
        if (strcmp(ids[i], prefix) == 0) {
            hit = ids[i];
            hits = 1;
            break;
        }
        if (strncmp(ids[i], prefix, pn) == 0) {
            hit = ids[i];
            hits++;
        }
    }
    if (hits == 0) {
        fail(why, "%s: no such conversation", prefix);
        goto out;
    }
    if (hits > 1) {
        fail(why, "%s: ambiguous, %zu conversations start with it", prefix, hits);
        goto out;
    }
    if (!(*id = strdup(hit))) {
        fail(why, "history: out of memory");
        goto out;
    }
    rc = 0;
out:
    free_ids(ids, n_ids);
    free(dir);
    return rc;
}

int app_hist_latest(char **id, char **why)
{
    /* The newest by record time among the conversations that load (loading is linear in the
     * file, so this stays proportional to the size of the history). */
    struct app_hist_list l;
    *id = NULL;
    if (app_hist_list(&l, why) != 0) return -1;
    int rc = 0;
    if (l.n && !(*id = strdup(l.v[0].id))) rc = fail(why, "history: out of memory");
    app_hist_list_done(&l);
    return rc;
}
