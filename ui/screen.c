/* screen.c — every curses call of glmterm: the terminal's lifetime, keys, colours, drawing.
 *
 * Data model: one process-wide screen (`g`), the terminal of stdin/stdout opened with
 * newterm (initscr would exit() on failure). Drawing goes straight into stdscr, cell by
 * cell, and ui_screen_flush sends the difference once per loop turn (wnoutrefresh +
 * doupdate), as tmux's screen-write.c builds a screen that tty.c then updates.
 *
 * Colours are semantic roles, as in htop's CRT.c: theme role i is colour pair i + 1, the
 * role's attributes are kept beside it. Terminal colours are never redefined: a theme's
 * RGB is sent as is on direct-colour terminals (ncurses' extended pairs) and reduced to
 * the nearest of 256, 16 or 8 colours otherwise, where a foreground that lands on its own
 * background moves to the nearest visible colour. NO_COLOR keeps the attributes only, plus
 * a few so roles stay distinguishable (selection and status bar reversed).
 *
 * Keys: curses' get_wch in non-blocking mode is drained by ui_screen_read through a small
 * decoder (ui_keydec_next) that knows what curses does not: Alt as an ESC prefix,
 * bracketed paste markers, and escape sequences nobody asked for (dropped, never typed).
 * The paste markers are also taught to curses with define_key, so they are recognised
 * even when curses would split them on its escape delay; the decoder covers the rest.
 *
 * Text reaches the terminal only as cells (ui_text_cells): grapheme clusters with
 * wcwidth() widths — the widths curses itself uses to place characters, so its idea of the
 * screen matches ours — controls replaced, clipped to the rectangle, a wide character
 * never straddling an edge.
 *
 * Signals: ui_emergency_restore uses only write() and tcsetattr() with state saved at
 * init. Thread: loop thread only.
 */
#include "ui/screen_int.h"

#include <curses.h>
#include <errno.h>
#include <langinfo.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <utf8proc.h>

_Static_assert(UI_CELL_CHARS <= CCHARW_MAX + 1, "a cell must fit a cchar_t");
_Static_assert(UI_KEY_RESIZE <= 0xffff, "define_key takes 16-bit codes");
_Static_assert(UI_KEY_PASTE_BEGIN > KEY_MAX, "UI_KEY_* above curses' codes");

/* How long curses waits after an ESC for the rest of a key sequence before calling it the
 * Escape key (ms). A terminal sends a sequence in one write, so a short wait keeps Escape
 * prompt (the role of vim's ttimeoutlen and tmux's escape-time); a sequence split anyway is
 * still put together by the decoder, which holds a cut CSI until the next read. */
#define ESC_DELAY_MS 25
/* How long a blocked terminal may hold up an OSC 52 write (ms). */
#define WRITE_WAIT_MS 1000

/* ---- key decoder (no curses) -------------------------------------------------------------- */

#define CH_ESC 0x1b

static bool is_ui_key(uint32_t code)
{
    return code >= UI_KEY_PASTE_BEGIN && code <= UI_KEY_RESIZE;
}

/* Makes q[i] available, pulling from the source; -1 when the burst ends first or the
 * buffer is full. */
static int kd_peek(struct ui_keydec *d, ui_key_source_cb src, void *ctx, uint32_t i)
{
    while (d->n <= i) {
        if (d->n == UI_KEYDEC_MAX) return -1;
        uint32_t code;
        bool is_key;
        if (src(ctx, &code, &is_key) != 0) return -1;
        d->q[d->n].code = code;
        d->q[d->n].is_key = is_key;
        d->n++;
    }
    return 0;
}

static void kd_consume(struct ui_keydec *d, uint32_t k)
{
    if (k > d->n) k = d->n;
    memmove(d->q, d->q + k, (d->n - k) * sizeof d->q[0]);
    d->n -= k;
}

static bool kd_is_char(const struct ui_keydec *d, uint32_t i, uint32_t c)
{
    return !d->q[i].is_key && d->q[i].code == c;
}

/* Hands out q[i] (Alt-prefixed when `alt`) after consuming `k` items. */
static int kd_emit(struct ui_keydec *d, uint32_t i, uint32_t k, bool alt, uint32_t *key,
                   bool *is_key, bool *alt_out)
{
    *key = d->q[i].code;
    *is_key = d->q[i].is_key;
    *alt_out = alt;
    if (*is_key && *key == UI_KEY_PASTE_BEGIN) d->in_paste = true;
    if (*is_key && *key == UI_KEY_PASTE_END) d->in_paste = false;
    kd_consume(d, k);
    return 0;
}

static int kd_emit_key(struct ui_keydec *d, uint32_t code, uint32_t k, uint32_t *key, bool *is_key,
                       bool *alt)
{
    kd_consume(d, k);
    *key = code;
    *is_key = true;
    *alt = false;
    if (code == UI_KEY_PASTE_BEGIN) d->in_paste = true;
    if (code == UI_KEY_PASTE_END) d->in_paste = false;
    return 0;
}

/* ESC + q[1]: Alt + q[1], or inside a paste the Escape character and then q[1] on its own. */
static int kd_alt_or_escape(struct ui_keydec *d, uint32_t *key, bool *is_key, bool *alt)
{
    if (d->in_paste) return kd_emit(d, 0, 1, false, key, is_key, alt);
    return kd_emit(d, 1, 2, true, key, is_key, alt);
}

/* q[2 .. end) are the parameter bytes of a complete CSI sequence whose final byte is q[end]. */
static bool kd_csi_is(const struct ui_keydec *d, uint32_t end, const char *body)
{
    size_t n = strlen(body);
    if (end - 2 + 1 != n) return false;
    for (size_t j = 0; j < n; j++)
        if (d->q[2 + j].code != (unsigned char)body[j]) return false;
    return true;
}

int ui_keydec_next(struct ui_keydec *d, ui_key_source_cb src, void *ctx, uint32_t *key,
                   bool *is_key, bool *alt)
{
    for (;;) {
        if (kd_peek(d, src, ctx, 0) != 0) return -1;
        if (!kd_is_char(d, 0, CH_ESC)) return kd_emit(d, 0, 1, false, key, is_key, alt);
        if (kd_peek(d, src, ctx, 1) != 0) return kd_emit(d, 0, 1, false, key, is_key, alt);

        if (d->q[1].is_key) {
            /* ESC + key: Alt + key (some terminals send Alt-Left as ESC ESC [ D), except our
             * own codes, which never take a modifier. */
            if (d->in_paste || is_ui_key(d->q[1].code))
                return kd_emit(d, 0, 1, false, key, is_key, alt);
            return kd_emit(d, 1, 2, true, key, is_key, alt);
        }
        if (kd_is_char(d, 1, '[')) {
            /* CSI: parameter bytes 0x30-0x3F, intermediates 0x20-0x2F, final 0x40-0x7E
             * (ECMA-48 5.4). */
            uint32_t i = 2;
            for (;;) {
                if (kd_peek(d, src, ctx, i) != 0) {
                    if (i == 2) /* ESC [ alone in its burst: Alt-[ */
                        return kd_alt_or_escape(d, key, is_key, alt);
                    if (d->n == UI_KEYDEC_MAX) { /* too long to be a key: garbage */
                        kd_consume(d, d->n);
                        break;
                    }
                    return -1; /* cut by the end of the burst: finish it next time */
                }
                uint32_t c = d->q[i].code;
                if (d->q[i].is_key || c < 0x20 || c > 0x7e) {
                    /* Not a sequence after all. */
                    if (i == 2) return kd_alt_or_escape(d, key, is_key, alt);
                    kd_consume(d, i); /* drop the broken prefix, decode what broke it */
                    break;
                }
                if (c >= 0x40) {
                    if (kd_csi_is(d, i, "200~"))
                        return kd_emit_key(d, UI_KEY_PASTE_BEGIN, i + 1, key, is_key, alt);
                    if (kd_csi_is(d, i, "201~"))
                        return kd_emit_key(d, UI_KEY_PASTE_END, i + 1, key, is_key, alt);
                    kd_consume(d, i + 1); /* a key or report curses did not know: drop */
                    break;
                }
                i++;
            }
            continue;
        }
        if (d->in_paste || kd_is_char(d, 1, CH_ESC))
            return kd_emit(d, 0, 1, false, key, is_key, alt); /* Escape, then the rest */
        if (kd_is_char(d, 1, 'O')) {
            /* SS3 (ESC O final): a keypad or function key curses did not know. */
            if (kd_peek(d, src, ctx, 2) == 0 && !d->q[2].is_key && d->q[2].code >= 0x40 &&
                d->q[2].code <= 0x7e) {
                kd_consume(d, 3);
                continue;
            }
        }
        return kd_emit(d, 1, 2, true, key, is_key, alt);
    }
}

/* ---- cell layout (no curses) -------------------------------------------------------------- */

#define REPLACEMENT 0xFFFD

static bool is_control(int32_t c)
{
    return c < 0x20 || (c >= 0x7f && c < 0xa0);
}

struct span_cursor {
    const struct ui_span *v;
    uint32_t n, i;
    enum theme_role base;
};

/* Style of byte `off`; offsets only grow, so the cursor only moves forward. Spans out of
 * order or out of range leave the base style. */
static void span_at(struct span_cursor *sc, size_t off, uint16_t *role, uint16_t *attrs)
{
    while (sc->i < sc->n && (uint64_t)sc->v[sc->i].off + sc->v[sc->i].len <= off)
        sc->i++;
    if (sc->i < sc->n && sc->v[sc->i].off <= off) {
        uint16_t r = sc->v[sc->i].role;
        *role = r < THEME_COUNT ? r : (uint16_t)sc->base;
        *attrs = sc->v[sc->i].attrs;
    } else {
        *role = (uint16_t)sc->base;
        *attrs = 0;
    }
}

/* Emits the part of a cell [col, col + width) inside [lo, hi): the cell itself when it fits,
 * spaces for the visible columns of a cut one. */
static void emit_clipped(struct ui_cell *c, int lo, int hi, ui_cell_cb cb, void *ctx)
{
    if (c->col >= lo && c->col + c->width <= hi) {
        cb(ctx, c);
        return;
    }
    struct ui_cell sp = *c;
    sp.wc[0] = L' ';
    sp.wc[1] = 0;
    sp.width = 1;
    for (int x = c->col; x < c->col + c->width; x++) {
        if (x < lo || x >= hi) continue;
        sp.col = x;
        cb(ctx, &sp);
    }
}

int ui_text_cells(const char *s, size_t len, const struct ui_span *spans, uint32_t n_spans,
                  enum theme_role base, int lo, int hi, ui_cell_cb cb, void *ctx)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    struct span_cursor sc = {spans, spans ? n_spans : 0, 0, base};
    int col = 0;
    size_t i = 0;
    if (lo < 0) lo = 0;
    while (i < len && col < hi) {
        size_t start = i;
        utf8proc_int32_t cp;
        utf8proc_ssize_t n = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &cp);
        if (n <= 0) { /* invalid byte: a cluster of its own */
            cp = REPLACEMENT;
            n = 1;
        }
        i += (size_t)n;

        struct ui_cell c = {.col = col};
        int nwc = 0;
        if (cp == '\t')
            c.wc[nwc++] = L' ';
        else if (is_control(cp))
            c.wc[nwc++] = REPLACEMENT;
        else
            c.wc[nwc++] = (wchar_t)cp;
        int w = wcwidth(c.wc[0]);
        if (w < 0) { /* unprintable in this locale */
            c.wc[0] = REPLACEMENT;
            w = 1;
        }

        /* The rest of the cluster: marks go into the cell (curses allows CCHARW_MAX - 1),
         * spacing parts of emoji sequences cannot (setcchar wants non-spacing ones), and a
         * ZWJ without its partner would only confuse the terminal. */
        utf8proc_int32_t state = 0, prev = cp;
        bool cut = false;
        while (i < len && !is_control(prev)) {
            utf8proc_int32_t d;
            utf8proc_ssize_t m = utf8proc_iterate(p + i, (utf8proc_ssize_t)(len - i), &d);
            if (m <= 0 || is_control(d) || utf8proc_grapheme_break_stateful(prev, d, &state)) break;
            i += (size_t)m;
            prev = d;
            if (d == 0x200D) {
                cut = true;
                continue;
            }
            if (!cut && wcwidth((wchar_t)d) == 0 && nwc < UI_CELL_CHARS - 1)
                c.wc[nwc++] = (wchar_t)d;
            else if (wcwidth((wchar_t)d) > 0)
                cut = true;
        }
        c.wc[nwc] = 0;
        if (w == 0) continue; /* a mark with no base, a zero-width space: nothing to draw */

        c.width = w;
        span_at(&sc, start, &c.role, &c.attrs);
        emit_clipped(&c, lo, hi, cb, ctx);
        col += w;
    }
    return col < hi ? col : hi;
}

/* ---- colours (no curses) ------------------------------------------------------------------ */

int ui_color_number(const struct theme_color *c, int ncolors, bool fg, bool default_ok)
{
    int v;
    if (c->kind == THEME_COLOR_DEFAULT) {
        v = -1;
    } else if (ncolors >= UI_DIRECT_COLORS) {
        uint8_t rgb[3] = {c->r, c->g, c->b};
        if (c->kind == THEME_COLOR_INDEX && c->index < 8) return c->index;
        if (c->kind == THEME_COLOR_INDEX) theme_index_to_rgb(c->index, rgb);
        v = rgb[0] << 16 | rgb[1] << 8 | rgb[2];
        /* xterm-direct's setaf reads numbers below 8 as ANSI colours (below 16 and 256 in its
         * -direct16/-direct256 variants): lift blue-only values by one step of green, which
         * nobody can see, so they stay RGB. */
        if (v < 0x100) v |= 0x100;
    } else {
        v = theme_color_reduce(c, ncolors);
    }
    if (v < 0 && !default_ok) v = fg ? COLOR_WHITE : COLOR_BLACK;
    return v;
}

static void color_rgb(const struct theme_color *c, uint8_t rgb[3])
{
    if (c->kind == THEME_COLOR_INDEX) {
        theme_index_to_rgb(c->index, rgb);
    } else {
        rgb[0] = c->r;
        rgb[1] = c->g;
        rgb[2] = c->b;
    }
}

/* ITU-R BT.601 luma, 0..255. */
static int luma(const uint8_t rgb[3])
{
    return (299 * rgb[0] + 587 * rgb[1] + 114 * rgb[2]) / 1000;
}

void ui_pair_colors(const struct theme_style *st, const struct theme_style *normal, int ncolors,
                    bool default_ok, int *fg, int *bg)
{
    *fg = ui_color_number(&st->fg, ncolors, true, default_ok);
    *bg = ui_color_number(&st->bg, ncolors, false, default_ok);
    if (ncolors >= 256 || st->fg.kind == THEME_COLOR_DEFAULT) return;
    int eff_bg = *bg;
    if (eff_bg < 0) {
        bool light = false;
        if (normal && normal->fg.kind != THEME_COLOR_DEFAULT) {
            uint8_t rgb[3];
            color_rgb(&normal->fg, rgb);
            light = luma(rgb) < 128;
        }
        eff_bg = light ? COLOR_WHITE : COLOR_BLACK;
    }
    if (*fg != eff_bg) return;
    uint8_t want[3];
    color_rgb(&st->fg, want);
    /* A grey stays a grey (a dim border must not turn red): then only black, white and the
     * two greys of 16 colours qualify. */
    int lo = want[0], hi = want[0];
    for (int k = 1; k < 3; k++) {
        lo = want[k] < lo ? want[k] : lo;
        hi = want[k] > hi ? want[k] : hi;
    }
    bool grey = hi - lo < 48;
    int n = ncolors >= 16 ? 16 : 8, best = -1;
    long best_d = 0;
    for (int i = 0; i < n; i++) {
        bool achromatic = i == COLOR_BLACK || i == COLOR_WHITE || i == 8 || i == 15;
        if (i == eff_bg || (grey && !achromatic)) continue;
        uint8_t rgb[3];
        theme_index_to_rgb((uint8_t)i, rgb);
        long d = 0;
        for (int k = 0; k < 3; k++)
            d += (long)(rgb[k] - want[k]) * (rgb[k] - want[k]);
        if (best < 0 || d < best_d) best = i, best_d = d;
    }
    *fg = best;
}

/* ---- the screen ---------------------------------------------------------------------------- */

static struct {
    bool active;
    SCREEN *sp;
    struct theme theme;
    bool have_theme;
    bool color;      /* colour pairs in use */
    bool default_ok; /* use_default_colors() worked: -1 is the terminal's colour */
    attr_t attr[THEME_COUNT];
    int cur_y, cur_x;
    bool cur_visible;
    int cur_state; /* last curs_set value, -1 unknown */
    struct ui_keydec keys;
} g = {.cur_state = -1};

/* What ui_emergency_restore may touch: plain data written before `g_saved_ok` is set. */
static struct termios g_saved;
static volatile sig_atomic_t g_saved_ok;
static volatile sig_atomic_t g_term_dirty;

/* Paste and mouse reports off, attributes reset, cursor shown, keypad transmit off (rmkx:
 * arrows send ESC [ A again), main screen. */
static const char restore_seq[] =
    "\033[?2004l\033[?1000l\033[?1006l\033[0m\033[?25h\033[?1l\033>\033[?1049l";

void ui_emergency_restore(void)
{
    if (!g_term_dirty) return;
    g_term_dirty = 0;
    ssize_t r = write(STDOUT_FILENO, restore_seq, sizeof restore_seq - 1);
    (void)r; /* nothing better to do in a signal handler */
    if (g_saved_ok) tcsetattr(STDIN_FILENO, TCSANOW, &g_saved);
}

/* Writes all of `s`, waiting for a non-blocking terminal (libuv may have made it so). */
static int write_all(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w > 0) {
            s += w;
            n -= (size_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int pr = poll(&pfd, 1, WRITE_WAIT_MS);
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

static attr_t theme_attrs(uint32_t a)
{
    attr_t r = A_NORMAL;
    if (a & THEME_ATTR_BOLD) r |= A_BOLD;
    if (a & THEME_ATTR_DIM) r |= A_DIM;
    if (a & THEME_ATTR_ITALIC) r |= A_ITALIC;
    if (a & THEME_ATTR_UNDERLINE) r |= A_UNDERLINE;
    if (a & THEME_ATTR_REVERSE) r |= A_REVERSE;
    return r;
}

/* Without colour some roles would vanish: give them attributes (htop's monochrome scheme
 * does the same). */
static attr_t mono_attrs(enum theme_role role)
{
    switch (role) {
    case THEME_SELECTION:
    case THEME_STATUS: return A_REVERSE;
    case THEME_STATUS_ACCENT: return A_REVERSE | A_BOLD;
    case THEME_BORDER_FOCUS:
    case THEME_TITLE:
    case THEME_HEADING:
    case THEME_ERROR: return A_BOLD;
    case THEME_DIM:
    case THEME_HINT: return A_DIM;
    default: return A_NORMAL;
    }
}

/* (Re)builds pairs and attributes from g.theme. */
static void apply_theme(void)
{
    for (int i = 0; i < THEME_COUNT; i++) {
        const struct theme_style *st = &g.theme.style[i];
        g.attr[i] = theme_attrs(st->attrs);
        if (!g.color) {
            g.attr[i] |= mono_attrs((enum theme_role)i);
            continue;
        }
        int fg, bg;
        ui_pair_colors(st, &g.theme.style[THEME_NORMAL], COLORS, g.default_ok, &fg, &bg);
        /* Extended pairs take int colours: direct colour needs more than a short. */
        if (init_extended_pair(i + 1, fg, bg) == ERR) {
            /* An entry the terminal refuses: fall back to its defaults for this role. */
            (void)init_extended_pair(i + 1, g.default_ok ? -1 : COLOR_WHITE,
                                     g.default_ok ? -1 : COLOR_BLACK);
        }
    }
    /* Erased cells take the normal role's colours; its attributes stay out of the
     * background, which curses would otherwise add to every character. */
    cchar_t bk;
    static const wchar_t blank[2] = {L' ', 0};
    int pair = g.color ? THEME_NORMAL + 1 : 0;
    if (setcchar(&bk, blank, A_NORMAL, 0, &pair) == OK) (void)wbkgrndset(stdscr, &bk);
}

static void style_of(uint16_t role, uint16_t extra, attr_t *attr, int *pair)
{
    if (role >= THEME_COUNT) role = THEME_NORMAL;
    *attr = g.attr[role] | theme_attrs(extra);
    *pair = g.color ? role + 1 : 0;
}

static bool utf8_locale(void)
{
    const char *cs = nl_langinfo(CODESET);
    return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

static void set_why(char **why, const char *msg)
{
    if (why) *why = strdup(msg);
}

static int enter_locale(char **why)
{
    if (utf8_locale()) return 0;
    static const char *const fallbacks[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};
    for (size_t i = 0; i < sizeof fallbacks / sizeof fallbacks[0]; i++)
        if (setlocale(LC_CTYPE, fallbacks[i]) && utf8_locale()) return 0;
    set_why(why, "no UTF-8 locale (set LANG, e.g. LANG=C.UTF-8)");
    return -1;
}

int ui_screen_init(const struct theme *theme, char **why)
{
    if (why) *why = NULL;
    if (g.active) return 0;
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        set_why(why, "stdin and stdout must be a terminal");
        return -1;
    }
    if (enter_locale(why) != 0) return -1;
    const char *term = getenv("TERM");
    if (!term || !*term) {
        set_why(why, "TERM is not set");
        return -1;
    }

    g_saved_ok = 0; /* a signal must not see the struct half rewritten */
    if (tcgetattr(STDIN_FILENO, &g_saved) == 0) g_saved_ok = 1;
    g_term_dirty = 1; /* from here on a signal may find the terminal half set up */
    SCREEN *sp = newterm(NULL, stdout, stdin);
    if (!sp) {
        g_term_dirty = 0;
        char msg[160];
        snprintf(msg, sizeof msg, "cannot use terminal type '%.64s' (no terminfo entry?)", term);
        set_why(why, msg);
        return -1;
    }
    g.sp = sp;
    if (raw() == ERR || noecho() == ERR || nonl() == ERR || keypad(stdscr, TRUE) == ERR ||
        nodelay(stdscr, TRUE) == ERR) {
        set_why(why, "cannot set the terminal's input modes");
        goto fail;
    }
    (void)set_escdelay(ESC_DELAY_MS);
    (void)intrflush(stdscr, FALSE);
    (void)leaveok(stdscr, FALSE);
    (void)scrollok(stdscr, FALSE);
    /* The paste markers as keys, so curses does not split them on its escape delay; when it
     * refuses, the decoder still finds them in the characters. */
    (void)define_key("\033[200~", UI_KEY_PASTE_BEGIN);
    (void)define_key("\033[201~", UI_KEY_PASTE_END);
    /* Wheel only: no click or motion reports, no double-click wait. A terminal without mouse
     * support gives an empty mask, which is fine. */
    (void)mouseinterval(0);
#ifdef BUTTON5_PRESSED
    (void)mousemask(BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
#else
    (void)mousemask(BUTTON4_PRESSED, NULL);
#endif

    g.color = false;
    g.default_ok = false;
    if (!theme_no_color() && has_colors() && start_color() == OK && COLORS >= 8 &&
        COLOR_PAIRS > THEME_COUNT) {
        g.color = true;
        g.default_ok = use_default_colors() == OK;
    }
    if (theme) {
        g.theme = *theme;
        g.have_theme = true;
    } else if (!g.have_theme) {
        theme_default(&g.theme);
        g.have_theme = true;
    }
    g.active = true;
    apply_theme();
    memset(&g.keys, 0, sizeof g.keys);
    g.cur_state = -1;
    g.cur_visible = false;
    g.cur_y = g.cur_x = 0;

    static const char paste_on[] = "\033[?2004h";
    if (write_all(STDOUT_FILENO, paste_on, sizeof paste_on - 1) != 0) {
        set_why(why, "cannot write to the terminal");
        goto fail;
    }
    (void)werase(stdscr);
    return 0;

fail:
    g.active = false;
    (void)endwin();
    delscreen(sp);
    g.sp = NULL;
    g_term_dirty = 0;
    return -1;
}

void ui_screen_done(void)
{
    if (!g.active) return;
    static const char paste_off[] = "\033[?2004l";
    (void)write_all(STDOUT_FILENO, paste_off, sizeof paste_off - 1);
    (void)mousemask(0, NULL);
    (void)curs_set(1);
    (void)endwin(); /* leaves the alternate screen and restores the shell's tty modes */
    g_term_dirty = 0;
    delscreen(g.sp);
    g.sp = NULL;
    g.active = false;
}

void ui_screen_set_theme(const struct theme *theme)
{
    if (!theme) return;
    g.theme = *theme;
    g.have_theme = true;
    if (g.active) apply_theme();
}

void ui_screen_size(int *rows, int *cols)
{
    int r = 0, c = 0;
    if (g.active) getmaxyx(stdscr, r, c);
    if (rows) *rows = r;
    if (cols) *cols = c;
}

void ui_screen_resize(void)
{
    if (!g.active) return;
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return;
    /* resizeterm queues KEY_RESIZE and marks the whole screen for repainting. */
    (void)resizeterm(ws.ws_row, ws.ws_col);
}

/* ---- keys ---------------------------------------------------------------------------------- */

/* get_wch as a decoder source: mouse events become wheel keys (others are skipped),
 * KEY_RESIZE becomes UI_KEY_RESIZE. */
static int curses_source(void *ctx, uint32_t *code, bool *is_key)
{
    for (;;) {
        wint_t wc;
        int rc = get_wch(&wc);
        if (rc == ERR) return -1;
        if (rc != KEY_CODE_YES) {
            *code = (uint32_t)wc;
            *is_key = false;
            return 0;
        }
        *is_key = true;
        if (wc == KEY_MOUSE) {
            MEVENT ev;
            if (getmouse(&ev) != OK) continue;
            if (ev.bstate & BUTTON4_PRESSED) {
                *code = UI_KEY_WHEEL_UP;
                return 0;
            }
#ifdef BUTTON5_PRESSED
            if (ev.bstate & BUTTON5_PRESSED) {
                *code = UI_KEY_WHEEL_DOWN;
                return 0;
            }
#endif
            continue;
        }
        *code = wc == KEY_RESIZE ? UI_KEY_RESIZE : (uint32_t)wc;
        return 0;
    }
}

int ui_screen_read(uint32_t *key, bool *is_key, bool *alt)
{
    if (!g.active) return -1;
    return ui_keydec_next(&g.keys, curses_source, NULL, key, is_key, alt);
}

/* ---- drawing ------------------------------------------------------------------------------- */

static int screen_rows(void)
{
    return g.active ? getmaxy(stdscr) : 0;
}

static int screen_cols(void)
{
    return g.active ? getmaxx(stdscr) : 0;
}

struct draw_ctx {
    int y, x; /* screen position of the text's column 0 */
};

static void put_cell(void *ctx, const struct ui_cell *c)
{
    const struct draw_ctx *dc = ctx;
    attr_t attr;
    int pair;
    style_of(c->role, c->attrs, &attr, &pair);
    cchar_t cc;
    if (setcchar(&cc, c->wc, attr, 0, &pair) == ERR) {
        static const wchar_t repl[2] = {REPLACEMENT, 0};
        if (setcchar(&cc, repl, attr, 0, &pair) == ERR) return;
    }
    /* ERR at the bottom-right cell only means the cursor could not advance past it: the
     * character is stored all the same. */
    (void)mvwadd_wch(stdscr, dc->y, dc->x + c->col, &cc);
}

/* Spaces in `role` over screen columns [x0, x1) of row y. */
static void fill(int y, int x0, int x1, enum theme_role role)
{
    attr_t attr;
    int pair;
    style_of((uint16_t)role, 0, &attr, &pair);
    cchar_t cc;
    static const wchar_t sp[2] = {L' ', 0};
    if (setcchar(&cc, sp, attr, 0, &pair) == ERR) return;
    for (int x = x0; x < x1; x++)
        (void)mvwadd_wch(stdscr, y, x, &cc);
}

/* Draws text at (y, x) into screen columns [x, x + w) ∩ the screen; pads with `pad_role`
 * when `pad`. Returns the columns used (text only). */
static int draw_run(int y, int x, int w, const char *s, size_t len, const struct ui_span *spans,
                    uint32_t n_spans, enum theme_role base, bool pad)
{
    if (!g.active || y < 0 || y >= screen_rows() || w <= 0) return 0;
    int lo_abs = x < 0 ? 0 : x;
    int hi_abs = x + w;
    if (hi_abs > screen_cols()) hi_abs = screen_cols();
    if (lo_abs >= hi_abs) return 0;
    struct draw_ctx dc = {y, x};
    int used =
        s ? ui_text_cells(s, len, spans, n_spans, base, lo_abs - x, hi_abs - x, put_cell, &dc) : 0;
    if (pad) fill(y, x + used > lo_abs ? x + used : lo_abs, hi_abs, base);
    return used;
}

void ui_screen_clear(void)
{
    if (g.active) (void)werase(stdscr);
}

void ui_draw_lines(struct ui_rect r, const struct ui_lines *lines, size_t first)
{
    if (!g.active || r.h <= 0 || r.w <= 0) return;
    int y0 = r.y < 0 ? 0 : r.y;
    int y1 = r.y + r.h < screen_rows() ? r.y + r.h : screen_rows();
    for (int y = y0; y < y1; y++) {
        size_t idx = first + (size_t)(y - r.y);
        const struct ui_line *ln = lines && idx >= first && idx < lines->n ? &lines->v[idx] : NULL;
        if (ln)
            draw_run(y, r.x, r.w, ln->text, ln->text ? ln->len : 0, ln->spans, ln->n_spans,
                     THEME_NORMAL, true);
        else
            draw_run(y, r.x, r.w, NULL, 0, NULL, 0, THEME_NORMAL, true);
    }
}

void ui_draw_text(int y, int x, int w, const char *text, enum theme_role role)
{
    draw_run(y, x, w, text, text ? strlen(text) : 0, NULL, 0, role, true);
}

void ui_draw_border(struct ui_rect r, const char *title, bool focused)
{
    if (!g.active || r.h < 2 || r.w < 2) return;
    int rows = screen_rows(), cols = screen_cols();
    if (r.y < 0 || r.x < 0 || r.y + r.h > rows || r.x + r.w > cols) return; /* off screen */
    attr_t attr;
    int pair;
    style_of(focused ? THEME_BORDER_FOCUS : THEME_BORDER, 0, &attr, &pair);
    /* WACS_* rather than literal U+2500s: curses picks Unicode or the terminal's line-drawing
     * set, and the window's attributes colour them. */
    (void)wattr_set(stdscr, attr, 0, &pair);
    int bot = r.y + r.h - 1, right = r.x + r.w - 1;
    (void)mvwadd_wch(stdscr, r.y, r.x, WACS_ULCORNER);
    (void)mvwhline_set(stdscr, r.y, r.x + 1, WACS_HLINE, r.w - 2);
    (void)mvwadd_wch(stdscr, r.y, right, WACS_URCORNER);
    (void)mvwvline_set(stdscr, r.y + 1, r.x, WACS_VLINE, r.h - 2);
    (void)mvwvline_set(stdscr, r.y + 1, right, WACS_VLINE, r.h - 2);
    (void)mvwadd_wch(stdscr, bot, r.x, WACS_LLCORNER);
    (void)mvwhline_set(stdscr, bot, r.x + 1, WACS_HLINE, r.w - 2);
    (void)mvwadd_wch(stdscr, bot, right, WACS_LRCORNER);
    int zero = 0;
    (void)wattr_set(stdscr, A_NORMAL, 0, &zero);

    /* "┌ title ─": one space either side, at least one line cell before the corner. */
    if (title && *title && r.w >= 6) {
        int room = r.w - 4;
        int used = draw_run(r.y, r.x + 2, room, " ", 1, NULL, 0, THEME_TITLE, false);
        used += draw_run(r.y, r.x + 2 + used, room - used, title, strlen(title), NULL, 0,
                         THEME_TITLE, false);
        draw_run(r.y, r.x + 2 + used, room - used, " ", 1, NULL, 0, THEME_TITLE, false);
    }
}

struct ui_rect ui_overlay_rect(void)
{
    int rows = screen_rows(), cols = screen_cols();
    /* 80% of the screen, but never smaller than a border, a line and padding allow. */
    int h = rows * 8 / 10, w = cols * 8 / 10;
    if (h < 3) h = rows < 3 ? rows : 3;
    if (w < 6) w = cols < 6 ? cols : 6;
    struct ui_rect in = {(rows - h) / 2 + 1, (cols - w) / 2 + 2, h - 2, w - 4};
    if (in.h < 0) in.h = 0;
    if (in.w < 0) in.w = 0;
    return in;
}

void ui_draw_overlay(const char *title, const struct ui_lines *lines, size_t first)
{
    if (!g.active) return;
    struct ui_rect in = ui_overlay_rect();
    struct ui_rect box = {in.y - 1, in.x - 2, in.h + 2, in.w + 4};
    if (box.h < 2 || box.w < 2) return;
    size_t n = lines ? lines->n : 0;
    size_t last_first = n > (size_t)in.h ? n - (size_t)in.h : 0;
    if (first > last_first) first = last_first;
    for (int y = box.y + 1; y < box.y + box.h - 1; y++) {
        fill(y, box.x + 1, in.x, THEME_NORMAL);
        fill(y, in.x + in.w, box.x + box.w - 1, THEME_NORMAL);
    }
    ui_draw_lines(in, lines, first);
    ui_draw_border(box, title, true);
    if (n > (size_t)in.h && box.w >= 16) {
        /* Where we are, on the bottom border: " 12-40/97 ". */
        char pos[48];
        size_t end = first + (size_t)in.h;
        int len = snprintf(pos, sizeof pos, " %zu-%zu/%zu ", first + 1, end, n);
        if (len > 0 && len < box.w - 4)
            draw_run(box.y + box.h - 1, box.x + box.w - 2 - len, len, pos, (size_t)len, NULL, 0,
                     THEME_DIM, false);
    }
}

void ui_screen_cursor(int y, int x, bool visible)
{
    g.cur_y = y;
    g.cur_x = x;
    g.cur_visible = visible;
}

void ui_screen_flush(void)
{
    if (!g.active) return;
    int want = g.cur_visible ? 1 : 0;
    if (want != g.cur_state) {
        (void)curs_set(want); /* ERR: the terminal cannot hide or show it; nothing to do */
        g.cur_state = want;
    }
    int rows = screen_rows(), cols = screen_cols();
    if (rows > 0 && cols > 0) {
        int y = g.cur_y < 0 ? 0 : g.cur_y >= rows ? rows - 1 : g.cur_y;
        int x = g.cur_x < 0 ? 0 : g.cur_x >= cols ? cols - 1 : g.cur_x;
        (void)wmove(stdscr, y, x);
    }
    (void)wnoutrefresh(stdscr);
    (void)doupdate();
}

/* ---- clipboard ---------------------------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* RFC 4648 section 4 base64 of `len` bytes into `out` (4 * ceil(len / 3) bytes, no NUL). */
static size_t base64_encode(const unsigned char *in, size_t len, char *out)
{
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = b64_alphabet[v & 63];
    }
    if (len - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64_alphabet[v >> 18 & 63];
        out[o++] = b64_alphabet[v >> 12 & 63];
        out[o++] = b64_alphabet[v >> 6 & 63];
        out[o++] = '=';
    }
    return o;
}

int ui_osc52_sequence(const char *text, size_t len, bool tmux, char **out)
{
    *out = NULL;
    if (len > UI_OSC52_MAX || (!text && len > 0)) return -1;
    static const char head[] = "\033]52;c;";
    static const char tmux_head[] = "\033Ptmux;";
    static const char tmux_tail[] = "\033\\";
    size_t b64 = (len + 2) / 3 * 4;
    size_t seq = sizeof head - 1 + b64 + 1; /* + BEL */
    /* Inside tmux's passthrough every ESC of the sequence is doubled; only `head` has one. */
    size_t total = tmux ? sizeof tmux_head - 1 + seq + 1 + sizeof tmux_tail - 1 : seq;
    char *s = malloc(total + 1);
    if (!s) return -1;
    size_t o = 0;
    if (tmux) {
        memcpy(s, tmux_head, sizeof tmux_head - 1);
        o = sizeof tmux_head - 1;
        s[o++] = '\033';
    }
    memcpy(s + o, head, sizeof head - 1);
    o += sizeof head - 1;
    o += base64_encode((const unsigned char *)text, len, s + o);
    s[o++] = '\a';
    if (tmux) {
        memcpy(s + o, tmux_tail, sizeof tmux_tail - 1);
        o += sizeof tmux_tail - 1;
    }
    s[o] = '\0';
    *out = s;
    return 0;
}

int ui_osc52_copy(const char *text, size_t len)
{
    if (!isatty(STDOUT_FILENO)) return -1;
    const char *t = getenv("TMUX");
    char *seq;
    /* The plain sequence: terminals, and tmux itself with `set-clipboard on` (it then sets
     * its paste buffer and forwards to the outer terminal). */
    if (ui_osc52_sequence(text, len, false, &seq) != 0) return -1;
    int rc = write_all(STDOUT_FILENO, seq, strlen(seq));
    free(seq);
    /* Inside tmux also the passthrough form, which reaches the outer terminal when tmux has
     * `allow-passthrough on` but ignores application clipboard requests. */
    if (rc == 0 && t && *t) {
        if (ui_osc52_sequence(text, len, true, &seq) != 0) return -1;
        rc = write_all(STDOUT_FILENO, seq, strlen(seq));
        free(seq);
    }
    return rc;
}
