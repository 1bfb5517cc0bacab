/* editor.c — the input editor: a UTF-8 buffer, a cursor, emacs keys, history and paste.
 *
 * The buffer is one contiguous NUL-terminated array (a prompt is small; 1 MiB cap) holding
 * sanitized text: printable code points, '\n' and '\t' only. The cursor is a byte offset that
 * always sits on a grapheme cluster boundary; motion steps by clusters (ui_cluster_next),
 * backwards from a nearby known boundary (safe_start). Visual lines come from the same breaker as
 * the chat (ui_break at width - 1, the last column kept for the cursor), so Up/Down, the layout and
 * the screen agree. History is an array of strings; browsing it keeps the unsent draft. Keys arrive
 * as code points or curses key codes (constants only: no curses calls here).
 */
#include "ui/text_int.h"

#include <curses.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define ED_MAX     ((size_t)1 << 20) /* bytes in the buffer and in the kill ring */
#define ED_HISTORY 1000

struct ui_editor {
    char *buf; /* NUL-terminated */
    size_t len, cap, cur;
    char *kill;
    size_t kill_len;
    bool paste, paste_cr, enter_newline;
    int width;    /* for Up/Down; <= 0: logical lines */
    int goal_col; /* column Up/Down aim for; -1: the cursor's */
    char **hist;
    size_t n_hist, hist_pos; /* hist_pos == n_hist: not browsing */
    char *draft;             /* the text being written when browsing began */
};

struct ui_editor *ui_editor_new(void)
{
    struct ui_editor *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->buf = calloc(1, 256);
    e->hist = calloc(ED_HISTORY, sizeof *e->hist);
    if (!e->buf || !e->hist) {
        ui_editor_free(e);
        return NULL;
    }
    e->cap = 256;
    e->goal_col = -1;
    return e;
}

void ui_editor_free(struct ui_editor *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->n_hist; i++)
        free(e->hist[i]);
    free(e->hist);
    free(e->draft);
    free(e->kill);
    free(e->buf);
    free(e);
}

/* ---- buffer primitives -------------------------------------------------------------------- */

static bool ed_reserve(struct ui_editor *e, size_t extra)
{
    if (extra > ED_MAX - e->len) return false;
    if (e->len + extra + 1 <= e->cap) return true;
    size_t cap = e->cap;
    while (cap < e->len + extra + 1)
        cap *= 2;
    char *p = realloc(e->buf, cap);
    if (!p) return false;
    e->buf = p;
    e->cap = cap;
    return true;
}

static bool ed_insert(struct ui_editor *e, const char *s, size_t n)
{
    if (!ed_reserve(e, n)) return false;
    memmove(e->buf + e->cur + n, e->buf + e->cur, e->len - e->cur + 1);
    memcpy(e->buf + e->cur, s, n);
    e->len += n;
    e->cur += n;
    return true;
}

/* Removes [a, b); with `kill` the text goes to the kill buffer (yank brings it back). */
static void ed_erase(struct ui_editor *e, size_t a, size_t b, bool kill)
{
    if (a >= b) return;
    if (kill) {
        char *k = malloc(b - a + 1);
        if (k) {
            memcpy(k, e->buf + a, b - a);
            k[b - a] = 0;
            free(e->kill);
            e->kill = k;
            e->kill_len = b - a;
        }
    }
    memmove(e->buf + a, e->buf + b, e->len - b + 1);
    e->len -= b - a;
    if (e->cur >= b)
        e->cur -= b - a;
    else if (e->cur > a)
        e->cur = a;
}

static size_t line_start(const struct ui_editor *e, size_t pos)
{
    while (pos > 0 && e->buf[pos - 1] != '\n')
        pos--;
    return pos;
}

static size_t line_end(const struct ui_editor *e, size_t pos)
{
    const char *nl = memchr(e->buf + pos, '\n', e->len - pos);
    return nl ? (size_t)(nl - e->buf) : e->len;
}

static size_t next_cluster(const struct ui_editor *e, size_t pos)
{
    int w;
    return pos >= e->len ? e->len : ui_cluster_next(e->buf, e->len, pos, &w);
}

/* The start of the code point before `pos` (> 0); the buffer is valid UTF-8. */
static size_t cp_back(const char *b, size_t pos)
{
    size_t i = pos - 1;
    for (int k = 0; k < 3 && i > 0 && ((unsigned char)b[i] & 0xc0) == 0x80; k++)
        i--;
    return i;
}

static int bound_class(const struct ui_editor *e, size_t i)
{
    utf8proc_int32_t c;
    if (utf8proc_iterate((const utf8proc_uint8_t *)e->buf + i, (utf8proc_ssize_t)(e->len - i),
                         &c) <= 0)
        return -1;
    return utf8proc_get_property(c)->boundclass;
}

/* A cluster boundary at or before `pos`, near it: the buffer's ends, a line start, or a
 * point between two code points of class Other (UAX #29 GB999: always a break there).
 * Only long runs of marks, joiners or emoji fall back to the line start. Keeps cluster
 * stepping O(1) per key instead of a rescan of the whole line. */
static size_t safe_start(const struct ui_editor *e, size_t pos)
{
    size_t j = pos;
    for (int k = 0; k < 64; k++) {
        if (j == 0 || j == e->len || e->buf[j - 1] == '\n') return j;
        size_t i = cp_back(e->buf, j);
        if (bound_class(e, i) == UTF8PROC_BOUNDCLASS_OTHER &&
            bound_class(e, j) == UTF8PROC_BOUNDCLASS_OTHER)
            return j;
        j = i;
    }
    return line_start(e, j);
}

static size_t prev_cluster(const struct ui_editor *e, size_t pos)
{
    if (pos == 0) return 0;
    if (e->buf[pos - 1] == '\n') return pos - 1;
    size_t q = safe_start(e, cp_back(e->buf, pos));
    for (;;) {
        size_t n = next_cluster(e, q);
        if (n >= pos) return q;
        q = n;
    }
}

/* Puts the cursor back on a cluster boundary after an edit joined clusters (a ZWJ or a
 * combining mark typed before the cursor). */
static void snap(struct ui_editor *e)
{
    size_t q = safe_start(e, e->cur);
    while (q < e->cur)
        q = next_cluster(e, q);
    e->cur = q;
}

static void set_buffer(struct ui_editor *e, const char *s, size_t n)
{
    e->len = 0;
    e->cur = 0;
    e->buf[0] = 0;
    if (n > ED_MAX) n = ED_MAX;
    ed_insert(e, s, n);
    snap(e);
}

/* Word characters for M-b/M-f/M-d: letters and digits in any script (emacs `forward-word`). */
static bool is_word_at(const struct ui_editor *e, size_t pos)
{
    utf8proc_int32_t c;
    if (utf8proc_iterate((const utf8proc_uint8_t *)e->buf + pos, (utf8proc_ssize_t)(e->len - pos),
                         &c) <= 0)
        return false;
    utf8proc_category_t cat = utf8proc_category(c);
    return (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) ||
           (cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO) || c == '_' ||
           cat == UTF8PROC_CATEGORY_MN || cat == UTF8PROC_CATEGORY_SO;
}

static bool is_space_at(const struct ui_editor *e, size_t pos)
{
    char c = e->buf[pos];
    return c == ' ' || c == '\t' || c == '\n';
}

static size_t word_right(const struct ui_editor *e, size_t pos)
{
    while (pos < e->len && !is_word_at(e, pos))
        pos = next_cluster(e, pos);
    while (pos < e->len && is_word_at(e, pos))
        pos = next_cluster(e, pos);
    return pos;
}

static size_t word_left(const struct ui_editor *e, size_t pos)
{
    while (pos > 0 && !is_word_at(e, prev_cluster(e, pos)))
        pos = prev_cluster(e, pos);
    while (pos > 0 && is_word_at(e, prev_cluster(e, pos)))
        pos = prev_cluster(e, pos);
    return pos;
}

/* C-w (unix-word-rubout): back over whitespace, then over everything else. */
static size_t rubout_left(const struct ui_editor *e, size_t pos)
{
    while (pos > 0 && is_space_at(e, prev_cluster(e, pos)))
        pos = prev_cluster(e, pos);
    while (pos > 0 && !is_space_at(e, prev_cluster(e, pos)))
        pos = prev_cluster(e, pos);
    return pos;
}

/* ---- visual lines ------------------------------------------------------------------------- */

struct ed_view {
    char *text; /* the buffer with tabs shown as one space (same offsets) */
    struct ui_brks b;
    int avail;
};

static int view_build(const struct ui_editor *e, int width, struct ed_view *v)
{
    memset(v, 0, sizeof *v);
    v->avail = width > 1 ? width - 1 : 1;
    v->text = malloc(e->len + 1);
    if (!v->text) return -1;
    for (size_t i = 0; i <= e->len; i++)
        v->text[i] = e->buf[i] == '\t' ? ' ' : e->buf[i];
    return ui_break(v->text, e->len, v->avail, v->avail, true, &v->b);
}

static void view_done(struct ed_view *v)
{
    free(v->text);
    free(v->b.v);
}

/* The visual row holding byte `pos`, and its column (clamped to the row's room). */
static void view_locate(const struct ed_view *v, size_t pos, int *row, int *col)
{
    size_t r = 0;
    while (r + 1 < v->b.n && v->b.v[r + 1].from <= pos)
        r++;
    const struct ui_brk *b = &v->b.v[r];
    size_t upto = pos < b->to ? pos : b->to;
    long c = ui_width(v->text + b->from, upto - b->from);
    if (pos > b->to) c += (long)(pos - b->to); /* inside the spaces a wrap dropped */
    *row = (int)r;
    *col = (int)(c > v->avail ? v->avail : c);
}

/* The byte offset in visual row `r` nearest to column `col` (not past it). */
static size_t view_pos_at(const struct ed_view *v, size_t r, int col)
{
    const struct ui_brk *b = &v->b.v[r];
    size_t p = b->from;
    int w = 0;
    while (p < b->to) {
        int cw;
        size_t q = ui_cluster_next(v->text, b->to, p, &cw);
        if (w + cw > col) break;
        w += cw;
        p = q;
    }
    /* the end of a row cut inside a word is the start of the next: stay on this row */
    if (p == b->to && r + 1 < v->b.n && v->b.v[r + 1].from == p && p > b->from) {
        size_t q = b->from, last = b->from;
        while (q < p) {
            int cw;
            last = q;
            q = ui_cluster_next(v->text, b->to, q, &cw);
        }
        p = last;
    }
    return p;
}

int ui_editor_layout(const struct ui_editor *e, int width, struct ui_lines *out, int *cur_row,
                     int *cur_col)
{
    struct ed_view v;
    struct ui_styled st = {0};
    int rc = view_build(e, width, &v);
    if (!rc && e->len) rc = ui_styled_add(&st, v.text, e->len, THEME_INPUT, 0);
    for (size_t i = 0; !rc && i < v.b.n; i++)
        rc = ui_lines_push(out, NULL, &st, v.b.v[i].from, v.b.v[i].to, 0);
    if (!rc) {
        int r, c;
        view_locate(&v, e->cur, &r, &c);
        if (cur_row) *cur_row = r;
        if (cur_col) *cur_col = c;
    }
    ui_styled_done(&st);
    view_done(&v);
    return rc ? -1 : 0;
}

/* ---- history -------------------------------------------------------------------------------- */

void ui_editor_history_push(struct ui_editor *e)
{
    free(e->draft);
    e->draft = NULL;
    e->hist_pos = e->n_hist;
    if (e->len == 0) return;
    if (e->n_hist && strcmp(e->hist[e->n_hist - 1], e->buf) == 0) return;
    char *s = strdup(e->buf);
    if (!s) return;
    if (e->n_hist == ED_HISTORY) {
        free(e->hist[0]);
        memmove(e->hist, e->hist + 1, (ED_HISTORY - 1) * sizeof *e->hist);
        e->n_hist--;
    }
    e->hist[e->n_hist++] = s;
    e->hist_pos = e->n_hist;
}

static enum ui_editor_action history_move(struct ui_editor *e, int dir)
{
    if (dir < 0) {
        if (e->hist_pos == 0) return UI_EDIT_NONE;
        if (e->hist_pos == e->n_hist) {
            free(e->draft);
            e->draft = strdup(e->buf);
            if (!e->draft) return UI_EDIT_NONE;
        }
        e->hist_pos--;
    } else {
        if (e->hist_pos >= e->n_hist) return UI_EDIT_NONE;
        e->hist_pos++;
    }
    const char *s = e->hist_pos == e->n_hist ? (e->draft ? e->draft : "") : e->hist[e->hist_pos];
    set_buffer(e, s, strlen(s));
    if (e->hist_pos == e->n_hist) {
        free(e->draft);
        e->draft = NULL;
    }
    e->goal_col = -1;
    return UI_EDIT_CHANGED;
}

static enum ui_editor_action vertical(struct ui_editor *e, int dir)
{
    struct ed_view v;
    if (view_build(e, e->width > 0 ? e->width : INT32_MAX, &v)) {
        view_done(&v);
        return UI_EDIT_NONE;
    }
    int row, col;
    view_locate(&v, e->cur, &row, &col);
    enum ui_editor_action a;
    if ((dir < 0 && row == 0) || (dir > 0 && (size_t)row + 1 >= v.b.n)) {
        a = history_move(e, dir);
    } else {
        if (e->goal_col < 0) e->goal_col = col;
        e->cur = view_pos_at(&v, (size_t)(row + dir), e->goal_col);
        a = UI_EDIT_CHANGED;
    }
    view_done(&v);
    return a;
}

/* ---- keys ------------------------------------------------------------------------------------ */

static enum ui_editor_action insert_cp(struct ui_editor *e, uint32_t cp)
{
    utf8proc_uint8_t b[4];
    utf8proc_ssize_t n = utf8proc_encode_char((utf8proc_int32_t)cp, b);
    if (n <= 0 || !ed_insert(e, (const char *)b, (size_t)n)) return UI_EDIT_NONE;
    if (!e->paste) snap(e); /* a paste is snapped once, at its end (keeps pasting linear) */
    return UI_EDIT_CHANGED;
}

static bool printable(uint32_t cp)
{
    return cp >= 0x20 && cp != 0x7f && !(cp >= 0x80 && cp < 0xa0) &&
           utf8proc_codepoint_valid((utf8proc_int32_t)cp);
}

static enum ui_editor_action paste_key(struct ui_editor *e, uint32_t key, bool is_key)
{
    bool cr = e->paste_cr;
    e->paste_cr = false;
    if (is_key) return key == KEY_ENTER ? insert_cp(e, '\n') : UI_EDIT_NONE;
    if (key == '\r') {
        e->paste_cr = true;
        return insert_cp(e, '\n');
    }
    if (key == '\n') return cr ? UI_EDIT_NONE : insert_cp(e, '\n'); /* CR LF is one newline */
    if (key == '\t' || printable(key)) return insert_cp(e, key);
    return UI_EDIT_NONE; /* other controls (ESC …) never enter the buffer */
}

static enum ui_editor_action ed_enter(struct ui_editor *e, bool alt)
{
    if (alt == e->enter_newline) return UI_EDIT_SEND;
    return insert_cp(e, '\n');
}

enum ui_editor_action ui_editor_key(struct ui_editor *e, uint32_t key, bool is_key, bool alt)
{
    if (e->paste) return paste_key(e, key, is_key);
    bool vertical_key = is_key ? (key == KEY_UP || key == KEY_DOWN) : (key == 0x10 || key == 0x0e);
    if (!vertical_key) e->goal_col = -1;
    if (is_key) {
        switch (key) {
        case KEY_LEFT: e->cur = prev_cluster(e, e->cur); return UI_EDIT_CHANGED;
        case KEY_RIGHT: e->cur = next_cluster(e, e->cur); return UI_EDIT_CHANGED;
        case KEY_HOME: e->cur = line_start(e, e->cur); return UI_EDIT_CHANGED;
        case KEY_END: e->cur = line_end(e, e->cur); return UI_EDIT_CHANGED;
        case KEY_UP: return vertical(e, -1);
        case KEY_DOWN: return vertical(e, 1);
        case KEY_BACKSPACE:
            if (alt)
                ed_erase(e, word_left(e, e->cur), e->cur, true);
            else
                ed_erase(e, prev_cluster(e, e->cur), e->cur, false);
            return UI_EDIT_CHANGED;
        case KEY_DC: ed_erase(e, e->cur, next_cluster(e, e->cur), false); return UI_EDIT_CHANGED;
        case KEY_ENTER: return ed_enter(e, alt);
        default: return UI_EDIT_IGNORED;
        }
    }
    if (alt) {
        switch (key) {
        case 'b':
        case 'B': e->cur = word_left(e, e->cur); return UI_EDIT_CHANGED;
        case 'f':
        case 'F': e->cur = word_right(e, e->cur); return UI_EDIT_CHANGED;
        case 'd':
        case 'D': ed_erase(e, e->cur, word_right(e, e->cur), true); return UI_EDIT_CHANGED;
        case 0x7f:
        case 0x08: ed_erase(e, word_left(e, e->cur), e->cur, true); return UI_EDIT_CHANGED;
        case '\r':
        case '\n': return ed_enter(e, true);
        default: return UI_EDIT_IGNORED;
        }
    }
    switch (key) {
    case '\r':
    case '\n': return ed_enter(e, false);
    case 0x01: e->cur = line_start(e, e->cur); return UI_EDIT_CHANGED;   /* C-a */
    case 0x05: e->cur = line_end(e, e->cur); return UI_EDIT_CHANGED;     /* C-e */
    case 0x02: e->cur = prev_cluster(e, e->cur); return UI_EDIT_CHANGED; /* C-b */
    case 0x06: e->cur = next_cluster(e, e->cur); return UI_EDIT_CHANGED; /* C-f */
    case 0x10: return vertical(e, -1);                                   /* C-p */
    case 0x0e: return vertical(e, 1);                                    /* C-n */
    case 0x04: /* C-d: on an empty buffer it is the caller's (quit, as in a shell) */
        if (e->len == 0) return UI_EDIT_IGNORED;
        ed_erase(e, e->cur, next_cluster(e, e->cur), false);
        return UI_EDIT_CHANGED;
    case 0x08:
    case 0x7f: ed_erase(e, prev_cluster(e, e->cur), e->cur, false); return UI_EDIT_CHANGED;
    case 0x0b: { /* C-k: to the end of the line, or the newline itself when there */
        size_t end = line_end(e, e->cur);
        ed_erase(e, e->cur, end > e->cur ? end : next_cluster(e, e->cur), true);
        return UI_EDIT_CHANGED;
    }
    case 0x15: ed_erase(e, line_start(e, e->cur), e->cur, true); return UI_EDIT_CHANGED;  /* C-u */
    case 0x17: ed_erase(e, rubout_left(e, e->cur), e->cur, true); return UI_EDIT_CHANGED; /* C-w */
    case 0x19:                                                                            /* C-y */
        if (e->kill_len && ed_insert(e, e->kill, e->kill_len)) snap(e);
        return UI_EDIT_CHANGED;
    default: break;
    }
    if (!printable(key)) return UI_EDIT_IGNORED; /* Tab, ESC, C-c, …: the caller's keys */
    return insert_cp(e, key);
}

void ui_editor_paste_begin(struct ui_editor *e)
{
    e->paste = true;
    e->paste_cr = false;
}

void ui_editor_paste_end(struct ui_editor *e)
{
    e->paste = false;
    snap(e);
}

void ui_editor_set_enter_newline(struct ui_editor *e, bool enter_newline)
{
    e->enter_newline = enter_newline;
}

void ui_editor_set_width(struct ui_editor *e, int width)
{
    e->width = width;
}

const char *ui_editor_text(const struct ui_editor *e, size_t *len)
{
    if (len) *len = e->len;
    return e->buf;
}

void ui_editor_set_text(struct ui_editor *e, const char *text)
{
    size_t n = 0;
    char *clean = ui_sanitize(text ? text : "", text ? strlen(text) : 0, true, &n);
    free(e->draft);
    e->draft = NULL;
    e->hist_pos = e->n_hist;
    e->goal_col = -1;
    set_buffer(e, clean ? clean : "", clean ? n : 0);
    free(clean);
}

void ui_editor_clear(struct ui_editor *e)
{
    ui_editor_set_text(e, "");
}
