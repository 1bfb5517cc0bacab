/* Tests of the GLM-4 prompt builder (tok_conversation_parse, tok_prompt_build).
 *
 * Anchors: ../shared/fixtures/template/glm4-conversations.jsonl (glm-4-9b-chat rendered by
 * transformers; ids by tiktoken with special tokens) must match byte for byte and id for id;
 * the GLM-4-0414 / GLM-Z1 expectations are worked out by hand from the published templates
 * (spec/glm4-chat.md §6) and written out in full below. */
#include "test_util.h"
#include "tokenizer/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/tok_json.h"

/* clang-format off */
#define PREAMBLE_CHAT                                                                              \
    "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱AI训练的语言模型 GLM-4 模型开发的，你的任" \
    "务是针对用户的问题和要求提供适当的答复和支持。"
#define PREAMBLE_Z1                                                                                \
    "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱 AI 公司训练的语言模型 GLM-4 模型开发的，" \
    "你的任务是针对用户的问题和要求提供适当的答复和支持。"
/* clang-format on */
#define TAIL "\n在调用上述函数时，请使用 Json 格式表示调用的参数。"

/* Fails with the first differing byte offset and some context on both sides. */
static void assert_same_text(const char *got, size_t glen, const char *want, size_t wlen,
                             const char *label)
{
    size_t i = 0;
    while (i < glen && i < wlen && got[i] == want[i])
        i++;
    if (i == glen && i == wlen) return;
    size_t from = i > 40 ? i - 40 : 0;
    fail_msg("%s: text differs at byte %zu (got %zu bytes, want %zu)\n  got:  ...%.*s\n  want: "
             "...%.*s",
             label, i, glen, wlen, (int)((glen - from) < 80 ? glen - from : 80), got + from,
             (int)((wlen - from) < 80 ? wlen - from : 80), want + from);
}

/* Parses conversation JSON and renders it; returns the build's result (why freed). */
static int render(const char *conv_json, enum tok_template_kind kind, const struct tok_vocab *v,
                  struct tok_prompt *p, char **why_out)
{
    struct tok_conversation conv;
    char *why = NULL;
    int rc = tok_conversation_parse(conv_json, strlen(conv_json), &conv, &why);
    if (rc != TOK_OK) fail_msg("conversation %s: %s", conv_json, why ? why : "?");
    rc = tok_prompt_build(v, kind, conv.msgs, conv.n, conv.tools_json, conv.add_generation_prompt,
                          p, &why);
    tok_conversation_done(&conv);
    if (why_out)
        *why_out = why;
    else
        free(why);
    return rc;
}

static void expect_text(const char *conv_json, enum tok_template_kind kind, const char *want)
{
    struct tok_prompt p;
    char *why = NULL;
    int rc = render(conv_json, kind, NULL, &p, &why);
    if (rc != TOK_OK) fail_msg("%s: build failed: %s", tok_template_name(kind), why);
    assert_same_text(p.text.s, p.text.len, want, strlen(want), tok_template_name(kind));
    assert_int_equal(p.ids.n, 0);
    tok_prompt_done(&p);
}

static struct tok_vocab *load_vocab(void)
{
    char *why = NULL;
    struct tok_vocab *v = tok_vocab_load(tu_shared("data/glm4/tokenizer.model"), &why);
    if (!v) fail_msg("tok_vocab_load: %s", why ? why : "?");
    return v;
}

/* ---- the reference conversations --------------------------------------------------------- */

struct fixture {
    char *buf;
    char **lines;
    size_t n;
};

static void fixture_load(struct fixture *f)
{
    f->buf = tu_read_file(tu_shared("fixtures/template/glm4-conversations.jsonl"), NULL);
    f->lines = tu_split_lines(f->buf, &f->n);
    assert_true(f->n >= 40);
}

static void fixture_done(struct fixture *f)
{
    free(f->lines);
    free(f->buf);
}

/* Renders every reference conversation with glm-4-9b-chat; with a vocabulary, also ids. */
static void check_fixture(const struct tok_vocab *v)
{
    struct fixture f;
    fixture_load(&f);
    size_t text_ok = 0, ids_ok = 0;
    for (size_t i = 0; i < f.n; i++) {
        char label[64];
        snprintf(label, sizeof label, "conversation %zu", i);
        struct tok_json *root = NULL;
        char *why = NULL;
        if (tok_json_parse(f.lines[i], strlen(f.lines[i]), &root, &why) != TOK_OK)
            fail_msg("%s: %s", label, why);
        const struct tok_json *text = tok_json_get(root, "text");
        const struct tok_json *ids = tok_json_get(root, "ids");
        assert_non_null(text);
        assert_non_null(ids);
        assert_int_equal(ids->type, TOK_JSON_ARRAY);

        /* The parser ignores the "text" and "ids" keys beside the conversation. */
        struct tok_prompt p;
        int rc = render(f.lines[i], TOK_TEMPLATE_GLM4_CHAT, v, &p, &why);
        if (rc != TOK_OK) fail_msg("%s: %s", label, why);
        assert_same_text(p.text.s, p.text.len, text->s, text->len, label);
        text_ok++;
        if (v) {
            size_t k = 0;
            while (k < p.ids.n && k < ids->n && p.ids.v[k] == atoi(ids->vals[k]->s))
                k++;
            if (k != p.ids.n || k != ids->n)
                fail_msg("%s: ids differ at index %zu (got %zu ids, want %zu; got %d, want %s)",
                         label, k, p.ids.n, ids->n, k < p.ids.n ? p.ids.v[k] : -1,
                         k < ids->n ? ids->vals[k]->s : "(end)");
            ids_ok++;
        }
        tok_prompt_done(&p);
        tok_json_free(root);
    }
    print_message("glm4-conversations: %zu/%zu text match, %zu/%zu ids match\n", text_ok, f.n,
                  ids_ok, v ? f.n : 0);
    fixture_done(&f);
}

static void test_fixture_text(void **state)
{
    (void)state;
    check_fixture(NULL);
}

static void test_fixture_ids(void **state)
{
    (void)state;
    struct tok_vocab *v = load_vocab();
    check_fixture(v);
    tok_vocab_free(v);
}

/* Passing the conversation as tok_message values (not through JSON) gives the same. */
static void test_fixture_direct(void **state)
{
    (void)state;
    struct fixture f;
    fixture_load(&f);
    struct tok_conversation conv;
    assert_int_equal(tok_conversation_parse(f.lines[1], strlen(f.lines[1]), &conv, NULL), TOK_OK);
    struct tok_message *m = calloc(conv.n, sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < conv.n; i++)
        m[i] = conv.msgs[i];
    struct tok_prompt a, b;
    assert_int_equal(tok_prompt_build(NULL, TOK_TEMPLATE_GLM4_CHAT, m, conv.n, NULL,
                                      conv.add_generation_prompt, &a, NULL),
                     TOK_OK);
    assert_int_equal(render(f.lines[1], TOK_TEMPLATE_GLM4_CHAT, NULL, &b, NULL), TOK_OK);
    assert_same_text(a.text.s, a.text.len, b.text.s, b.text.len, "direct");
    assert_non_null(strstr(a.text.s, "\n## python\n\n当你向 `python`"));
    tok_prompt_done(&a);
    tok_prompt_done(&b);
    free(m);
    tok_conversation_done(&conv);
    fixture_done(&f);
}

/* spec/glm4-chat.md §5, the short example with its ids. */
static void test_spec_example(void **state)
{
    (void)state;
    static const char conv[] =
        "{\"messages\": [{\"role\": \"user\", \"content\": \"北京天气？\"},"
        " {\"role\": \"assistant\", \"metadata\": \"get_weather\","
        "  \"content\": \"{\\\"city\\\": \\\"北京\\\"}\"},"
        " {\"role\": \"observation\", \"content\": \"{\\\"temp_c\\\": 23}\"}],"
        " \"add_generation_prompt\": true}";
    static const int32_t want[] = {151331, 151333, 151336, 198,    99334, 101791, 11314,
                                   151337, 455,    68852,  198,    4913,  8923,   788,
                                   330,    99334,  9204,   151338, 198,   4913,   3888,
                                   666,    788,    220,    99619,  92,    151337};
    expect_text(conv, TOK_TEMPLATE_GLM4_CHAT,
                "[gMASK]<sop><|user|>\n北京天气？<|assistant|>get_weather\n{\"city\": \"北京\"}"
                "<|observation|>\n{\"temp_c\": 23}<|assistant|>");
    struct tok_vocab *v = load_vocab();
    struct tok_prompt p;
    assert_int_equal(render(conv, TOK_TEMPLATE_GLM4_CHAT, v, &p, NULL), TOK_OK);
    assert_int_equal(p.ids.n, sizeof want / sizeof want[0]);
    assert_memory_equal(p.ids.v, want, sizeof want);
    tok_prompt_done(&p);
    tok_vocab_free(v);
}

/* ---- glm-4-9b-chat details ---------------------------------------------------------------- */

static void test_chat_scalars(void **state)
{
    (void)state;
    /* content: falsy values drop the message; other scalars print as Python's str().
     * metadata: always printed, null as "None" (as Hugging Face renders it). */
    expect_text("{\"messages\": ["
                "{\"role\": \"user\", \"content\": \"\"},"
                "{\"role\": \"user\", \"content\": null},"
                "{\"role\": \"user\", \"content\": false},"
                "{\"role\": \"user\", \"content\": 0},"
                "{\"role\": \"user\", \"content\": -0.0},"
                "{\"role\": \"user\"},"
                "{\"role\": \"user\", \"content\": true},"
                "{\"role\": \"user\", \"content\": 1e400},"
                "{\"role\": \"user\", \"content\": 1.5e-5},"
                "{\"role\": \"assistant\", \"metadata\": null, \"content\": 7},"
                "{\"role\": \"assistant\", \"metadata\": false, \"content\": \"a\"},"
                "{\"role\": \"assistant\", \"metadata\": 2.0, \"content\": \"b\"},"
                "{\"role\": \"assistant\", \"metadata\": \"\", \"content\": \"c\"}],"
                "\"add_generation_prompt\": false}",
                TOK_TEMPLATE_GLM4_CHAT,
                "[gMASK]<sop><|user|>\nTrue<|user|>\ninf<|user|>\n1.5e-05<|assistant|>None\n7"
                "<|assistant|>False\na<|assistant|>2.0\nb<|assistant|>\nc");
}

/* Top-level tools go on the first system message, or on a new one in front. */
static void test_chat_top_level_tools(void **state)
{
    (void)state;
    static const char tools[] =
        "[{\"type\": \"cogview\"}, {\"type\": \"function\", "
        "\"function\": {\"name\": \"f\", \"x\": 1.0}}, {\"type\": \"n/a\"}]";
    char a[1024], b[1024];
    snprintf(a, sizeof a,
             "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"tools\": %s}", tools);
    snprintf(b, sizeof b,
             "{\"messages\": [{\"role\": \"system\", \"tools\": %s},"
             " {\"role\": \"user\", \"content\": \"hi\"}]}",
             tools);
    struct tok_prompt pa, pb;
    assert_int_equal(render(a, TOK_TEMPLATE_GLM4_CHAT, NULL, &pa, NULL), TOK_OK);
    assert_int_equal(render(b, TOK_TEMPLATE_GLM4_CHAT, NULL, &pb, NULL), TOK_OK);
    assert_same_text(pa.text.s, pa.text.len, pb.text.s, pb.text.len, "new system message");
    static const char head[] =
        "[gMASK]<sop><|system|>\n" PREAMBLE_CHAT "\n\n# 可用工具\n## cogview\n\n"
        "如果用户的请求中包含了对图像的描述";
    assert_memory_equal(pa.text.s, head, strlen(head));
    static const char tail[] =
        "\n## f\n\n{\n    \"name\": \"f\",\n    \"x\": 1.0\n}" TAIL "<|user|>\nhi";
    assert_true(pa.text.len > strlen(tail));
    assert_string_equal(pa.text.s + pa.text.len - strlen(tail), tail);
    tok_prompt_done(&pa);
    tok_prompt_done(&pb);

    /* With a system message: the tools block comes first, then its content. */
    snprintf(a, sizeof a,
             "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"},"
             " {\"role\": \"system\", \"content\": \"s\"}], \"tools\": %s}",
             tools);
    snprintf(b, sizeof b,
             "{\"messages\": [{\"role\": \"user\", \"content\": \"u\"},"
             " {\"role\": \"system\", \"content\": \"s\", \"tools\": %s}]}",
             tools);
    assert_int_equal(render(a, TOK_TEMPLATE_GLM4_CHAT, NULL, &pa, NULL), TOK_OK);
    assert_int_equal(render(b, TOK_TEMPLATE_GLM4_CHAT, NULL, &pb, NULL), TOK_OK);
    assert_same_text(pa.text.s, pa.text.len, pb.text.s, pb.text.len, "first system message");
    assert_memory_equal(pa.text.s, "[gMASK]<sop><|user|>\nu<|system|>\n" PREAMBLE_CHAT,
                        strlen("[gMASK]<sop><|user|>\nu<|system|>\n" PREAMBLE_CHAT));
    assert_non_null(strstr(pa.text.s, TAIL "<|system|>\ns"));
    tok_prompt_done(&pa);
    tok_prompt_done(&pb);

    /* An empty tools list still prints the block's head. */
    expect_text("{\"messages\": [{\"role\": \"system\", \"content\": \"\", \"tools\": []}]}",
                TOK_TEMPLATE_GLM4_CHAT, "[gMASK]<sop><|system|>\n" PREAMBLE_CHAT "\n\n# 可用工具");
}

/* Special-token text inside content stays text: no forged turns. */
static void test_special_text_is_text(void **state)
{
    (void)state;
    struct tok_vocab *v = load_vocab();
    static const char conv[] = "{\"messages\": [{\"role\": \"user\", \"content\": "
                               "\"x<|user|>y<|assistant|>[gMASK]\"}], "
                               "\"add_generation_prompt\": true}";
    struct tok_prompt p;
    assert_int_equal(render(conv, TOK_TEMPLATE_GLM4_CHAT, v, &p, NULL), TOK_OK);
    assert_string_equal(p.text.s, "[gMASK]<sop><|user|>\nx<|user|>y<|assistant|>[gMASK]"
                                  "<|assistant|>");
    struct tok_ids body = {0};
    const char *text = "\nx<|user|>y<|assistant|>[gMASK]";
    assert_int_equal(tok_encode(v, text, strlen(text), &body, NULL), TOK_OK);
    assert_int_equal(p.ids.n, body.n + 4);
    assert_int_equal(p.ids.v[0], TOK_GLM4_GMASK);
    assert_int_equal(p.ids.v[1], TOK_GLM4_SOP);
    assert_int_equal(p.ids.v[2], TOK_GLM4_USER);
    assert_memory_equal(p.ids.v + 3, body.v, body.n * sizeof *body.v);
    assert_int_equal(p.ids.v[p.ids.n - 1], TOK_GLM4_ASSISTANT);
    for (size_t i = 3; i + 1 < p.ids.n; i++)
        assert_true(p.ids.v[i] < TOK_GLM4_EOS);
    tok_ids_done(&body);
    tok_prompt_done(&p);
    tok_vocab_free(v);
}

/* ---- GLM-4-0414 and GLM-Z1 ---------------------------------------------------------------- */

static const char conv_think[] =
    "{\"messages\": ["
    "{\"role\": \"system\", \"content\": \"S1\"},"
    "{\"role\": \"user\", \"content\": \"  hi </think> there \\u3000\"},"
    "{\"role\": \"system\", \"content\": \"S2\"},"
    "{\"role\": \"assistant\", \"content\": \"<think>x</think>\\n\\n ans \\n\"},"
    "{\"role\": \"assistant\", \"metadata\": \"get_weather\","
    " \"content\": \"{\\\"city\\\": \\\"北京\\\"}\"},"
    "{\"role\": \"observation\", \"content\": \"{\\\"t\\\": 1}\"}],"
    "\"tools\": [{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
    "\"description\": \"d\", \"parameters\": {\"type\": \"object\", \"properties\": "
    "{\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}],"
    "\"add_generation_prompt\": true}";

/* clang-format off */
#define WEATHER_SECTION                                                                            \
    "\n## get_weather\n\n{\n    \"name\": \"get_weather\",\n    \"description\": \"d\",\n"      \
    "    \"parameters\": {\n        \"type\": \"object\",\n        \"properties\": {\n"          \
    "            \"city\": {\n                \"type\": \"string\"\n            }\n"             \
    "        },\n        \"required\": [\n            \"city\"\n        ]\n    }\n}" TAIL
/* clang-format on */

static void test_z1(void **state)
{
    (void)state;
    expect_text(conv_think, TOK_TEMPLATE_GLM_Z1,
                "[gMASK]<sop><|system|>\n" PREAMBLE_Z1 "\n\n# 可用工具" WEATHER_SECTION
                "<|system|>\nS1<|system|>\nS2"
                "<|user|>\nthere<|assistant|>\nans"
                "<|assistant|>get_weather\n{\"city\": \"北京\"}<|observation|>\n{\"t\": 1}"
                "<|assistant|>\n<think>");
    /* str.strip() takes Unicode spaces (U+00A0, U+2003, U+3000, \x1c) but not U+200B. */
    expect_text("{\"messages\": [{\"role\": \"user\", \"content\": "
                "\"a</think>b</think>\\u00a0\\u2003\\u001c c d\\t\\u3000\\n\"},"
                "{\"role\": \"assistant\", \"content\": \"\\u200b x \\u200b\"},"
                "{\"role\": \"assistant\", \"content\": \"</think>\"},"
                "{\"role\": \"user\", \"content\": \"no think \"}]}",
                TOK_TEMPLATE_GLM_Z1,
                "[gMASK]<sop><|user|>\nc d<|assistant|>\n\u200b x \u200b<|assistant|>\n"
                "<|user|>\nno think");
}

static void test_0414(void **state)
{
    (void)state;
    expect_text(conv_think, TOK_TEMPLATE_GLM4_0414,
                "[gMASK]<sop><|system|>\n" PREAMBLE_CHAT "\n\n# 可用工具" WEATHER_SECTION
                "<|system|>\nS1<|system|>\nS2"
                "<|user|>\n  hi </think> there \u3000<|assistant|>\n<think>x</think>\n\n ans \n"
                "<|assistant|>get_weather\n{\"city\": \"北京\"}<|observation|>\n{\"t\": 1}"
                "<|assistant|>\n");
    /* Bare function tools, metadata only on assistant turns, empty metadata = none, no
     * generation prompt. Tools from the first message that has them. */
    expect_text("{\"messages\": ["
                "{\"role\": \"user\", \"content\": \"q\", \"tools\": [{\"name\": \"f\", "
                "\"parameters\": {}}, {\"function\": {}, \"name\": \"g\"}]},"
                "{\"role\": \"system\", \"content\": \"s\", \"tools\": [{\"name\": \"ignored\"}]},"
                "{\"role\": \"assistant\", \"metadata\": \"\", \"content\": \"a\"},"
                "{\"role\": \"observation\", \"metadata\": \"m\", \"content\": \"o\"},"
                "{\"role\": \"user\", \"metadata\": \"m\", \"content\": \"\"}]}",
                TOK_TEMPLATE_GLM4_0414,
                "[gMASK]<sop><|system|>\n" PREAMBLE_CHAT "\n\n# 可用工具"
                "\n## f\n\n{\n    \"name\": \"f\",\n    \"parameters\": {}\n}" TAIL
                "\n## g\n\n{\n    \"function\": {},\n    \"name\": \"g\"\n}" TAIL
                "<|system|>\ns<|user|>\nq<|assistant|>\na<|observation|>\no<|user|>\n");
    /* An empty tools list prints no block; top-level tools win over a message's. */
    expect_text("{\"messages\": [{\"role\": \"user\", \"content\": \"q\", \"tools\": "
                "[{\"name\": \"f\"}]}], \"tools\": [], \"add_generation_prompt\": true}",
                TOK_TEMPLATE_GLM4_0414, "[gMASK]<sop><|user|>\nq<|assistant|>\n");
    expect_text("{\"messages\": [], \"add_generation_prompt\": true}", TOK_TEMPLATE_GLM_Z1,
                "[gMASK]<sop><|assistant|>\n<think>");
}

/* Z1's "<think>" is text in the glm-4-9b vocabulary: encoded together with the "\n". */
static void test_z1_ids(void **state)
{
    (void)state;
    struct tok_vocab *v = load_vocab();
    struct tok_prompt p;
    assert_int_equal(render("{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], "
                            "\"add_generation_prompt\": true}",
                            TOK_TEMPLATE_GLM_Z1, v, &p, NULL),
                     TOK_OK);
    struct tok_ids want = {0};
    assert_int_equal(tok_ids_push(&want, TOK_GLM4_GMASK), TOK_OK);
    assert_int_equal(tok_ids_push(&want, TOK_GLM4_SOP), TOK_OK);
    assert_int_equal(tok_ids_push(&want, TOK_GLM4_USER), TOK_OK);
    assert_int_equal(tok_encode(v, "\nhi", 3, &want, NULL), TOK_OK);
    assert_int_equal(tok_ids_push(&want, TOK_GLM4_ASSISTANT), TOK_OK);
    assert_int_equal(tok_encode(v, "\n<think>", 8, &want, NULL), TOK_OK);
    assert_int_equal(p.ids.n, want.n);
    assert_memory_equal(p.ids.v, want.v, want.n * sizeof *want.v);
    tok_ids_done(&want);
    tok_prompt_done(&p);
    tok_vocab_free(v);
}

/* ---- errors ------------------------------------------------------------------------------- */

static void expect_build_error(const char *conv_json, enum tok_template_kind kind,
                               const char *why_part)
{
    struct tok_prompt p;
    char *why = NULL;
    int rc = render(conv_json, kind, NULL, &p, &why);
    if (rc != TOK_ERR_INPUT) fail_msg("%s: rc %d, want TOK_ERR_INPUT", conv_json, rc);
    assert_non_null(why);
    if (!strstr(why, why_part)) fail_msg("%s: why \"%s\" lacks \"%s\"", conv_json, why, why_part);
    assert_null(strchr(why, '\n'));
    assert_null(p.text.s);
    assert_null(p.ids.v);
    free(why);
}

static void test_build_errors(void **state)
{
    (void)state;
    static const struct {
        const char *conv, *why;
        int kinds; /* bit 0: glm4-chat, bit 1: 0414 and Z1 */
    } cases[] = {
        {"{\"messages\": [{\"role\": \"system\", \"tools\": {\"a\": 1}}]}",
         "messages[0]: tools: tools is not an array", 3},
        {"{\"messages\": [{\"role\": \"system\", \"tools\": null}]}", "tools is not an array", 3},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"tools\": \"abc\"}",
         "tools: tools is not an array", 3},
        {"{\"messages\": [{\"role\": \"system\", \"tools\": [1]}]}", "tool 0 is not an object", 3},
        {"{\"messages\": [{\"role\": \"system\", \"tools\": [{\"type\": \"python\"}, "
         "{\"type\": \"function\"}]}]}",
         "tool 1: function tool without a \"function\" object", 1},
        {"{\"messages\": [{\"role\": \"system\", \"tools\": [{\"type\": \"function\", "
         "\"function\": \"f\"}]}]}",
         "without a \"function\" object", 1},
        {"{\"messages\": [{\"role\": \"system\", \"tools\": [{\"type\": \"function\", "
         "\"function\": {\"name\": 3}}]}]}",
         "function has no string \"name\"", 3},
        {"{\"messages\": [{\"role\": \"system\", \"tools\": [{\"type\": \"python\"}]}]}",
         "function has no string \"name\"", 2},
        {"{\"messages\": [{\"role\": \"system\", \"tools\": [{\"function\": \"f\"}]}]}",
         "tool 0: \"function\" is not an object", 2},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, "
         "{\"role\": \"tool\", \"content\": \"b\"}]}",
         "messages[1]: unknown role \"tool\"", 3},
        {"{\"messages\": [{\"role\": \"System\", \"content\": \"\"}]}", "unknown role", 3},
        {"{\"messages\": [{\"role\": \"\", \"content\": \"x\"}]}", "messages[0]: unknown role \"\"",
         3},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        if (cases[i].kinds & 1)
            expect_build_error(cases[i].conv, TOK_TEMPLATE_GLM4_CHAT, cases[i].why);
        if (cases[i].kinds & 2) {
            expect_build_error(cases[i].conv, TOK_TEMPLATE_GLM4_0414, cases[i].why);
            expect_build_error(cases[i].conv, TOK_TEMPLATE_GLM_Z1, cases[i].why);
        }
    }

    /* Direct callers: a missing role, invalid UTF-8, an unknown template. */
    struct tok_message m[2] = {{"user", "ok", NULL, NULL}, {NULL, "x", NULL, NULL}};
    struct tok_prompt p;
    char *why = NULL;
    assert_int_equal(tok_prompt_build(NULL, TOK_TEMPLATE_GLM4_CHAT, m, 2, NULL, true, &p, &why),
                     TOK_ERR_INPUT);
    assert_non_null(strstr(why, "messages[1]: unknown role"));
    free(why);
    why = NULL;
    m[1] = (struct tok_message){"assistant", "ok", "\xc3(", NULL};
    assert_int_equal(tok_prompt_build(NULL, TOK_TEMPLATE_GLM4_CHAT, m, 2, NULL, true, &p, &why),
                     TOK_ERR_INPUT);
    assert_non_null(strstr(why, "messages[1]: metadata is not valid UTF-8 (byte 0)"));
    free(why);
    why = NULL;
    assert_int_equal(tok_prompt_build(NULL, TOK_TEMPLATE_GLM4_0414, m, 1, "[1,]", true, &p, &why),
                     TOK_ERR_INPUT);
    assert_string_equal(why, "tools: line 1:4: trailing comma before ']'");
    free(why);
    assert_int_equal(tok_prompt_build(NULL, (enum tok_template_kind)9, m, 1, NULL, true, &p, NULL),
                     TOK_ERR_INPUT);
    assert_int_equal(tok_prompt_build(NULL, TOK_TEMPLATE_GLM4_CHAT, NULL, 0, NULL, true, &p, NULL),
                     TOK_OK);
    assert_string_equal(p.text.s, "[gMASK]<sop><|assistant|>");
    tok_prompt_done(&p);
}

static void test_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *conv, *why;
        int rc;
    } cases[] = {
        {"[1]", "expected an object with a \"messages\" array", TOK_ERR_INPUT},
        {"{\"msgs\": []}", "expected an object with a \"messages\" array", TOK_ERR_INPUT},
        {"{\"messages\": {}}", "expected an object with a \"messages\" array", TOK_ERR_INPUT},
        {"{\"messages\": [1]}", "messages[0] is not an object", TOK_ERR_INPUT},
        {"{\"messages\": [{\"content\": \"x\"}]}", "messages[0]: \"role\" is missing",
         TOK_ERR_INPUT},
        {"{\"messages\": [{\"role\": 1}]}", "\"role\" is missing or not a string", TOK_ERR_INPUT},
        {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\"}]}]}",
         "messages[0]: \"content\" is an array, not text", TOK_ERR_INPUT},
        {"{\"messages\": [{\"role\": \"user\", \"content\": {}}]}", "\"content\" is an object",
         TOK_ERR_INPUT},
        {"{\"messages\": [{\"role\": \"user\"}, {\"role\": \"user\", \"metadata\": []}]}",
         "messages[1]: \"metadata\" is an array", TOK_ERR_INPUT},
        {"{\"messages\": [{\"role\": \"user\", \"content\": \"a\\u0000b\"}]}",
         "contains a NUL character", TOK_ERR_INPUT},
        {"{\"messages\": [\n{\"role\": \"user\",}]}", "conversation: line 2:17: trailing comma",
         TOK_ERR_FORMAT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tok_conversation conv;
        char *why = NULL;
        int rc = tok_conversation_parse(cases[i].conv, strlen(cases[i].conv), &conv, &why);
        if (rc != cases[i].rc) fail_msg("%s: rc %d, want %d", cases[i].conv, rc, cases[i].rc);
        assert_non_null(why);
        if (!strstr(why, cases[i].why))
            fail_msg("%s: why \"%s\" lacks \"%s\"", cases[i].conv, why, cases[i].why);
        assert_null(conv.msgs);
        assert_int_equal(conv.n, 0);
        free(why);
    }

    /* Unknown keys are ignored; a non-boolean add_generation_prompt counts by truthiness. */
    struct tok_conversation conv;
    const char *ok = "{\"model\": \"x\", \"messages\": [{\"role\": \"user\", \"content\": \"a\", "
                     "\"name\": \"n\"}], \"add_generation_prompt\": 1, \"tools\": null}";
    assert_int_equal(tok_conversation_parse(ok, strlen(ok), &conv, NULL), TOK_OK);
    assert_int_equal(conv.n, 1);
    assert_true(conv.add_generation_prompt);
    assert_null(conv.tools_json);
    assert_null(conv.msgs[0].metadata);
    assert_null(conv.msgs[0].tools_json);
    assert_string_equal(conv.msgs[0].content, "a");
    tok_conversation_done(&conv);
    tok_conversation_done(&conv); /* done twice is harmless */
}

static void test_detect(void **state)
{
    (void)state;
    char *cfg = tu_read_file(tu_shared("data/glm4/tokenizer_config.json"), NULL);
    struct tok_json *j = NULL;
    assert_int_equal(tok_json_parse(cfg, strlen(cfg), &j, NULL), TOK_OK);
    const struct tok_json *tmpl = tok_json_get(j, "chat_template");
    assert_non_null(tmpl);
    assert_int_equal(tok_template_detect(tmpl->s, "glm4"), TOK_TEMPLATE_GLM4_CHAT);
    tok_json_free(j);
    free(cfg);

    static const char z1[] = "[gMASK]<sop>\n{%- if tools -%}\n<|system|>\n...## {{ function.name }}"
                             "...{%- set visible = content.split('</think>')[-1].strip() %}"
                             "{% if add_generation_prompt %}<|assistant|>\n<think>{% endif %}";
    static const char g0414[] = "[gMASK]<sop>\n{%- if tools -%}\n<|system|>\n...# 可用工具\n"
                                "## {{ function.name }}\n...<|assistant|>\n{% endif %}";
    assert_int_equal(tok_template_detect(z1, "chatglm"), TOK_TEMPLATE_GLM_Z1);
    assert_int_equal(tok_template_detect(g0414, "chatglm"), TOK_TEMPLATE_GLM4_0414);
    assert_int_equal(tok_template_detect("{{ messages }}", "glm4"), TOK_TEMPLATE_GLM4_0414);
    assert_int_equal(tok_template_detect(NULL, "glm4"), TOK_TEMPLATE_GLM4_0414);
    assert_int_equal(tok_template_detect(NULL, "chatglm"), TOK_TEMPLATE_GLM4_CHAT);
    assert_int_equal(tok_template_detect(NULL, NULL), TOK_TEMPLATE_GLM4_CHAT);
    assert_string_equal(tok_template_name(TOK_TEMPLATE_GLM4_CHAT), "glm4-chat");
    assert_string_equal(tok_template_name(TOK_TEMPLATE_GLM4_0414), "glm4-0414");
    assert_string_equal(tok_template_name(TOK_TEMPLATE_GLM_Z1), "glm-z1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_text),
        cmocka_unit_test(test_fixture_ids),
        cmocka_unit_test(test_fixture_direct),
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_chat_scalars),
        cmocka_unit_test(test_chat_top_level_tools),
        cmocka_unit_test(test_special_text_is_text),
        cmocka_unit_test(test_z1),
        cmocka_unit_test(test_0414),
        cmocka_unit_test(test_z1_ids),
        cmocka_unit_test(test_build_errors),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_detect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
