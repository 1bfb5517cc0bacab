/* Tests of the tokenizer's JSON reader and its json.dumps(indent=4, ensure_ascii=False)
 * printer (tokenizer/tok_json.h). Every expected output below is what CPython 3.11 prints
 * for json.dumps(json.loads(input), ensure_ascii=False, indent=4) or str(json.loads(input));
 * the malformed inputs are rejected with the line:column given. */
#include "test_util.h"
#include "tokenizer/tok_json.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Parses `in` (must succeed) and returns the dump; caller frees. */
static char *dump_of(const char *in, size_t len)
{
    struct tok_json *j = NULL;
    char *why = NULL;
    int rc = tok_json_parse(in, len, &j, &why);
    if (rc != TOK_OK) fail_msg("parse %s: %s", in, why ? why : "?");
    struct tok_buf b = {0};
    assert_int_equal(tok_json_dump(j, &b, 1 << 20), TOK_OK);
    tok_json_free(j);
    return b.s;
}

static char *str_of(const char *in)
{
    struct tok_json *j = NULL;
    assert_int_equal(tok_json_parse(in, strlen(in), &j, NULL), TOK_OK);
    struct tok_buf b = {0};
    assert_int_equal(tok_json_str(j, &b), TOK_OK);
    tok_json_free(j);
    return b.s;
}

static void test_numbers(void **state)
{
    (void)state;
    static const struct {
        const char *in, *dumps, *str;
    } cases[] = {
        {"0", "0", "0"},
        {"-0", "0", "0"},
        {"1", "1", "1"},
        {"1.0", "1.0", "1.0"},
        {"1.5", "1.5", "1.5"},
        {"1e5", "100000.0", "100000.0"},
        {"1e16", "1e+16", "1e+16"},
        {"1e15", "1000000000000000.0", "1000000000000000.0"},
        {"1.5e-5", "1.5e-05", "1.5e-05"},
        {"0.1", "0.1", "0.1"},
        {"123456789012345678901234567890", "123456789012345678901234567890",
         "123456789012345678901234567890"},
        {"1e400", "Infinity", "inf"},
        {"-1e400", "-Infinity", "-inf"},
        {"-0.0", "-0.0", "-0.0"},
        {"0.0001", "0.0001", "0.0001"},
        {"0.00001", "1e-05", "1e-05"},
        {"1e-400", "0.0", "0.0"},
        {"5e-324", "5e-324", "5e-324"},
        {"1.7976931348623157e308", "1.7976931348623157e+308", "1.7976931348623157e+308"},
        {"9007199254740993", "9007199254740993", "9007199254740993"},
        {"1E+2", "100.0", "100.0"},
        {"2.5E-3", "0.0025", "0.0025"},
        {"0.30000000000000004", "0.30000000000000004", "0.30000000000000004"},
        {"1e22", "1e+22", "1e+22"},
        {"1e23", "1e+23", "1e+23"},
        {"-12.5e10", "-125000000000.0", "-125000000000.0"},
        {"100", "100", "100"},
        {"-17", "-17", "-17"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = dump_of(cases[i].in, strlen(cases[i].in));
        if (strcmp(d, cases[i].dumps) != 0)
            fail_msg("dumps(%s): got %s, want %s", cases[i].in, d, cases[i].dumps);
        free(d);
        char *s = str_of(cases[i].in);
        if (strcmp(s, cases[i].str) != 0)
            fail_msg("str(%s): got %s, want %s", cases[i].in, s, cases[i].str);
        free(s);
    }
}

/* Number formatting must not follow the application's LC_NUMERIC (a decimal comma). */
static void test_numbers_locale(void **state)
{
    (void)state;
    static const char *const locales[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8",
                                          "ru_RU.UTF-8"};
    const char *got = NULL;
    for (size_t i = 0; i < sizeof locales / sizeof locales[0] && !got; i++)
        got = setlocale(LC_NUMERIC, locales[i]);
    if (!got) skip();
    char *d = dump_of("[1.5, 2.5e-7, 1e400]", 20);
    setlocale(LC_NUMERIC, "C");
    assert_string_equal(d, "[\n    1.5,\n    2.5e-07,\n    Infinity\n]");
    free(d);
}

static void test_strings(void **state)
{
    (void)state;
    static const char in[] = "\"q\\\"uote \\\\ back \\n\\r\\t\\b\\f \\u0001 \\u001f \\u007f "
                             "中文 😀 \\ud83d\\ude00 \\u00e9 \\/ \\u4E2D\"";
    static const char want[] = "\"q\\\"uote \\\\ back \\n\\r\\t\\b\\f \\u0001 \\u001f \x7f "
                               "中文 😀 😀 é / 中\"";
    char *d = dump_of(in, strlen(in));
    assert_string_equal(d, want);
    free(d);

    /* \u0000 survives inside keys and values (lengths, not NUL terminators). */
    static const char nul[] = "{\"k\\u0000ey\": \"v\\u0000\"}";
    d = dump_of(nul, strlen(nul));
    assert_string_equal(d, "{\n    \"k\\u0000ey\": \"v\\u0000\"\n}");
    free(d);

    /* Empty strings and keys are NUL-terminated buffers too. */
    struct tok_json *e = NULL;
    assert_int_equal(tok_json_parse("{\"\": \"\"}", 8, &e, NULL), TOK_OK);
    assert_int_equal(e->n, 1);
    assert_non_null(e->keys[0].s);
    assert_int_equal(e->keys[0].len, 0);
    assert_int_equal(e->keys[0].s[0], 0);
    assert_int_equal(e->vals[0]->type, TOK_JSON_STRING);
    assert_int_equal(e->vals[0]->len, 0);
    assert_int_equal(e->vals[0]->s[0], 0);
    tok_json_free(e);

    /* Decoded form: surrogate pair -> 4-byte UTF-8. */
    struct tok_json *j = NULL;
    assert_int_equal(tok_json_parse("\"\\ud83d\\ude00\\u00e9\"", 20, &j, NULL), TOK_OK);
    assert_int_equal(j->type, TOK_JSON_STRING);
    assert_int_equal(j->len, 6);
    assert_memory_equal(j->s, "\xF0\x9F\x98\x80\xC3\xA9", 6);
    tok_json_free(j);
}

static void test_containers(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"[]", "[]"},
        {"{}", "{}"},
        {" [ [ ] , { } ] ", "[\n    [],\n    {}\n]"},
        {"{\"b\": 1, \"a\": [1, 2.0, {\"c\": null, \"d\": true, \"e\": false}], \"f\": {}, "
         "\"g\": [], \"h\": [[]], \"i\": [{}]}",
         "{\n    \"b\": 1,\n    \"a\": [\n        1,\n        2.0,\n        {\n            "
         "\"c\": null,\n            \"d\": true,\n            \"e\": false\n        }\n    ],\n"
         "    \"f\": {},\n    \"g\": [],\n    \"h\": [\n        []\n    ],\n    \"i\": [\n"
         "        {}\n    ]\n}"},
        /* Duplicate keys: last value, first position (Python dict). */
        {"{\"a\":1,\"b\":2,\"a\":3}", "{\n    \"a\": 3,\n    \"b\": 2\n}"},
        {"{\"x\": {\"a\": 1}, \"y\": 2, \"x\": [3], \"z\": 0, \"y\": \"last\"}",
         "{\n    \"x\": [\n        3\n    ],\n    \"y\": \"last\",\n    \"z\": 0\n}"},
        {"\t\r\n true \n", "true"},
        {"null", "null"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *d = dump_of(cases[i].in, strlen(cases[i].in));
        if (strcmp(d, cases[i].want) != 0)
            fail_msg("dumps(%s):\n%s\nwant:\n%s", cases[i].in, d, cases[i].want);
        free(d);
    }

    struct tok_json *j = NULL;
    const char *in = "{\"a\": 1, \"b\": {\"c\": \"x\"}, \"a\": 2}";
    assert_int_equal(tok_json_parse(in, strlen(in), &j, NULL), TOK_OK);
    assert_int_equal(j->n, 2);
    assert_string_equal(tok_json_get(j, "a")->s, "2");
    assert_string_equal(tok_json_get(tok_json_get(j, "b"), "c")->s, "x");
    assert_null(tok_json_get(j, "c"));
    assert_null(tok_json_get(tok_json_get(j, "a"), "x"));
    tok_json_free(j);
}

static void test_truthy(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool want;
    } cases[] = {
        {"null", false}, {"false", false},   {"true", true},  {"0", false},      {"-0", false},
        {"0.0", false},  {"-0.0", false},    {"0e10", false}, {"1e-400", false}, {"1", true},
        {"0.5", true},   {"\"\"", false},    {"\"0\"", true}, {"[]", false},     {"[0]", true},
        {"{}", false},   {"{\"\":0}", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tok_json *j = NULL;
        assert_int_equal(tok_json_parse(cases[i].in, strlen(cases[i].in), &j, NULL), TOK_OK);
        if (tok_json_truthy(j) != cases[i].want) fail_msg("bool(%s) wrong", cases[i].in);
        tok_json_free(j);
    }
    assert_false(tok_json_truthy(NULL));
}

static void test_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;      /* 0: strlen */
        const char *why; /* the message starts with this */
    } cases[] = {
        {"[1, 2,]", 0, "line 1:7: trailing comma"},
        {"{\"a\": 1,}", 0, "line 1:9: trailing comma"},
        {"{\"a\": 1,\n  \"b\": 2,\n}", 0, "line 3:1: trailing comma"},
        {"\"a\\x\"", 0, "line 1:3: invalid escape"},
        {"\"\\u12G4\"", 0, "line 1:2: invalid \\u escape"},
        {"\"\\ud800\"", 0, "line 1:2: lone high surrogate"},
        {"\"\\ud800\\u0041\"", 0, "line 1:2: lone high surrogate"},
        {"\"\\udc00\"", 0, "line 1:2: lone low surrogate"},
        {"[\"é\xff\"]", 0, "line 1:4: invalid UTF-8"},
        {"\"\xc0\xaf\"", 0, "line 1:2: invalid UTF-8"},
        {"\"\xed\xa0\x80\"", 0, "line 1:2: invalid UTF-8"},
        {"[\"abc", 0, "line 1:2: unterminated string"},
        {"\"abc\\", 0, "line 1:1: unterminated string"},
        {"\"a\nb\"", 0, "line 1:3: raw control character"},
        {"[1] x", 0, "line 1:5: unexpected 'x' after the JSON value"},
        {"{} {}", 0, "line 1:4: unexpected '{' after"},
        {"01", 0, "line 1:1: number with a leading zero"},
        {"-01", 0, "line 1:1: number with a leading zero"},
        {"1.", 0, "line 1:3: expected a digit after the decimal point"},
        {".5", 0, "line 1:1: unexpected '.'"},
        {"1e+", 0, "line 1:4: expected a digit in the exponent"},
        {"-", 0, "line 1:1: invalid number"},
        {"NaN", 0, "line 1:1: unexpected 'N'"},
        {"[Infinity]", 0, "line 1:2: unexpected 'I'"},
        {"[-Infinity]", 0, "line 1:2: invalid number"},
        {"tru", 0, "line 1:1: unexpected 't'"},
        {"", 0, "line 1:1: unexpected end of input"},
        {"   ", 0, "line 1:4: unexpected end of input"},
        {"[1 2]", 0, "line 1:4: expected ',' or ']'"},
        {"{\"a\" 1}", 0, "line 1:6: expected ':'"},
        {"{1: 2}", 0, "line 1:2: expected a string key"},
        {"{\"a\": 1 \"b\": 2}", 0, "line 1:9: expected ',' or '}'"},
        {"[1, 2", 0, "line 1:6: expected ',' or ']'"},
        {"// c\n1", 0, "line 1:1: unexpected '/'"},
        {"\xef\xbb\xbf{}", 0, "line 1:1: unexpected U+FEFF"},
        {"[\"a\", \"b\"\0]", 11, "line 1:10: expected ',' or ']' in an array, found U+0000"},
        {"  中文", 0, "line 1:3: unexpected U+4E2D"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tok_json *j = NULL;
        char *why = NULL;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        int rc = tok_json_parse(cases[i].in, len, &j, &why);
        if (rc != TOK_ERR_FORMAT) fail_msg("case %zu (%s): rc %d, want FORMAT", i, cases[i].in, rc);
        assert_null(j);
        assert_non_null(why);
        if (strncmp(why, cases[i].why, strlen(cases[i].why)) != 0)
            fail_msg("case %zu (%s): why \"%s\", want \"%s...\"", i, cases[i].in, why,
                     cases[i].why);
        assert_null(strchr(why, '\n'));
        free(why);
        /* Without a why pointer the result is the same. */
        assert_int_equal(tok_json_parse(cases[i].in, len, &j, NULL), TOK_ERR_FORMAT);
    }
}

static char *nested(int depth, bool obj)
{
    char *s = malloc((size_t)depth * 8 + 8);
    assert_non_null(s);
    size_t k = 0;
    for (int i = 0; i < depth; i++) {
        if (obj)
            k += (size_t)sprintf(s + k, "{\"a\":");
        else
            s[k++] = '[';
    }
    s[k++] = '1';
    for (int i = 0; i < depth; i++)
        s[k++] = obj ? '}' : ']';
    s[k] = 0;
    return s;
}

static void test_depth(void **state)
{
    (void)state;
    for (int obj = 0; obj < 2; obj++) {
        char *ok = nested(TOK_JSON_MAX_DEPTH, obj);
        struct tok_json *j = NULL;
        assert_int_equal(tok_json_parse(ok, strlen(ok), &j, NULL), TOK_OK);
        struct tok_buf b = {0};
        assert_int_equal(tok_json_dump(j, &b, SIZE_MAX), TOK_OK);
        tok_buf_done(&b);
        tok_json_free(j);
        free(ok);

        char *deep = nested(TOK_JSON_MAX_DEPTH + 1, obj);
        char *why = NULL;
        assert_int_equal(tok_json_parse(deep, strlen(deep), &j, &why), TOK_ERR_FORMAT);
        assert_non_null(strstr(why, "nesting deeper than 256"));
        free(why);
        free(deep);
    }
}

static void test_caps(void **state)
{
    (void)state;
    /* The dump cap: indentation can blow small input up. */
    struct tok_json *j = NULL;
    const char *in = "[[[[1,2,3,4,5,6,7,8,9]]]]";
    assert_int_equal(tok_json_parse(in, strlen(in), &j, NULL), TOK_OK);
    struct tok_buf b = {0};
    assert_int_equal(tok_json_dump(j, &b, 40), TOK_ERR_RANGE);
    tok_buf_done(&b);
    assert_int_equal(tok_json_dump(j, &b, 4096), TOK_OK);
    tok_buf_done(&b);
    tok_json_free(j);

    /* Python refuses integer literals longer than 4300 digits; so do we. */
    char *big = malloc(TOK_JSON_MAX_INT_DIGITS + 2);
    assert_non_null(big);
    memset(big, '7', TOK_JSON_MAX_INT_DIGITS + 1);
    big[TOK_JSON_MAX_INT_DIGITS + 1] = 0;
    char *why = NULL;
    assert_int_equal(tok_json_parse(big, TOK_JSON_MAX_INT_DIGITS + 1, &j, &why), TOK_ERR_FORMAT);
    assert_non_null(strstr(why, "4300"));
    free(why);
    assert_int_equal(tok_json_parse(big, TOK_JSON_MAX_INT_DIGITS, &j, NULL), TOK_OK);
    tok_json_free(j);
    free(big);

    /* Input size cap (the text is never read). */
    why = NULL;
    assert_int_equal(tok_json_parse("1", (size_t)TOK_JSON_MAX_INPUT + 1, &j, &why), TOK_ERR_RANGE);
    free(why);
}

/* Many keys with repeats: dedupe keeps the Python order and stays fast. */
static void test_many_keys(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct tok_buf in = {0};
    assert_int_equal(tok_buf_puts(&in, "{"), TOK_OK);
    char tmp[64];
    for (int i = 0; i < N; i++) {
        snprintf(tmp, sizeof tmp, "%s\"k%d\": %d", i ? ", " : "", i % (N / 2), i);
        assert_int_equal(tok_buf_puts(&in, tmp), TOK_OK);
    }
    assert_int_equal(tok_buf_puts(&in, "}"), TOK_OK);
    struct tok_json *j = NULL;
    assert_int_equal(tok_json_parse(in.s, in.len, &j, NULL), TOK_OK);
    assert_int_equal(j->n, N / 2);
    for (int i = 0; i < N / 2; i++) {
        snprintf(tmp, sizeof tmp, "k%d", i);
        assert_string_equal(j->keys[i].s, tmp);
        snprintf(tmp, sizeof tmp, "%d", i + N / 2);
        assert_string_equal(j->vals[i]->s, tmp);
    }
    tok_json_free(j);
    tok_buf_done(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numbers),   cmocka_unit_test(test_numbers_locale),
        cmocka_unit_test(test_strings),   cmocka_unit_test(test_containers),
        cmocka_unit_test(test_truthy),    cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_depth),     cmocka_unit_test(test_caps),
        cmocka_unit_test(test_many_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
