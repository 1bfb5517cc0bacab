/* Stop strings over streamed text: the output never depends on how the text was split, text
 * that might begin a stop string is held back and released when it does not. */
#include "test_util.h"
#include "app/app.h"

#include <string.h>

static void run_split(const char *const *stops, size_t n, const char *text, size_t cut1,
                      size_t cut2, struct tok_buf *out, int *hit)
{
    struct app_stop st;
    app_stop_init(&st, stops, n);
    size_t len = strlen(text);
    size_t cuts[4] = {0, cut1, cut2, len};
    *hit = 0;
    for (int i = 0; i < 3 && !*hit; i++)
        *hit = app_stop_feed(&st, text + cuts[i], cuts[i + 1] - cuts[i], out);
    if (!*hit) app_stop_flush(&st, out);
    app_stop_done(&st);
}

static void check_all_splits(const char *const *stops, size_t n, const char *text, const char *want,
                             int want_hit)
{
    size_t len = strlen(text);
    for (size_t a = 0; a <= len; a++) {
        for (size_t b = a; b <= len; b++) {
            struct tok_buf out = {0};
            int hit;
            run_split(stops, n, text, a, b, &out, &hit);
            if (hit != want_hit || out.len != strlen(want) ||
                memcmp(out.s ? out.s : "", want, out.len) != 0)
                fail_msg("'%s' split %zu/%zu: got '%.*s' hit %d", text, a, b, (int)out.len,
                         out.s ? out.s : "", hit);
            tok_buf_done(&out);
        }
    }
}

static void test_stop_strings(void **state)
{
    const char *stops[] = {"Observation:", "\n\n\n", "停止"};
    check_all_splits(stops, 3, "The answer is 4.\nObservation: done", "The answer is 4.\n", 1);
    check_all_splits(stops, 3, "a\n\nb\n\n\nc", "a\n\nb", 1);
    check_all_splits(stops, 3, "Observe: no stop here", "Observe: no stop here", 0);
    check_all_splits(stops, 3, "请停止吧", "请", 1);
    check_all_splits(stops, 3, "ends with Observ", "ends with Observ", 0);
    check_all_splits(stops, 0, "no stops at all", "no stops at all", 0);
}

/* Held text never exceeds the longest stop string minus one byte. */
static void test_bounded_hold(void **state)
{
    const char *stops[] = {"abcd"};
    struct app_stop st;
    app_stop_init(&st, stops, 1);
    struct tok_buf out = {0};
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(app_stop_feed(&st, "abc", 3, &out), 0);
        assert_true(st.held.len <= 3);
    }
    assert_int_equal(app_stop_feed(&st, "d", 1, &out), 1);
    assert_int_equal(out.len, 2997);
    tok_buf_done(&out);
    app_stop_done(&st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_bounded_hold),
    };
    return cmocka_run_group_tests_name("stop strings", tests, NULL, NULL);
}
