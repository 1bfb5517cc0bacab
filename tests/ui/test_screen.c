/* The terminal-free parts of ui/screen.c: OSC 52 sequences (base64, tmux passthrough, the
 * size cap), the key decoder fed item by item in bursts, the cell layout of styled text
 * (widths, clipping, controls, spans) and colour numbers for each terminal depth.
 * Curses itself is exercised end to end through tmux by the app's tests. */
#include "test_util.h"
#include "ui/screen_int.h"

#include <curses.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- OSC 52 --------------------------------------------------------------------------------- */

static void check_osc52(const char *text, size_t len, bool tmux, const char *want)
{
    char *s = NULL;
    assert_int_equal(ui_osc52_sequence(text, len, tmux, &s), 0);
    assert_non_null(s);
    assert_string_equal(s, want);
    free(s);
}

/* RFC 4648 section 10 test vectors, through the whole sequence. */
static void test_osc52_base64(void **state)
{
    static const char *const vec[][2] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "\033]52;c;%s\a", vec[i][1]);
        check_osc52(vec[i][0], strlen(vec[i][0]), false, want);
    }
    check_osc52("北京", strlen("北京"), false, "\033]52;c;5YyX5Lqs\a");
    /* Binary bytes, NUL included, are encoded, not cut. */
    static const char bin[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    check_osc52(bin, sizeof bin, false, "\033]52;c;AAECAwQFBgcICQ==\a");
}

static void test_osc52_tmux(void **state)
{
    check_osc52("foo", 3, true, "\033Ptmux;\033\033]52;c;Zm9v\a\033\\");
    check_osc52("", 0, true, "\033Ptmux;\033\033]52;c;\a\033\\");
    /* Only the sequence's own ESC is doubled; the text cannot add any (it is base64). */
    char *s = NULL;
    assert_int_equal(ui_osc52_sequence("\033[31m", 5, true, &s), 0);
    size_t n_esc = 0;
    for (const char *p = s; *p; p++)
        n_esc += *p == '\033';
    assert_int_equal(n_esc, 4); /* ESC P, doubled ESC ], ESC \ */
    free(s);
}

static void test_osc52_cap(void **state)
{
    char *text = malloc(UI_OSC52_MAX + 1);
    assert_non_null(text);
    memset(text, 'x', UI_OSC52_MAX + 1);
    char *s = NULL;
    assert_int_equal(ui_osc52_sequence(text, UI_OSC52_MAX, false, &s), 0);
    assert_int_equal(strlen(s), strlen("\033]52;c;\a") + (UI_OSC52_MAX + 2) / 3 * 4);
    free(s);
    s = (char *)1;
    assert_int_equal(ui_osc52_sequence(text, UI_OSC52_MAX + 1, false, &s), -1);
    assert_null(s);
    assert_int_equal(ui_osc52_sequence(text, UI_OSC52_MAX + 1, true, &s), -1);
    assert_null(s);
    free(text);
}

/* ---- key decoder ---------------------------------------------------------------------------- */

#define KEYF  0x80000000u /* item flag: a curses key code */
#define BURST 0xffffffffu /* item: the burst ends here */

struct src {
    uint32_t v[512];
    size_t n, pos;
};

static void add_item(struct src *s, uint32_t item)
{
    assert_true(s->n < sizeof s->v / sizeof s->v[0]);
    s->v[s->n++] = item;
}

/* ASCII characters of `str` (plus single bytes >= 0x80 taken as code points). */
static void add_str(struct src *s, const char *str)
{
    for (; *str; str++)
        add_item(s, (unsigned char)*str);
}

static int src_next(void *ctx, uint32_t *code, bool *is_key)
{
    struct src *s = ctx;
    if (s->pos >= s->n) return -1;
    uint32_t item = s->v[s->pos++];
    if (item == BURST) return -1;
    *is_key = (item & KEYF) != 0;
    *code = item & ~KEYF;
    return 0;
}

/* Decodes everything in `s` into a readable trace: keys separated by spaces, "M-" for Alt,
 * "|" where the decoder had nothing complete at the end of a burst with input still to
 * come. */
static void decode(struct ui_keydec *d, struct src *s, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int guard = 0; guard < 10000; guard++) {
        uint32_t key;
        bool is_key, alt;
        char ev[32];
        if (ui_keydec_next(d, src_next, s, &key, &is_key, &alt) != 0) {
            if (s->pos >= s->n) return;
            snprintf(ev, sizeof ev, "|");
        } else if (is_key) {
            const char *name = key == UI_KEY_PASTE_BEGIN  ? "PB"
                               : key == UI_KEY_PASTE_END  ? "PE"
                               : key == UI_KEY_WHEEL_UP   ? "WU"
                               : key == UI_KEY_WHEEL_DOWN ? "WD"
                               : key == UI_KEY_RESIZE     ? "RS"
                                                          : NULL;
            if (name)
                snprintf(ev, sizeof ev, "%s<%s>", alt ? "M-" : "", name);
            else
                snprintf(ev, sizeof ev, "%s<K%u>", alt ? "M-" : "", key);
        } else if (key == 27) {
            snprintf(ev, sizeof ev, "%sESC", alt ? "M-" : "");
        } else if (key == '\r') {
            snprintf(ev, sizeof ev, "%sCR", alt ? "M-" : "");
        } else if (key >= 0x20 && key < 0x7f) {
            snprintf(ev, sizeof ev, "%s%c", alt ? "M-" : "", (char)key);
        } else {
            snprintf(ev, sizeof ev, "%sU+%04X", alt ? "M-" : "", key);
        }
        int w = snprintf(out + o, cap - o, "%s%s", o ? " " : "", ev);
        assert_true(w > 0 && (size_t)w < cap - o);
        o += (size_t)w;
    }
    fail_msg("decoder does not terminate");
}

static void check_keys(struct src *s, const char *want)
{
    struct ui_keydec d = {0};
    char got[2048];
    decode(&d, s, got, sizeof got);
    if (strcmp(got, want) != 0) fail_msg("got  '%s'\nwant '%s'", got, want);
}

static void test_keys_plain_and_alt(void **state)
{
    struct src s = {0};
    add_str(&s, "ab\r");
    add_item(&s, 0x5317); /* 北 */
    check_keys(&s, "a b CR U+5317");

    s = (struct src){0}; /* ESC alone in its burst is the Escape key */
    add_str(&s, "\033");
    add_item(&s, BURST);
    add_str(&s, "x");
    check_keys(&s, "ESC x");

    s = (struct src){0}; /* ESC + character in one burst: Alt; Alt-Enter */
    add_str(&s, "\033x\033\r");
    check_keys(&s, "M-x M-CR");

    s = (struct src){0}; /* ESC ESC x: Escape, then Alt-x */
    add_str(&s, "\033\033x");
    check_keys(&s, "ESC M-x");

    s = (struct src){0}; /* ESC + curses key (Alt-Left as ESC ESC [ D) */
    add_str(&s, "\033");
    add_item(&s, KEYF | KEY_LEFT);
    char want[64];
    snprintf(want, sizeof want, "M-<K%d>", KEY_LEFT);
    check_keys(&s, want);

    s = (struct src){0}; /* our codes never take Alt */
    add_str(&s, "\033");
    add_item(&s, KEYF | UI_KEY_WHEEL_UP);
    add_item(&s, KEYF | UI_KEY_RESIZE);
    check_keys(&s, "ESC <WU> <RS>");

    s = (struct src){0}; /* ESC [ and ESC O alone in their burst: Alt-[ and Alt-O */
    add_str(&s, "\033[");
    add_item(&s, BURST);
    add_str(&s, "\033O");
    add_item(&s, BURST);
    add_str(&s, "z");
    check_keys(&s, "M-[ M-O z");
}

static void test_keys_paste(void **state)
{
    struct src s = {0};
    add_str(&s, "\033[200~hi\r\033x\033[201~\r");
    check_keys(&s, "<PB> h i CR ESC x <PE> CR");

    /* A marker cut by the end of a burst is held, then completed. */
    s = (struct src){0};
    add_str(&s, "\033[20");
    add_item(&s, BURST);
    add_str(&s, "0~a\033[2");
    add_item(&s, BURST);
    add_str(&s, "01~\033b");
    check_keys(&s, "| <PB> a | <PE> M-b");

    /* Markers curses recognised itself (define_key) switch the paste state too. */
    s = (struct src){0};
    add_item(&s, KEYF | UI_KEY_PASTE_BEGIN);
    add_str(&s, "\033y");
    add_item(&s, KEYF | UI_KEY_PASTE_END);
    add_str(&s, "\033y");
    check_keys(&s, "<PB> ESC y <PE> M-y");

    /* Inside a paste ESC [ that is no sequence stays characters. */
    s = (struct src){0};
    add_str(&s, "\033[200~\033[");
    add_item(&s, BURST);
    add_str(&s, "\033[201~");
    check_keys(&s, "<PB> ESC [ <PE>");
}

static void test_keys_unknown_sequences(void **state)
{
    struct src s = {0};
    /* Focus in/out, a modified key curses missed, an SGR mouse report, an SS3 key: dropped. */
    add_str(&s, "a\033[I\033[O\033[1;5P\033[<64;10;5M\033OXb");
    check_keys(&s, "a b");

    s = (struct src){0}; /* broken CSI: the prefix goes, what broke it is decoded */
    add_str(&s, "\033[12\rc\033[\rd");
    check_keys(&s, "CR c M-[ CR d");

    s = (struct src){0}; /* a CSI interrupted by a key */
    add_str(&s, "\033[1");
    add_item(&s, KEYF | KEY_UP);
    char want[64];
    snprintf(want, sizeof want, "<K%d>", KEY_UP);
    check_keys(&s, want);

    /* Longer than any key: dropped as garbage once the buffer is full; the decoder goes on
     * and never emits more items than it was given. */
    s = (struct src){0};
    add_str(&s, "\033[");
    for (int i = 0; i < 40; i++)
        add_str(&s, "1");
    add_str(&s, "~e");
    struct ui_keydec d = {0};
    char got[2048];
    decode(&d, &s, got, sizeof got);
    assert_non_null(strstr(got, "e"));
    assert_null(strstr(got, "ESC"));
}

/* Random bursts of ESC, '[', digits, '~', letters and keys: every call terminates, the
 * decoder never emits more keys than items, and nothing is left but a held partial CSI. */
static void test_keys_random(void **state)
{
    uint64_t rng = 0x5eed;
    static const uint32_t alphabet[] = {27,
                                        '[',
                                        '2',
                                        '0',
                                        '1',
                                        '~',
                                        'O',
                                        'a',
                                        '\r',
                                        ';',
                                        KEYF | KEY_LEFT,
                                        KEYF | UI_KEY_WHEEL_DOWN,
                                        BURST};
    const size_t n_alpha = sizeof alphabet / sizeof alphabet[0];
    for (int round = 0; round < 2000; round++) {
        struct src s = {0};
        size_t n = tu_rand(&rng) % 60;
        size_t n_items = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t it = alphabet[tu_rand(&rng) % n_alpha];
            add_item(&s, it);
            n_items += it != BURST;
        }
        struct ui_keydec d = {0};
        size_t emitted = 0;
        for (int guard = 0;; guard++) {
            assert_true(guard < 10000);
            uint32_t key;
            bool is_key, alt;
            if (ui_keydec_next(&d, src_next, &s, &key, &is_key, &alt) == 0) {
                emitted++;
                if (!is_key) assert_true(key < 0x80);
            } else if (s.pos >= s.n) {
                break;
            }
        }
        assert_true(emitted <= n_items);
        assert_true(d.n < UI_KEYDEC_MAX);
        if (d.n > 0) { /* only ESC [ params... may be held */
            assert_true(d.n >= 3);
            assert_int_equal(d.q[0].code, 27);
            assert_int_equal(d.q[1].code, '[');
        }
    }
}

/* ---- cell layout ---------------------------------------------------------------------------- */

struct cells {
    struct ui_cell v[64];
    int n;
};

static void collect(void *ctx, const struct ui_cell *c)
{
    struct cells *cs = ctx;
    assert_true(cs->n < 64);
    cs->v[cs->n++] = *c;
}

static int layout(const char *s, const struct ui_span *spans, uint32_t n_spans, int lo, int hi,
                  struct cells *out)
{
    out->n = 0;
    return ui_text_cells(s, strlen(s), spans, n_spans, THEME_NORMAL, lo, hi, collect, out);
}

static void assert_cell(const struct ui_cell *c, int col, int width, wchar_t wc0)
{
    if (c->col != col || c->width != width || c->wc[0] != wc0)
        fail_msg("cell col %d width %d U+%04X, want col %d width %d U+%04X", (int)c->col,
                 (int)c->width, (unsigned)c->wc[0], col, width, (unsigned)wc0);
}

static void test_cells_widths_and_clipping(void **state)
{
    struct cells cs;
    assert_int_equal(layout("ab", NULL, 0, 0, 5, &cs), 2);
    assert_int_equal(cs.n, 2);
    assert_cell(&cs.v[0], 0, 1, L'a');
    assert_cell(&cs.v[1], 1, 1, L'b');

    /* A wide character that would straddle the right edge becomes a space. */
    assert_int_equal(layout("北京", NULL, 0, 0, 3, &cs), 3);
    assert_int_equal(cs.n, 2);
    assert_cell(&cs.v[0], 0, 2, 0x5317);
    assert_cell(&cs.v[1], 2, 1, L' ');

    /* ...and one cut by the left edge too; nothing is emitted left of lo. */
    assert_int_equal(layout("北x京", NULL, 0, 1, 10, &cs), 5);
    assert_int_equal(cs.n, 3);
    assert_cell(&cs.v[0], 1, 1, L' ');
    assert_cell(&cs.v[1], 2, 1, L'x');
    assert_cell(&cs.v[2], 3, 2, 0x4EAC);

    /* Never past hi, however long the text. */
    assert_int_equal(layout("abcdefgh", NULL, 0, 0, 4, &cs), 4);
    assert_int_equal(cs.n, 4);
    assert_int_equal(layout("abc", NULL, 0, 0, 0, &cs), 0);
    assert_int_equal(cs.n, 0);
}

static void test_cells_clusters_and_controls(void **state)
{
    struct cells cs;
    /* e + combining acute: one cell holding both. */
    assert_int_equal(layout("e\xcc\x81x", NULL, 0, 0, 10, &cs), 2);
    assert_int_equal(cs.n, 2);
    assert_cell(&cs.v[0], 0, 1, L'e');
    assert_true(cs.v[0].wc[1] == 0x301 && cs.v[0].wc[2] == 0);
    assert_cell(&cs.v[1], 1, 1, L'x');

    /* Controls and ESC show as U+FFFD (no sequence reaches the terminal), a tab as a space,
     * invalid UTF-8 as U+FFFD. */
    assert_int_equal(layout("a\033[2Jb\t\xff", NULL, 0, 0, 20, &cs), 8);
    assert_cell(&cs.v[1], 1, 1, 0xFFFD);
    assert_cell(&cs.v[2], 2, 1, L'[');
    assert_cell(&cs.v[6], 6, 1, L' ');
    assert_cell(&cs.v[7], 7, 1, 0xFFFD);

    /* A mark with no base draws nothing. */
    assert_int_equal(layout("\xcc\x81z", NULL, 0, 0, 5, &cs), 1);
    assert_int_equal(cs.n, 1);
    assert_cell(&cs.v[0], 0, 1, L'z');

    /* A ZWJ emoji sequence: one cell, its base; only non-spacing characters after it. */
    const char *family = "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7";
    int end = layout(family, NULL, 0, 0, 10, &cs);
    assert_int_equal(cs.n, 1);
    assert_int_equal(cs.v[0].wc[0], 0x1F468);
    assert_int_equal(end, cs.v[0].width);
    for (int i = 1; i < UI_CELL_CHARS && cs.v[0].wc[i]; i++)
        assert_int_equal(wcwidth(cs.v[0].wc[i]), 0);

    /* Many marks on one base: capped, NUL-terminated. */
    char zalgo[64] = "a";
    for (int i = 0; i < 10; i++)
        strcat(zalgo, "\xcc\x81");
    assert_int_equal(layout(zalgo, NULL, 0, 0, 5, &cs), 1);
    assert_int_equal(cs.n, 1);
    assert_int_equal(cs.v[0].wc[UI_CELL_CHARS - 1], 0);
}

static void test_cells_spans(void **state)
{
    struct cells cs;
    /* "you 北京": "you" user role, "北京" bold code, the space outside every span. */
    const struct ui_span spans[] = {
        {0, 3, THEME_USER, 0},
        {4, 6, THEME_CODE, THEME_ATTR_BOLD},
        {100, 5, THEME_ERROR, 0}, /* out of range: harmless */
    };
    assert_int_equal(layout("you 北京", spans, 3, 0, 20, &cs), 8);
    assert_int_equal(cs.n, 6);
    assert_int_equal(cs.v[0].role, THEME_USER);
    assert_int_equal(cs.v[2].role, THEME_USER);
    assert_int_equal(cs.v[3].role, THEME_NORMAL);
    assert_int_equal(cs.v[4].role, THEME_CODE);
    assert_int_equal(cs.v[4].attrs, THEME_ATTR_BOLD);
    assert_int_equal(cs.v[5].role, THEME_CODE);

    /* A bad role, or spans with offsets that overflow 32 bits, fall back to the base. */
    const struct ui_span bad[] = {{0, 1, 999, 0}, {UINT32_MAX, UINT32_MAX, THEME_ERROR, 0}};
    assert_int_equal(layout("ab", bad, 2, 0, 5, &cs), 2);
    assert_int_equal(cs.v[0].role, THEME_NORMAL);
    assert_int_equal(cs.v[1].role, THEME_NORMAL);
}

/* ---- colours -------------------------------------------------------------------------------- */

static struct theme_color rgb(uint8_t r, uint8_t g, uint8_t b)
{
    struct theme_color c = {.kind = THEME_COLOR_RGB, .r = r, .g = g, .b = b};
    return c;
}

static struct theme_color idx(uint8_t i)
{
    struct theme_color c = {.kind = THEME_COLOR_INDEX, .index = i};
    return c;
}

static void test_colors(void **state)
{
    struct theme_color def = {.kind = THEME_COLOR_DEFAULT};
    assert_int_equal(ui_color_number(&def, 256, true, true), -1);
    assert_int_equal(ui_color_number(&def, 256, true, false), COLOR_WHITE);
    assert_int_equal(ui_color_number(&def, 256, false, false), COLOR_BLACK);
    assert_int_equal(ui_color_number(&def, UI_DIRECT_COLORS, false, true), -1);

    /* Direct colour: RGB as is; ANSI 0..7 kept; other indices as their xterm RGB; values
     * the terminfo would read as palette indices lifted out of that range. */
    struct theme_color c = rgb(0xff, 0x80, 0x00);
    assert_int_equal(ui_color_number(&c, UI_DIRECT_COLORS, true, true), 0xff8000);
    c = idx(3);
    assert_int_equal(ui_color_number(&c, UI_DIRECT_COLORS, true, true), 3);
    c = idx(196);
    assert_int_equal(ui_color_number(&c, UI_DIRECT_COLORS, true, true), 0xff0000);
    c = idx(232);
    assert_int_equal(ui_color_number(&c, UI_DIRECT_COLORS, true, true), 0x080808);
    c = rgb(0, 0, 5);
    assert_int_equal(ui_color_number(&c, UI_DIRECT_COLORS, true, true), 0x000105);
    c = rgb(0, 0, 0);
    assert_true(ui_color_number(&c, UI_DIRECT_COLORS, true, true) >= 0x100);

    /* 256, 16, 8 colours: within the terminal's range, exact where the palette has it. */
    c = rgb(0xff, 0x00, 0x00);
    assert_int_equal(ui_color_number(&c, 256, true, true), 196);
    int v16 = ui_color_number(&c, 16, true, true);
    assert_true(v16 >= 0 && v16 < 16);
    int v8 = ui_color_number(&c, 8, true, true);
    assert_int_equal(v8, COLOR_RED);
    c = idx(200);
    assert_int_equal(ui_color_number(&c, 256, false, true), 200);
    v8 = ui_color_number(&c, 8, false, true);
    assert_true(v8 >= 0 && v8 < 8);
    c = idx(12);
    assert_int_equal(ui_color_number(&c, 16, true, true), 12);
    v8 = ui_color_number(&c, 8, true, true);
    assert_true(v8 >= 0 && v8 < 8);
}

/* On 8 and 16 colours a foreground never disappears into its background. */
static void test_pair_contrast(void **state)
{
    struct theme_style normal = {{THEME_COLOR_DEFAULT}, {THEME_COLOR_DEFAULT}, 0};
    struct theme_style border = {rgb(0x4e, 0x4e, 0x4e), {THEME_COLOR_DEFAULT}, 0};
    int fg, bg;
    ui_pair_colors(&border, &normal, 8, true, &fg, &bg);
    assert_int_equal(bg, -1);
    assert_int_equal(fg, COLOR_WHITE); /* nearest of 8 is black: the dark terminal's bg */
    ui_pair_colors(&border, &normal, 16, true, &fg, &bg);
    assert_int_equal(fg, 8); /* 16 colours have a grey */
    ui_pair_colors(&border, &normal, 256, true, &fg, &bg);
    assert_int_equal(fg, 239);

    /* A light theme (dark normal text): a near-white foreground must not vanish. */
    struct theme_style light_normal = {rgb(0x20, 0x20, 0x20), {THEME_COLOR_DEFAULT}, 0};
    struct theme_style pale = {rgb(0xee, 0xee, 0xee), {THEME_COLOR_DEFAULT}, 0};
    ui_pair_colors(&pale, &light_normal, 8, true, &fg, &bg);
    assert_true(fg != COLOR_WHITE && fg >= 0 && fg < 8);

    /* An explicit background: fg moves off it. */
    struct theme_style sel = {rgb(0x00, 0x00, 0x30), rgb(0x00, 0x00, 0x00), 0};
    ui_pair_colors(&sel, &normal, 8, true, &fg, &bg);
    assert_int_equal(bg, COLOR_BLACK);
    assert_true(fg != COLOR_BLACK && fg >= 0 && fg < 8);

    /* A default foreground is the terminal's own: left alone. */
    ui_pair_colors(&normal, &normal, 8, true, &fg, &bg);
    assert_int_equal(fg, -1);
}

int main(void)
{
    /* wcwidth, which the cell layout shares with curses, needs a UTF-8 LC_CTYPE. */
    if (!setlocale(LC_ALL, "C.UTF-8") && !setlocale(LC_ALL, "en_US.UTF-8")) {
        fprintf(stderr, "no UTF-8 locale\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_osc52_base64),
        cmocka_unit_test(test_osc52_tmux),
        cmocka_unit_test(test_osc52_cap),
        cmocka_unit_test(test_keys_plain_and_alt),
        cmocka_unit_test(test_keys_paste),
        cmocka_unit_test(test_keys_unknown_sequences),
        cmocka_unit_test(test_keys_random),
        cmocka_unit_test(test_cells_widths_and_clipping),
        cmocka_unit_test(test_cells_clusters_and_controls),
        cmocka_unit_test(test_cells_spans),
        cmocka_unit_test(test_colors),
        cmocka_unit_test(test_pair_contrast),
    };
    return cmocka_run_group_tests_name("ui screen", tests, NULL, NULL);
}
