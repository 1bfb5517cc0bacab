/* Tests of ui/editor.c: keys and emacs bindings, motion by grapheme cluster over CJK and
 * emoji, bracketed paste (nothing inside a paste ever sends), Enter/Alt-Enter and their swap,
 * history browsing that keeps the draft, and the wrapped layout's cursor position. */
#include "test_util.h"
#include "ui/ui.h"

#include <curses.h> /* KEY_* codes only */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void type(struct ui_editor *e, const char *s)
{
    /* feeds each code point of UTF-8 `s` */
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = *p;
        int n = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        if (n > 1) c &= 0xff >> (n + 1);
        for (int i = 1; i < n; i++)
            c = (c << 6) | (p[i] & 0x3f);
        p += n;
        enum ui_editor_action a = ui_editor_key(e, c, false, false);
        assert_true(a == UI_EDIT_CHANGED || a == UI_EDIT_NONE);
    }
}

static const char *text(struct ui_editor *e)
{
    return ui_editor_text(e, NULL);
}

static int col_at(struct ui_editor *e, int width, int *row)
{
    struct ui_lines l = {0};
    int r = -1, c = -1;
    assert_int_equal(ui_editor_layout(e, width, &l, &r, &c), 0);
    ui_lines_done(&l);
    if (row) *row = r;
    return c;
}

static enum ui_editor_action key(struct ui_editor *e, uint32_t k)
{
    return ui_editor_key(e, k, true, false);
}

static enum ui_editor_action ctl(struct ui_editor *e, char c)
{
    return ui_editor_key(e, (uint32_t)(c & 0x1f), false, false);
}

static enum ui_editor_action alt(struct ui_editor *e, uint32_t c)
{
    return ui_editor_key(e, c, false, true);
}

static void test_typing_enter(void **state)
{
    (void)state;
    struct ui_editor *e = ui_editor_new();
    type(e, "héllo 你好");
    assert_string_equal(text(e), "héllo 你好");
    assert_int_equal(ui_editor_key(e, '\r', false, false), UI_EDIT_SEND);
    assert_int_equal(ui_editor_key(e, '\n', false, false), UI_EDIT_SEND);
    assert_int_equal(key(e, KEY_ENTER), UI_EDIT_SEND);
    assert_string_equal(text(e), "héllo 你好"); /* sending leaves the text to the caller */
    assert_int_equal(alt(e, '\r'), UI_EDIT_CHANGED);
    assert_string_equal(text(e), "héllo 你好\n");

    /* the swap: Enter is a newline, Alt-Enter sends */
    ui_editor_set_enter_newline(e, true);
    assert_int_equal(ui_editor_key(e, '\r', false, false), UI_EDIT_CHANGED);
    assert_int_equal(alt(e, '\r'), UI_EDIT_SEND);
    assert_string_equal(text(e), "héllo 你好\n\n");
    ui_editor_set_enter_newline(e, false);

    /* not editor keys: the caller gets them */
    assert_int_equal(ui_editor_key(e, '\t', false, false), UI_EDIT_IGNORED);
    assert_int_equal(ui_editor_key(e, 0x1b, false, false), UI_EDIT_IGNORED);
    assert_int_equal(ui_editor_key(e, 0x03, false, false), UI_EDIT_IGNORED); /* C-c */
    assert_int_equal(key(e, KEY_F(1)), UI_EDIT_IGNORED);
    assert_int_equal(ui_editor_key(e, 0x9b, false, false), UI_EDIT_IGNORED); /* C1 CSI */
    assert_int_equal(ui_editor_key(e, 0xd800, false, false), UI_EDIT_IGNORED);
    assert_string_equal(text(e), "héllo 你好\n\n");

    ui_editor_clear(e);
    assert_string_equal(text(e), "");
    assert_int_equal(ctl(e, 'd'), UI_EDIT_IGNORED); /* C-d on empty: the caller's */
    ui_editor_free(e);
    ui_editor_free(NULL);
}

static void test_paste(void **state)
{
    (void)state;
    struct ui_editor *e = ui_editor_new();
    type(e, "x");
    ui_editor_paste_begin(e);
    const uint32_t keys[] = {'a', '\r', '\n', 'b', '\r', 'c', '\n', 'd', '\t', 0x1b, '[', 0x7f};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_int_not_equal(ui_editor_key(e, keys[i], false, false), UI_EDIT_SEND);
    assert_int_not_equal(key(e, KEY_ENTER), UI_EDIT_SEND);
    assert_int_not_equal(alt(e, '\r'), UI_EDIT_SEND);
    ui_editor_set_enter_newline(e, true);
    assert_int_not_equal(alt(e, '\r'), UI_EDIT_SEND);
    ui_editor_set_enter_newline(e, false);
    ui_editor_paste_end(e);
    /* CR LF is one newline; ESC and DEL never enter the buffer */
    assert_string_equal(text(e), "xa\nb\nc\nd\t[\n\n\n");
    assert_int_equal(ui_editor_key(e, '\r', false, false), UI_EDIT_SEND);

    /* a large paste stays linear and capped */
    ui_editor_clear(e);
    ui_editor_paste_begin(e);
    for (int i = 0; i < 300000; i++)
        ui_editor_key(e, i % 50 == 49 ? '\r' : 0x4e00 + (uint32_t)(i % 100), false, false);
    ui_editor_paste_end(e);
    size_t len;
    ui_editor_text(e, &len);
    assert_true(len <= (1u << 20));
    assert_true(len > 800000);
    ui_editor_free(e);
}

static void test_clusters(void **state)
{
    (void)state;
    struct ui_editor *e = ui_editor_new();
    /* a, 你 (2), 🙂 (2), e + U+0301 (1), 👩‍👩‍👧 (2), b */
    ui_editor_set_text(e, "a你🙂e\xcc\x81👩\xe2\x80\x8d👩\xe2\x80\x8d👧b");
    assert_int_equal(col_at(e, 80, NULL), 9);
    key(e, KEY_HOME);
    const int cols[] = {0, 1, 3, 5, 6, 8, 9, 9};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        assert_int_equal(col_at(e, 80, NULL), cols[i]);
        key(e, KEY_RIGHT);
    }
    for (int i = 6; i >= 0; i--) {
        assert_int_equal(col_at(e, 80, NULL), cols[i]);
        ctl(e, 'b');
    }
    assert_int_equal(col_at(e, 80, NULL), 0);
    ctl(e, 'e');
    key(e, KEY_BACKSPACE);
    assert_string_equal(text(e), "a你🙂e\xcc\x81👩\xe2\x80\x8d👩\xe2\x80\x8d👧");
    ui_editor_key(e, 0x7f, false, false); /* the whole family goes at once */
    assert_string_equal(text(e), "a你🙂e\xcc\x81");
    ctl(e, 'h');
    assert_string_equal(text(e), "a你🙂");
    ctl(e, 'a');
    key(e, KEY_RIGHT);
    key(e, KEY_DC);
    assert_string_equal(text(e), "a🙂");
    ctl(e, 'd');
    assert_string_equal(text(e), "a");
    /* a combining mark typed after a letter joins its cluster */
    type(e, "e\xcc\x81x");
    ctl(e, 'b');
    ctl(e, 'b');
    assert_int_equal(col_at(e, 80, NULL), 1);

    /* a ZWJ typed between two emoji joins them: the cursor moves past the whole cluster */
    ui_editor_set_text(e, "x👩👧");
    key(e, KEY_LEFT);
    assert_int_equal(col_at(e, 80, NULL), 3);
    type(e, "\xe2\x80\x8d");
    assert_string_equal(text(e), "x👩\xe2\x80\x8d👧");
    assert_int_equal(col_at(e, 80, NULL), 3);
    key(e, KEY_LEFT);
    assert_int_equal(col_at(e, 80, NULL), 1);
    /* code points typed one by one build the family; one Backspace removes it */
    ui_editor_clear(e);
    type(e, "ab👩\xe2\x80\x8d👩\xe2\x80\x8d👧");
    assert_int_equal(col_at(e, 80, NULL), 4);
    key(e, KEY_BACKSPACE);
    assert_string_equal(text(e), "ab");
    ui_editor_free(e);
}

static void test_emacs(void **state)
{
    (void)state;
    struct ui_editor *e = ui_editor_new();
    ui_editor_set_text(e, "hello brave-new world");
    alt(e, 'b');
    assert_int_equal(col_at(e, 80, NULL), 16);
    alt(e, 'b');
    assert_int_equal(col_at(e, 80, NULL), 12);
    alt(e, 'f');
    assert_int_equal(col_at(e, 80, NULL), 15);
    ctl(e, 'w'); /* unix-word-rubout: back to whitespace */
    assert_string_equal(text(e), "hello  world");
    ctl(e, 'y');
    assert_string_equal(text(e), "hello brave-new world");
    ctl(e, 'a');
    alt(e, 'd');
    assert_string_equal(text(e), " brave-new world");
    ctl(e, 'e');
    ui_editor_key(e, 0x7f, false, true); /* M-Backspace */
    assert_string_equal(text(e), " brave-new ");
    ctl(e, 'a');
    ctl(e, 'f');
    ctl(e, 'k');
    assert_string_equal(text(e), " ");
    ctl(e, 'y');
    ctl(e, 'y');
    assert_string_equal(text(e), " brave-new brave-new ");
    ctl(e, 'u');
    assert_string_equal(text(e), "");

    /* line-wise kills in a multi-line buffer; C-k at a line end joins lines */
    ui_editor_set_text(e, "one\ntwo\nthree");
    key(e, KEY_UP);
    ctl(e, 'a');
    ctl(e, 'k');
    assert_string_equal(text(e), "one\n\nthree");
    ctl(e, 'k');
    assert_string_equal(text(e), "one\nthree");
    key(e, KEY_END);
    ctl(e, 'u');
    assert_string_equal(text(e), "one\n");
    ui_editor_free(e);
}

static void test_history(void **state)
{
    (void)state;
    struct ui_editor *e = ui_editor_new();
    const char *sent[] = {"one", "two", "two", "three\nlines"};
    for (size_t i = 0; i < 4; i++) {
        ui_editor_set_text(e, sent[i]);
        ui_editor_history_push(e);
        ui_editor_clear(e);
    }
    ui_editor_clear(e);
    ui_editor_history_push(e); /* empty: not kept */
    type(e, "draft");
    assert_int_equal(key(e, KEY_UP), UI_EDIT_CHANGED);
    assert_string_equal(text(e), "three\nlines");
    /* the cursor is at the end: Up moves inside the entry first */
    assert_int_equal(key(e, KEY_UP), UI_EDIT_CHANGED);
    assert_string_equal(text(e), "three\nlines");
    key(e, KEY_UP);
    assert_string_equal(text(e), "two"); /* consecutive duplicates were merged */
    key(e, KEY_UP);
    assert_string_equal(text(e), "one");
    assert_int_equal(key(e, KEY_UP), UI_EDIT_NONE);
    assert_string_equal(text(e), "one");
    key(e, KEY_DOWN);
    assert_string_equal(text(e), "two");
    key(e, KEY_DOWN);
    assert_string_equal(text(e), "three\nlines");
    key(e, KEY_DOWN);
    assert_string_equal(text(e), "draft");
    assert_int_equal(key(e, KEY_DOWN), UI_EDIT_NONE);
    assert_string_equal(text(e), "draft");

    /* capped at 1000 entries, oldest dropped */
    char buf[32];
    for (int i = 0; i < 1005; i++) {
        snprintf(buf, sizeof buf, "m%d", i);
        ui_editor_set_text(e, buf);
        ui_editor_history_push(e);
    }
    ui_editor_clear(e);
    int n = 0;
    while (ctl(e, 'p') == UI_EDIT_CHANGED)
        n++;
    assert_int_equal(n, 1000);
    assert_string_equal(text(e), "m5");
    ui_editor_free(e);
}

static void test_layout(void **state)
{
    (void)state;
    struct ui_editor *e = ui_editor_new();
    struct ui_lines l = {0};
    int row, col;
    /* width 10 keeps the last column for the cursor: 9 columns of text */
    ui_editor_set_text(e, "你好世界你好");
    assert_int_equal(ui_editor_layout(e, 10, &l, &row, &col), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].text, "你好世界");
    assert_string_equal(l.v[1].text, "你好");
    assert_int_equal(l.v[0].spans[0].role, THEME_INPUT);
    assert_int_equal(row, 1);
    assert_int_equal(col, 4);
    ui_lines_done(&l);
    /* after the 4th character the cursor is at the start of the second row */
    ctl(e, 'b');
    ctl(e, 'b');
    assert_int_equal(col_at(e, 10, &row), 0);
    assert_int_equal(row, 1);
    ctl(e, 'b');
    assert_int_equal(col_at(e, 10, &row), 6);
    assert_int_equal(row, 0);

    /* Down/Up between visual rows keep the column (here, rounded down to a wide char) */
    ui_editor_set_width(e, 10);
    ui_editor_set_text(e, "ab 你好世界你好");
    ctl(e, 'a');
    key(e, KEY_RIGHT);
    assert_int_equal(col_at(e, 10, &row), 1);
    key(e, KEY_DOWN);
    assert_int_equal(col_at(e, 10, &row), 0);
    assert_int_equal(row, 1);
    key(e, KEY_UP);
    assert_int_equal(col_at(e, 10, &row), 1);
    assert_int_equal(row, 0);

    /* empty buffer, words, tabs */
    ui_editor_clear(e);
    assert_int_equal(ui_editor_layout(e, 20, &l, &row, &col), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(row, 0);
    assert_int_equal(col, 0);
    ui_lines_clear(&l);
    ui_editor_set_text(e, "the quick brown fox\tjumps");
    assert_int_equal(ui_editor_layout(e, 11, &l, &row, &col), 0);
    assert_string_equal(l.v[0].text, "the quick");
    assert_string_equal(l.v[1].text, "brown fox");
    assert_string_equal(l.v[2].text, "jumps");
    assert_int_equal(row, 2);
    assert_int_equal(col, 5);
    for (size_t i = 0; i < l.n; i++)
        assert_true(l.v[i].width <= 10);
    ui_lines_done(&l);

    /* every width keeps the cursor inside the pane */
    ui_editor_set_text(e, "GLM-4 是智谱 AI 推出的 🙂 model, with a verylongwordthatbreaks");
    for (int width = 1; width <= 40; width++) {
        ctl(e, 'a');
        for (int k = 0; k < 60; k++) {
            assert_int_equal(ui_editor_layout(e, width, &l, &row, &col), 0);
            assert_true(row >= 0 && (size_t)row < l.n);
            assert_true(col >= 0 && col <= (width > 1 ? width - 1 : 1));
            ui_lines_clear(&l);
            key(e, KEY_RIGHT);
        }
    }
    ui_lines_done(&l);
    ui_editor_free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_typing_enter), cmocka_unit_test(test_paste),
        cmocka_unit_test(test_clusters),     cmocka_unit_test(test_emacs),
        cmocka_unit_test(test_history),      cmocka_unit_test(test_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
