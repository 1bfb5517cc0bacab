/* ui — every curses call of glmterm, and the text logic behind the panes.
 *
 * Pure logic (testable without a terminal):
 *   - styled text: `struct ui_lines`, wrapped lines of spans, each span a theme role;
 *   - ui_md_render: markdown (md4c) to styled lines at a width, wrapping by display width
 *     (utf8proc: CJK double width, emoji, combining marks);
 *   - ui_width / ui_wrap helpers;
 *   - the input editor (`struct ui_editor`): UTF-8 buffer, cursor, emacs keys, history,
 *     bracketed paste;
 *   - the layout tree (`struct ui_layout`): tmux-like splits, focus, zoom, rectangles.
 * Curses (screen.c): init/teardown (ui_screen_*), keys (ui_screen_read: Alt, bracketed
 * paste, wheel, resize), colour pairs from a theme, drawing styled lines into rectangles,
 * borders with titles, the status bar, overlays, ui_emergency_restore, OSC 52 copy.
 *
 * Thread: loop thread only. Text from the model, tools or files is untrusted: control
 * characters and escape sequences are replaced before anything reaches the terminal.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "themes/themes.h"

/* ---- styled lines --------------------------------------------------------------------- */

struct ui_span {
    uint32_t off, len; /* bytes of the line's text */
    uint16_t role;     /* enum theme_role */
    uint16_t attrs;    /* extra THEME_ATTR_* on top of the role's */
};

struct ui_line {
    char *text;     /* UTF-8, no control characters, NUL-terminated */
    uint32_t len;   /* bytes */
    uint32_t width; /* display columns */
    struct ui_span *spans;
    uint32_t n_spans;
    int32_t code_block; /* >= 1: line belongs to fenced code block N (for copy), else 0 */
};

struct ui_lines {
    struct ui_line *v;
    size_t n, cap;
};
void ui_lines_done(struct ui_lines *l);
void ui_lines_clear(struct ui_lines *l);

/* Display width of UTF-8 text (grapheme clusters; wide = 2, combining = 0, controls = 0). */
int ui_width(const char *s, size_t len);

/* Replaces C0/C1 controls (except \n and \t when `keep_newlines`), DEL, ESC sequences and
 * invalid UTF-8 with U+FFFD or nothing; returns a malloc'd string. */
char *ui_sanitize(const char *s, size_t len, bool keep_newlines, size_t *out_len);

/* Renders markdown `text` as lines of at most `width` columns, appended to `out`. `base` is
 * the role of plain text. Fenced code blocks get a label line with their language and a
 * number (counting from *code_counter + 1, which is advanced), tables are drawn with
 * THEME_TABLE_BORDER rules, lists indent, quotes get a bar. Returns 0 or -1 (no memory). */
int ui_md_render(const char *text, size_t len, int width, enum theme_role base, int *code_counter,
                 struct ui_lines *out);

/* Wraps plain text (no markdown) into `out` at `width` columns, breaking at spaces when
 * possible, inside words when not, never inside a grapheme cluster. */
int ui_wrap_plain(const char *text, size_t len, int width, enum theme_role role,
                  struct ui_lines *out);

/* The raw text of code block `n` (1-based, counted as ui_md_render numbers them from a
 * counter of 0) of markdown `text`, sanitized (\n and \t kept), for copying. Returns a new
 * string the caller frees (*out_len set), or NULL when there is no such block. */
char *ui_md_code_block(const char *text, size_t len, int n, size_t *out_len);

/* ---- input editor --------------------------------------------------------------------- */

enum ui_editor_action {
    UI_EDIT_NONE,    /* handled, nothing else to do */
    UI_EDIT_SEND,    /* the user sent the buffer (Enter outside paste/IME) */
    UI_EDIT_CHANGED, /* the buffer or cursor changed: redraw */
    UI_EDIT_IGNORED, /* not an editor key: the caller may handle it */
};

struct ui_editor;
struct ui_editor *ui_editor_new(void);
void ui_editor_free(struct ui_editor *e);
/* Feeds one key: a Unicode code point (`is_key` false) or a curses key code (KEY_LEFT, ...)
 * with `is_key` true; `alt` when ESC-prefixed. Enter sends, Alt-Enter inserts a newline
 * (swapped when `enter_newline` was set). Inside a bracketed paste nothing sends. */
enum ui_editor_action ui_editor_key(struct ui_editor *e, uint32_t key, bool is_key, bool alt);
void ui_editor_paste_begin(struct ui_editor *e);
void ui_editor_paste_end(struct ui_editor *e);
void ui_editor_set_enter_newline(struct ui_editor *e, bool enter_newline);
const char *ui_editor_text(const struct ui_editor *e, size_t *len);
void ui_editor_set_text(struct ui_editor *e, const char *text);
void ui_editor_clear(struct ui_editor *e);
/* The width the editor is drawn at, so Up/Down move between visual lines (<= 0: logical
 * lines). Set it with the width given to ui_editor_layout. */
void ui_editor_set_width(struct ui_editor *e, int width);
/* Adds the current text to the history (Up/Down browse it). */
void ui_editor_history_push(struct ui_editor *e);
/* Layout of the buffer at `width`: lines and the cursor's row/column (display columns). */
int ui_editor_layout(const struct ui_editor *e, int width, struct ui_lines *out, int *cur_row,
                     int *cur_col);

/* ---- layout tree ---------------------------------------------------------------------- */

struct ui_rect {
    int y, x, h, w;
};

enum ui_split { UI_SPLIT_NONE, UI_SPLIT_H /* side by side */, UI_SPLIT_V /* stacked */ };

struct ui_layout;
/* A tree whose leaves are panes identified by caller ids. */
struct ui_layout *ui_layout_new(int root_pane);
void ui_layout_free(struct ui_layout *l);
/* Splits the leaf `pane`, putting `new_pane` after it with the given share (0..1) of space. */
int ui_layout_split(struct ui_layout *l, int pane, enum ui_split dir, int new_pane, double share);
int ui_layout_remove(struct ui_layout *l, int pane);
/* Computes each visible pane's rectangle inside `area`; returns the count written. A zoomed
 * pane takes the whole area; hidden panes are skipped. */
int ui_layout_compute(const struct ui_layout *l, struct ui_rect area, int *panes,
                      struct ui_rect *rects, int max);
void ui_layout_set_hidden(struct ui_layout *l, int pane, bool hidden);
void ui_layout_set_zoom(struct ui_layout *l, int pane); /* -1: none */
int ui_layout_zoomed(const struct ui_layout *l);
/* Grows (delta > 0) or shrinks the pane's share in its parent split by `delta` columns/rows. */
int ui_layout_resize(struct ui_layout *l, int pane, int delta, struct ui_rect area);
/* The next visible pane after `pane` in tree order (focus cycling). */
int ui_layout_next(const struct ui_layout *l, int pane);

/* ---- screen (curses) ------------------------------------------------------------------- */

/* Initialises curses on the terminal of stdin/stdout: raw keys, no echo, keypad, a 25 ms
 * escape delay, non-blocking reads, bracketed paste on, mouse wheel reports, colours from
 * `theme` (none when NO_COLOR is set or the terminal has fewer than 8; attributes still
 * apply). The caller must have called setlocale(LC_ALL, "") first; when LC_CTYPE is not
 * UTF-8, C.UTF-8 is tried for LC_CTYPE (wide characters need it). Saves the termios state
 * for ui_emergency_restore. Never exits (newterm, not initscr). 0, or -1 with *why (not a
 * terminal, unknown $TERM, no UTF-8 locale). Loop thread only. */
int ui_screen_init(const struct theme *theme, char **why);
/* Leaves curses: bracketed paste off, cursor shown, the terminal as it was. Idempotent. */
void ui_screen_done(void);
/* Restores the terminal from any state (signal handlers, fatal paths). Async-signal-safe:
 * only write() and tcsetattr(). Writes ESC[?2004l ESC[?1000l ESC[?1006l ESC[0m ESC[?25h
 * ESC[?1l ESC> ESC[?1049l (paste and mouse off, attributes reset, cursor shown, keypad
 * transmit off, main screen) to stdout and restores the termios saved by ui_screen_init;
 * curses' own state is left alone (endwin is not signal-safe), so the process should exit
 * afterwards. Does nothing when the screen is not initialised. */
void ui_emergency_restore(void);
/* Switches the theme live (re-initialises the colour pairs); the caller redraws. The theme
 * is copied. */
void ui_screen_set_theme(const struct theme *theme);
/* The screen size; 0 x 0 before ui_screen_init. */
void ui_screen_size(int *rows, int *cols);
/* Call after SIGWINCH (from the loop, e.g. a uv_signal callback: libuv's handler replaces
 * curses' own): takes the terminal's new size; the next ui_screen_read gives UI_KEY_RESIZE. */
void ui_screen_resize(void);

/* Keys ui_screen_read gives (with `is_key` true) besides curses' KEY_* codes. Above every
 * curses code (KEY_MAX is 0777, ncurses numbers extended keys just after it) and within the
 * 16 bits ncurses' define_key takes. */
enum {
    UI_KEY_PASTE_BEGIN = 0x7f00, /* bracketed paste: what follows is pasted text... */
    UI_KEY_PASTE_END,            /* ...up to here */
    UI_KEY_WHEEL_UP,             /* mouse wheel */
    UI_KEY_WHEEL_DOWN,
    UI_KEY_RESIZE, /* the terminal changed size: read ui_screen_size, redraw everything */
};

/* Reads one key without blocking: a Unicode character (`is_key` false: printable, or a
 * control such as '\r' for Enter, 27 for Escape, 9 for Tab) or a key code (`is_key` true:
 * curses KEY_* such as KEY_BACKSPACE, or UI_KEY_*). `alt`: it came ESC-prefixed (Alt-x,
 * Alt-Enter = '\r' with alt). Unknown escape sequences and mouse events other than the wheel
 * are dropped. 0 when a key was read, -1 when none is pending. The app must call it until
 * -1 whenever stdin is readable: curses buffers input the fd poll cannot see. */
int ui_screen_read(uint32_t *key, bool *is_key, bool *alt);

/* Erases the whole screen to the normal role's colours (the next flush sends only what
 * changed, so erasing every frame does not flicker). */
void ui_screen_clear(void);
/* Draws `lines[first ..]` into `r` (clipped, O(visible)); lines past the end are blank. */
void ui_draw_lines(struct ui_rect r, const struct ui_lines *lines, size_t first);
/* A box border around `r` with a title; focused panes use THEME_BORDER_FOCUS. */
void ui_draw_border(struct ui_rect r, const char *title, bool focused);
/* One line of text with a role at y, x, clipped to w columns; the rest of the w columns are
 * filled with spaces in the same role. Control characters show as U+FFFD. */
void ui_draw_text(int y, int x, int w, const char *text, enum theme_role role);
/* The overlay's content rectangle (inside its border, one column of padding each side): wrap
 * overlay text at its width and page by its height. The box is 80% of the screen, centred. */
struct ui_rect ui_overlay_rect(void);
/* A centred box with lines (help overlay, dialogs) from line `first` (clamped so the last
 * page stays full); the rest of the screen is left as drawn. */
void ui_draw_overlay(const char *title, const struct ui_lines *lines, size_t first);
/* Where the cursor goes (and whether it shows) at the next flush; call any time in a frame. */
void ui_screen_cursor(int y, int x, bool visible);
/* Flushes the frame to the terminal (wnoutrefresh + doupdate): once per loop turn. */
void ui_screen_flush(void);

/* Most bytes of text ui_osc52_copy sends (terminals drop or truncate longer sequences). */
#define UI_OSC52_MAX (100 * 1024)
/* Builds the OSC 52 "set clipboard" sequence ESC ] 52 ; c ; <base64 of text> BEL; with
 * `tmux`, wrapped in tmux's passthrough (ESC P tmux; <sequence, each ESC doubled> ESC \).
 * *out gets a new NUL-terminated string the caller frees. 0, or -1 (len > UI_OSC52_MAX, no
 * memory; *out NULL). */
int ui_osc52_sequence(const char *text, size_t len, bool tmux, char **out);
/* Writes the OSC 52 sequence for `text` to the terminal (stdout); inside tmux ($TMUX set) both
 * plain (tmux with `set-clipboard on` takes it into its buffer) and wrapped for passthrough
 * (reaches the outer terminal with `allow-passthrough on`). Terminals may ignore it: a file
 * fallback is the app's job. 0, or -1 (too long, stdout not a terminal, write error). */
int ui_osc52_copy(const char *text, size_t len);
