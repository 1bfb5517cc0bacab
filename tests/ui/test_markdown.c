/* Tests of ui/markdown.c: each markdown construct renders with the expected text and theme
 * roles at widths 40 and 20, code blocks are numbered and marked for copying, tables fit the
 * width, and every prefix of a mixed document (what streaming shows) renders within bounds. */
#include "test_util.h"
#include "ui/text_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every line fits, its width field is right and its spans lie inside it. */
static void check_lines(const struct ui_lines *l, int width)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct ui_line *ln = &l->v[i];
        assert_int_equal(strlen(ln->text), ln->len);
        assert_int_equal(ln->width, (uint32_t)ui_width(ln->text, ln->len));
        if (ln->width > (uint32_t)width)
            fail_msg("line %zu \"%s\" wider than %d", i, ln->text, width);
        uint32_t covered = 0;
        for (uint32_t k = 0; k < ln->n_spans; k++) {
            assert_true(ln->spans[k].off + ln->spans[k].len <= ln->len);
            assert_true(ln->spans[k].len > 0);
            assert_true(ln->spans[k].role < THEME_COUNT);
            covered += ln->spans[k].len;
        }
        assert_int_equal(covered, ln->len);
    }
}

static struct ui_lines render(const char *md, int width, int *counter)
{
    struct ui_lines l = {0};
    int local = 0;
    assert_int_equal(
        ui_md_render(md, strlen(md), width, THEME_NORMAL, counter ? counter : &local, &l), 0);
    check_lines(&l, width);
    return l;
}

/* The span covering the first occurrence of `needle` in line `ln` (which must hold it). */
static const struct ui_span *span_of(const struct ui_line *ln, const char *needle)
{
    const char *p = strstr(ln->text, needle);
    if (!p) fail_msg("\"%s\" not in \"%s\"", needle, ln->text);
    uint32_t off = (uint32_t)(p - ln->text);
    for (uint32_t k = 0; k < ln->n_spans; k++)
        if (ln->spans[k].off <= off && off < ln->spans[k].off + ln->spans[k].len)
            return &ln->spans[k];
    fail_msg("no span at \"%s\"", needle);
    return NULL;
}

static void test_heading_paragraphs(void **state)
{
    (void)state;
    for (int width = 20; width <= 40; width += 20) {
        struct ui_lines l = render("# Title\n\nFirst para.\n\n## Sub\nSecond\nline.", width, NULL);
        assert_int_equal(l.n, 8);
        assert_string_equal(l.v[0].text, "Title");
        assert_int_equal(span_of(&l.v[0], "Title")->role, THEME_HEADING);
        assert_true(span_of(&l.v[0], "Title")->attrs & THEME_ATTR_BOLD);
        assert_string_equal(l.v[1].text, "═════"); /* H1 rule as wide as the title */
        assert_int_equal(l.v[1].spans[0].role, THEME_HEADING);
        assert_string_equal(l.v[2].text, "");
        assert_string_equal(l.v[3].text, "First para.");
        assert_int_equal(span_of(&l.v[3], "First")->role, THEME_NORMAL);
        assert_string_equal(l.v[4].text, "");
        assert_string_equal(l.v[5].text, "Sub");
        assert_string_equal(l.v[6].text, "");
        assert_string_equal(l.v[7].text, "Second line."); /* soft break is a space */
        ui_lines_done(&l);
    }
}

static void test_inline(void **state)
{
    (void)state;
    struct ui_lines l = render("a *em* **strong** ~~del~~ `code` &amp; &#x4e2d;", 40, NULL);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].text, "a em strong del code & 中");
    const struct ui_span *s = span_of(&l.v[0], "em");
    assert_int_equal(s->role, THEME_EMPH);
    assert_true(s->attrs & THEME_ATTR_ITALIC);
    s = span_of(&l.v[0], "strong");
    assert_int_equal(s->role, THEME_STRONG);
    assert_true(s->attrs & THEME_ATTR_BOLD);
    assert_true(span_of(&l.v[0], "del")->attrs & THEME_ATTR_DIM);
    assert_int_equal(span_of(&l.v[0], "code")->role, THEME_CODE);
    ui_lines_done(&l);

    /* width 20 wraps at spaces, keeping styles on both sides */
    l = render("plain **bold words that wrap over lines** end", 20, NULL);
    assert_true(l.n >= 3);
    assert_int_equal(span_of(&l.v[1], "wrap")->role, THEME_STRONG);
    ui_lines_done(&l);
}

static void test_links_citations(void **state)
{
    (void)state;
    struct ui_lines l = render("[GLM](https://x.org) and <https://y.org>", 40, NULL);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].text, "GLM <https://x.org> and https://y.org"); /* autolink once */
    assert_int_equal(span_of(&l.v[0], "GLM")->role, THEME_LINK);
    assert_int_equal(span_of(&l.v[0], "<https")->role, THEME_DIM);
    assert_int_equal(span_of(&l.v[0], "https://y")->role, THEME_LINK);
    ui_lines_done(&l);

    l = render("see [the docs](https://example.com/a/b) now", 20, NULL);
    assert_string_equal(l.v[0].text, "see the docs");
    assert_int_equal(strncmp(l.v[1].text, "<https://example.com", 20), 0);
    ui_lines_done(&l);

    l = render("北京今天晴【1†source】。", 40, NULL);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].text, "北京今天晴【1†source】。");
    assert_int_equal(span_of(&l.v[0], "北京")->role, THEME_NORMAL);
    assert_int_equal(span_of(&l.v[0], "【1")->role, THEME_LINK);
    assert_int_equal(span_of(&l.v[0], "source")->role, THEME_LINK);
    assert_int_equal(span_of(&l.v[0], "。")->role, THEME_NORMAL);
    ui_lines_done(&l);
}

static void test_lists(void **state)
{
    (void)state;
    struct ui_lines l = render("- one\n- two\n  - nested\n\n1. first\n2. second", 40, NULL);
    const char *want[] = {"• one", "• two", "  ◦ nested", "", "1. first", "2. second"};
    assert_int_equal(l.n, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(l.v[i].text, want[i]);
    ui_lines_done(&l);

    /* hanging indent on wrapped item lines */
    l = render("- alpha beta gamma delta epsilon\n- b", 20, NULL);
    assert_string_equal(l.v[0].text, "• alpha beta gamma");
    assert_string_equal(l.v[1].text, "  delta epsilon");
    assert_string_equal(l.v[2].text, "• b");
    ui_lines_done(&l);

    l = render("7) seven\n8) eight", 20, NULL);
    assert_string_equal(l.v[0].text, "7) seven");
    assert_string_equal(l.v[1].text, "8) eight");
    ui_lines_done(&l);

    /* a loose list separates its items by a blank line */
    l = render("- a\n\n- b", 20, NULL);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[1].text, "");
    ui_lines_done(&l);
}

static void test_quote_rule(void **state)
{
    (void)state;
    struct ui_lines l = render("> quoted text that wraps at twenty\n\n---\n\nafter", 20, NULL);
    assert_string_equal(l.v[0].text, "│ quoted text that");
    assert_int_equal(span_of(&l.v[0], "│")->role, THEME_QUOTE);
    assert_int_equal(span_of(&l.v[0], "quoted")->role, THEME_QUOTE);
    assert_string_equal(l.v[1].text, "│ wraps at twenty");
    assert_string_equal(l.v[2].text, "");
    assert_int_equal(l.v[3].width, 20);
    assert_int_equal(l.v[3].spans[0].role, THEME_DIM);
    assert_string_equal(l.v[4].text, "");
    assert_string_equal(l.v[5].text, "after");
    ui_lines_done(&l);

    /* paragraphs inside a quote: the separator keeps the bar */
    l = render("> a\n>\n> b", 40, NULL);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[1].text, "│");
    ui_lines_done(&l);
}

static void test_code_blocks(void **state)
{
    (void)state;
    const char *md = "```python\nprint(1)\n\tx = 2\n```\n\ntext\n\n    indented\n";
    int counter = 0;
    struct ui_lines l = render(md, 40, &counter);
    assert_int_equal(counter, 2);
    const char *want[] = {"[1] python", "print(1)", "    x = 2", "", "text", "", "[2]", "indented"};
    const int32_t blocks[] = {1, 1, 1, 0, 0, 0, 2, 2};
    assert_int_equal(l.n, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(l.v[i].text, want[i]);
        assert_int_equal(l.v[i].code_block, blocks[i]);
    }
    assert_int_equal(l.v[0].spans[0].role, THEME_CODE_LABEL);
    assert_int_equal(l.v[1].spans[0].role, THEME_CODE);
    ui_lines_done(&l);

    /* numbering continues across messages */
    l = render("```\nx\n```", 40, &counter);
    assert_string_equal(l.v[0].text, "[3]");
    assert_int_equal(l.v[1].code_block, 3);
    ui_lines_done(&l);

    /* long code lines wrap with a continuation mark, never wider than the pane */
    l = render("```c\nint main(void) { return printf(\"%d\\n\", 42); }\n```", 20, NULL);
    assert_true(l.n >= 4);
    assert_string_equal(l.v[1].text, "int main(void) { ret");
    assert_int_equal(strncmp(l.v[2].text, "↪", 3), 0);
    assert_int_equal(l.v[2].spans[0].role, THEME_DIM);
    assert_int_equal(span_of(&l.v[2], "urn")->role, THEME_CODE);
    for (size_t i = 0; i < l.n; i++)
        assert_int_equal(l.v[i].code_block, 1);
    ui_lines_done(&l);

    /* an unterminated fence (streaming) is a code block up to the end */
    l = render("```sh\nls -l\nrm", 40, NULL);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[2].text, "rm");
    ui_lines_done(&l);

    size_t n = 0;
    char *code = ui_md_code_block(md, strlen(md), 1, &n);
    assert_non_null(code);
    assert_string_equal(code, "print(1)\n    x = 2\n"); /* md4c expands the tab */
    assert_int_equal(n, strlen(code));
    free(code);
    code = ui_md_code_block(md, strlen(md), 2, NULL);
    assert_string_equal(code, "indented\n");
    free(code);
    assert_null(ui_md_code_block(md, strlen(md), 3, NULL));
    assert_null(ui_md_code_block(md, strlen(md), 0, NULL));
}

static void test_tables(void **state)
{
    (void)state;
    const char *md = "| city | weather | temp |\n|---|:---:|--:|\n| 北京 | 晴 | 23 |\n"
                     "| Shanghai | cloudy with a chance of rain later | 19 |\n";
    for (int width = 8; width <= 40; width++) {
        struct ui_lines l = render(md, width, NULL);
        assert_true(l.n >= 2);
        ui_lines_done(&l);
    }
    struct ui_lines l = render(md, 40, NULL);
    assert_int_equal(strncmp(l.v[0].text, "┌", 3), 0);
    assert_int_equal(l.v[0].spans[0].role, THEME_TABLE_BORDER);
    assert_int_equal(span_of(&l.v[1], "city")->role, THEME_NORMAL);
    assert_true(span_of(&l.v[1], "city")->attrs & THEME_ATTR_BOLD);
    assert_int_equal(strncmp(l.v[2].text, "├", 3), 0);
    assert_int_equal(strncmp(l.v[l.n - 1].text, "└", 3), 0);
    /* all rows of the grid have the same width */
    for (size_t i = 1; i < l.n; i++)
        assert_int_equal(l.v[i].width, l.v[0].width);
    assert_non_null(strstr(l.v[3].text, "北京"));
    assert_non_null(strstr(l.v[3].text, " 23 │")); /* right-aligned */
    ui_lines_done(&l);

    /* natural widths when it fits */
    l = render("| a | b |\n|---|---|\n| 1 | 2 |", 40, NULL);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[0].text, "┌───┬───┐");
    assert_string_equal(l.v[1].text, "│ a │ b │");
    assert_string_equal(l.v[3].text, "│ 1 │ 2 │");
    assert_string_equal(l.v[4].text, "└───┴───┘");
    ui_lines_done(&l);

    /* half a table while streaming: the header alone, or rows short of cells */
    l = render("| a | b |\n|---|---|\n| 1 |", 20, NULL);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[3].text, "│ 1 │   │");
    ui_lines_done(&l);
}

static void test_html_and_escapes(void **state)
{
    (void)state;
    struct ui_lines l = render("<div>\n<b>x</b>\n</div>\n\ninline <span>y</span>", 40, NULL);
    assert_int_equal(l.n, 5);
    assert_string_equal(l.v[0].text, "<div>");
    assert_string_equal(l.v[1].text, "<b>x</b>");
    assert_string_equal(l.v[2].text, "</div>");
    assert_string_equal(l.v[4].text, "inline <span>y</span>");
    ui_lines_done(&l);

    l = render("\x1b[31mred\x1b[0m **b** \x1b]0;title\x07&#27;[2J\xc2\x9b"
               "1m",
               40, NULL);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].text, "red b [2J");
    ui_lines_done(&l);

    /* hard breaks and NUL */
    const char nul[] = "a  \nb\\\nc d\0e";
    l = (struct ui_lines){0};
    assert_int_equal(ui_md_render(nul, sizeof nul - 1, 40, THEME_ASSISTANT, NULL, &l), 0);
    assert_int_equal(l.n, 3);
    assert_string_equal(l.v[2].text, "c de");
    assert_int_equal(l.v[0].spans[0].role, THEME_ASSISTANT);
    ui_lines_done(&l);
}

static const char *doc =
    "# GLM-4 回答\n\nHere is **bold**, *em*, `code` and a [link](https://example.com).\n"
    "北京今天晴，气温约 23°C。【1†source】 "
    "🙂👩\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d"
    "\xf0\x9f\x91\xa7\n\n"
    "> A quote with *emphasis*\n> - and a list\n>   1. nested `code`\n\n"
    "1. First item that is fairly long and has to wrap\n2. Second\n   - sub **item**\n"
    "   ```python\n   def f(x):\n       return x * 2  # 双倍\n   ```\n\n"
    "| 城市 | temp | note |\n|:--|--:|:-:|\n| 北京 | 23 | sunny ☀️ |\n| Zürich | 9 | "
    "rain, wind and more rain |\n\n---\n\n"
    "```\nunclosed <b>html</b> \t tab\n```\n\n<details>\n<summary>x</summary>\n</details>\n\n"
    "Final ~~old~~ line with &amp; entity and www.example.org autolink.\n\n"
    "Another paragraph, in English this time, long enough to wrap a few times at every "
    "width we try, with a footnote-like citation 【2†news】 and an image ![alt text](img.png).\n\n"
    "- [x] task-like item\n- item with <kbd>Ctrl</kbd>+<kbd>C</kbd>\n\n"
    "```js\nconsole.log('streaming never ends'";

static void test_every_prefix(void **state)
{
    (void)state;
    size_t len = strlen(doc);
    assert_true(len > 900);
    static const int widths[] = {40, 20, 9};
    for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        for (size_t n = 0; n <= len; n++) {
            struct ui_lines l = {0};
            int counter = 0;
            assert_int_equal(ui_md_render(doc, n, widths[w], THEME_NORMAL, &counter, &l), 0);
            check_lines(&l, widths[w]);
            for (size_t i = 0; i < l.n; i++)
                assert_true(l.v[i].code_block >= 0 && l.v[i].code_block <= counter);
            ui_lines_done(&l);
        }
    }
    /* the whole document has three code blocks */
    int counter = 0;
    struct ui_lines l = render(doc, 40, &counter);
    assert_int_equal(counter, 3);
    ui_lines_done(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heading_paragraphs),
        cmocka_unit_test(test_inline),
        cmocka_unit_test(test_links_citations),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_quote_rule),
        cmocka_unit_test(test_code_blocks),
        cmocka_unit_test(test_tables),
        cmocka_unit_test(test_html_and_escapes),
        cmocka_unit_test(test_every_prefix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
