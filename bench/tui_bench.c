/* tui_bench — latency of the real glmterm binary on a pseudo-terminal, the C side of bench/tui.
 *
 * Each measurement forks glmterm on a 100x30 pty (forkpty, TERM=xterm-256color) and plays the
 * terminal: it writes keys to the master side and reads what curses draws. What arrived is fed
 * to a small screen model (struct vt: a cell grid with the cursor, scroll region, erase, insert
 * and delete operations curses uses for xterm), so a criterion such as "the typed key is in the
 * input box" is read from the screen, not guessed from bytes: the demo model streams random
 * text that holds every letter, so "the next chunk holding the key" would often fire early.
 * Times are CLOCK_MONOTONIC, taken when read() returns. A frame ends at the last byte before
 * a pause in the output (FRAME_GAP_MS for a first frame, SCROLL_QUIET after PgUp), so the
 * quiet window that shows the frame has ended is never counted.
 *
 * Modes (the environment, XDG_DATA_HOME in particular, is the caller's; bench/tui sets it):
 *   start  GLMTERM N          fork -> first complete frame of `glmterm -m demo`, N times
 *                             (and fork -> "ready" on the status bar: the model loaded)
 *   keys   GLMTERM N          key -> that key on screen in the input box, while the demo
 *                             model generates greedily (/params temp=0), N samples
 *   mkconv N_MSGS [no-meta-line]  writes a conversation of N_MSGS messages (one branch)
 *                             into $XDG_DATA_HOME/glmterm/conversations, prints its path;
 *                             no-meta-line: replies without GLM-4's leading "\n" (diagnosis)
 *   scroll GLMTERM N OPENS    fork -> first frame of `glmterm --resume`, OPENS times; in the
 *                             last one N PgUp keys, key -> end of the redraw
 * Output: "key value" lines (NAME_n, NAME_median_ms, NAME_p90_ms, NAME_max_ms, ...) on stdout;
 * progress and errors on stderr; exit 1 on failure, 2 on bad usage. TUI_BENCH_DUMP=1 prints
 * the modelled screen to stderr at the end of each run, to check the model against the app;
 * TUI_BENCH_TRACE=1 prints each sample (ms since the fork, latency) to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#define ROWS          30
#define COLS          100
#define QUIET_MS      5.0   /* the output has settled when nothing arrives for this long */
#define FRAME_GAP_MS  1.0   /* within one frame curses' writes follow each other closer */
#define SCROLL_QUIET  2.0   /* the same for PgUp redraws (the brief's 2 ms) */
#define START_TIMEOUT 30000 /* ms to wait for a first frame */
#define READY_TIMEOUT 60000 /* ms to wait for the demo model to load */
#define KEY_TIMEOUT   2000  /* ms to wait for one key's echo or redraw */
#define KEY_PAUSE_MS  150   /* up to this long between keys, so 200 keys span ~4k tokens */
#define MAX_SAMPLES   100000
#define MAX_MSGS      1000000
#define MAX_PARAMS    16

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- the screen model ---------------------------------------------------------------------- */

enum vt_state { VT_GROUND, VT_ESC, VT_ESC_SKIP1, VT_CSI, VT_STRING, VT_STRING_ESC };

/* What a VT100/xterm shows: cells of code points (0 = the right half of a wide character). */
struct vt {
    uint32_t cell[ROWS][COLS];
    int y, x;
    int top, bot; /* scroll region, inclusive */
    int save_y, save_x;
    bool wrap_pending; /* the last column was written: the next character wraps */
    bool dec_graphics; /* G0 is the DEC line-drawing set (ESC ( 0) */
    uint32_t last;     /* last printed character, for REP */
    enum vt_state state;
    bool g0_next; /* VT_ESC_SKIP1 after ESC (: the byte names the G0 set */
    char priv;    /* CSI private marker ('?', '>', ...) or 0 */
    int params[MAX_PARAMS], n_params;
    bool inter; /* CSI with an intermediate byte: ignored */
    uint32_t u8_cp;
    int u8_left;
};

static void vt_init(struct vt *v)
{
    memset(v, 0, sizeof *v);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++)
            v->cell[r][c] = ' ';
    v->bot = ROWS - 1;
}

static void vt_clear_cells(struct vt *v, int r, int c0, int c1)
{
    if (c0 < 0) c0 = 0;
    if (c1 > COLS) c1 = COLS;
    for (int c = c0; c < c1; c++)
        v->cell[r][c] = ' ';
}

/* Moves lines [top, bot] up by n (n < 0: down), blanking what comes in. */
static void vt_scroll(struct vt *v, int top, int bot, int n)
{
    int h = bot - top + 1;
    if (h <= 0) return;
    if (n >= h || -n >= h) {
        for (int r = top; r <= bot; r++)
            vt_clear_cells(v, r, 0, COLS);
        return;
    }
    if (n > 0) {
        memmove(v->cell[top], v->cell[top + n], (size_t)(h - n) * sizeof v->cell[0]);
        for (int r = bot - n + 1; r <= bot; r++)
            vt_clear_cells(v, r, 0, COLS);
    } else if (n < 0) {
        n = -n;
        memmove(v->cell[top + n], v->cell[top], (size_t)(h - n) * sizeof v->cell[0]);
        for (int r = top; r < top + n; r++)
            vt_clear_cells(v, r, 0, COLS);
    }
}

static void vt_linefeed(struct vt *v)
{
    if (v->y == v->bot)
        vt_scroll(v, v->top, v->bot, 1);
    else if (v->y < ROWS - 1)
        v->y++;
}

static void vt_clamp(struct vt *v)
{
    v->wrap_pending = false;
    if (v->y < 0) v->y = 0;
    if (v->y >= ROWS) v->y = ROWS - 1;
    if (v->x < 0) v->x = 0;
    if (v->x >= COLS) v->x = COLS - 1;
}

/* DEC special graphics (ESC ( 0) as Unicode, for the characters curses uses for lines. */
static uint32_t vt_dec_graphic(uint32_t ch)
{
    static const char from[] = "jklmnqtuvwx";
    static const uint32_t to[] = {0x2518, 0x2510, 0x250c, 0x2514, 0x253c, 0x2500,
                                  0x251c, 0x2524, 0x2534, 0x252c, 0x2502};
    const char *p = ch < 128 && ch ? strchr(from, (int)ch) : NULL;
    return p ? to[p - from] : ch;
}

static void vt_print(struct vt *v, uint32_t cp)
{
    if (v->dec_graphics) cp = vt_dec_graphic(cp);
    int w = wcwidth((wchar_t)cp);
    if (w == 0) return; /* a combining mark stays on the previous cell */
    if (w < 0) w = 1;
    if (v->wrap_pending) {
        v->wrap_pending = false;
        v->x = 0;
        vt_linefeed(v);
    }
    if (w == 2 && v->x == COLS - 1) {
        v->cell[v->y][v->x] = ' ';
        v->x = 0;
        vt_linefeed(v);
    }
    v->cell[v->y][v->x] = cp;
    if (w == 2) v->cell[v->y][v->x + 1] = 0;
    v->last = cp;
    v->x += w;
    if (v->x >= COLS) {
        v->x = COLS - 1;
        v->wrap_pending = true;
    }
}

static int vt_param(const struct vt *v, int i, int dflt)
{
    return i < v->n_params && v->params[i] > 0 ? v->params[i] : dflt;
}

static void vt_csi(struct vt *v, char final)
{
    if (v->priv || v->inter) return; /* modes, queries: nothing on the screen */
    int n = vt_param(v, 0, 1);
    int mode = v->n_params ? v->params[0] : 0;
    switch (final) {
    case 'A': v->y -= n, vt_clamp(v); break;
    case 'B': v->y += n, vt_clamp(v); break;
    case 'C': v->x += n, vt_clamp(v); break;
    case 'D': v->x -= n, vt_clamp(v); break;
    case 'E': v->y += n, v->x = 0, vt_clamp(v); break;
    case 'F': v->y -= n, v->x = 0, vt_clamp(v); break;
    case 'G':
    case '`': v->x = n - 1, vt_clamp(v); break;
    case 'd': v->y = n - 1, vt_clamp(v); break;
    case 'H':
    case 'f':
        v->y = vt_param(v, 0, 1) - 1;
        v->x = vt_param(v, 1, 1) - 1;
        vt_clamp(v);
        break;
    case 'J':
        if (mode == 0) {
            vt_clear_cells(v, v->y, v->x, COLS);
            for (int r = v->y + 1; r < ROWS; r++)
                vt_clear_cells(v, r, 0, COLS);
        } else if (mode == 1) {
            for (int r = 0; r < v->y; r++)
                vt_clear_cells(v, r, 0, COLS);
            vt_clear_cells(v, v->y, 0, v->x + 1);
        } else {
            for (int r = 0; r < ROWS; r++)
                vt_clear_cells(v, r, 0, COLS);
        }
        break;
    case 'K':
        if (mode == 0)
            vt_clear_cells(v, v->y, v->x, COLS);
        else if (mode == 1)
            vt_clear_cells(v, v->y, 0, v->x + 1);
        else
            vt_clear_cells(v, v->y, 0, COLS);
        break;
    case 'X': vt_clear_cells(v, v->y, v->x, v->x + n); break;
    case '@':
        if (n > COLS - v->x) n = COLS - v->x;
        memmove(&v->cell[v->y][v->x + n], &v->cell[v->y][v->x],
                (size_t)(COLS - v->x - n) * sizeof(uint32_t));
        vt_clear_cells(v, v->y, v->x, v->x + n);
        break;
    case 'P':
        if (n > COLS - v->x) n = COLS - v->x;
        memmove(&v->cell[v->y][v->x], &v->cell[v->y][v->x + n],
                (size_t)(COLS - v->x - n) * sizeof(uint32_t));
        vt_clear_cells(v, v->y, COLS - n, COLS);
        break;
    case 'L':
        if (v->y >= v->top && v->y <= v->bot) vt_scroll(v, v->y, v->bot, -n);
        v->x = 0;
        break;
    case 'M':
        if (v->y >= v->top && v->y <= v->bot) vt_scroll(v, v->y, v->bot, n);
        v->x = 0;
        break;
    case 'S': vt_scroll(v, v->top, v->bot, n); break;
    case 'T': vt_scroll(v, v->top, v->bot, -n); break;
    case 'r':
        v->top = vt_param(v, 0, 1) - 1;
        v->bot = vt_param(v, 1, ROWS) - 1;
        if (v->top < 0 || v->top >= ROWS) v->top = 0;
        if (v->bot < v->top || v->bot >= ROWS) v->bot = ROWS - 1;
        v->y = v->x = 0;
        v->wrap_pending = false;
        break;
    case 'b':
        for (int i = 0; i < n && i < COLS * ROWS; i++)
            vt_print(v, v->last);
        break;
    case 's': v->save_y = v->y, v->save_x = v->x; break;
    case 'u': v->y = v->save_y, v->x = v->save_x, vt_clamp(v); break;
    default: break; /* SGR and the rest change no cell */
    }
}

static void vt_esc(struct vt *v, unsigned char b)
{
    v->state = VT_GROUND;
    switch (b) {
    case '[':
        v->state = VT_CSI;
        v->priv = 0;
        v->inter = false;
        v->n_params = 0;
        memset(v->params, 0, sizeof v->params);
        break;
    case ']':
    case 'P':
    case '_':
    case '^': v->state = VT_STRING; break;
    case '(':
        v->state = VT_ESC_SKIP1;
        v->g0_next = true;
        break;
    case ')':
    case '*':
    case '+':
    case '#':
    case '%':
        v->state = VT_ESC_SKIP1;
        v->g0_next = false;
        break;
    case '7': v->save_y = v->y, v->save_x = v->x; break;
    case '8': v->y = v->save_y, v->x = v->save_x, vt_clamp(v); break;
    case 'D': vt_linefeed(v); break;
    case 'E': v->x = 0, vt_linefeed(v); break;
    case 'M':
        v->wrap_pending = false;
        if (v->y == v->top)
            vt_scroll(v, v->top, v->bot, -1);
        else if (v->y > 0)
            v->y--;
        break;
    case 'c': vt_init(v); break;
    default: break; /* ESC = / ESC > (keypad modes) and the like */
    }
}

static void vt_control(struct vt *v, unsigned char b)
{
    switch (b) {
    case '\r': v->x = 0, v->wrap_pending = false; break;
    case '\n':
    case '\v':
    case '\f': v->wrap_pending = false, vt_linefeed(v); break;
    case '\b':
        if (v->x > 0) v->x--;
        v->wrap_pending = false;
        break;
    case '\t': v->x = (v->x / 8 + 1) * 8, vt_clamp(v); break;
    case 0x0e: v->dec_graphics = true; break; /* SO: G1, the line set in xterm's acsc */
    case 0x0f: v->dec_graphics = false; break;
    case 0x1b: v->state = VT_ESC; break;
    default: break;
    }
}

static void vt_feed(struct vt *v, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char b = s[i];
        switch (v->state) {
        case VT_ESC: vt_esc(v, b); continue;
        case VT_ESC_SKIP1:
            if (v->g0_next) v->dec_graphics = b == '0';
            v->state = VT_GROUND;
            continue;
        case VT_STRING: /* OSC, DCS, APC, PM: up to BEL or ST */
            if (b == 0x07) v->state = VT_GROUND;
            if (b == 0x1b) v->state = VT_STRING_ESC;
            continue;
        case VT_STRING_ESC: v->state = b == '\\' ? VT_GROUND : VT_STRING; continue;
        case VT_CSI:
            if (b >= '0' && b <= '9') {
                if (v->n_params == 0) v->n_params = 1;
                int *p = &v->params[v->n_params - 1];
                if (*p < 100000) *p = *p * 10 + (b - '0');
            } else if (b == ';' || b == ':') {
                if (v->n_params == 0) v->n_params = 1;
                if (v->n_params < MAX_PARAMS) v->n_params++;
            } else if (b >= '<' && b <= '?') {
                v->priv = (char)b;
            } else if (b >= 0x20 && b <= 0x2f) {
                v->inter = true;
            } else if (b >= 0x40 && b <= 0x7e) {
                v->state = VT_GROUND;
                vt_csi(v, (char)b);
            } else if (b == 0x1b) {
                v->state = VT_ESC;
            }
            continue;
        case VT_GROUND: break;
        }
        if (v->u8_left > 0 && (b & 0xc0) == 0x80) {
            v->u8_cp = (v->u8_cp << 6) | (b & 0x3fu);
            if (--v->u8_left == 0) vt_print(v, v->u8_cp);
            continue;
        }
        v->u8_left = 0;
        if (b < 0x20 || b == 0x7f)
            vt_control(v, b);
        else if (b < 0x80)
            vt_print(v, b);
        else if ((b & 0xe0) == 0xc0)
            v->u8_cp = b & 0x1fu, v->u8_left = 1;
        else if ((b & 0xf0) == 0xe0)
            v->u8_cp = b & 0x0fu, v->u8_left = 2;
        else if ((b & 0xf8) == 0xf0)
            v->u8_cp = b & 0x07u, v->u8_left = 3;
        else
            vt_print(v, 0xfffd);
    }
}

/* Row `r` as UTF-8 into buf (cap >= 1). */
static void vt_row(const struct vt *v, int r, char *buf, size_t cap)
{
    size_t o = 0;
    for (int c = 0; c < COLS; c++) {
        uint32_t cp = v->cell[r][c];
        if (cp == 0) continue;
        char u[4];
        size_t k;
        if (cp < 0x80)
            u[0] = (char)cp, k = 1;
        else if (cp < 0x800)
            u[0] = (char)(0xc0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3f)), k = 2;
        else if (cp < 0x10000)
            u[0] = (char)(0xe0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 0x3f)),
            u[2] = (char)(0x80 | (cp & 0x3f)), k = 3;
        else
            u[0] = (char)(0xf0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 0x3f)),
            u[2] = (char)(0x80 | ((cp >> 6) & 0x3f)), u[3] = (char)(0x80 | (cp & 0x3f)), k = 4;
        if (o + k + 1 > cap) break;
        memcpy(buf + o, u, k);
        o += k;
    }
    buf[o] = 0;
}

static bool vt_row_has(const struct vt *v, int r, const char *text)
{
    char buf[COLS * 4 + 1];
    vt_row(v, r, buf, sizeof buf);
    return strstr(buf, text) != NULL;
}

static void vt_dump(const struct vt *v, const char *what)
{
    char buf[COLS * 4 + 1];
    fprintf(stderr, "---- screen: %s (cursor %d,%d)\n", what, v->y, v->x);
    for (int r = 0; r < ROWS; r++) {
        vt_row(v, r, buf, sizeof buf);
        fprintf(stderr, "%2d|%s|\n", r, buf);
    }
}

/* ---- the child on a pty ------------------------------------------------------------------- */

struct child {
    pid_t pid;
    int fd;         /* pty master, non-blocking */
    double t_fork;  /* just before forkpty */
    double t_read;  /* when the last read() that returned bytes returned */
    uint64_t bytes; /* read so far */
    bool eof;
    struct vt vt;
};

static int child_start(struct child *c, char *const argv[])
{
    memset(c, 0, sizeof *c);
    vt_init(&c->vt);
    struct winsize ws = {.ws_row = ROWS, .ws_col = COLS};
    c->t_fork = now_ms();
    c->pid = forkpty(&c->fd, NULL, NULL, &ws);
    if (c->pid < 0) {
        fprintf(stderr, "tui_bench: forkpty: %s\n", strerror(errno));
        return -1;
    }
    if (c->pid == 0) {
        setenv("TERM", "xterm-256color", 1);
        unsetenv("LINES");
        unsetenv("COLUMNS");
        unsetenv("TMUX");
        execv(argv[0], argv);
        fprintf(stderr, "tui_bench: exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
        fprintf(stderr, "tui_bench: fcntl: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* Waits up to timeout_ms for output and reads all there is. Returns the bytes read, 0 on
 * timeout, -1 when the child has closed the terminal. */
static long child_read(struct child *c, double timeout_ms)
{
    if (c->eof) return -1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    int to = timeout_ms <= 0 ? 0 : (int)(timeout_ms + 0.999);
    int rc = poll(&p, 1, to);
    if (rc < 0) return errno == EINTR ? 0 : -1;
    if (rc == 0) return 0;
    long total = 0;
    unsigned char buf[65536];
    for (;;) {
        ssize_t n = read(c->fd, buf, sizeof buf);
        if (n > 0) {
            c->t_read = now_ms();
            vt_feed(&c->vt, buf, (size_t)n);
            total += n;
            c->bytes += (uint64_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
        c->eof = true; /* EIO: the slave side is closed */
        return total ? total : -1;
    }
    return total;
}

/* Reads until nothing arrives for quiet_ms (or max_ms pass); returns the time of the last byte
 * read, so the quiet window is not part of it. */
static double child_settle(struct child *c, double quiet_ms, double max_ms)
{
    double end = now_ms() + max_ms;
    for (;;) {
        double now = now_ms();
        double wait = quiet_ms - (c->t_read > 0 ? now - c->t_read : 0);
        if (wait <= 0 || now > end) break;
        if (child_read(c, wait) < 0) break;
    }
    return c->t_read;
}

static int child_write(struct child *c, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t w = write(c->fd, s, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno == EAGAIN) {
            child_read(c, 1);
            continue;
        }
        if (w <= 0) {
            fprintf(stderr, "tui_bench: write to the pty: %s\n", strerror(errno));
            return -1;
        }
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

typedef bool (*screen_pred_fn)(const struct vt *v, const void *arg);

/* Reads until pred holds. Returns 0, or -1 on timeout or when the child went away. */
static int child_wait(struct child *c, screen_pred_fn pred, const void *arg, double timeout_ms,
                      const char *what)
{
    double end = now_ms() + timeout_ms;
    while (!pred(&c->vt, arg)) {
        double left = end - now_ms();
        if (left <= 0 || child_read(c, left > 50 ? 50 : left) < 0) {
            fprintf(stderr, "tui_bench: %s: %s\n", what, c->eof ? "glmterm exited" : "timed out");
            vt_dump(&c->vt, what);
            return -1;
        }
    }
    return 0;
}

/* SIGTERM (glmterm quits cleanly), drain the terminal, reap; SIGKILL after 5 s. */
static void child_stop(struct child *c, const char *what)
{
    if (c->pid <= 0) return;
    if (getenv("TUI_BENCH_DUMP")) vt_dump(&c->vt, what);
    kill(c->pid, SIGTERM);
    double end = now_ms() + 5000;
    int st;
    while (now_ms() < end) {
        if (child_read(c, 20) < 0 && waitpid(c->pid, &st, WNOHANG) == c->pid) goto reaped;
        if (waitpid(c->pid, &st, WNOHANG) == c->pid) goto reaped;
    }
    kill(c->pid, SIGKILL);
    waitpid(c->pid, &st, 0);
reaped:
    close(c->fd);
    c->pid = 0;
}

/* ---- screen criteria ------------------------------------------------------------------------ */

static bool row_has(const struct vt *v, const void *arg)
{
    const struct {
        int row;
        const char *text;
    } *a = arg;
    return vt_row_has(v, a->row, a->text);
}

/* A complete first frame: the status bar at the top, the input box's bottom border (its
 * corner in column 0 of the second-last row) and the hint or notice line below it. */
static bool frame_complete(const struct vt *v, const void *arg)
{
    (void)arg;
    return vt_row_has(v, 0, "glmterm ·") && v->cell[ROWS - 2][0] != ' ' &&
           (vt_row_has(v, ROWS - 1, "F1 help") || vt_row_has(v, ROWS - 1, "loaded"));
}

struct cell_is {
    int row, col;
    uint32_t cp;
};

static bool cell_is(const struct vt *v, const void *arg)
{
    const struct cell_is *a = arg;
    return v->cell[a->row][a->col] == a->cp;
}

/* ---- statistics ------------------------------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Prints NAME_n, _median_ms, _p90_ms (nearest rank), _max_ms, _min_ms; sorts v. */
static void report(const char *name, double *v, size_t n)
{
    printf("%s_n %zu\n", name, n);
    if (n == 0) return;
    qsort(v, n, sizeof *v, cmp_double);
    double med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
    size_t r90 = (n * 90 + 99) / 100;
    printf("%s_median_ms %.2f\n", name, med);
    printf("%s_p90_ms %.2f\n", name, v[r90 ? r90 - 1 : 0]);
    printf("%s_min_ms %.2f\n", name, v[0]);
    printf("%s_max_ms %.2f\n", name, v[n - 1]);
}

static long parse_count(const char *s, long max)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (errno || *end || end == s || n < 1 || n > max) return -1;
    return n;
}

/* ---- start: fork -> first frame ------------------------------------------------------------ */

/* Forks argv and waits for its first complete frame; *ms gets fork -> its last byte. The
 * frame ends at the last byte before a gap of FRAME_GAP_MS (curses writes one frame in a
 * quick series of write()s); reading goes on until QUIET_MS of silence, so a second frame
 * right behind it (the demo model loads in a few ms) is read but not counted. */
static int first_frame(struct child *c, char *const argv[], double *ms)
{
    if (child_start(c, argv) != 0) return -1;
    if (child_wait(c, frame_complete, NULL, START_TIMEOUT, "first frame") != 0) return -1;
    double end = c->t_read;
    bool in_frame = true;
    for (;;) {
        double prev = c->t_read;
        double wait = QUIET_MS - (now_ms() - prev);
        if (wait <= 0 || child_read(c, wait) <= 0) break;
        if (c->t_read - prev > FRAME_GAP_MS) in_frame = false;
        if (in_frame) end = c->t_read;
    }
    *ms = end - c->t_fork;
    return 0;
}

static int mode_start(const char *glmterm, long n)
{
    char *argv[] = {(char *)glmterm, "-m", "demo", NULL};
    double *v = calloc((size_t)n, sizeof *v);
    double *ready = calloc((size_t)n, sizeof *ready);
    int status = 1;
    if (!v || !ready) goto out;
    struct {
        int row;
        const char *text;
    } want = {0, "· ready"};
    for (long i = 0; i < n; i++) {
        struct child c;
        /* Then, for context, until the demo model has loaded (the status bar says so). */
        if (first_frame(&c, argv, &v[i]) != 0 ||
            child_wait(&c, row_has, &want, READY_TIMEOUT, "model ready") != 0) {
            child_stop(&c, "start");
            goto out;
        }
        ready[i] = c.t_read - c.t_fork;
        child_stop(&c, "start");
    }
    report("start", v, (size_t)n);
    report("ready", ready, (size_t)n);
    status = 0;
out:
    free(v);
    free(ready);
    return status;
}

/* ---- keys: keypress -> screen while generating ---------------------------------------------- */

static int send_line_wait(struct child *c, const char *line, int row, const char *expect,
                          double timeout_ms)
{
    if (child_write(c, line, strlen(line)) != 0) return -1;
    struct {
        int row;
        const char *text;
    } a = {row, expect};
    return child_wait(c, row_has, &a, timeout_ms, expect);
}

/* Starts a long greedy reply: a new conversation, then a message. */
static int start_generation(struct child *c, bool fresh)
{
    if (fresh && send_line_wait(c, "/new\r", ROWS - 1, "new conversation", 5000) != 0) return -1;
    return send_line_wait(c, "Tell me a very long story.\r", 0, "generating", 10000);
}

static int mode_keys(const char *glmterm, long n)
{
    char *argv[] = {(char *)glmterm, "-m", "demo", NULL};
    /* The input box's first text cell: its border takes rows ROWS-4 and ROWS-2, the hint line
     * is ROWS-1, the text starts in column 2 (app/tui.c draw()). */
    const int in_row = ROWS - 3, in_col = 2;
    double *v = calloc((size_t)n, sizeof *v);
    if (!v) return 1;
    int status = 1;
    long restarts = 0, timeouts = 0;
    uint64_t gen_bytes0;
    double gen_t0;
    struct child c;
    if (child_start(&c, argv) != 0) goto out;
    struct {
        int row;
        const char *text;
    } ready = {0, "ready"};
    if (child_wait(&c, row_has, &ready, READY_TIMEOUT, "model ready") != 0) goto out;
    child_settle(&c, QUIET_MS, 1000);
    if (send_line_wait(&c, "/params temp=0\r", ROWS - 1, "temp=0.00", 5000) != 0) goto out;
    if (start_generation(&c, false) != 0) goto out;
    child_read(&c, 300); /* let the reply stream for a while */
    gen_bytes0 = c.bytes;
    gen_t0 = now_ms();
    uint32_t rng = 12345;
    for (long i = 0; i < n;) {
        /* A random pause of 0..KEY_PAUSE_MS (reading the output meanwhile) puts the key at
         * any point of the frame cycle, and spreads the keys over a reply of thousands of
         * tokens, whose rendering is redone each frame. */
        rng = rng * 1103515245u + 12345u;
        double pause_end = now_ms() + (double)((rng >> 16) % (KEY_PAUSE_MS * 100)) / 100.0;
        while (now_ms() < pause_end)
            if (child_read(&c, pause_end - now_ms()) < 0) goto out;
        if (!vt_row_has(&c.vt, 0, "generating")) {
            restarts++;
            if (restarts > 20 || start_generation(&c, true) != 0) goto out;
            child_read(&c, 100);
            continue;
        }
        char key = (char)('a' + i % 26);
        struct cell_is want = {in_row, in_col, (uint32_t)key};
        double t = now_ms();
        if (child_write(&c, &key, 1) != 0) goto out;
        if (child_wait(&c, cell_is, &want, KEY_TIMEOUT, "key echo") != 0) {
            timeouts++;
            if (timeouts > 5) goto out;
            struct cell_is clear = {in_row, in_col, ' '}; /* the key may still come */
            if (child_write(&c, "\x7f", 1) != 0) goto out;
            child_wait(&c, cell_is, &clear, KEY_TIMEOUT, "backspace after a timeout");
            continue;
        }
        double lat = c.t_read - t;
        /* Erase it again so every key lands in the same cell. */
        struct cell_is blank = {in_row, in_col, ' '};
        if (child_write(&c, "\x7f", 1) != 0) goto out;
        if (child_wait(&c, cell_is, &blank, KEY_TIMEOUT, "backspace") != 0) goto out;
        if (!vt_row_has(&c.vt, 0, "generating")) continue; /* it ended meanwhile: not counted */
        if (getenv("TUI_BENCH_TRACE")) fprintf(stderr, "key %.1f %.3f\n", t - c.t_fork, lat);
        v[i++] = lat;
    }
    printf("keys_stream_bytes_per_s %.0f\n",
           (double)(c.bytes - gen_bytes0) / ((now_ms() - gen_t0) / 1000.0));
    printf("keys_restarts %ld\nkeys_timeouts %ld\n", restarts, timeouts);
    char status_row[COLS * 4 + 1];
    vt_row(&c.vt, 0, status_row, sizeof status_row);
    printf("keys_status_at_end %s\n", status_row);
    report("keys", v, (size_t)n);
    status = 0;
out:
    child_stop(&c, "keys");
    free(v);
    return status;
}

/* ---- mkconv: a long conversation file ------------------------------------------------------- */

/* A few lines of markdown per message; user and assistant texts differ in shape. JSON-escaped
 * already (only \n needs it here). Each message starts "Message N." so a screen shows where in
 * the conversation it is; an assistant message is preceded by GLM-4's metadata line, empty
 * for plain text ("\n"), as the replies glmterm records are. */
static const char *const USER_TEXT[] = {
    "How do I reverse a list in **Python** without copying it?\\nI tried `xs[::-1]`.",
    "Explain the difference between a *process* and a *thread*,\\nbriefly please.",
    "What does this do?\\n\\n```c\\nwhile (*d++ = *s++);\\n```",
};
static const char *const ASSISTANT_TEXT[] = {
    "Use `xs.reverse()`: it works **in place**.\\n\\n- `reversed(xs)` gives an iterator\\n- "
    "`xs[::-1]` makes a copy\\n\\n```python\\nxs.reverse()\\nprint(xs)\\n```\\nThat is all.",
    "A **process** owns an address space; a *thread* runs inside one.\\n\\n1. processes are "
    "isolated\\n2. threads share memory, so they need locks\\n\\n> Use threads for shared "
    "state, processes for isolation.",
    "It copies the string `s` to `d`, **including** the final NUL:\\n\\n```c\\nchar *p = "
    "d;\\nwhile ((*p++ = *s++) != 0)\\n    ;\\n```\\n\\nThe assignment's value ends the loop.",
};

static int mode_mkconv(long n_msgs, bool meta_line)
{
    const char *xdg = getenv("XDG_DATA_HOME");
    if (!xdg || *xdg != '/') {
        fprintf(stderr, "tui_bench: mkconv needs an absolute XDG_DATA_HOME\n");
        return 1;
    }
    static const char ID[] = "20261126T190000Z-tuibench";
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/glmterm", xdg);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) goto fail_dir;
    snprintf(dir, sizeof dir, "%s/glmterm/conversations", xdg);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) goto fail_dir;
    snprintf(path, sizeof path, "%s/%s.jsonl", dir, ID);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        fprintf(stderr, "tui_bench: %s: %s\n", path, strerror(errno));
        if (fd >= 0) close(fd);
        return 1;
    }
    fprintf(f,
            "{\"type\":\"header\",\"version\":1,\"id\":\"%s\",\"created\":"
            "\"2026-11-26T19:00:00.000Z\",\"app\":\"glmterm 0.1.0\",\"model\":\"demo\","
            "\"profile\":null}\n",
            ID);
    for (long i = 1; i <= n_msgs; i++) {
        bool user = i % 2 == 1;
        long k = (i / 2) % 3;
        char parent[32];
        if (i == 1)
            snprintf(parent, sizeof parent, "null");
        else
            snprintf(parent, sizeof parent, "\"m%ld\"", i - 1);
        long s = i; /* one second per message after the header */
        fprintf(f,
                "{\"type\":\"message\",\"id\":\"m%ld\",\"parent\":%s,\"role\":\"%s\","
                "\"content\":\"%sMessage %ld. %s\",%s\"created\":"
                "\"2026-11-26T%02ld:%02ld:%02ld.000Z\",\"complete\":true}\n",
                i, parent, user ? "user" : "assistant", user || !meta_line ? "" : "\\n", i,
                user ? USER_TEXT[k] : ASSISTANT_TEXT[k],
                user ? ""
                     : "\"model\":\"demo\",\"timings\":{\"ttft_ms\":120.5,\"tokens_per_s\":"
                       "35.2,\"n_gen\":60,\"n_prompt\":400},",
                19 + s / 3600, (s / 60) % 60, s % 60);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0 || fclose(f) != 0) {
        fprintf(stderr, "tui_bench: %s: %s\n", path, strerror(errno));
        return 1;
    }
    printf("conversation %s\n", path);
    return 0;
fail_dir:
    fprintf(stderr, "tui_bench: %s: %s\n", dir, strerror(errno));
    return 1;
}

/* ---- scroll: open a long conversation, PgUp through it -------------------------------------- */

static int mode_scroll(const char *glmterm, long n, long opens)
{
    char *argv[] = {(char *)glmterm, "--resume", NULL};
    double *v = calloc((size_t)n, sizeof *v);
    double *o = calloc((size_t)opens, sizeof *o);
    int status = 1;
    long silent = 0;
    struct child c = {0};
    if (!v || !o) goto out;
    for (long r = 0; r < opens; r++) {
        if (first_frame(&c, argv, &o[r]) != 0) goto out;
        if (r + 1 < opens) child_stop(&c, "open");
    }
    /* glmterm may draw again right after its first frame (nothing new to show, but the work is
     * done); let that pass so it is not taken for the first PgUp's redraw. */
    child_settle(&c, 300, 10000);
    /* The chat pane's cells before and after, to check that PgUp did move the text. */
    static uint32_t before[ROWS][COLS];
    memcpy(before, c.vt.cell, sizeof before);
    for (long i = 0; i < n;) {
        static const char PGUP[] = "\033[5~";
        double t = now_ms();
        double t_read0 = c.t_read;
        if (child_write(&c, PGUP, sizeof PGUP - 1) != 0) goto out;
        /* The first byte of the redraw, then the rest until SCROLL_QUIET ms pass without any. */
        double end = t + KEY_TIMEOUT;
        while (c.t_read == t_read0 && now_ms() < end)
            if (child_read(&c, end - now_ms()) < 0) goto out;
        if (c.t_read == t_read0) { /* nothing changed on the screen: the top was reached */
            if (++silent > 5) break;
            continue;
        }
        double last = child_settle(&c, SCROLL_QUIET, 1000);
        if (getenv("TUI_BENCH_TRACE")) fprintf(stderr, "pgup %.1f %.3f\n", t - c.t_fork, last - t);
        v[i++] = last - t;
    }
    printf("scroll_silent_keys %ld\n", silent);
    printf("scroll_screen_changed %d\n", memcmp(before, c.vt.cell, sizeof before) != 0);
    report("open", o, (size_t)opens);
    report("scroll", v, (size_t)n);
    status = 0;
out:
    child_stop(&c, "scroll");
    free(v);
    free(o);
    return status;
}

int main(int argc, char **argv)
{
    /* wcwidth in the screen model must agree with the curses in glmterm: a UTF-8 locale. */
    if (!setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "")) {
        fprintf(stderr, "tui_bench: no UTF-8 locale\n");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    long n, m;
    if (argc == 4 && !strcmp(argv[1], "start") && (n = parse_count(argv[3], MAX_SAMPLES)) > 0)
        return mode_start(argv[2], n);
    if (argc == 4 && !strcmp(argv[1], "keys") && (n = parse_count(argv[3], MAX_SAMPLES)) > 0)
        return mode_keys(argv[2], n);
    if ((argc == 3 || (argc == 4 && !strcmp(argv[3], "no-meta-line"))) &&
        !strcmp(argv[1], "mkconv") && (n = parse_count(argv[2], MAX_MSGS)) > 0)
        return mode_mkconv(n, argc == 3);
    if (argc == 5 && !strcmp(argv[1], "scroll") && (n = parse_count(argv[3], MAX_SAMPLES)) > 0 &&
        (m = parse_count(argv[4], 1000)) > 0)
        return mode_scroll(argv[2], n, m);
    fprintf(stderr, "usage: tui_bench start GLMTERM N\n"
                    "       tui_bench keys GLMTERM N\n"
                    "       tui_bench mkconv N_MSGS [no-meta-line]\n"
                    "       tui_bench scroll GLMTERM N_KEYS N_OPENS\n");
    return 2;
}
