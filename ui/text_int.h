/* ui internals shared by the pure-text files (lines.c, markdown.c, editor.c): grapheme
 * cluster stepping, a growable styled string and the line breaker. No curses here.
 *
 * A `struct ui_styled` is one run of UTF-8 text with spans (role + attrs) covering it; the
 * breaker cuts it into `struct ui_brk` slices of at most a given display width, and
 * ui_lines_push turns "prefix + slice" into a `struct ui_line`.
 */
#pragma once

#include "ui/ui.h"

/* Hard cap on any text the renderers build (bytes): the model, tools and files are
 * untrusted, so growth stops here with an out-of-memory style error. */
#define UI_TEXT_MAX ((size_t)64 << 20)
/* Tab stops every 4 columns in code blocks and plain text: the common indent of the code
 * GLM-4 writes (Python, JS); 8 wastes too much of a narrow pane. */
#define UI_TAB_WIDTH 4

/* The end of the grapheme cluster starting at byte `i` of `s` (i < len); *width gets its
 * display columns. An invalid byte is a cluster of its own, one column wide. */
size_t ui_cluster_next(const char *s, size_t len, size_t i, int *width);

struct ui_styled {
    char *text;
    size_t len, cap;
    struct ui_span *spans;
    size_t n_spans, cap_spans;
};
void ui_styled_done(struct ui_styled *s);
void ui_styled_reset(struct ui_styled *s);
/* Appends text with a style, merging with the last span when the style matches. 0 or -1. */
int ui_styled_add(struct ui_styled *s, const char *t, size_t n, uint16_t role, uint16_t attrs);
int ui_styled_addz(struct ui_styled *s, const char *t, uint16_t role, uint16_t attrs);
/* Appends `n` copies of the string `t`. */
int ui_styled_repeat(struct ui_styled *s, const char *t, int n, uint16_t role, uint16_t attrs);
int ui_styled_append(struct ui_styled *s, const struct ui_styled *from);

/* One output line: bytes [from, to) of the source; `cont` when it continues a hard line
 * (it was wrapped), not the start of one. */
struct ui_brk {
    size_t from, to;
    bool cont;
};
struct ui_brks {
    struct ui_brk *v;
    size_t n, cap;
};
/* Breaks `s` (no control characters except '\n', which ends a line) into slices of at most
 * `avail_first` columns for the first slice of each hard line and `avail_cont` for the
 * others. `words`: break after spaces (dropping them) and around wide characters when
 * possible, else only between clusters. A single cluster wider than the room gets a slice
 * of its own. Always yields at least one slice. Appends to `out`; 0 or -1. */
int ui_break(const char *s, size_t len, int avail_first, int avail_cont, bool words,
             struct ui_brks *out);

/* Appends a line made of `prefix` (may be NULL) then `s`[from, to) with its spans. */
int ui_lines_push(struct ui_lines *out, const struct ui_styled *prefix, const struct ui_styled *s,
                  size_t from, size_t to, int32_t code_block);

/* Expands tabs to UI_TAB_WIDTH stops (columns counted from the last '\n'); returns a
 * malloc'd string or NULL. */
char *ui_expand_tabs(const char *s, size_t len, size_t *out_len);
