/* lines.c — styled lines, display width, sanitizing and the line breaker.
 *
 * Owns `struct ui_lines` (an array of malloc'd lines, each a NUL-terminated UTF-8 string
 * with spans of theme roles) and the text primitives every renderer builds on:
 *   - grapheme clusters (UAX #29 via utf8proc) are the unit of width and of cursor motion;
 *     a cluster's width is that of its first code point, except emoji presentation
 *     sequences (U+FE0F, emoji ZWJ/modifier sequences, flag pairs) which take 2 columns as
 *     terminals draw them;
 *   - ui_sanitize strips everything a terminal would interpret (C0/C1 controls, DEL, whole
 *     ESC/CSI/OSC/DCS sequences) and replaces invalid UTF-8 with U+FFFD;
 *   - ui_break cuts text into slices that fit a width, at spaces when it can, around wide
 *     (CJK) characters, otherwise between clusters, never inside one.
 * No curses here: everything is testable without a terminal.
 */
#include "ui/text_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ---- clusters and width ----------------------------------------------------------------- */

static bool is_control(int32_t c)
{
    return c < 0x20 || (c >= 0x7f && c < 0xa0);
}

static bool is_ext_pict(int32_t c)
{
    int bc = utf8proc_get_property(c)->boundclass;
    return bc == UTF8PROC_BOUNDCLASS_EXTENDED_PICTOGRAPHIC || bc == UTF8PROC_BOUNDCLASS_E_ZWG;
}

size_t ui_cluster_next(const char *s, size_t len, size_t i, int *width)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_int32_t c;
    utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &c);
    if (n <= 0) {
        *width = 1; /* shown as U+FFFD once sanitized */
        return i + 1;
    }
    size_t j = i + (size_t)n;
    if (c == '\n' || c == '\r') { /* a hard break is a cluster of its own, even CR LF */
        *width = 0;
        return j;
    }
    utf8proc_int32_t state = 0, prev = c;
    int n_cp = 1;
    bool vs16 = false;
    while (j < len) {
        utf8proc_int32_t d;
        n = utf8proc_iterate(p + j, (utf8proc_ssize_t)(len - j), &d);
        if (n <= 0 || d == '\n' || utf8proc_grapheme_break_stateful(prev, d, &state)) break;
        vs16 |= d == 0xFE0F;
        n_cp++;
        prev = d;
        j += (size_t)n;
    }
    int w;
    if (is_control(c))
        w = 0;
    else if (vs16)
        w = 2;
    else if (n_cp > 1 && (is_ext_pict(c) || utf8proc_get_property(c)->boundclass ==
                                                UTF8PROC_BOUNDCLASS_REGIONAL_INDICATOR))
        w = 2; /* ZWJ and modifier sequences, flag pairs */
    else
        w = utf8proc_charwidth(c);
    *width = w < 0 ? 0 : w;
    return j;
}

int ui_width(const char *s, size_t len)
{
    size_t i = 0;
    long w = 0;
    while (i < len) {
        int cw;
        i = ui_cluster_next(s, len, i, &cw);
        w += cw;
    }
    return w > INT32_MAX ? INT32_MAX : (int)w;
}

/* ---- sanitizing --------------------------------------------------------------------------- */

/* Skips a control string (OSC, DCS, SOS, PM, APC) starting at s[i] (after its introducer):
 * it ends at BEL, ESC \ or U+009C; any other ESC ends it too (and is handled next). */
static size_t skip_string(const unsigned char *s, size_t len, size_t i)
{
    while (i < len) {
        if (s[i] == 0x07) return i + 1;
        if (s[i] == 0x1b) return (i + 1 < len && s[i + 1] == '\\') ? i + 2 : i;
        if (s[i] == 0xc2 && i + 1 < len && s[i + 1] == 0x9c) return i + 2;
        i++;
    }
    return i; /* unterminated: swallow the rest, as a terminal would */
}

/* Skips the parameters, intermediates and final byte of a CSI sequence at s[i]. */
static size_t skip_csi(const unsigned char *s, size_t len, size_t i)
{
    while (i < len && s[i] >= 0x20 && s[i] <= 0x3f)
        i++;
    if (i < len && s[i] >= 0x40 && s[i] <= 0x7e) i++;
    return i;
}

/* ECMA-48 §5.3: ESC Fe (C1 in 7 bits), ESC nF (intermediates then a final), ESC Fp/Fs. */
static size_t skip_esc(const unsigned char *s, size_t len, size_t i)
{
    if (i >= len) return i;
    switch (s[i]) {
    case '[': return skip_csi(s, len, i + 1);
    case ']':
    case 'P':
    case 'X':
    case '^':
    case '_': return skip_string(s, len, i + 1);
    default: break;
    }
    size_t j = i;
    while (j < len && s[j] >= 0x20 && s[j] <= 0x2f)
        j++;
    if (j < len && s[j] >= 0x30 && s[j] <= 0x7e) return j + 1;
    return j; /* ESC before a control or non-ASCII byte: drop the ESC (and intermediates) */
}

char *ui_sanitize(const char *s, size_t len, bool keep_newlines, size_t *out_len)
{
    if (len > UI_TEXT_MAX) return NULL;
    char *out = malloc(len * 3 + 1); /* worst case: every byte becomes U+FFFD */
    if (!out) return NULL;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, o = 0;
    while (i < len) {
        unsigned char b = u[i];
        if (b == 0x1b) {
            i = skip_esc(u, len, i + 1);
            continue;
        }
        if (b < 0x80) {
            if (b == '\n' || b == '\t')
                out[o++] = keep_newlines ? (char)b : ' ';
            else if (b >= 0x20 && b != 0x7f)
                out[o++] = (char)b;
            i++;
            continue;
        }
        utf8proc_int32_t c;
        utf8proc_ssize_t n = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &c);
        if (n <= 0) {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
            continue;
        }
        i += (size_t)n;
        if (c < 0xa0) { /* C1 controls, in their UTF-8 form */
            if (c == 0x9b)
                i = skip_csi(u, len, i);
            else if (c == 0x9d || c == 0x90 || c == 0x98 || c == 0x9e || c == 0x9f)
                i = skip_string(u, len, i);
            continue;
        }
        memcpy(out + o, u + i - (size_t)n, (size_t)n);
        o += (size_t)n;
    }
    out[o] = 0;
    if (out_len) *out_len = o;
    return out;
}

char *ui_expand_tabs(const char *s, size_t len, size_t *out_len)
{
    size_t tabs = 0;
    for (size_t i = 0; i < len; i++)
        tabs += s[i] == '\t';
    if (len > UI_TEXT_MAX) return NULL;
    char *out = malloc(len + tabs * (UI_TAB_WIDTH - 1) + 1);
    if (!out) return NULL;
    size_t i = 0, o = 0;
    int col = 0;
    while (i < len) {
        if (s[i] == '\t') {
            int n = UI_TAB_WIDTH - col % UI_TAB_WIDTH;
            memset(out + o, ' ', (size_t)n);
            o += (size_t)n;
            col += n;
            i++;
            continue;
        }
        int w;
        size_t j = ui_cluster_next(s, len, i, &w);
        memcpy(out + o, s + i, j - i);
        o += j - i;
        col = s[i] == '\n' ? 0 : col + w;
        i = j;
    }
    out[o] = 0;
    *out_len = o;
    return out;
}

/* ---- styled strings ----------------------------------------------------------------------- */

void ui_styled_done(struct ui_styled *s)
{
    free(s->text);
    free(s->spans);
    memset(s, 0, sizeof *s);
}

void ui_styled_reset(struct ui_styled *s)
{
    s->len = 0;
    s->n_spans = 0;
    if (s->text) s->text[0] = 0;
}

int ui_styled_add(struct ui_styled *s, const char *t, size_t n, uint16_t role, uint16_t attrs)
{
    if (n == 0) return 0;
    if (n > UI_TEXT_MAX - s->len) return -1;
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 64;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *p = realloc(s->text, cap);
        if (!p) return -1;
        s->text = p;
        s->cap = cap;
    }
    memcpy(s->text + s->len, t, n);
    struct ui_span *last = s->n_spans ? &s->spans[s->n_spans - 1] : NULL;
    if (last && last->role == role && last->attrs == attrs && last->off + last->len == s->len) {
        last->len += (uint32_t)n;
    } else {
        if (s->n_spans == s->cap_spans) {
            size_t cap = s->cap_spans ? s->cap_spans * 2 : 8;
            struct ui_span *p = realloc(s->spans, cap * sizeof *p);
            if (!p) return -1;
            s->spans = p;
            s->cap_spans = cap;
        }
        s->spans[s->n_spans++] = (struct ui_span){
            .off = (uint32_t)s->len, .len = (uint32_t)n, .role = role, .attrs = attrs};
    }
    s->len += n;
    s->text[s->len] = 0;
    return 0;
}

int ui_styled_addz(struct ui_styled *s, const char *t, uint16_t role, uint16_t attrs)
{
    return ui_styled_add(s, t, strlen(t), role, attrs);
}

int ui_styled_repeat(struct ui_styled *s, const char *t, int n, uint16_t role, uint16_t attrs)
{
    for (int i = 0; i < n; i++)
        if (ui_styled_addz(s, t, role, attrs)) return -1;
    return 0;
}

int ui_styled_append(struct ui_styled *s, const struct ui_styled *from)
{
    for (size_t i = 0; i < from->n_spans; i++) {
        const struct ui_span *sp = &from->spans[i];
        if (ui_styled_add(s, from->text + sp->off, sp->len, sp->role, sp->attrs)) return -1;
    }
    return 0;
}

/* ---- lines -------------------------------------------------------------------------------- */

void ui_lines_clear(struct ui_lines *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].text);
        free(l->v[i].spans);
    }
    l->n = 0;
}

void ui_lines_done(struct ui_lines *l)
{
    ui_lines_clear(l);
    free(l->v);
    memset(l, 0, sizeof *l);
}

int ui_lines_push(struct ui_lines *out, const struct ui_styled *prefix, const struct ui_styled *s,
                  size_t from, size_t to, int32_t code_block)
{
    size_t plen = prefix ? prefix->len : 0;
    size_t len = plen + (to - from);
    if (len > UI_TEXT_MAX || out->n >= UI_TEXT_MAX / sizeof(struct ui_line)) return -1;
    if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 32;
        struct ui_line *p = realloc(out->v, cap * sizeof *p);
        if (!p) return -1;
        out->v = p;
        out->cap = cap;
    }
    /* spans are sorted and do not overlap: find the first ending after `from` */
    size_t lo = 0, hi = s->n_spans;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if ((size_t)s->spans[mid].off + s->spans[mid].len <= from)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t first = lo, n_spans = prefix ? prefix->n_spans : 0;
    for (size_t i = first; i < s->n_spans && s->spans[i].off < to; i++)
        n_spans++;
    struct ui_line line = {.len = (uint32_t)len, .code_block = code_block};
    line.text = malloc(len + 1);
    line.spans = malloc((n_spans ? n_spans : 1) * sizeof *line.spans);
    if (!line.text || !line.spans) {
        free(line.text);
        free(line.spans);
        return -1;
    }
    if (plen) memcpy(line.text, prefix->text, plen);
    if (to > from) memcpy(line.text + plen, s->text + from, to - from);
    line.text[len] = 0;
    for (size_t i = 0; prefix && i < prefix->n_spans; i++)
        line.spans[line.n_spans++] = prefix->spans[i];
    for (size_t i = first; i < s->n_spans && s->spans[i].off < to; i++) {
        const struct ui_span *sp = &s->spans[i];
        size_t a = sp->off, b = (size_t)sp->off + sp->len;
        if (a < from) a = from;
        if (b > to) b = to;
        if (a >= b) continue;
        line.spans[line.n_spans++] = (struct ui_span){.off = (uint32_t)(plen + a - from),
                                                      .len = (uint32_t)(b - a),
                                                      .role = sp->role,
                                                      .attrs = sp->attrs};
    }
    line.width = (uint32_t)ui_width(line.text, len);
    out->v[out->n++] = line;
    return 0;
}

/* ---- breaking ------------------------------------------------------------------------------ */

static int brk_push(struct ui_brks *b, size_t from, size_t to, bool cont)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        struct ui_brk *p = realloc(b->v, cap * sizeof *p);
        if (!p) return -1;
        b->v = p;
        b->cap = cap;
    }
    b->v[b->n++] = (struct ui_brk){from, to, cont};
    return 0;
}

static bool cp_in(const char *s, size_t len, const int32_t *set, size_t n)
{
    utf8proc_int32_t c;
    if (utf8proc_iterate((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, &c) <= 0) return false;
    for (size_t i = 0; i < n; i++)
        if (c == set[i]) return true;
    return false;
}

/* A minimal kinsoku rule (JIS X 4051): closing punctuation never starts a line, opening
 * brackets never end one. */
static bool no_break_before(const char *s, size_t len)
{
    static const int32_t closing[] = {0x3001, 0x3002, 0xff0c, 0xff0e, 0xff01, 0xff1f, 0xff1a,
                                      0xff1b, 0xff09, 0x300d, 0x300f, 0x3011, 0x300b, 0x3009};
    return cp_in(s, len, closing, sizeof closing / sizeof closing[0]);
}

static bool no_break_after(const char *s, size_t len)
{
    static const int32_t opening[] = {0xff08, 0x300c, 0x300e, 0x3010, 0x300a, 0x3008};
    return cp_in(s, len, opening, sizeof opening / sizeof opening[0]);
}

static int break_line(const char *s, size_t start, size_t end, int avail_first, int avail_cont,
                      bool words, struct ui_brks *out)
{
    if (start == end) return brk_push(out, start, end, false);
    size_t ls = start;
    bool cont = false;
    while (ls < end) {
        int avail = cont ? avail_cont : avail_first;
        if (avail < 1) avail = 1;
        int w = 0;
        size_t p = ls, prev = ls, cand_end = 0, cand_next = 0, line_end, next;
        bool have = false, prev_wide = false;
        for (;;) {
            if (p >= end) {
                line_end = next = end;
                break;
            }
            if (words && s[p] == ' ') {
                size_t q = p;
                while (q < end && s[q] == ' ')
                    q++;
                if (p > ls) {
                    cand_end = p;
                    cand_next = q;
                    have = true;
                }
                if (w + (long)(q - p) <= avail) {
                    w += (int)(q - p);
                    p = q;
                    prev_wide = false;
                    continue;
                }
                if (have) {
                    line_end = cand_end;
                    next = cand_next;
                    break;
                }
                /* leading spaces wider than the room: cut them like any cluster */
            }
            int cw;
            size_t q = ui_cluster_next(s, end, p, &cw);
            if (words && p > ls && (cw == 2 || prev_wide) && !no_break_before(s + p, end - p) &&
                !no_break_after(s + prev, end - prev)) {
                cand_end = cand_next = p;
                have = true;
            }
            if (w + cw > avail && p > ls) {
                if (have) {
                    line_end = cand_end;
                    next = cand_next;
                } else {
                    line_end = next = p;
                }
                break;
            }
            w += cw;
            prev = p;
            p = q;
            prev_wide = cw == 2;
        }
        if (brk_push(out, ls, line_end, cont)) return -1;
        ls = next;
        cont = true;
    }
    return 0;
}

int ui_break(const char *s, size_t len, int avail_first, int avail_cont, bool words,
             struct ui_brks *out)
{
    size_t pos = 0;
    for (;;) {
        const char *nl = memchr(s + pos, '\n', len - pos);
        size_t eol = nl ? (size_t)(nl - s) : len;
        if (break_line(s, pos, eol, avail_first, avail_cont, words, out)) return -1;
        if (!nl) return 0;
        pos = eol + 1;
    }
}

int ui_wrap_plain(const char *text, size_t len, int width, enum theme_role role,
                  struct ui_lines *out)
{
    size_t clean_len, exp_len;
    char *clean = ui_sanitize(text, len, true, &clean_len);
    if (!clean) return -1;
    char *exp = ui_expand_tabs(clean, clean_len, &exp_len);
    free(clean);
    if (!exp) return -1;
    struct ui_styled st = {0};
    struct ui_brks b = {0};
    int rc = -1;
    if (exp_len && ui_styled_add(&st, exp, exp_len, (uint16_t)role, 0)) goto out;
    if (ui_break(exp, exp_len, width, width, true, &b)) goto out;
    for (size_t i = 0; i < b.n; i++)
        if (ui_lines_push(out, NULL, &st, b.v[i].from, b.v[i].to, 0)) goto out;
    rc = 0;
out:
    free(exp);
    free(b.v);
    ui_styled_done(&st);
    return rc;
}
