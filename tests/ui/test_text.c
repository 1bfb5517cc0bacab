/* Tests of ui/lines.c: display width by grapheme cluster (UAX #29 through utf8proc, emoji
 * presentation as terminals draw it), sanitizing of untrusted text (escape sequences, C1
 * controls, invalid UTF-8) and plain wrapping (width bound, no lost text, no split cluster). */
#include "test_util.h"
#include "ui/text_int.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static int w(const char *s)
{
    return ui_width(s, strlen(s));
}

static void test_width(void **state)
{
    (void)state;
    assert_int_equal(w(""), 0);
    assert_int_equal(w("hello"), 5);
    assert_int_equal(w("你好"), 4);
    assert_int_equal(w("\xf0\x9f\x99\x82"), 2);                 /* 🙂 */
    assert_int_equal(w("\xf0\x9f\x87\xa8\xf0\x9f\x87\xb3"), 2); /* 🇨🇳 */
    /* 👩‍👩‍👧: three people joined by ZWJ, one cluster */
    assert_int_equal(w("\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7"),
                     2);
    assert_int_equal(w("e\xcc\x81"), 1);                        /* e + U+0301 */
    assert_int_equal(w("\xe2\x9d\xa4\xef\xb8\x8f"), 2);         /* ❤️ (text default + VS16) */
    assert_int_equal(w("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd"), 2); /* 👍🏽 */
    assert_int_equal(w("a\tb\x01"), 2);                         /* controls are 0 */
    assert_int_equal(w("北京 weather 🙂"), 4 + 1 + 7 + 1 + 2);
    assert_int_equal(w("\xff"), 1); /* an invalid byte shows as U+FFFD */
}

static void test_clusters(void **state)
{
    (void)state;
    const char *s = "e\xcc\x81"
                    "x\xf0\x9f\x87\xa8\xf0\x9f\x87\xb3";
    int cw;
    size_t i = ui_cluster_next(s, strlen(s), 0, &cw);
    assert_int_equal(i, 3);
    assert_int_equal(cw, 1);
    i = ui_cluster_next(s, strlen(s), i, &cw);
    assert_int_equal(i, 4);
    i = ui_cluster_next(s, strlen(s), i, &cw);
    assert_int_equal(i, strlen(s));
    assert_int_equal(cw, 2);
}

static char *san(const char *s, bool keep)
{
    size_t n = 0;
    char *out = ui_sanitize(s, strlen(s), keep, &n);
    assert_non_null(out);
    assert_int_equal(n, strlen(out));
    return out;
}

#define ASSERT_SAN(in, keep, want)                                                                 \
    do {                                                                                           \
        char *got_ = san(in, keep);                                                                \
        assert_string_equal(got_, want);                                                           \
        free(got_);                                                                                \
    } while (0)

static void test_sanitize(void **state)
{
    (void)state;
    ASSERT_SAN("\x1b[31mred\x1b[0m", true, "red");
    ASSERT_SAN("a\x1b[1;38;2;255;0;0mb", true, "ab");
    ASSERT_SAN("\x1b]0;evil title\x07text", true, "text");                /* OSC ended by BEL */
    ASSERT_SAN("\x1b]2;title\x1b\\text", true, "text");                   /* OSC ended by ST */
    ASSERT_SAN("\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", true, "link"); /* OSC 8 */
    ASSERT_SAN("\x1b]52;c;ZXZpbA==\x07ok", true, "ok");                   /* clipboard write */
    ASSERT_SAN("\x1bPq#0;2;0;0;0\x1b\\x", true, "x");                     /* DCS (sixel) */
    ASSERT_SAN("a\xc2\x9b"
               "31mb",
               true, "ab"); /* C1 CSI U+009B */
    ASSERT_SAN("a\xc2\x9d"
               "0;t\xc2\x9c"
               "b",
               true, "ab");               /* C1 OSC .. ST */
    ASSERT_SAN("a\xc2\x85z", true, "az"); /* NEL */
    ASSERT_SAN("\x1b(Bx\x1b"
               "7y\x1b",
               true, "xy"); /* nF, Fp, trailing ESC */
    ASSERT_SAN("a\x7f"
               "b\x00c",
               true, "ab"); /* DEL; strlen stops at NUL */
    ASSERT_SAN("l1\r\nl2\tx\x07\x08", true, "l1\nl2\tx");
    ASSERT_SAN("l1\nl2\tx", false, "l1 l2 x");
    ASSERT_SAN("a\xff"
               "b",
               true,
               "a\xef\xbf\xbd"
               "b");
    ASSERT_SAN("\xc3", true, "\xef\xbf\xbd");                                 /* truncated */
    ASSERT_SAN("\xe0\x80\xaf", true, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* overlong */
    ASSERT_SAN("\xed\xa0\x80", true, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    ASSERT_SAN("\x9b"
               "31m",
               true,
               "\xef\xbf\xbd"
               "31m"); /* raw 8-bit C1 is not UTF-8 */
    ASSERT_SAN("你好🙂 é", true, "你好🙂 é");
    ASSERT_SAN("\x1b]0;never ends", true, "");

    /* NUL inside the length is dropped too */
    size_t n;
    char *s = ui_sanitize("a\0b", 3, true, &n);
    assert_int_equal(n, 2);
    assert_string_equal(s, "ab");
    free(s);
}

/* Every byte sequence sanitizes to valid UTF-8 without ESC or C0/C1 controls. */
static void test_sanitize_random(void **state)
{
    (void)state;
    uint64_t rng = 42;
    char buf[64];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = tu_rand(&rng) % sizeof buf;
        for (size_t i = 0; i < len; i++) {
            uint64_t r = tu_rand(&rng);
            buf[i] = r % 4 == 0 ? "\x1b[]\x07\xc2\x9b\x9d\\;m\n\t"[r / 4 % 12] : (char)(r >> 8);
        }
        size_t n;
        char *out = ui_sanitize(buf, len, true, &n);
        assert_non_null(out);
        for (size_t i = 0; i < n;) {
            utf8proc_int32_t c;
            utf8proc_ssize_t k =
                utf8proc_iterate((const utf8proc_uint8_t *)out + i, (utf8proc_ssize_t)(n - i), &c);
            assert_true(k > 0);
            assert_false(c < 0x20 && c != '\n' && c != '\t');
            assert_false(c >= 0x7f && c < 0xa0);
            i += (size_t)k;
        }
        free(out);
    }
}

static const char *mixed =
    "GLM-4 是智谱 AI 推出的新一代预训练模型 🙂 It supports multi-turn dialogue, "
    "web "
    "browsing 🌐, code execution and custom tool calls 👩\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80"
    "\x8d\xf0\x9f\x91\xa7. 北京今天晴，气温约 23°C。【1†source】 Combining: e\xcc\x81t\xc3\xa9 "
    "and flags \xf0\x9f\x87\xa8\xf0\x9f\x87\xb3\xf0\x9f\x87\xaf\xf0\x9f\x87\xb5 "
    "averyveryverylongwordwithoutanyspacesatallthatmustbebroken end.\n"
    "Second   line  with\tspaces.\n\nAfter a blank line.";

static size_t count_clusters_no_space(const char *s, size_t len)
{
    size_t i = 0, n = 0;
    while (i < len) {
        int cw;
        size_t j = ui_cluster_next(s, len, i, &cw);
        n += !(j == i + 1 && (s[i] == ' ' || s[i] == '\n'));
        i = j;
    }
    return n;
}

static char *strip_spaces(const char *s, size_t len, size_t *out_len)
{
    char *o = malloc(len + 1);
    size_t k = 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\n' && s[i] != '\t') o[k++] = s[i];
    o[k] = 0;
    *out_len = k;
    return o;
}

static void test_wrap(void **state)
{
    (void)state;
    size_t want_len, exp_len;
    char *exp = ui_expand_tabs(mixed, strlen(mixed), &exp_len);
    char *want = strip_spaces(exp, exp_len, &want_len);
    size_t want_clusters = count_clusters_no_space(exp, exp_len);
    for (int width = 1; width <= 40; width++) {
        struct ui_lines l = {0};
        assert_int_equal(ui_wrap_plain(mixed, strlen(mixed), width, THEME_NORMAL, &l), 0);
        size_t total = 0, clusters = 0;
        char *cat = malloc(strlen(exp) * 2 + 1);
        for (size_t i = 0; i < l.n; i++) {
            struct ui_line *ln = &l.v[i];
            assert_int_equal(ln->width, (uint32_t)ui_width(ln->text, ln->len));
            /* a line is never wider than the pane, except a lone wide cluster at width 1 */
            if (ln->width > (uint32_t)width) {
                assert_int_equal(width, 1);
                int cw;
                assert_int_equal(ui_cluster_next(ln->text, ln->len, 0, &cw), ln->len);
            }
            assert_int_equal(strlen(ln->text), ln->len);
            assert_int_equal(ln->n_spans, ln->len ? 1 : 0);
            if (ln->n_spans) assert_int_equal(ln->spans[0].role, THEME_NORMAL);
            memcpy(cat + total, ln->text, ln->len);
            total += ln->len;
            clusters += count_clusters_no_space(ln->text, ln->len);
        }
        size_t got_len;
        char *got = strip_spaces(cat, total, &got_len);
        assert_string_equal(got, want);
        /* a cluster cut in two would count twice */
        assert_int_equal(clusters, want_clusters);
        free(got);
        free(cat);
        ui_lines_done(&l);
    }
    free(want);
    free(exp);
}

static void test_wrap_words(void **state)
{
    (void)state;
    struct ui_lines l = {0};
    const char *s = "the quick brown fox jumps";
    assert_int_equal(ui_wrap_plain(s, strlen(s), 10, THEME_USER, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].text, "the quick");
    assert_string_equal(l.v[1].text, "brown fox");
    assert_string_equal(l.v[2].text, "jumps");
    assert_int_equal(l.v[0].spans[0].role, THEME_USER);
    ui_lines_clear(&l);

    /* CJK breaks between characters; closing punctuation stays with its text */
    s = "你好世界，很好";
    assert_int_equal(ui_wrap_plain(s, strlen(s), 8, THEME_NORMAL, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].text, "你好世");
    assert_string_equal(l.v[1].text, "界，很好");
    ui_lines_clear(&l);

    /* a wide character is never split across the edge: width 5 holds two */
    s = "你好世界";
    assert_int_equal(ui_wrap_plain(s, strlen(s), 5, THEME_NORMAL, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].text, "你好");
    assert_int_equal(l.v[0].width, 4);
    ui_lines_clear(&l);

    /* hard newlines, empty lines, tabs to 4-column stops, escapes stripped */
    s = "a\n\n\tb\x1b[2J";
    assert_int_equal(ui_wrap_plain(s, strlen(s), 20, THEME_NORMAL, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[0].text, "a");
    assert_string_equal(l.v[1].text, "");
    assert_string_equal(l.v[2].text, "    b");
    ui_lines_clear(&l);

    /* the empty text is one empty line; a long word is cut between clusters */
    assert_int_equal(ui_wrap_plain("", 0, 10, THEME_NORMAL, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].len, 0);
    ui_lines_clear(&l);
    s = "abcdefghij";
    assert_int_equal(ui_wrap_plain(s, strlen(s), 4, THEME_NORMAL, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[2].text, "ij");
    ui_lines_done(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_width),    cmocka_unit_test(test_clusters),
        cmocka_unit_test(test_sanitize), cmocka_unit_test(test_sanitize_random),
        cmocka_unit_test(test_wrap),     cmocka_unit_test(test_wrap_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
