/* ui internals of screen.c that need no terminal, exposed for tests/ui/test_screen.c:
 *   - the key decoder that turns what get_wch returns into keys (Alt prefixes, bracketed
 *     paste markers, unknown escape sequences dropped);
 *   - the cell layout that turns a line of styled UTF-8 into terminal cells, clipped to a
 *     column window;
 *   - the colour numbers handed to curses for a theme colour.
 * Thread: loop thread only (the decoder has state; the rest is pure).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

#include "ui/ui.h"

/* ---- key decoder ------------------------------------------------------------------------- */

/* Pulls the next input item without blocking: a character (`is_key` false) or a curses key
 * code (`is_key` true). 0, or -1 when nothing is pending (the end of the current burst). */
typedef int (*ui_key_source_cb)(void *ctx, uint32_t *code, bool *is_key);

/* Longest escape sequence the decoder buffers; longer ones are dropped as garbage. xterm's
 * longest keys are ~8 bytes (ESC [ 1 ; 5 ~ ...), SGR mouse reports ~16 (ESC [ < b ; x ; y M). */
#define UI_KEYDEC_MAX 32

struct ui_keydec {
    struct {
        uint32_t code;
        bool is_key;
    } q[UI_KEYDEC_MAX]; /* items read from the source but not yet decoded */
    uint32_t n;
    bool in_paste; /* between UI_KEY_PASTE_BEGIN and UI_KEY_PASTE_END */
};

/* Decodes the next key (see ui_screen_read for what comes out). An ESC with nothing after
 * it in the same burst is the Escape key; ESC + character or key is Alt + it (not inside a
 * paste, and never with a UI_KEY_* code); ESC [ 2 0 0 ~ / ESC [ 2 0 1 ~ are the paste
 * markers; other CSI (ESC [ ... final) and SS3 (ESC O final) sequences are dropped. A
 * sequence cut by the end of a burst is kept and finished by the next call. 0, or -1 when
 * no complete key is pending. A zeroed struct is a valid initial state. */
int ui_keydec_next(struct ui_keydec *d, ui_key_source_cb src, void *ctx, uint32_t *key,
                   bool *is_key, bool *alt);

/* ---- cell layout ------------------------------------------------------------------------- */

/* Code points per cell: a spacing character and up to 4 combining ones, NUL-terminated as
 * curses' setcchar wants (ncurses' CCHARW_MAX is 5). */
#define UI_CELL_CHARS 6

struct ui_cell {
    wchar_t wc[UI_CELL_CHARS]; /* wc[0] spacing (wcwidth 1 or 2), then wcwidth-0 marks */
    int32_t col;               /* first column, relative to the start of the text */
    int32_t width;             /* 1 or 2 */
    uint16_t role, attrs;      /* style of the cluster's first byte */
};

typedef void (*ui_cell_cb)(void *ctx, const struct ui_cell *c);

/* Lays out `s` as grapheme clusters (utf8proc) from column 0 and calls `cb` for every cell
 * that lies inside columns [lo, hi). Widths are wcwidth()'s, the ones curses uses to place
 * characters (so they need a UTF-8 LC_CTYPE); a wide character cut by lo or hi gives spaces
 * for its visible column; controls and invalid UTF-8 show as U+FFFD, a tab as one space;
 * zero-width clusters with no base are dropped. Spans (bounds-checked; bytes no span covers
 * use `base`) give each cell its role and extra attrs. Returns the column after the last
 * cell emitted or skipped, at most `hi`. */
int ui_text_cells(const char *s, size_t len, const struct ui_span *spans, uint32_t n_spans,
                  enum theme_role base, int lo, int hi, ui_cell_cb cb, void *ctx);

/* ---- colours ----------------------------------------------------------------------------- */

/* Terminals with at least this many colours take 24-bit values (ncurses "direct colour",
 * TERM=xterm-direct: COLORS = 2^24 and colour number = 0xRRGGBB). */
#define UI_DIRECT_COLORS 0x1000000

/* The curses colour number for `c` on a terminal with `ncolors` colours: -1 is the
 * terminal's default (only when `default_ok`; else white for a foreground, black for a
 * background). Direct colour: RGB as 0xRRGGBB, indices 0..7 kept, others as their xterm RGB.
 * Fewer colours: theme_color_reduce(). */
int ui_color_number(const struct theme_color *c, int ncolors, bool fg, bool default_ok);

/* The foreground and background numbers of a role's colour pair: ui_color_number for each,
 * then, on terminals with fewer than 256 colours, a foreground that reduced to its own
 * background (grey borders become black on 8 colours) moves to the nearest other ANSI colour
 * (greys to the nearest other grey, black or white).
 * A default background counts as black unless `normal` (the theme's normal role) has a dark
 * foreground, i.e. the theme is meant for light terminals. */
void ui_pair_colors(const struct theme_style *st, const struct theme_style *normal, int ncolors,
                    bool default_ok, int *fg, int *bg);
