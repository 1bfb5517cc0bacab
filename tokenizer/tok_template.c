/* tok_template.c — the GLM-4 prompt builder: conversations in, prompt text and ids out.
 *
 * Renders a conversation byte-identically to the model's Jinja chat template as Hugging
 * Face runs it (trim_blocks, lstrip_blocks, tojson = json.dumps(ensure_ascii=False,
 * indent=4)), for three templates: glm-4-9b-chat (spec/glm4-chat.md §2: tools on a
 * message), GLM-4-0414 and GLM-Z1 (§6: one tools block first, system messages gathered,
 * Z1 keeping only the text after </think>). The templates' whitespace control is worked out
 * once, by hand, into the fixed strings below; the fixed tool texts are copied byte for byte
 * from data/glm4/tokenizer_config.json and checked by the reference conversations.
 *
 * Data model: rendering appends to the prompt's text and records where each special token
 * was written (a list of segments). The ids then come from that list: specials by id, and
 * each maximal run of text between them BPE-encoded as one string, so merges across the
 * pieces of a run match what encoding the whole rendered text would give. Text from users
 * and tools is never scanned for special-token text; it cannot forge a turn.
 */
#include "tokenizer/tok_int.h"
#include "tokenizer/tok_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rendered prompts beyond this are refused: tool schemas re-indented by json.dumps can
 * multiply the size of hostile input, and no model context is anywhere near it. */
enum { TOK_PROMPT_MAX_BYTES = 256 << 20 };

/* ---- fixed template text ----------------------------------------------------------------- */

/* glm-4-9b-chat and GLM-4-0414 preamble (spec §2). */
static const char tok_tmpl_preamble_chat[] =
    "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱AI训练的语言模型 GLM-4 模型开发的，你的任"
    "务是针对用户的问题和要求提供适当的答复和支持。";

/* GLM-Z1 preamble (its published template: "智谱 AI 公司"). */
static const char tok_tmpl_preamble_z1[] =
    "你是一个名为 ChatGLM 的人工智能助手。你是基于智谱 AI 公司训练的语言模型 GLM-4 模型开发的，"
    "你的任务是针对用户的问题和要求提供适当的答复和支持。";

static const char tok_tmpl_tools_head[] = "\n\n# 可用工具";
static const char tok_tmpl_function_tail[] = "\n在调用上述函数时，请使用 Json 格式表示调用的参数。";

/* Built-in tool descriptions of glm-4-9b-chat, each printed after "\n## <type>\n\n". */
static const char tok_tmpl_python[] =
    "当你向 `python` 发送包含 Python 代码的消息时，该代码将会在一个有状态的 Jupyter notebook 环"
    "境中执行。\n"
    "`python` 返回代码执行的输出，或在执行 60 秒后返回超时。\n"
    "`/mnt/data` 将会持久化存储你的文件。在此会话中，`python` 无法访问互联网。不要使用 `python`"
    " 进行任何网络请求或者在线 API 调用，这些在线内容的访问将不会成功。";
static const char tok_tmpl_simple_browser[] =
    "你可以使用 `simple_browser` 工具。该工具支持以下函数：\n"
    "`search(query: str, recency_days: int)`：使用搜索引擎进行查询并显示结果，可以使用 `recency"
    "_days` 参数控制搜索内容的时效性。\n"
    "`mclick(ids: list[int])`：获取一系列指定 id 的页面内容。每次调用时，须选择3-10个页面。选择"
    "多个角度的页面，同时尽可能选择可信任的信息来源。考虑到部分页面是无法加载的，你也可以多打开"
    "一些可能有用的页面而不用担心内容过多。\n"
    "`open_url(url: str)`：打开指定的 URL。\n"
    "\n"
    "使用 `【{引用 id}†{引用文本}】` 来引用内容。\n"
    "\n"
    "操作步骤：1. 使用 `search` 来获得信息列表; 2. 使用 `mclick` 来获取指定 ID 页面的内容; 3. "
    "根据获得的内容进行回复。在回复中应当引用信息来源。\n"
    " 如果用户提供了 URL，也可以用 `open_url` 直接打开页面。\n"
    "如果初次搜索结果没有找到合适的信息，也可以再次使用 `search` 进行搜索。";
static const char tok_tmpl_cogview[] =
    "如果用户的请求中包含了对图像的描述，你可以使用 `cogview` 来生成图像并展示给用户。你需要向 "
    "`cogview` 发送图像描述，规则：\n"
    "- 发送给 `cogview` 的消息必须使用英语。用户的中文描述必须完全翻译为英语。\n"
    "- 应当尽可能详细地描述图像生成的需求，需求描述约 100 英文单词。\n"
    "- 保持用户原始描述的意图。不要虚构内容或者没见过的人物。\n"
    "- 如无特殊说明，所在地为中国，持有中国立场并遵循中国社会主义价值观。";

static const struct {
    const char *type, *text;
} tok_tmpl_builtin[] = {
    {"python", tok_tmpl_python},
    {"simple_browser", tok_tmpl_simple_browser},
    {"cogview", tok_tmpl_cogview},
};

/* The four roles and their special tokens (spec §1). */
static const struct {
    const char *role, *special;
} tok_tmpl_roles[] = {
    {"system", "<|system|>"},
    {"user", "<|user|>"},
    {"assistant", "<|assistant|>"},
    {"observation", "<|observation|>"},
};

/* ---- template choice --------------------------------------------------------------------- */

enum tok_template_kind tok_template_detect(const char *chat_template, const char *arch)
{
    if (chat_template) {
        if (strstr(chat_template, "item['tools'] is defined")) return TOK_TEMPLATE_GLM4_CHAT;
        if (strstr(chat_template, "</think>") || strstr(chat_template, "<think>"))
            return TOK_TEMPLATE_GLM_Z1;
        if (strstr(chat_template, "if tools") &&
            (strstr(chat_template, "function.name") || strstr(chat_template, "可用工具")))
            return TOK_TEMPLATE_GLM4_0414;
    }
    if (arch && strcmp(arch, "glm4") == 0) return TOK_TEMPLATE_GLM4_0414;
    return TOK_TEMPLATE_GLM4_CHAT;
}

const char *tok_template_name(enum tok_template_kind kind)
{
    switch (kind) {
    case TOK_TEMPLATE_GLM4_CHAT: return "glm4-chat";
    case TOK_TEMPLATE_GLM4_0414: return "glm4-0414";
    case TOK_TEMPLATE_GLM_Z1: return "glm-z1";
    }
    return "unknown";
}

/* ---- rendering --------------------------------------------------------------------------- */

/* Where a special token was written into the text. `soft`: a token that stays text when
 * the vocabulary does not know it (Z1's "<think>", special only in some vocabularies). */
struct tok_seg {
    size_t off, len;
    const char *name;
    bool soft;
};

struct tok_render {
    struct tok_buf *text;
    struct tok_seg *segs;
    size_t nseg, cap;
    char **why;
};

static int tok_r_text(struct tok_render *r, const char *s, size_t n)
{
    if (r->text->len > TOK_PROMPT_MAX_BYTES || n > TOK_PROMPT_MAX_BYTES - r->text->len)
        return tok_fail(r->why, TOK_ERR_RANGE, "prompt longer than %d bytes",
                        (int)TOK_PROMPT_MAX_BYTES);
    if (tok_buf_append(r->text, s, n) != TOK_OK)
        return tok_fail(r->why, TOK_ERR_NOMEM, "out of memory");
    return TOK_OK;
}

static int tok_r_puts(struct tok_render *r, const char *s)
{
    return tok_r_text(r, s, strlen(s));
}

static int tok_r_special_ex(struct tok_render *r, const char *name, bool soft)
{
    if (r->nseg == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 32;
        struct tok_seg *segs =
            cap < SIZE_MAX / sizeof *segs ? realloc(r->segs, cap * sizeof *segs) : NULL;
        if (!segs) return tok_fail(r->why, TOK_ERR_NOMEM, "out of memory");
        r->segs = segs;
        r->cap = cap;
    }
    size_t off = r->text->len;
    int rc = tok_r_puts(r, name);
    if (rc != TOK_OK) return rc;
    r->segs[r->nseg++] = (struct tok_seg){off, r->text->len - off, name, soft};
    return TOK_OK;
}

static int tok_r_special(struct tok_render *r, const char *name)
{
    return tok_r_special_ex(r, name, false);
}

static bool tok_json_is(const struct tok_json *j, const char *s)
{
    return j && j->type == TOK_JSON_STRING && j->len == strlen(s) && memcmp(j->s, s, j->len) == 0;
}

/* Parses a tools array; `where` names it in errors ("tools", "messages[0]: tools"). */
static int tok_tools_parse(const char *tools_json, const char *where, struct tok_json **out,
                           char **why)
{
    char *msg = NULL;
    int rc = tok_json_parse(tools_json, strlen(tools_json), out, &msg);
    if (rc != TOK_OK) {
        rc = tok_fail(why, rc == TOK_ERR_NOMEM ? rc : TOK_ERR_INPUT, "%s: %s", where,
                      msg ? msg : "out of memory");
        free(msg);
        return rc;
    }
    if ((*out)->type != TOK_JSON_ARRAY) {
        tok_json_free(*out);
        *out = NULL;
        return tok_fail(why, TOK_ERR_INPUT, "%s: tools is not an array", where);
    }
    return TOK_OK;
}

/* "\n## NAME\n\n" + json.dumps(fn) + tail: the section of one function in both templates.
 * `fn` must be an object with a string "name". */
static int tok_r_function(struct tok_render *r, const struct tok_json *fn, const char *where,
                          size_t i)
{
    const struct tok_json *name = tok_json_get(fn, "name");
    if (!name || name->type != TOK_JSON_STRING)
        return tok_fail(r->why, TOK_ERR_INPUT, "%s: tool %zu: function has no string \"name\"",
                        where, i);
    int rc = tok_r_puts(r, "\n## ");
    if (rc == TOK_OK) rc = tok_r_text(r, name->s, name->len);
    if (rc == TOK_OK) rc = tok_r_puts(r, "\n\n");
    if (rc != TOK_OK) return rc;
    size_t max = TOK_PROMPT_MAX_BYTES - r->text->len; /* tok_r_text keeps len <= the cap */
    rc = tok_json_dump(fn, r->text, max);
    if (rc == TOK_ERR_RANGE)
        return tok_fail(r->why, rc, "prompt longer than %d bytes", (int)TOK_PROMPT_MAX_BYTES);
    if (rc != TOK_OK) return tok_fail(r->why, rc, "out of memory");
    return tok_r_puts(r, tok_tmpl_function_tail);
}

/* glm-4-9b-chat's tools block for one message. */
static int tok_r_tools_chat(struct tok_render *r, const char *tools_json, const char *where)
{
    struct tok_json *tools = NULL;
    int rc = tok_tools_parse(tools_json, where, &tools, r->why);
    if (rc != TOK_OK) return rc;
    rc = tok_r_special(r, "<|system|>");
    if (rc == TOK_OK) rc = tok_r_puts(r, "\n");
    if (rc == TOK_OK) rc = tok_r_puts(r, tok_tmpl_preamble_chat);
    if (rc == TOK_OK) rc = tok_r_puts(r, tok_tmpl_tools_head);
    for (size_t i = 0; rc == TOK_OK && i < tools->n; i++) {
        const struct tok_json *tool = tools->vals[i];
        if (tool->type != TOK_JSON_OBJECT) {
            rc = tok_fail(r->why, TOK_ERR_INPUT, "%s: tool %zu is not an object", where, i);
            break;
        }
        const struct tok_json *type = tok_json_get(tool, "type");
        if (tok_json_is(type, "function")) {
            const struct tok_json *fn = tok_json_get(tool, "function");
            if (!fn || fn->type != TOK_JSON_OBJECT) {
                rc =
                    tok_fail(r->why, TOK_ERR_INPUT,
                             "%s: tool %zu: function tool without a \"function\" object", where, i);
                break;
            }
            rc = tok_r_function(r, fn, where, i);
            continue;
        }
        /* The template compares the type with each built-in name; anything else prints
         * nothing. */
        for (size_t k = 0; k < sizeof tok_tmpl_builtin / sizeof tok_tmpl_builtin[0]; k++) {
            if (!tok_json_is(type, tok_tmpl_builtin[k].type)) continue;
            rc = tok_r_puts(r, "\n## ");
            if (rc == TOK_OK) rc = tok_r_puts(r, tok_tmpl_builtin[k].type);
            if (rc == TOK_OK) rc = tok_r_puts(r, "\n\n");
            if (rc == TOK_OK) rc = tok_r_puts(r, tok_tmpl_builtin[k].text);
            break;
        }
    }
    tok_json_free(tools);
    return rc;
}

/* GLM-4-0414 / Z1 tools block; nothing when the array is empty (`{%- if tools -%}`). */
static int tok_r_tools_0414(struct tok_render *r, const char *tools_json, const char *where,
                            const char *preamble)
{
    struct tok_json *tools = NULL;
    int rc = tok_tools_parse(tools_json, where, &tools, r->why);
    if (rc != TOK_OK) return rc;
    if (tools->n == 0) goto out;
    rc = tok_r_special(r, "<|system|>");
    if (rc == TOK_OK) rc = tok_r_puts(r, "\n");
    if (rc == TOK_OK) rc = tok_r_puts(r, preamble);
    if (rc == TOK_OK) rc = tok_r_puts(r, tok_tmpl_tools_head);
    for (size_t i = 0; rc == TOK_OK && i < tools->n; i++) {
        const struct tok_json *tool = tools->vals[i];
        if (tool->type != TOK_JSON_OBJECT) {
            rc = tok_fail(r->why, TOK_ERR_INPUT, "%s: tool %zu is not an object", where, i);
            break;
        }
        /* `tool.function if tool.get("function") else tool`: OpenAI-shaped or bare. */
        const struct tok_json *fn = tok_json_get(tool, "function");
        if (!tok_json_truthy(fn)) fn = tool;
        if (fn->type != TOK_JSON_OBJECT) {
            rc = tok_fail(r->why, TOK_ERR_INPUT, "%s: tool %zu: \"function\" is not an object",
                          where, i);
            break;
        }
        rc = tok_r_function(r, fn, where, i);
    }
out:
    tok_json_free(tools);
    return rc;
}

/* Byte length of the Python str.isspace() character at s[0..n), or 0. */
static size_t tok_py_space(const unsigned char *s, size_t n)
{
    if ((s[0] >= 0x09 && s[0] <= 0x0D) || (s[0] >= 0x1C && s[0] <= 0x20)) return 1;
    if (n >= 2 && s[0] == 0xC2 && (s[1] == 0x85 || s[1] == 0xA0)) return 2;
    if (n < 3) return 0;
    if (s[0] == 0xE1 && s[1] == 0x9A && s[2] == 0x80) return 3; /* U+1680 */
    if (s[0] == 0xE2 && s[1] == 0x80 &&
        ((s[2] >= 0x80 && s[2] <= 0x8A) || s[2] == 0xA8 || s[2] == 0xA9 || s[2] == 0xAF))
        return 3;                                               /* U+2000..200A, 2028, 2029, 202F */
    if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F) return 3; /* U+205F */
    if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80) return 3; /* U+3000 */
    return 0;
}

/* Z1's `content.split('</think>')[-1].strip()` on valid UTF-8. */
static void tok_z1_visible(const char *c, const char **vs, size_t *vn)
{
    const char *start = c, *q;
    while ((q = strstr(start, "</think>")) != NULL)
        start = q + 8;
    const unsigned char *s = (const unsigned char *)start;
    size_t n = strlen(start), i = 0, k;
    while (i < n && (k = tok_py_space(s + i, n - i)) > 0)
        i += k;
    size_t b = i, e = i;
    while (i < n) {
        k = tok_py_space(s + i, n - i);
        if (k == 0) {
            /* Step over one whole character; the lead byte gives its length. */
            k = s[i] < 0x80 ? 1 : s[i] < 0xE0 ? 2 : s[i] < 0xF0 ? 3 : 4;
            if (k > n - i) k = n - i;
            e = i + k;
        }
        i += k;
    }
    *vs = start + b;
    *vn = e - b;
}

/* The special token of a role, or NULL for an unknown role. */
static const char *tok_role_special(const char *role)
{
    for (size_t i = 0; role && i < sizeof tok_tmpl_roles / sizeof tok_tmpl_roles[0]; i++)
        if (strcmp(role, tok_tmpl_roles[i].role) == 0) return tok_tmpl_roles[i].special;
    return NULL;
}

static int tok_check_utf8(const char *s, size_t i, const char *field, char **why)
{
    if (!s) return TOK_OK;
    size_t n = strlen(s), ok = tok_utf8_valid_prefix((const uint8_t *)s, n);
    if (ok < n)
        return tok_fail(why, TOK_ERR_INPUT, "messages[%zu]: %s is not valid UTF-8 (byte %zu)", i,
                        field, ok);
    return TOK_OK;
}

static int tok_render_chat(struct tok_render *r, const struct tok_message *msgs, size_t n,
                           const char *tools_json, bool add_generation_prompt)
{
    char where[48];
    size_t tools_at = SIZE_MAX; /* the message that carries the top-level tools */
    int rc = tok_r_special(r, "[gMASK]");
    if (rc == TOK_OK) rc = tok_r_special(r, "<sop>");
    if (rc != TOK_OK) return rc;
    if (tools_json) {
        /* As THUDM's OpenAI-compatible server does: on the first system message (in place
         * of any tools it carries), else on a new system message in front that has no
         * content of its own. */
        for (size_t i = 0; i < n && tools_at == SIZE_MAX; i++)
            if (strcmp(msgs[i].role, "system") == 0) tools_at = i;
        if (tools_at == SIZE_MAX) {
            rc = tok_r_tools_chat(r, tools_json, "tools");
            if (rc != TOK_OK) return rc;
        }
    }
    for (size_t i = 0; i < n; i++) {
        const struct tok_message *m = &msgs[i];
        const char *tools = i == tools_at ? tools_json : m->tools_json;
        if (tools) {
            if (i == tools_at)
                snprintf(where, sizeof where, "tools");
            else
                snprintf(where, sizeof where, "messages[%zu]: tools", i);
            rc = tok_r_tools_chat(r, tools, where);
            if (rc != TOK_OK) return rc;
        }
        /* `{% if item['content'] %}`: an empty or absent content drops the message. */
        if (!m->content || !m->content[0]) continue;
        rc = tok_r_special(r, tok_role_special(m->role));
        if (rc == TOK_OK && m->metadata) rc = tok_r_puts(r, m->metadata);
        if (rc == TOK_OK) rc = tok_r_puts(r, "\n");
        if (rc == TOK_OK) rc = tok_r_puts(r, m->content);
        if (rc != TOK_OK) return rc;
    }
    if (add_generation_prompt) rc = tok_r_special(r, "<|assistant|>");
    return rc;
}

static int tok_render_0414(struct tok_render *r, bool z1, const struct tok_message *msgs, size_t n,
                           const char *tools_json, bool add_generation_prompt)
{
    char where[48] = "tools";
    int rc = tok_r_special(r, "[gMASK]");
    if (rc == TOK_OK) rc = tok_r_special(r, "<sop>");
    if (rc != TOK_OK) return rc;
    /* Tools come as the template's `tools` argument; a conversation written for
     * glm-4-9b-chat carries them on a message instead. */
    for (size_t i = 0; !tools_json && i < n; i++) {
        if (!msgs[i].tools_json) continue;
        tools_json = msgs[i].tools_json;
        snprintf(where, sizeof where, "messages[%zu]: tools", i);
    }
    if (tools_json) {
        rc = tok_r_tools_0414(r, tools_json, where,
                              z1 ? tok_tmpl_preamble_z1 : tok_tmpl_preamble_chat);
        if (rc != TOK_OK) return rc;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(msgs[i].role, "system") != 0) continue;
        rc = tok_r_special(r, "<|system|>");
        if (rc == TOK_OK) rc = tok_r_puts(r, "\n");
        if (rc == TOK_OK && msgs[i].content) rc = tok_r_puts(r, msgs[i].content);
        if (rc != TOK_OK) return rc;
    }
    for (size_t i = 0; i < n; i++) {
        const struct tok_message *m = &msgs[i];
        if (strcmp(m->role, "system") == 0) continue;
        const char *vs = m->content ? m->content : "";
        size_t vn = strlen(vs);
        if (z1) tok_z1_visible(vs, &vs, &vn);
        rc = tok_r_special(r, tok_role_special(m->role));
        /* `not meta`: only a non-empty metadata is printed. */
        if (rc == TOK_OK && strcmp(m->role, "assistant") == 0 && m->metadata)
            rc = tok_r_puts(r, m->metadata);
        if (rc == TOK_OK) rc = tok_r_puts(r, "\n");
        if (rc == TOK_OK) rc = tok_r_text(r, vs, vn);
        if (rc != TOK_OK) return rc;
    }
    if (add_generation_prompt) {
        rc = tok_r_special(r, "<|assistant|>");
        if (rc == TOK_OK) rc = tok_r_puts(r, "\n");
        if (rc == TOK_OK && z1) rc = tok_r_special_ex(r, "<think>", true);
    }
    return rc;
}

/* Encodes text[from..to) as one piece of ordinary text. */
static int tok_ids_text(const struct tok_vocab *v, const struct tok_buf *text, size_t from,
                        size_t to, struct tok_ids *ids, char **why)
{
    if (to <= from) return TOK_OK;
    return tok_encode(v, text->s + from, to - from, ids, why);
}

static int tok_prompt_ids(const struct tok_vocab *v, const struct tok_render *r,
                          struct tok_ids *ids, char **why)
{
    size_t run = 0; /* start of the text not yet encoded */
    for (size_t i = 0; i < r->nseg; i++) {
        const struct tok_seg *s = &r->segs[i];
        int32_t id = tok_special_id(v, s->name);
        if (id < 0 && s->soft) continue; /* stays part of the surrounding text */
        if (id < 0)
            return tok_fail(why, TOK_ERR_FORMAT, "the vocabulary has no special token %s", s->name);
        int rc = tok_ids_text(v, r->text, run, s->off, ids, why);
        if (rc == TOK_OK) rc = tok_ids_push(ids, id);
        if (rc != TOK_OK) return rc == TOK_ERR_NOMEM ? tok_fail(why, rc, "out of memory") : rc;
        run = s->off + s->len;
    }
    return tok_ids_text(v, r->text, run, r->text->len, ids, why);
}

int tok_prompt_build(const struct tok_vocab *v, enum tok_template_kind kind,
                     const struct tok_message *msgs, size_t n, const char *tools_json,
                     bool add_generation_prompt, struct tok_prompt *out, char **why)
{
    memset(out, 0, sizeof *out);
    struct tok_render r = {&out->text, NULL, 0, 0, why};
    int rc = TOK_OK;
    if (n > 0 && !msgs) {
        rc = tok_fail(why, TOK_ERR_INPUT, "no message array");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!tok_role_special(msgs[i].role)) {
            rc = tok_fail(why, TOK_ERR_INPUT,
                          "messages[%zu]: unknown role \"%.40s\" (system, user, assistant or "
                          "observation)",
                          i, msgs[i].role ? msgs[i].role : "(none)");
            goto out;
        }
        rc = tok_check_utf8(msgs[i].content, i, "content", why);
        if (rc == TOK_OK) rc = tok_check_utf8(msgs[i].metadata, i, "metadata", why);
        if (rc != TOK_OK) goto out;
    }
    switch (kind) {
    case TOK_TEMPLATE_GLM4_CHAT:
        rc = tok_render_chat(&r, msgs, n, tools_json, add_generation_prompt);
        break;
    case TOK_TEMPLATE_GLM4_0414:
    case TOK_TEMPLATE_GLM_Z1:
        rc = tok_render_0414(&r, kind == TOK_TEMPLATE_GLM_Z1, msgs, n, tools_json,
                             add_generation_prompt);
        break;
    default: rc = tok_fail(why, TOK_ERR_INPUT, "unknown template kind %d", (int)kind); break;
    }
    if (rc == TOK_OK && !out->text.s) rc = tok_buf_append(&out->text, "", 0);
    if (rc == TOK_OK && v) rc = tok_prompt_ids(v, &r, &out->ids, why);
out:
    free(r.segs);
    if (rc != TOK_OK) tok_prompt_done(out);
    return rc;
}

void tok_prompt_done(struct tok_prompt *p)
{
    if (!p) return;
    tok_buf_done(&p->text);
    tok_ids_done(&p->ids);
}

/* ---- conversations ----------------------------------------------------------------------- */

/* Strings a parsed conversation owns (its messages point into them). */
struct tok_conv_priv {
    char **strs;
    size_t n, cap;
};

/* Takes ownership of b's string (even on failure) and returns it in *s. */
static int tok_conv_keep(struct tok_conv_priv *pv, struct tok_buf *b, const char **s)
{
    if (!b->s && tok_buf_append(b, "", 0) != TOK_OK) return TOK_ERR_NOMEM;
    if (pv->n == pv->cap) {
        size_t cap = pv->cap ? pv->cap * 2 : 16;
        char **strs = cap < SIZE_MAX / sizeof *strs ? realloc(pv->strs, cap * sizeof *strs) : NULL;
        if (!strs) {
            tok_buf_done(b);
            return TOK_ERR_NOMEM;
        }
        pv->strs = strs;
        pv->cap = cap;
    }
    pv->strs[pv->n++] = b->s;
    *s = b->s;
    *b = (struct tok_buf){0};
    return TOK_OK;
}

/* Keeps a tools value (re-serialised as JSON text) in *s. */
static int tok_conv_tools(struct tok_conv_priv *pv, const struct tok_json *j, const char **s)
{
    struct tok_buf b = {0};
    if (tok_json_dump(j, &b, TOK_PROMPT_MAX_BYTES) != TOK_OK) {
        tok_buf_done(&b);
        return TOK_ERR_NOMEM;
    }
    return tok_conv_keep(pv, &b, s);
}

/* content / metadata: a string as is, other scalars as Python's str() prints them. For
 * content, a falsy value (null, false, 0, 0.0) becomes absent: the glm-4-9b-chat template
 * tests `if item['content']` and drops the message. Metadata is always printed there, so a
 * null metadata is the text "None", as Hugging Face renders it. (struct tok_message has no
 * way to say "falsy non-string", so under GLM-4-0414/Z1, whose templates test `not meta`, a
 * null or false metadata prints "None"/"False" where Jinja prints nothing; and a null
 * content renders as "" where Jinja fails. Neither shape comes from glmterm itself.) */
static int tok_conv_field(struct tok_conv_priv *pv, const struct tok_json *m, const char *key,
                          size_t i, const char **s, char **why)
{
    const struct tok_json *j = tok_json_get(m, key);
    *s = NULL;
    if (!j) return TOK_OK;
    if (j->type == TOK_JSON_ARRAY || j->type == TOK_JSON_OBJECT)
        return tok_fail(why, TOK_ERR_INPUT, "messages[%zu]: \"%s\" is an %s, not text", i, key,
                        j->type == TOK_JSON_ARRAY ? "array" : "object");
    if (strcmp(key, "content") == 0 && j->type != TOK_JSON_STRING && !tok_json_truthy(j))
        return TOK_OK;
    struct tok_buf b = {0};
    int rc = tok_json_str(j, &b);
    if (rc == TOK_OK && b.s && strlen(b.s) != b.len)
        rc = tok_fail(why, TOK_ERR_INPUT, "messages[%zu]: \"%s\" contains a NUL character", i, key);
    else if (rc != TOK_OK)
        rc = tok_fail(why, TOK_ERR_NOMEM, "out of memory");
    if (rc == TOK_OK) return tok_conv_keep(pv, &b, s);
    tok_buf_done(&b);
    return rc;
}

int tok_conversation_parse(const char *json, size_t len, struct tok_conversation *conv, char **why)
{
    memset(conv, 0, sizeof *conv);
    struct tok_json *root = NULL;
    char *msg = NULL;
    int rc = tok_json_parse(json, len, &root, &msg);
    if (rc != TOK_OK) {
        rc = tok_fail(why, rc, "conversation: %s", msg ? msg : "out of memory");
        free(msg);
        return rc;
    }
    struct tok_conv_priv *pv = calloc(1, sizeof *pv);
    conv->priv = pv;
    if (!pv) {
        rc = tok_fail(why, TOK_ERR_NOMEM, "out of memory");
        goto out;
    }
    const struct tok_json *msgs = tok_json_get(root, "messages");
    if (root->type != TOK_JSON_OBJECT || !msgs || msgs->type != TOK_JSON_ARRAY) {
        rc = tok_fail(why, TOK_ERR_INPUT,
                      "conversation: expected an object with a \"messages\" "
                      "array");
        goto out;
    }
    conv->msgs = calloc(msgs->n ? msgs->n : 1, sizeof *conv->msgs);
    if (!conv->msgs) {
        rc = tok_fail(why, TOK_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < msgs->n; i++) {
        const struct tok_json *m = msgs->vals[i];
        struct tok_message *tm = &conv->msgs[i];
        conv->n = i + 1;
        if (m->type != TOK_JSON_OBJECT) {
            rc = tok_fail(why, TOK_ERR_INPUT, "messages[%zu] is not an object", i);
            goto out;
        }
        const struct tok_json *role = tok_json_get(m, "role");
        if (!role || role->type != TOK_JSON_STRING || strlen(role->s) != role->len) {
            rc = tok_fail(why, TOK_ERR_INPUT, "messages[%zu]: \"role\" is missing or not a string",
                          i);
            goto out;
        }
        struct tok_buf b = {0};
        rc = tok_buf_append(&b, role->s, role->len);
        if (rc == TOK_OK)
            rc = tok_conv_keep(pv, &b, &tm->role);
        else
            tok_buf_done(&b);
        if (rc != TOK_OK) {
            rc = tok_fail(why, rc, "out of memory");
            goto out;
        }
        rc = tok_conv_field(pv, m, "content", i, &tm->content, why);
        if (rc == TOK_OK) rc = tok_conv_field(pv, m, "metadata", i, &tm->metadata, why);
        if (rc != TOK_OK) goto out;
        /* A "tools" key, whatever its value, makes the template print the tools block;
         * rendering reports a value that is not an array. */
        const struct tok_json *tools = tok_json_get(m, "tools");
        if (tools && tok_conv_tools(pv, tools, &tm->tools_json) != TOK_OK) {
            rc = tok_fail(why, TOK_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
    conv->n = msgs->n;
    const struct tok_json *tools = tok_json_get(root, "tools");
    if (tools && tools->type != TOK_JSON_NULL &&
        tok_conv_tools(pv, tools, &conv->tools_json) != TOK_OK) {
        rc = tok_fail(why, TOK_ERR_NOMEM, "out of memory");
        goto out;
    }
    conv->add_generation_prompt = tok_json_truthy(tok_json_get(root, "add_generation_prompt"));
out:
    tok_json_free(root);
    if (rc != TOK_OK) tok_conversation_done(conv);
    return rc;
}

void tok_conversation_done(struct tok_conversation *conv)
{
    if (!conv) return;
    struct tok_conv_priv *pv = conv->priv;
    if (pv) {
        for (size_t i = 0; i < pv->n; i++)
            free(pv->strs[i]);
        free(pv->strs);
        free(pv);
    }
    free(conv->msgs);
    memset(conv, 0, sizeof *conv);
}
