/* Tokenizer tests: the tiktoken vectors (shared/fixtures/tokenizer), the whole-piece rule,
 * both merge strategies against each other, round trips, the streaming decoder at every split
 * point, the same ids from tokenizer.model and from a GGUF-style token list, and bad input. */
#include "test_util.h"
#include "tokenizer/tok_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void tok_bpe_set_threshold(size_t n);

static struct tok_vocab *g_vocab;

static struct tok_vocab *vocab(void)
{
    if (!g_vocab) {
        char *why = NULL;
        g_vocab = tok_vocab_load(tu_shared("data/glm4/tokenizer.model"), &why);
        if (!g_vocab) fail_msg("load: %s", why);
    }
    return g_vocab;
}

/* Minimal reader for the vectors file: {"text": "...", "ids": [..]} per line. The texts use
 * JSON escapes, so decode them here (test-only; the library has its own JSON reader). */
static size_t json_string(const char *p, struct tok_buf *out)
{
    const char *s = p;
    assert_int_equal(*p, '"');
    p++;
    while (*p != '"') {
        if (*p == '\\') {
            p++;
            char c = *p++;
            switch (c) {
            case 'n': tok_buf_append(out, "\n", 1); break;
            case 'r': tok_buf_append(out, "\r", 1); break;
            case 't': tok_buf_append(out, "\t", 1); break;
            case 'b': tok_buf_append(out, "\b", 1); break;
            case 'f': tok_buf_append(out, "\f", 1); break;
            case 'u': {
                unsigned cp = 0;
                sscanf(p, "%4x", &cp);
                p += 4;
                if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                    unsigned lo = 0;
                    sscanf(p + 2, "%4x", &lo);
                    p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                char u[4];
                size_t n;
                if (cp < 0x80)
                    u[0] = (char)cp, n = 1;
                else if (cp < 0x800)
                    u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 63)), n = 2;
                else if (cp < 0x10000)
                    u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | ((cp >> 6) & 63)),
                    u[2] = (char)(0x80 | (cp & 63)), n = 3;
                else
                    u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | ((cp >> 12) & 63)),
                    u[2] = (char)(0x80 | ((cp >> 6) & 63)), u[3] = (char)(0x80 | (cp & 63)), n = 4;
                tok_buf_append(out, u, n);
                break;
            }
            default: tok_buf_append(out, &c, 1);
            }
        } else {
            tok_buf_append(out, p++, 1);
        }
    }
    return (size_t)(p + 1 - s);
}

struct vector {
    struct tok_buf text;
    struct tok_ids ids;
};

static struct vector *load_vectors(size_t *count)
{
    size_t len, n;
    char *buf = tu_read_file(tu_shared("fixtures/tokenizer/glm4-vectors.jsonl"), &len);
    char **lines = tu_split_lines(buf, &n);
    struct vector *vec = calloc(n, sizeof *vec);
    for (size_t i = 0; i < n; i++) {
        const char *t = strstr(lines[i], "\"text\":");
        assert_non_null(t);
        t += 7;
        while (*t == ' ')
            t++;
        json_string(t, &vec[i].text);
        if (!vec[i].text.s) tok_buf_append(&vec[i].text, "", 0);
        const char *a = strstr(lines[i], "\"ids\":");
        assert_non_null(a);
        a = strchr(a, '[') + 1;
        while (*a && *a != ']') {
            char *end;
            long id = strtol(a, &end, 10);
            if (end == a) {
                a++;
                continue;
            }
            tok_ids_push(&vec[i].ids, (int32_t)id);
            a = end;
        }
    }
    free(lines);
    free(buf);
    *count = n;
    return vec;
}

static void free_vectors(struct vector *vec, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tok_buf_done(&vec[i].text);
        tok_ids_done(&vec[i].ids);
    }
    free(vec);
}

static void check_ids(const char *label, size_t i, const struct tok_ids *want,
                      const struct tok_ids *got)
{
    size_t k = 0;
    while (k < want->n && k < got->n && want->v[k] == got->v[k])
        k++;
    if (k != want->n || k != got->n)
        fail_msg("%s vector %zu: ids differ at index %zu (want %d, got %d; lengths %zu/%zu)", label,
                 i, k, k < want->n ? want->v[k] : -1, k < got->n ? got->v[k] : -1, want->n, got->n);
}

static void encode_vectors(const struct tok_vocab *v, const char *label)
{
    size_t n;
    struct vector *vec = load_vectors(&n);
    assert_true(n >= 300);
    for (size_t i = 0; i < n; i++) {
        struct tok_ids got = {0};
        char *why = NULL;
        int rc = tok_encode(v, vec[i].text.s, vec[i].text.len, &got, &why);
        if (rc) fail_msg("%s vector %zu: %s", label, i, why);
        check_ids(label, i, &vec[i].ids, &got);
        tok_ids_done(&got);
    }
    free_vectors(vec, n);
}

static void test_vectors_tiktoken(void **state)
{
    encode_vectors(vocab(), "tokenizer.model");
}

/* The heap merge must agree with the scan merge: run every vector with the heap forced. */
static void test_vectors_heap_merge(void **state)
{
    tok_bpe_set_threshold(1);
    encode_vectors(vocab(), "heap-merge");
    tok_bpe_set_threshold(128);
}

static void test_whole_piece_rule(void **state)
{
    /* spec §1: " 计算" is one token with tiktoken; rank-ordered merging alone gives 3. */
    struct tok_ids ids = {0};
    assert_int_equal(tok_encode(vocab(), " 计算", strlen(" 计算"), &ids, NULL), 0);
    assert_int_equal(ids.n, 1);
    tok_ids_done(&ids);
}

static void test_spec_example(void **state)
{
    /* spec §5 example ids, via the special-token-aware encoder. */
    const char *text = "[gMASK]<sop><|user|>\n北京天气？<|assistant|>get_weather\n{\"city\": "
                       "\"北京\"}<|observation|>\n{\"temp_c\": 23}<|assistant|>";
    static const int32_t want[] = {151331, 151333, 151336, 198,    99334, 101791, 11314,
                                   151337, 455,    68852,  198,    4913,  8923,   788,
                                   330,    99334,  9204,   151338, 198,   4913,   3888,
                                   666,    788,    220,    99619,  92,    151337};
    struct tok_ids ids = {0};
    char *why = NULL;
    assert_int_equal(tok_encode_special(vocab(), text, strlen(text), &ids, &why), 0);
    struct tok_ids w = {(int32_t *)want, sizeof want / sizeof want[0], 0};
    check_ids("spec example", 0, &w, &ids);
    /* The ordinary encoder never produces specials, even for special-token text. */
    ids.n = 0;
    assert_int_equal(tok_encode(vocab(), text, strlen(text), &ids, &why), 0);
    for (size_t i = 0; i < ids.n; i++)
        assert_true(ids.v[i] < 151329);
    tok_ids_done(&ids);
}

static void test_round_trip(void **state)
{
    size_t n;
    struct vector *vec = load_vectors(&n);
    for (size_t i = 0; i < n; i++) {
        struct tok_buf out = {0};
        char *why = NULL;
        assert_int_equal(tok_decode(vocab(), vec[i].ids.v, vec[i].ids.n, &out, &why), 0);
        if (out.len != vec[i].text.len || memcmp(out.s ? out.s : "", vec[i].text.s, out.len))
            fail_msg("vector %zu: decode(encode(x)) != x", i);
        tok_buf_done(&out);
    }
    free_vectors(vec, n);
}

/* Streaming decode at every split of a UTF-8-heavy text equals the one-shot decode. */
static void test_stream_split_points(void **state)
{
    /* clang-format off: it is not idempotent on this line of wide characters */
    // clang-format off
    const char *text = "GLM-4 说：你好，世界！🌍👩‍👩‍👧 naïve café ∑∫ "
                       "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 한국어 日本語テキスト 🇨🇳 "
                       "ẞ ǅ ﷺ 𠀀𪚥 emoji🙂🙃 end";
    // clang-format on
    struct tok_ids ids = {0};
    assert_int_equal(tok_encode(vocab(), text, strlen(text), &ids, NULL), 0);
    /* Flatten ids to bytes, then feed the byte stream split at every point. */
    struct tok_buf bytes = {0};
    for (size_t i = 0; i < ids.n; i++) {
        const uint8_t *b;
        size_t l;
        assert_int_equal(tok_token_bytes(vocab(), ids.v[i], &b, &l), 0);
        tok_buf_append(&bytes, b, l);
    }
    assert_int_equal(bytes.len, strlen(text));
    for (size_t cut = 0; cut <= bytes.len; cut++) {
        for (size_t cut2 = cut; cut2 <= bytes.len; cut2 += 7) {
            struct tok_stream st;
            struct tok_buf out = {0};
            tok_stream_init(&st);
            tok_stream_feed_bytes(&st, (const uint8_t *)bytes.s, cut, &out);
            tok_stream_feed_bytes(&st, (const uint8_t *)bytes.s + cut, cut2 - cut, &out);
            tok_stream_feed_bytes(&st, (const uint8_t *)bytes.s + cut2, bytes.len - cut2, &out);
            tok_stream_flush(&st, &out);
            assert_int_equal(out.len, bytes.len);
            assert_memory_equal(out.s, text, out.len);
            tok_buf_done(&out);
        }
    }
    /* Token by token: every prefix of output is valid UTF-8 and a prefix of the text. */
    struct tok_stream st;
    struct tok_buf out = {0};
    tok_stream_init(&st);
    for (size_t i = 0; i < ids.n; i++) {
        assert_int_equal(tok_stream_feed(&st, vocab(), ids.v[i], &out), 0);
        assert_int_equal(tok_utf8_valid_prefix((const uint8_t *)out.s, out.len), out.len);
        assert_memory_equal(out.s, text, out.len);
    }
    tok_stream_flush(&st, &out);
    assert_int_equal(out.len, strlen(text));
    tok_buf_done(&out);
    tok_buf_done(&bytes);
    tok_ids_done(&ids);
}

/* Invalid bytes: the stream output is split-independent and matches Python's
 * bytes.decode("utf-8", "replace") on these cases. */
static void test_stream_invalid(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"a\xff"
         "b",
         3,
         "a\xEF\xBF\xBD"
         "b"},
        {"\xe4\xbd", 2, "\xEF\xBF\xBD"}, /* truncated 你 at the end */
        {"\xe4\xbd"
         "a",
         3,
         "\xEF\xBF\xBD"
         "a"}, /* broken by an ASCII byte */
        {"\xe4\xbd\xe4\xbd\xa0", 5, "\xEF\xBF\xBD\xe4\xbd\xa0"},
        {"\xed\xa0\x80", 3, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* surrogate */
        {"\xc0\xaf", 2, "\xEF\xBF\xBD\xEF\xBF\xBD"},                 /* overlong */
        {"\xf4\x90\x80\x80", 4, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xf0\x9f\x98", 3, "\xEF\xBF\xBD"},
        {"\xf0\x9f\x98"
         "\xf0\x9f\x98\x80",
         7, "\xEF\xBF\xBD\xf0\x9f\x98\x80"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t cut = 0; cut <= cases[c].len; cut++) {
            struct tok_stream st;
            struct tok_buf out = {0};
            tok_stream_init(&st);
            tok_stream_feed_bytes(&st, (const uint8_t *)cases[c].in, cut, &out);
            tok_stream_feed_bytes(&st, (const uint8_t *)cases[c].in + cut, cases[c].len - cut,
                                  &out);
            tok_stream_flush(&st, &out);
            if (out.len != strlen(cases[c].want) || memcmp(out.s, cases[c].want, out.len))
                fail_msg("case %zu cut %zu: wrong replacement", c, cut);
            tok_buf_done(&out);
        }
    }
}

static void test_specials(void **state)
{
    struct tok_vocab *v = vocab();
    assert_int_equal(tok_special_id(v, "<|user|>"), 151336);
    assert_int_equal(tok_special_id(v, "<|observation|>"), 151338);
    assert_int_equal(tok_special_id(v, "nope"), -1);
    assert_string_equal(tok_special_text(v, 151331), "[gMASK]");
    assert_null(tok_special_text(v, 100));
    assert_int_equal(tok_vocab_size(v), 151343);
    struct tok_buf out = {0};
    int32_t ids[] = {151337, 14978};
    assert_int_equal(tok_decode(v, ids, 2, &out, NULL), 0);
    assert_string_equal(out.s, "<|assistant|>hello");
    int32_t bad = 999999;
    char *why = NULL;
    assert_int_equal(tok_decode(v, &bad, 1, &out, &why), TOK_ERR_RANGE);
    assert_non_null(strstr(why, "999999"));
    free(why);
    tok_buf_done(&out);
}

static void test_invalid_utf8_input(void **state)
{
    struct tok_ids ids = {0};
    char *why = NULL;
    assert_int_equal(tok_encode(vocab(), "ab\xff", 3, &ids, &why), TOK_ERR_INPUT);
    assert_non_null(strstr(why, "invalid UTF-8 at byte 2"));
    assert_null(strchr(why, '\n'));
    free(why);
    why = NULL;
    assert_int_equal(tok_encode(vocab(), "\xed\xa0\x80", 3, &ids, &why), TOK_ERR_INPUT);
    free(why);
    assert_int_equal(ids.n, 0);
}

/* Long pieces (heap path) and a large text encode and round-trip. */
static void test_long_pieces(void **state)
{
    size_t n = 200000;
    char *spaces = malloc(n + 2);
    memset(spaces, ' ', n);
    spaces[n] = 'x';
    spaces[n + 1] = 0;
    struct tok_ids ids = {0};
    assert_int_equal(tok_encode(vocab(), spaces, n + 1, &ids, NULL), 0);
    struct tok_buf out = {0};
    assert_int_equal(tok_decode(vocab(), ids.v, ids.n, &out, NULL), 0);
    assert_int_equal(out.len, n + 1);
    assert_memory_equal(out.s, spaces, n + 1);
    /* Scan and heap agree on a long letter run. */
    char *word = malloc(3001);
    uint64_t seed = 42;
    for (int i = 0; i < 3000; i++)
        word[i] = (char)('a' + tu_rand(&seed) % 26);
    struct tok_ids a = {0}, b = {0};
    tok_bpe_set_threshold(1 << 30);
    assert_int_equal(tok_encode(vocab(), word, 3000, &a, NULL), 0);
    tok_bpe_set_threshold(1);
    assert_int_equal(tok_encode(vocab(), word, 3000, &b, NULL), 0);
    tok_bpe_set_threshold(128);
    check_ids("long word", 0, &a, &b);
    tok_ids_done(&a);
    tok_ids_done(&b);
    free(word);
    tok_buf_done(&out);
    tok_ids_done(&ids);
    free(spaces);
}

/* ---- bad ranks files ---------------------------------------------------------------------- */

static char *expect_load_error(const char *content, size_t len)
{
    const char *path = tu_write_temp(0, content, len);
    char *why = NULL;
    struct tok_vocab *v = tok_vocab_load(path, &why);
    assert_null(v);
    assert_non_null(why);
    assert_null(strchr(why, '\n'));
    assert_non_null(strstr(why, path));
    return why;
}

static void test_bad_ranks_files(void **state)
{
    /* A valid 256-byte base, then one broken line each. */
    struct tok_buf base = {0};
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (int i = 0; i < 256; i++) {
        char line[32];
        snprintf(line, sizeof line, "%c%c== %d\n", b64[i >> 2], b64[(i & 3) << 4], i);
        tok_buf_puts(&base, line);
    }
    char *why;
    struct tok_buf f = {0};

    tok_buf_append(&f, base.s, base.len);
    tok_buf_puts(&f, "YWI*ZA== 256\n");
    why = expect_load_error(f.s, f.len);
    assert_non_null(strstr(why, "invalid base64"));
    assert_non_null(strstr(why, "line 257"));
    free(why);

    f.len = 0;
    tok_buf_append(&f, base.s, base.len);
    tok_buf_puts(&f, "YWI= 255\n"); /* "ab" with a rank already used */
    why = expect_load_error(f.s, f.len);
    assert_non_null(strstr(why, "duplicate rank 255"));
    free(why);

    f.len = 0;
    tok_buf_append(&f, base.s, base.len);
    tok_buf_puts(&f, "YWI= 300\n"); /* gap in ranks: wrong count */
    why = expect_load_error(f.s, f.len);
    assert_non_null(strstr(why, "wrong token count"));
    free(why);

    f.len = 0;
    tok_buf_append(&f, base.s, base.len);
    tok_buf_puts(&f, "QQ== 256\n"); /* "A" again under another rank */
    why = expect_load_error(f.s, f.len);
    assert_non_null(strstr(why, "repeats"));
    free(why);

    f.len = 0;
    const char *second = strchr(base.s, '\n') + 1; /* drop byte 0's line: ranks start at 1 */
    tok_buf_append(&f, second, base.len - (size_t)(second - base.s));
    why = expect_load_error(f.s, f.len);
    free(why);

    why = expect_load_error("", 0);
    assert_non_null(strstr(why, "no tokens"));
    free(why);

    why = expect_load_error("QQ==\n", 5);
    free(why);
    why = expect_load_error("QQ== 12x\n", 9);
    assert_non_null(strstr(why, "invalid rank"));
    free(why);
    why = expect_load_error("\x89PNG\r\n\x1a\n\0\0\0\0", 12);
    free(why);

    char *w2 = NULL;
    assert_null(tok_vocab_load("/nonexistent/tokenizer.model", &w2));
    assert_non_null(strstr(w2, "/nonexistent/tokenizer.model"));
    free(w2);

    /* The good base loads, and encodes "A" to rank 65. */
    const char *path = tu_write_temp(1, base.s, base.len);
    w2 = NULL;
    struct tok_vocab *v = tok_vocab_load(path, &w2);
    if (!v) fail_msg("%s", w2);
    struct tok_ids ids = {0};
    assert_int_equal(tok_encode(v, "A", 1, &ids, NULL), 0);
    assert_int_equal(ids.v[0], 65);
    tok_ids_done(&ids);
    tok_vocab_free(v);
    tok_buf_done(&f);
    tok_buf_done(&base);
}

/* Appends `s` as a JSON string literal. */
static void json_quote(struct tok_buf *b, const char *s, size_t n)
{
    tok_buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            tok_buf_append(b, e, 2);
        } else if (c < 0x20) {
            char e[8];
            snprintf(e, sizeof e, "\\u%04x", c);
            tok_buf_puts(b, e);
        } else {
            tok_buf_append(b, &s[i], 1);
        }
    }
    tok_buf_append(b, "\"", 1);
}

/* GPT-2 byte-level strings of every id of the tiktoken vocabulary (specials as text). */
static char **gpt2_strings(struct tok_vocab *v, size_t **lens_out, int32_t **types_out)
{
    int32_t n = tok_vocab_size(v);
    char **tokens = calloc((size_t)n, sizeof *tokens);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    int32_t *types = calloc((size_t)n, sizeof *types);
    uint32_t map[256];
    int k = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174);
        map[b] = printable ? (uint32_t)b : (uint32_t)(256 + k++);
    }
    for (int32_t id = 0; id < n; id++) {
        const uint8_t *b;
        size_t l;
        struct tok_buf s = {0};
        if (tok_token_bytes(v, id, &b, &l) == 0) {
            for (size_t i = 0; i < l; i++) {
                uint32_t cp = map[b[i]];
                if (cp < 0x80) {
                    char c = (char)cp;
                    tok_buf_append(&s, &c, 1);
                } else {
                    char u[2] = {(char)(0xC0 | cp >> 6), (char)(0x80 | (cp & 63))};
                    tok_buf_append(&s, u, 2);
                }
            }
            types[id] = 1;
        } else {
            tok_buf_puts(&s, tok_special_text(v, id));
            types[id] = 3;
        }
        tokens[id] = s.s;
        lens[id] = s.len;
    }
    *lens_out = lens;
    *types_out = types;
    return tokens;
}

/* The GGUF-style token list (GPT-2 byte-level strings) built from tokenizer.model gives the
 * same ids; the real GGUF fixture is checked by the app tests through the engine reader. */
static void test_gpt2_strings_same_ids(void **state)
{
    struct tok_vocab *v = vocab();
    int32_t n = tok_vocab_size(v);
    size_t *lens;
    int32_t *types;
    char **tokens = gpt2_strings(v, &lens, &types);
    char *why = NULL;
    struct tok_vocab *g =
        tok_vocab_from_gguf((const char *const *)tokens, lens, types, (size_t)n, "list", &why);
    if (!g) fail_msg("%s", why);
    assert_int_equal(tok_special_id(g, "<|user|>"), 151336);
    encode_vectors(g, "gpt2-list");
    tok_vocab_free(g);
    /* A corrupt string (a code point outside the alphabet) is an error naming the token. */
    free(tokens[500]);
    tokens[500] = strdup("\xe4\xbd\xa0");
    lens[500] = 3;
    why = NULL;
    assert_null(
        tok_vocab_from_gguf((const char *const *)tokens, lens, types, (size_t)n, "list", &why));
    assert_non_null(strstr(why, "token 500"));
    free(why);
    for (int32_t id = 0; id < n; id++)
        free(tokens[id]);
    free(tokens);
    free(lens);
    free(types);
}

/* A Hugging Face tokenizer.json holding the same vocabulary loads to the same ids, from the
 * file and from a directory; malformed ones are one-line errors naming the file. */
static void test_tokenizer_json(void **state)
{
    struct tok_vocab *v = vocab();
    int32_t n = tok_vocab_size(v);
    size_t *lens;
    int32_t *types;
    char **tokens = gpt2_strings(v, &lens, &types);
    struct tok_buf j = {0};
    tok_buf_puts(&j, "{\"version\": \"1.0\", \"added_tokens\": [");
    int first = 1;
    for (int32_t id = 0; id < n; id++) {
        if (types[id] != 3) continue;
        char head[64];
        snprintf(head, sizeof head, "%s{\"id\": %d, \"content\": ", first ? "" : ", ", (int)id);
        tok_buf_puts(&j, head);
        json_quote(&j, tokens[id], lens[id]);
        tok_buf_puts(&j, ", \"special\": true}");
        first = 0;
    }
    tok_buf_puts(&j, "], \"model\": {\"type\": \"BPE\", \"vocab\": {");
    first = 1;
    for (int32_t id = 0; id < n; id++) {
        if (types[id] != 1) continue;
        if (!first) tok_buf_puts(&j, ", ");
        json_quote(&j, tokens[id], lens[id]);
        char tail[32];
        snprintf(tail, sizeof tail, ": %d", (int)id);
        tok_buf_puts(&j, tail);
        first = 0;
    }
    tok_buf_puts(&j, "}, \"merges\": [\"\\u0120 \\u0120\"]}}");

    char dir[] = "/tmp/glmterm-tokjson-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(j.s, 1, j.len, f);
    fclose(f);
    char *why = NULL;
    struct tok_vocab *hv = tok_vocab_load(path, &why);
    if (!hv) fail_msg("%s", why);
    assert_int_equal(tok_special_id(hv, "<|observation|>"), 151338);
    encode_vectors(hv, "tokenizer.json");
    tok_vocab_free(hv);
    hv = tok_vocab_load(dir, &why);
    if (!hv) fail_msg("%s", why);
    tok_vocab_free(hv);

    /* Broken files. */
    static const char *bad[] = {
        "{\"model\": {\"type\": \"BPE\"}}",
        "{\"model\": {\"type\": \"Unigram\", \"vocab\": {\"a\": 0}}}",
        "{\"model\": {\"vocab\": {\"a\": 0, \"b\": 0}}}",
        "{\"model\": {\"vocab\": {\"a\": -1}}}",
        "{\"model\": {\"vocab\": {\"a\": 0}}, \"added_tokens\": [{\"id\": \"x\"}]}",
        "{\"model\": {\"vocab\": {\"\\u4f60\": 0}}}",
        "{\"model\": ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fopen(path, "wb");
        fputs(bad[i], f);
        fclose(f);
        why = NULL;
        assert_null(tok_vocab_load(path, &why));
        if (!why || !strstr(why, path) || strchr(why, '\n')) fail_msg("bad %zu: %s", i, why);
        free(why);
    }
    remove(path);
    rmdir(dir);
    for (int32_t id = 0; id < n; id++)
        free(tokens[id]);
    free(tokens);
    free(lens);
    free(types);
    tok_buf_done(&j);
}

static int teardown(void **state)
{
    tok_vocab_free(g_vocab);
    g_vocab = NULL;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_tiktoken),   cmocka_unit_test(test_vectors_heap_merge),
        cmocka_unit_test(test_whole_piece_rule),   cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_round_trip),         cmocka_unit_test(test_stream_split_points),
        cmocka_unit_test(test_stream_invalid),     cmocka_unit_test(test_specials),
        cmocka_unit_test(test_invalid_utf8_input), cmocka_unit_test(test_long_pieces),
        cmocka_unit_test(test_bad_ranks_files),    cmocka_unit_test(test_gpt2_strings_same_ids),
        cmocka_unit_test(test_tokenizer_json),
    };
    return cmocka_run_group_tests_name("tokenizer", tests, NULL, teardown);
}
