/* markdown.c — markdown to styled lines (md4c callbacks → struct ui_lines).
 *
 * The input is sanitized first (ui_sanitize keeps only \n and \t), then md4c walks it and
 * calls back here. State is a stack of containers (quotes, lists, list items) that make
 * each line's prefix ("│ " bars, bullets, hanging indents) and one leaf block at a time
 * whose inline text accumulates in a styled buffer (role + attrs per span) until the
 * block closes; then the buffer is broken to the width left after the prefix and emitted.
 * Tables are collected cell by cell and laid out when the table closes; code blocks are
 * collected raw and broken between clusters with a "↪" continuation mark.
 *
 * Streaming: a reply is re-rendered as it grows, so any prefix of a document must render:
 * md4c closes whatever is open at the end of its input, and everything here tolerates
 * empty blocks, missing cells and unterminated fences.
 */
#include "ui/text_int.h"

#include <md4c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#define MD_MAX_DEPTH 32 /* containers kept for prefixes; deeper ones are flattened */
#define MD_MAX_LINKS 8  /* nested link/image spans tracked */
#define MD_MAX_COLS  64 /* table columns laid out; extra cells are dropped */
#define MD_MAX_CELLS 65536
#define MD_LANG_MAX  48 /* bytes of a fence's language shown in the label */

enum md_cont { MC_QUOTE, MC_UL, MC_OL, MC_LI };

struct md_container {
    enum md_cont kind;
    unsigned next_num; /* MC_OL */
    char delim;        /* MC_OL */
    char marker[24];   /* MC_LI: "• " or "12. " */
    bool marker_used;  /* MC_LI: the marker was printed on a line already */
};

enum md_leaf { ML_NONE, ML_PARA, ML_HEAD, ML_CODE, ML_HTML };

struct md_cell {
    struct ui_styled st;
    uint32_t row, col;
    bool head;
};

struct md {
    struct ui_lines *out;
    size_t out_start;
    int width;
    uint16_t base;
    int *counter;

    struct md_container stack[MD_MAX_DEPTH];
    int depth, overflow, quotes;

    enum md_leaf leaf;
    bool implicit; /* text of a tight list item: a paragraph md4c does not announce */
    unsigned head_level;
    struct ui_styled para, code, scratch;
    int code_n;
    char lang[MD_LANG_MAX + 1];

    int em, strong, del, codespan, link;
    bool citation;
    size_t link_start[MD_MAX_LINKS];
    char *link_href[MD_MAX_LINKS];
    int n_links;

    bool pending_blank;
    int blank_depth; /* containers shared by the blocks around the pending blank line */

    bool in_table, in_head, in_cell;
    struct md_cell *cells;
    size_t n_cells, cap_cells;
    uint32_t n_rows, cur_col;
    uint8_t align[MD_MAX_COLS];

    struct ui_styled first, cont; /* prefixes of the block being emitted */
    bool first_done;
    struct ui_brks brks;
};

/* ---- style and text --------------------------------------------------------------------- */

static void cur_style(const struct md *m, uint16_t *role, uint16_t *attrs)
{
    uint16_t r = m->quotes ? THEME_QUOTE : m->base, a = 0;
    if (m->leaf == ML_HEAD) {
        r = THEME_HEADING;
        a |= THEME_ATTR_BOLD;
    }
    if (m->in_cell && m->in_head) a |= THEME_ATTR_BOLD;
    if (m->em) {
        if (r != THEME_HEADING) r = THEME_EMPH;
        a |= THEME_ATTR_ITALIC;
    }
    if (m->strong) {
        if (r != THEME_HEADING) r = THEME_STRONG;
        a |= THEME_ATTR_BOLD;
    }
    if (m->del) a |= THEME_ATTR_DIM; /* curses has no strikethrough attribute */
    if (m->link) {
        r = THEME_LINK;
        a |= THEME_ATTR_UNDERLINE;
    } else if (m->citation) {
        r = THEME_LINK;
    }
    if (m->codespan) r = THEME_CODE;
    *role = r;
    *attrs = a;
}

static struct ui_styled *target(struct md *m)
{
    if (m->in_table) {
        if (m->in_cell && m->n_cells && m->cells[m->n_cells - 1].col < MD_MAX_COLS)
            return &m->cells[m->n_cells - 1].st;
        ui_styled_reset(&m->scratch); /* text outside a kept cell is dropped */
        return &m->scratch;
    }
    if (m->leaf == ML_NONE) {
        m->leaf = ML_PARA;
        m->implicit = true;
    }
    return &m->para;
}

static int add_styled(struct md *m, const char *s, size_t n)
{
    uint16_t role, attrs;
    cur_style(m, &role, &attrs);
    return ui_styled_add(target(m), s, n, role, attrs);
}

/* Adds inline text: \n and \t become spaces (unless keep_nl keeps \n for hard breaks),
 * GLM-4 citations 【…】 take the link role. */
static int add_text(struct md *m, const char *s, size_t n, bool keep_nl)
{
    static const char open[] = "\xe3\x80\x90", close[] = "\xe3\x80\x91"; /* 【 】 */
    size_t i = 0, run = 0;
    while (i < n) {
        if (!m->codespan && n - i >= 3 && memcmp(s + i, open, 3) == 0) {
            if (add_styled(m, s + run, i - run)) return -1;
            m->citation = true;
            run = i;
            i += 3;
        } else if (!m->codespan && n - i >= 3 && memcmp(s + i, close, 3) == 0) {
            i += 3;
            if (add_styled(m, s + run, i - run)) return -1;
            m->citation = false;
            run = i;
        } else if (s[i] == '\t' || (s[i] == '\n' && !keep_nl)) {
            if (add_styled(m, s + run, i - run) || add_styled(m, " ", 1)) return -1;
            run = ++i;
        } else {
            i++;
        }
    }
    return add_styled(m, s + run, n - run);
}

static int add_entity(struct md *m, const char *s, size_t n)
{
    static const struct {
        const char *name, *utf8;
    } named[] = {
        {"&amp;", "&"},
        {"&lt;", "<"},
        {"&gt;", ">"},
        {"&quot;", "\""},
        {"&apos;", "'"},
        {"&nbsp;", "\xc2\xa0"},
        {"&copy;", "\xc2\xa9"},
        {"&reg;", "\xc2\xae"},
        {"&mdash;", "\xe2\x80\x94"},
        {"&ndash;", "\xe2\x80\x93"},
        {"&hellip;", "\xe2\x80\xa6"},
        {"&times;", "\xc3\x97"},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strlen(named[i].name) == n && memcmp(named[i].name, s, n) == 0)
            return add_text(m, named[i].utf8, strlen(named[i].utf8), false);
    if (n >= 4 && s[1] == '#') {
        bool hex = s[2] == 'x' || s[2] == 'X';
        long c = 0;
        for (size_t i = hex ? 3 : 2; i + 1 < n && c <= 0x10ffff; i++) {
            char d = s[i];
            int v = d >= '0' && d <= '9'          ? d - '0'
                    : hex && d >= 'a' && d <= 'f' ? d - 'a' + 10
                    : hex && d >= 'A' && d <= 'F' ? d - 'A' + 10
                                                  : -1;
            if (v < 0) {
                c = -1;
                break;
            }
            c = c * (hex ? 16 : 10) + v;
        }
        utf8proc_uint8_t buf[4];
        /* CommonMark §2.5: invalid or NUL code points become U+FFFD; controls are dropped by
         * the same rule as everywhere else (never let &#27; reach the terminal). */
        if (c <= 0 || c > 0x10ffff || !utf8proc_codepoint_valid((utf8proc_int32_t)c)) c = 0xfffd;
        if (c < 0x20 || (c >= 0x7f && c < 0xa0)) return 0;
        utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)c, buf);
        return add_text(m, (const char *)buf, (size_t)k, false);
    }
    return add_text(m, s, n, false);
}

/* ---- prefixes and emission ------------------------------------------------------------------ */

/* The room left by prefixes must stay usable; past that, nesting is flattened. */
static bool prefix_too_wide(const struct md *m, int pw)
{
    int min_room = m->width / 3 > 2 ? m->width / 3 : 2; /* a wide character fits */
    if (min_room > m->width) min_room = m->width;
    return m->width - pw < min_room;
}

/* Drops trailing bytes found in `chars` (ASCII only) from a styled string. */
static void styled_rtrim(struct ui_styled *st, const char *chars)
{
    while (st->len && strchr(chars, st->text[st->len - 1])) {
        st->len--;
        st->text[st->len] = 0;
        struct ui_span *sp = &st->spans[st->n_spans - 1];
        if (--sp->len == 0) st->n_spans--;
    }
}

static int trimmed_push(struct md *m, struct ui_styled *pre)
{
    styled_rtrim(pre, " ");
    struct ui_styled empty = {0};
    return ui_lines_push(m->out, pre, &empty, 0, 0, 0);
}

/* The prefixes made by the outer `depth` containers: `first` carries list markers not
 * printed yet, `cont` indents by as much. Flattened when they leave too little room. */
static int build_prefix(struct md *m, int depth, struct ui_styled *first, struct ui_styled *cont)
{
    ui_styled_reset(first);
    ui_styled_reset(cont);
    int rc = 0;
    for (int i = 0; i < depth && !rc; i++) {
        struct md_container *c = &m->stack[i];
        if (c->kind == MC_QUOTE) {
            rc |= ui_styled_addz(first, "\xe2\x94\x82 ", THEME_QUOTE, 0);
            rc |= ui_styled_addz(cont, "\xe2\x94\x82 ", THEME_QUOTE, 0);
        } else if (c->kind == MC_LI) {
            int w = ui_width(c->marker, strlen(c->marker));
            rc |= ui_styled_addz(first, c->marker_used ? "" : c->marker,
                                 m->quotes ? THEME_QUOTE : m->base, 0);
            if (c->marker_used) rc |= ui_styled_repeat(first, " ", w, m->base, 0);
            rc |= ui_styled_repeat(cont, " ", w, m->base, 0);
        }
    }
    if (rc) return -1;
    if (prefix_too_wide(m, ui_width(cont->text, cont->len))) {
        ui_styled_reset(first);
        ui_styled_reset(cont);
    }
    return 0;
}

/* A blank line goes before the next block; it carries the bars of the containers both
 * blocks are in (a quote after a paragraph is set off by an empty line, not a bar). */
static void blank_due(struct md *m)
{
    m->pending_blank = true;
    m->blank_depth = m->depth;
}

/* Starts a block that prints lines: the blank separator when one is due, then the first and
 * continuation prefixes. */
static int block_begin(struct md *m)
{
    int rc = 0;
    if (m->pending_blank && m->out->n > m->out_start) {
        int depth = m->blank_depth < m->depth ? m->blank_depth : m->depth;
        rc = build_prefix(m, depth, &m->first, &m->cont) || trimmed_push(m, &m->cont);
        if (rc) return -1;
    }
    if (build_prefix(m, m->depth, &m->first, &m->cont)) return -1;
    m->pending_blank = false;
    for (int i = 0; i < m->depth; i++)
        if (m->stack[i].kind == MC_LI) m->stack[i].marker_used = true;
    m->first_done = false;
    return 0;
}

static const struct ui_styled *next_prefix(struct md *m)
{
    if (m->first_done) return &m->cont;
    m->first_done = true;
    return &m->first;
}

static int room(const struct md *m)
{
    int r = m->width - ui_width(m->cont.text, m->cont.len);
    return r < 1 ? 1 : r;
}

/* Breaks `st` at the room left and emits it; returns the widest slice in *max_w. */
static int emit_wrapped(struct md *m, const struct ui_styled *st, int *max_w)
{
    m->brks.n = 0;
    int avail = room(m);
    if (ui_break(st->text ? st->text : "", st->len, avail, avail, true, &m->brks)) return -1;
    for (size_t i = 0; i < m->brks.n; i++) {
        const struct ui_brk *b = &m->brks.v[i];
        if (ui_lines_push(m->out, next_prefix(m), st, b->from, b->to, 0)) return -1;
        int w = ui_width(st->text + b->from, b->to - b->from);
        if (max_w && w > *max_w) *max_w = w;
    }
    return 0;
}

static int emit_rule(struct md *m, const char *glyph, int n, uint16_t role)
{
    struct ui_styled st = {0};
    int rc = ui_styled_repeat(&st, glyph, n < 1 ? 1 : n, role, 0);
    if (!rc) rc = ui_lines_push(m->out, next_prefix(m), &st, 0, st.len, 0);
    ui_styled_done(&st);
    return rc;
}

static int flush_para(struct md *m)
{
    enum md_leaf leaf = m->leaf;
    m->leaf = ML_NONE;
    m->implicit = false;
    m->citation = false;
    struct ui_styled *p = &m->para;
    styled_rtrim(p, leaf == ML_HTML ? "\n" : " \n");
    if (p->len == 0) {
        ui_styled_reset(p);
        return 0;
    }
    int max_w = 0, rc = block_begin(m);
    if (!rc) rc = emit_wrapped(m, p, &max_w);
    if (!rc && leaf == ML_HEAD && m->head_level == 1)
        rc = emit_rule(m, "\xe2\x95\x90", max_w, THEME_HEADING); /* ═ */
    ui_styled_reset(p);
    return rc;
}

static int flush_implicit(struct md *m)
{
    return m->implicit ? flush_para(m) : 0;
}

static int flush_code(struct md *m)
{
    m->leaf = ML_NONE;
    struct ui_styled label = {0}, body = {0}, cont = {0};
    struct ui_styled *c = &m->code;
    size_t len = c->len;
    if (len && c->text[len - 1] == '\n') len--;
    size_t exp_len = 0;
    char *exp = ui_expand_tabs(c->text ? c->text : "", len, &exp_len);
    int rc = exp ? 0 : -1;
    char head[MD_LANG_MAX + 24];
    snprintf(head, sizeof head, m->lang[0] ? "[%d] %s" : "[%d]", m->code_n, m->lang);
    rc = rc || block_begin(m) || ui_styled_addz(&label, head, THEME_CODE_LABEL, 0);
    int avail = room(m);
    m->brks.n = 0;
    rc = rc || ui_break(label.text, label.len, avail, avail, false, &m->brks);
    for (size_t i = 0; !rc && i < m->brks.n; i++)
        rc = ui_lines_push(m->out, next_prefix(m), &label, m->brks.v[i].from, m->brks.v[i].to,
                           m->code_n);
    rc = rc || ui_styled_add(&body, exp ? exp : "", exp_len, THEME_CODE, 0);
    bool mark = avail >= 3; /* the ↪ mark must leave room for a wide character */
    rc = rc || ui_styled_append(&cont, &m->cont) ||
         (mark && ui_styled_addz(&cont, "\xe2\x86\xaa", THEME_DIM, 0)); /* ↪ */
    m->brks.n = 0;
    rc = rc || ui_break(body.text ? body.text : "", body.len, avail, mark ? avail - 1 : avail,
                        false, &m->brks);
    for (size_t i = 0; !rc && i < m->brks.n; i++) {
        const struct ui_brk *b = &m->brks.v[i];
        rc = ui_lines_push(m->out, b->cont ? &cont : next_prefix(m), &body, b->from, b->to,
                           m->code_n);
    }
    free(exp);
    ui_styled_done(&label);
    ui_styled_done(&body);
    ui_styled_done(&cont);
    ui_styled_reset(c);
    return rc ? -1 : 0;
}

/* ---- tables --------------------------------------------------------------------------------- */

static int add_range(struct ui_styled *dst, const struct ui_styled *src, size_t from, size_t to)
{
    for (size_t i = 0; i < src->n_spans; i++) {
        const struct ui_span *sp = &src->spans[i];
        size_t a = sp->off, b = (size_t)sp->off + sp->len;
        if (a < from) a = from;
        if (b > to) b = to;
        if (a < b && ui_styled_add(dst, src->text + a, b - a, sp->role, sp->attrs)) return -1;
    }
    return 0;
}

static int table_rule(struct md *m, const int *colw, int ncols, int pad, const char *l,
                      const char *mid, const char *r)
{
    struct ui_styled st = {0};
    int rc = ui_styled_addz(&st, l, THEME_TABLE_BORDER, 0);
    for (int c = 0; c < ncols && !rc; c++) {
        rc = ui_styled_repeat(&st, "\xe2\x94\x80", colw[c] + 2 * pad, THEME_TABLE_BORDER, 0) ||
             ui_styled_addz(&st, c + 1 < ncols ? mid : r, THEME_TABLE_BORDER, 0);
    }
    if (!rc) rc = ui_lines_push(m->out, next_prefix(m), &st, 0, st.len, 0);
    ui_styled_done(&st);
    return rc ? -1 : 0;
}

/* Draws row `row`, whose cells start at m->cells[*ci] (cells come row by row). */
static int table_row(struct md *m, uint32_t row, size_t *ci, const int *colw, int ncols, int pad)
{
    struct md_cell *cells[MD_MAX_COLS] = {0};
    struct ui_brks b[MD_MAX_COLS];
    memset(b, 0, sizeof b);
    for (; *ci < m->n_cells && m->cells[*ci].row == row; ++*ci)
        if (m->cells[*ci].col < (uint32_t)ncols) cells[m->cells[*ci].col] = &m->cells[*ci];
    int rc = 0;
    size_t height = 1;
    for (int c = 0; c < ncols && !rc; c++) {
        const struct ui_styled *st = cells[c] ? &cells[c]->st : NULL;
        rc = ui_break(st && st->text ? st->text : "", st ? st->len : 0, colw[c], colw[c], true,
                      &b[c]);
        if (b[c].n > height) height = b[c].n;
    }
    struct ui_styled line = {0};
    for (size_t k = 0; k < height && !rc; k++) {
        ui_styled_reset(&line);
        rc = ui_styled_addz(&line, "\xe2\x94\x82", THEME_TABLE_BORDER, 0);
        for (int c = 0; c < ncols && !rc; c++) {
            int w = 0;
            size_t from = 0, to = 0;
            if (k < b[c].n && cells[c]) {
                from = b[c].v[k].from;
                to = b[c].v[k].to;
                w = ui_width(cells[c]->st.text + from, to - from);
            }
            int fill = colw[c] > w ? colw[c] - w : 0, before = 0;
            if (m->align[c] == MD_ALIGN_RIGHT) before = fill;
            if (m->align[c] == MD_ALIGN_CENTER) before = fill / 2;
            rc = ui_styled_repeat(&line, " ", pad + before, m->base, 0) ||
                 (cells[c] && add_range(&line, &cells[c]->st, from, to)) ||
                 ui_styled_repeat(&line, " ", fill - before + pad, m->base, 0) ||
                 ui_styled_addz(&line, "\xe2\x94\x82", THEME_TABLE_BORDER, 0);
        }
        if (!rc) rc = ui_lines_push(m->out, next_prefix(m), &line, 0, line.len, 0);
    }
    ui_styled_done(&line);
    for (int c = 0; c < ncols; c++)
        free(b[c].v);
    return rc ? -1 : 0;
}

/* Column widths within `avail`: natural widths when they fit; else each column starts at
 * its longest word (`pref`; at most an equal share of the room when the words do not fit,
 * never under its widest cluster `minw`) and the room left goes to columns in proportion to
 * what they still lack. False when not even the
 * widest clusters fit. */
static bool fit_columns(int *colw, const int *nat, const int *pref, const int *minw, int ncols,
                        int avail)
{
    long sum_nat = 0, sum_pref = 0, sum_min = 0;
    for (int c = 0; c < ncols; c++)
        sum_nat += nat[c], sum_pref += pref[c], sum_min += minw[c];
    if (sum_min > avail) return false;
    /* when words do not fit either, no column starts above an equal share of the room */
    int fair = avail / ncols;
    long sum = 0, lack = 0;
    for (int c = 0; c < ncols; c++) {
        colw[c] = sum_nat <= avail ? nat[c] : pref[c];
        if (sum_pref > avail && colw[c] > fair) colw[c] = fair > minw[c] ? fair : minw[c];
        sum += colw[c];
    }
    for (int c = 0; c < ncols && sum > avail; c++)
        sum -= colw[c] - minw[c], colw[c] = minw[c];
    for (int c = 0; c < ncols; c++)
        lack += nat[c] - colw[c];
    long left = avail - sum;
    for (int c = 0; c < ncols && lack > 0; c++) {
        int extra = (int)((nat[c] - colw[c]) * left / lack);
        colw[c] += extra;
        sum += extra;
    }
    while (sum < avail && sum < sum_nat) { /* rounding leftovers: to the column lacking most */
        int best = -1;
        for (int c = 0; c < ncols; c++)
            if (colw[c] < nat[c] && (best < 0 || nat[c] - colw[c] > nat[best] - colw[best]))
                best = c;
        if (best < 0) break;
        colw[best]++, sum++;
    }
    return true;
}

/* Too narrow for a grid: each body row as "header: value" lines, rows split by a rule. */
static int table_vertical(struct md *m, int ncols)
{
    const struct md_cell *head[MD_MAX_COLS] = {0};
    struct ui_styled st = {0};
    int rc = 0;
    uint32_t last_row = 0;
    for (size_t i = 0; i < m->n_cells && !rc; i++) {
        const struct md_cell *cell = &m->cells[i];
        if (cell->col >= (uint32_t)ncols) continue;
        if (cell->row == 0) {
            head[cell->col] = cell;
            continue;
        }
        if (last_row && cell->row != last_row)
            rc = emit_rule(m, "\xe2\x94\x80", room(m), THEME_TABLE_BORDER);
        last_row = cell->row;
        ui_styled_reset(&st);
        rc = rc || (head[cell->col] && ui_styled_append(&st, &head[cell->col]->st)) ||
             ui_styled_addz(&st, ": ", m->base, THEME_ATTR_BOLD) ||
             ui_styled_append(&st, &cell->st) || emit_wrapped(m, &st, NULL);
    }
    ui_styled_done(&st);
    return rc ? -1 : 0;
}

static int flush_table(struct md *m)
{
    int ncols = 0;
    int nat[MD_MAX_COLS] = {0}, pref[MD_MAX_COLS] = {0}, minw[MD_MAX_COLS] = {0};
    int colw[MD_MAX_COLS] = {0};
    for (size_t i = 0; i < m->n_cells; i++) {
        struct md_cell *cell = &m->cells[i];
        if (cell->col >= MD_MAX_COLS) continue;
        if ((int)cell->col + 1 > ncols) ncols = (int)cell->col + 1;
        const char *s = cell->st.text ? cell->st.text : "";
        int word = 0; /* widest line, word and cluster of the cell */
        for (size_t p = 0, ls = 0, n = cell->st.len; p <= n;) {
            if (p == n || s[p] == '\n' || s[p] == ' ') {
                if (p == n || s[p] == '\n') {
                    int w = ui_width(s + ls, p - ls);
                    if (w > nat[cell->col]) nat[cell->col] = w;
                    ls = p + 1;
                }
                word = 0;
                p++;
                continue;
            }
            int cw;
            p = ui_cluster_next(s, n, p, &cw);
            word += cw;
            if (word > pref[cell->col]) pref[cell->col] = word;
            if (cw > minw[cell->col]) minw[cell->col] = cw;
        }
    }
    if (ncols == 0) return 0;
    for (int c = 0; c < ncols; c++) {
        if (minw[c] < 1) minw[c] = 1;
        if (pref[c] < minw[c]) pref[c] = minw[c];
        if (nat[c] < pref[c]) nat[c] = pref[c];
    }
    if (block_begin(m)) return -1;
    int avail = room(m), pad = 1;
    if (!fit_columns(colw, nat, pref, minw, ncols, avail - 3 * ncols - 1)) {
        pad = 0;
        if (!fit_columns(colw, nat, pref, minw, ncols, avail - ncols - 1))
            return table_vertical(m, ncols);
    }
    int rc = table_rule(m, colw, ncols, pad, "\xe2\x94\x8c", "\xe2\x94\xac", "\xe2\x94\x90");
    size_t ci = 0;
    for (uint32_t r = 0; r < m->n_rows && !rc; r++) {
        rc = table_row(m, r, &ci, colw, ncols, pad);
        if (!rc && r == 0)
            rc = table_rule(m, colw, ncols, pad, "\xe2\x94\x9c", "\xe2\x94\xbc", "\xe2\x94\xa4");
    }
    if (!rc) rc = table_rule(m, colw, ncols, pad, "\xe2\x94\x94", "\xe2\x94\xb4", "\xe2\x94\x98");
    return rc;
}

static void table_reset(struct md *m)
{
    for (size_t i = 0; i < m->n_cells; i++)
        ui_styled_done(&m->cells[i].st);
    m->n_cells = 0;
    m->n_rows = 0;
    memset(m->align, 0, sizeof m->align);
}

/* ---- md4c callbacks ------------------------------------------------------------------------- */

static struct md_container *push(struct md *m, enum md_cont kind)
{
    if (m->depth == MD_MAX_DEPTH) {
        m->overflow++;
        return NULL;
    }
    struct md_container *c = &m->stack[m->depth++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    return c;
}

static void pop(struct md *m)
{
    if (m->overflow) {
        m->overflow--;
        return;
    }
    if (m->depth > 0) m->depth--;
    if (m->blank_depth > m->depth) m->blank_depth = m->depth;
}

static struct md_container *top(struct md *m)
{
    return m->depth && !m->overflow ? &m->stack[m->depth - 1] : NULL;
}

static int enter_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct md *m = ud;
    if (type != MD_BLOCK_DOC && type != MD_BLOCK_TH && type != MD_BLOCK_TD && type != MD_BLOCK_TR &&
        type != MD_BLOCK_THEAD && type != MD_BLOCK_TBODY && flush_implicit(m))
        return -1;
    struct md_container *c;
    switch (type) {
    case MD_BLOCK_QUOTE:
        if (push(m, MC_QUOTE)) m->quotes++;
        break;
    case MD_BLOCK_UL: push(m, MC_UL); break;
    case MD_BLOCK_OL:
        if ((c = push(m, MC_OL))) {
            const MD_BLOCK_OL_DETAIL *d = detail;
            c->next_num = d->start;
            c->delim = d->mark_delimiter;
        }
        break;
    case MD_BLOCK_LI: {
        struct md_container *list = top(m);
        if (!(c = push(m, MC_LI))) break;
        if (list && list->kind == MC_OL) {
            snprintf(c->marker, sizeof c->marker, "%u%c ", list->next_num++, list->delim);
        } else {
            static const char *bullets[] = {"\xe2\x80\xa2 ", "\xe2\x97\xa6 ", "\xe2\x96\xaa "};
            int uls = 0;
            for (int i = 0; i < m->depth; i++)
                uls += m->stack[i].kind == MC_UL || m->stack[i].kind == MC_OL;
            snprintf(c->marker, sizeof c->marker, "%s", bullets[(uls + 2) % 3]);
        }
        break;
    }
    case MD_BLOCK_HR:
        if (block_begin(m) || emit_rule(m, "\xe2\x94\x80", room(m), THEME_DIM)) return -1;
        blank_due(m);
        break;
    case MD_BLOCK_H:
        m->leaf = ML_HEAD;
        m->head_level = ((const MD_BLOCK_H_DETAIL *)detail)->level;
        break;
    case MD_BLOCK_CODE: {
        const MD_BLOCK_CODE_DETAIL *d = detail;
        m->leaf = ML_CODE;
        m->code_n = ++*m->counter;
        size_t n = d->lang.size < MD_LANG_MAX ? d->lang.size : MD_LANG_MAX;
        size_t clean_len = 0;
        char *clean = ui_sanitize(d->lang.text ? d->lang.text : "", n, false, &clean_len);
        if (!clean) return -1;
        snprintf(m->lang, sizeof m->lang, "%s", clean);
        free(clean);
        ui_styled_reset(&m->code);
        break;
    }
    case MD_BLOCK_HTML: m->leaf = ML_HTML; break;
    case MD_BLOCK_P: m->leaf = ML_PARA; break;
    case MD_BLOCK_TABLE:
        table_reset(m);
        m->in_table = true;
        break;
    case MD_BLOCK_THEAD: m->in_head = true; break;
    case MD_BLOCK_TBODY: m->in_head = false; break;
    case MD_BLOCK_TR:
        m->n_rows++;
        m->cur_col = 0;
        break;
    case MD_BLOCK_TH:
    case MD_BLOCK_TD: {
        uint32_t col = m->cur_col++;
        m->in_cell = true;
        if (col >= MD_MAX_COLS || m->n_rows == 0 || m->n_cells >= MD_MAX_CELLS) {
            m->in_cell = false;
            break;
        }
        if (m->n_cells == m->cap_cells) {
            size_t cap = m->cap_cells ? m->cap_cells * 2 : 16;
            struct md_cell *p = realloc(m->cells, cap * sizeof *p);
            if (!p) return -1;
            m->cells = p;
            m->cap_cells = cap;
        }
        m->cells[m->n_cells++] =
            (struct md_cell){.row = m->n_rows - 1, .col = col, .head = m->in_head};
        if (m->n_rows == 1) m->align[col] = (uint8_t)((const MD_BLOCK_TD_DETAIL *)detail)->align;
        break;
    }
    default: break;
    }
    return 0;
}

static int leave_block(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct md *m = ud;
    struct md_container *c;
    switch (type) {
    case MD_BLOCK_QUOTE:
        if (flush_implicit(m)) return -1;
        if ((c = top(m)) && c->kind == MC_QUOTE) m->quotes--;
        pop(m);
        blank_due(m);
        break;
    case MD_BLOCK_UL:
    case MD_BLOCK_OL:
        if (flush_implicit(m)) return -1;
        pop(m);
        c = top(m);
        if (!c || c->kind != MC_LI) blank_due(m);
        break;
    case MD_BLOCK_LI:
        if (flush_implicit(m)) return -1;
        c = top(m);
        if (c && c->kind == MC_LI && !c->marker_used) { /* an empty item still shows its mark */
            if (block_begin(m) || trimmed_push(m, &m->first)) return -1;
        }
        pop(m);
        break;
    case MD_BLOCK_H:
    case MD_BLOCK_P:
    case MD_BLOCK_HTML:
        if (flush_para(m)) return -1;
        blank_due(m);
        break;
    case MD_BLOCK_CODE:
        if (flush_code(m)) return -1;
        blank_due(m);
        break;
    case MD_BLOCK_TABLE: {
        int rc = flush_table(m);
        table_reset(m);
        m->in_table = m->in_cell = m->in_head = false;
        blank_due(m);
        if (rc) return -1;
        break;
    }
    case MD_BLOCK_TH:
    case MD_BLOCK_TD: m->in_cell = false; break;
    default: break;
    }
    return 0;
}

static int enter_span(MD_SPANTYPE type, void *detail, void *ud)
{
    struct md *m = ud;
    switch (type) {
    case MD_SPAN_EM: m->em++; break;
    case MD_SPAN_STRONG: m->strong++; break;
    case MD_SPAN_DEL: m->del++; break;
    case MD_SPAN_CODE: m->codespan++; break;
    case MD_SPAN_A:
    case MD_SPAN_IMG: {
        const MD_ATTRIBUTE *href = type == MD_SPAN_A ? &((const MD_SPAN_A_DETAIL *)detail)->href
                                                     : &((const MD_SPAN_IMG_DETAIL *)detail)->src;
        m->link++;
        if (m->n_links < MD_MAX_LINKS) {
            size_t n = href->size < 2048 ? href->size : 2048;
            char *h = ui_sanitize(href->text ? href->text : "", n, false, NULL);
            if (!h) return -1;
            m->link_start[m->n_links] = target(m)->len;
            m->link_href[m->n_links] = h;
        }
        m->n_links++;
        break;
    }
    default: break;
    }
    return 0;
}

/* An autolink's text is its URL (give or take the scheme): no need to print it twice. */
static bool same_url(const char *text, size_t n, const char *href)
{
    static const char *schemes[] = {"", "http://", "https://", "mailto:"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t k = strlen(schemes[i]);
        if (strncmp(href, schemes[i], k) == 0 && strlen(href + k) == n &&
            memcmp(href + k, text, n) == 0)
            return true;
    }
    return false;
}

static int leave_span(MD_SPANTYPE type, void *detail, void *ud)
{
    struct md *m = ud;
    switch (type) {
    case MD_SPAN_EM: m->em--; break;
    case MD_SPAN_STRONG: m->strong--; break;
    case MD_SPAN_DEL: m->del--; break;
    case MD_SPAN_CODE: m->codespan--; break;
    case MD_SPAN_A:
    case MD_SPAN_IMG: {
        m->link--;
        if (--m->n_links >= MD_MAX_LINKS) break;
        char *href = m->link_href[m->n_links];
        m->link_href[m->n_links] = NULL;
        struct ui_styled *t = target(m);
        size_t start = m->link_start[m->n_links];
        int rc = 0;
        if (start <= t->len && href[0] &&
            !same_url(t->text ? t->text + start : "", t->len - start, href)) {
            rc = ui_styled_addz(t, " <", THEME_DIM, 0) || ui_styled_addz(t, href, THEME_DIM, 0) ||
                 ui_styled_addz(t, ">", THEME_DIM, 0);
        }
        free(href);
        if (rc) return -1;
        break;
    }
    default: break;
    }
    return 0;
}

static int text_cb(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE n, void *ud)
{
    struct md *m = ud;
    switch (type) {
    case MD_TEXT_NULLCHAR:
        if (m->leaf == ML_CODE) return ui_styled_add(&m->code, "\xef\xbf\xbd", 3, THEME_CODE, 0);
        return add_text(m, "\xef\xbf\xbd", 3, false);
    case MD_TEXT_BR: return add_styled(m, "\n", 1);
    case MD_TEXT_SOFTBR: return add_styled(m, " ", 1);
    case MD_TEXT_ENTITY: return add_entity(m, s, n);
    case MD_TEXT_CODE:
        if (m->leaf == ML_CODE) return ui_styled_add(&m->code, s, n, THEME_CODE, 0);
        return add_text(m, s, n, false);
    case MD_TEXT_HTML: return add_text(m, s, n, m->leaf == ML_HTML);
    default: return add_text(m, s, n, false);
    }
}

static void md_free(struct md *m)
{
    ui_styled_done(&m->para);
    ui_styled_done(&m->code);
    ui_styled_done(&m->scratch);
    ui_styled_done(&m->first);
    ui_styled_done(&m->cont);
    table_reset(m);
    free(m->cells);
    free(m->brks.v);
    for (int i = 0; i < MD_MAX_LINKS; i++)
        free(m->link_href[i]);
}

static const unsigned md_flags =
    MD_FLAG_TABLES | MD_FLAG_STRIKETHROUGH | MD_FLAG_PERMISSIVEAUTOLINKS;

int ui_md_render(const char *text, size_t len, int width, enum theme_role base, int *code_counter,
                 struct ui_lines *out)
{
    int local_counter = 0;
    struct md *m = calloc(1, sizeof *m);
    if (!m) return -1;
    m->out = out;
    m->out_start = out->n;
    m->width = width < 1 ? 1 : width;
    m->base = (uint16_t)base;
    m->counter = code_counter ? code_counter : &local_counter;
    size_t clean_len = 0;
    char *clean = ui_sanitize(text ? text : "", text ? len : 0, true, &clean_len);
    int rc = -1;
    if (!clean) goto out;
    MD_PARSER parser = {
        .flags = md_flags,
        .enter_block = enter_block,
        .leave_block = leave_block,
        .enter_span = enter_span,
        .leave_span = leave_span,
        .text = text_cb,
    };
    rc = md_parse(clean, (MD_SIZE)clean_len, &parser, m) ? -1 : 0;
    if (!rc) rc = flush_implicit(m);
out:
    free(clean);
    md_free(m);
    free(m);
    return rc;
}

/* ---- code block extraction --------------------------------------------------------------------
 */

struct md_extract {
    int want, seen;
    bool inside;
    struct ui_styled st;
    int err;
};

static int ex_enter(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct md_extract *x = ud;
    if (type == MD_BLOCK_CODE) x->inside = ++x->seen == x->want;
    return 0;
}

static int ex_leave(MD_BLOCKTYPE type, void *detail, void *ud)
{
    struct md_extract *x = ud;
    if (type == MD_BLOCK_CODE) x->inside = false;
    return 0;
}

static int ex_span(MD_SPANTYPE type, void *detail, void *ud)
{
    return 0;
}

static int ex_text(MD_TEXTTYPE type, const MD_CHAR *s, MD_SIZE n, void *ud)
{
    struct md_extract *x = ud;
    if (!x->inside) return 0;
    if (type == MD_TEXT_NULLCHAR) return ui_styled_add(&x->st, "\xef\xbf\xbd", 3, 0, 0);
    return ui_styled_add(&x->st, s, n, 0, 0);
}

char *ui_md_code_block(const char *text, size_t len, int n, size_t *out_len)
{
    size_t clean_len = 0;
    char *clean = ui_sanitize(text ? text : "", text ? len : 0, true, &clean_len);
    if (!clean) return NULL;
    struct md_extract x = {.want = n};
    MD_PARSER parser = {
        .flags = md_flags,
        .enter_block = ex_enter,
        .leave_block = ex_leave,
        .enter_span = ex_span,
        .leave_span = ex_span,
        .text = ex_text,
    };
    int rc = md_parse(clean, (MD_SIZE)clean_len, &parser, &x);
    free(clean);
    if (rc || n < 1 || x.seen < n) {
        ui_styled_done(&x.st);
        return NULL;
    }
    char *s = x.st.text ? x.st.text : strdup("");
    if (out_len) *out_len = s ? x.st.len : 0;
    free(x.st.spans);
    return s;
}
