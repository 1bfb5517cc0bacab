/* Hugging Face tokenizer files: `tokenizer.json` (byte-level BPE: model.vocab maps GPT-2
 * byte-level strings to ids, added_tokens holds the specials), `tokenizer_config.json`
 * (added_tokens_decoder, chat_template), and tok_vocab_load, which picks the right loader for
 * a file or a model directory.
 *
 * For tiktoken-style BPE the merge priority of a byte string is its id, so a tokenizer.json
 * vocabulary reduces to the same structure as a ranks file; the merges list is checked for
 * shape but not needed (GLM-4's merges are the rank order of its vocabulary, and tiktoken's
 * whole-piece rule, which GLM-4 was trained with, is not expressible as merges).
 */
#include "tokenizer/tok_int.h"
#include "tokenizer/tok_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_JSON_FILE (64u << 20)

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int parse_file(const char *path, struct tok_json **root, char **why)
{
    size_t len;
    char *text = tok_read_file(path, &len, MAX_JSON_FILE, why);
    if (!text) return TOK_ERR_IO;
    char *jwhy = NULL;
    int rc = tok_json_parse(text, len, root, &jwhy);
    free(text);
    if (rc) {
        tok_fail(why, rc, "%s: %s", path, jwhy ? jwhy : "invalid JSON");
        free(jwhy);
    }
    return rc;
}

/* Parses a non-negative integer id from a JSON number or a decimal string key. */
static int parse_id(const char *s, size_t len, int32_t *id)
{
    if (len == 0 || len > 9) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *id = (int32_t)v;
    return 0;
}

struct tok_vocab *tok_vocab_load_hf_json(const char *path, char **why)
{
    struct tok_json *root = NULL;
    struct tok_vocab *v = NULL;
    const char **tokens = NULL;
    size_t *lens = NULL;
    int32_t *types = NULL;
    if (parse_file(path, &root, why)) return NULL;

    const struct tok_json *model = tok_json_get(root, "model");
    const struct tok_json *vocab = tok_json_get(model, "vocab");
    const struct tok_json *type = tok_json_get(model, "type");
    const struct tok_json *merges = tok_json_get(model, "merges");
    const struct tok_json *added = tok_json_get(root, "added_tokens");
    if (!model || model->type != TOK_JSON_OBJECT) {
        tok_fail(why, TOK_ERR_FORMAT, "%s: missing object 'model'", path);
        goto out;
    }
    if (type && (type->type != TOK_JSON_STRING || strcmp(type->s, "BPE") != 0)) {
        tok_fail(why, TOK_ERR_FORMAT, "%s: model.type is not \"BPE\"", path);
        goto out;
    }
    if (!vocab || vocab->type != TOK_JSON_OBJECT || vocab->n == 0) {
        tok_fail(why, TOK_ERR_FORMAT, "%s: missing or empty object 'model.vocab'", path);
        goto out;
    }
    if (merges && merges->type != TOK_JSON_ARRAY) {
        tok_fail(why, TOK_ERR_FORMAT, "%s: model.merges is not an array", path);
        goto out;
    }
    if (added && added->type != TOK_JSON_ARRAY) {
        tok_fail(why, TOK_ERR_FORMAT, "%s: added_tokens is not an array", path);
        goto out;
    }
    /* The id space: the largest id among vocab and added tokens. */
    int32_t n_ids = 0;
    for (size_t i = 0; i < vocab->n; i++) {
        const struct tok_json *val = vocab->vals[i];
        int32_t id;
        if (val->type != TOK_JSON_NUMBER || !val->is_int || parse_id(val->s, val->len, &id)) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: model.vocab entry %zu has an invalid id", path, i);
            goto out;
        }
        if (id + 1 > n_ids) n_ids = id + 1;
    }
    for (size_t i = 0; added && i < added->n; i++) {
        const struct tok_json *id = tok_json_get(added->vals[i], "id");
        const struct tok_json *content = tok_json_get(added->vals[i], "content");
        int32_t n;
        if (!id || id->type != TOK_JSON_NUMBER || !id->is_int || parse_id(id->s, id->len, &n) ||
            !content || content->type != TOK_JSON_STRING) {
            tok_fail(why, TOK_ERR_FORMAT,
                     "%s: added_tokens[%zu] needs an integer 'id' and a "
                     "string 'content'",
                     path, i);
            goto out;
        }
        if (n + 1 > n_ids) n_ids = n + 1;
    }
    tokens = calloc((size_t)n_ids, sizeof *tokens);
    lens = calloc((size_t)n_ids, sizeof *lens);
    types = calloc((size_t)n_ids, sizeof *types);
    if (!tokens || !lens || !types) {
        tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    for (int32_t i = 0; i < n_ids; i++)
        types[i] = 5, tokens[i] = "";
    for (size_t i = 0; i < vocab->n; i++) {
        int32_t id = 0;
        parse_id(vocab->vals[i]->s, vocab->vals[i]->len, &id);
        if (types[id] != 5) {
            tok_fail(why, TOK_ERR_FORMAT, "%s: model.vocab uses id %d twice", path, (int)id);
            goto out;
        }
        tokens[id] = vocab->keys[i].s;
        lens[id] = vocab->keys[i].len;
        types[id] = 1;
    }
    for (size_t i = 0; added && i < added->n; i++) {
        const struct tok_json *content = tok_json_get(added->vals[i], "content");
        int32_t id = 0;
        parse_id(tok_json_get(added->vals[i], "id")->s, tok_json_get(added->vals[i], "id")->len,
                 &id);
        if (types[id] == 1) continue; /* an added token that is an ordinary vocabulary entry */
        tokens[id] = content->s;
        lens[id] = content->len;
        types[id] = 3;
    }
    v = tok_vocab_from_gguf(tokens, lens, types, (size_t)n_ids, path, why);
out:
    free(tokens);
    free(lens);
    free(types);
    tok_json_free(root);
    return v;
}

int tok_vocab_load_config(struct tok_vocab *v, const char *path, char **why)
{
    struct tok_json *root = NULL;
    int rc = parse_file(path, &root, why);
    if (rc) return rc;
    const struct tok_json *dec = tok_json_get(root, "added_tokens_decoder");
    const struct tok_json *tmpl = tok_json_get(root, "chat_template");
    if (root->type != TOK_JSON_OBJECT) {
        rc = tok_fail(why, TOK_ERR_FORMAT, "%s: not a JSON object", path);
        goto out;
    }
    if (dec && dec->type != TOK_JSON_OBJECT) {
        rc = tok_fail(why, TOK_ERR_FORMAT, "%s: added_tokens_decoder is not an object", path);
        goto out;
    }
    for (size_t i = 0; dec && i < dec->n; i++) {
        int32_t id;
        const struct tok_json *content = tok_json_get(dec->vals[i], "content");
        if (parse_id(dec->keys[i].s, dec->keys[i].len, &id) || !content ||
            content->type != TOK_JSON_STRING) {
            rc = tok_fail(why, TOK_ERR_FORMAT,
                          "%s: added_tokens_decoder entry '%.20s' needs an integer key and a "
                          "string 'content'",
                          path, dec->keys[i].s);
            goto out;
        }
        rc = tok_vocab_set_special(v, id, content->s, content->len, path, why);
        if (rc) goto out;
    }
    if (tmpl && tmpl->type == TOK_JSON_STRING) {
        free(v->chat_template);
        v->chat_template = strndup(tmpl->s, tmpl->len);
        if (!v->chat_template) rc = tok_fail(why, TOK_ERR_NOMEM, "%s: out of memory", path);
    }
out:
    tok_json_free(root);
    return rc;
}

struct tok_vocab *tok_vocab_load(const char *path, char **why)
{
    char file[4096], config[4096];
    const char *dir_end;
    if (is_dir(path)) {
        snprintf(file, sizeof file, "%s/tokenizer.model", path);
        if (!exists(file)) snprintf(file, sizeof file, "%s/tokenizer.json", path);
        if (!exists(file)) {
            tok_fail(why, TOK_ERR_IO, "%s: no tokenizer.model or tokenizer.json in directory",
                     path);
            return NULL;
        }
        snprintf(config, sizeof config, "%s/tokenizer_config.json", path);
    } else {
        snprintf(file, sizeof file, "%s", path);
        dir_end = strrchr(path, '/');
        if (dir_end)
            snprintf(config, sizeof config, "%.*s/tokenizer_config.json", (int)(dir_end - path),
                     path);
        else
            snprintf(config, sizeof config, "tokenizer_config.json");
    }
    int json = ends_with(file, ".json");
    if (ends_with(file, "tokenizer_config.json")) {
        tok_fail(why, TOK_ERR_FORMAT,
                 "%s: a tokenizer_config.json holds no vocabulary; give tokenizer.model, "
                 "tokenizer.json or the model directory",
                 path);
        return NULL;
    }
    struct tok_vocab *v =
        json ? tok_vocab_load_hf_json(file, why) : tok_vocab_load_tiktoken(file, why);
    if (!v) return NULL;
    int rc;
    if (exists(config))
        rc = tok_vocab_load_config(v, config, why);
    else if (!json)
        rc = tok_vocab_set_glm4_specials(v, file, why);
    else
        rc = TOK_OK;
    if (rc) {
        tok_vocab_free(v);
        return NULL;
    }
    return v;
}

const char *tok_vocab_chat_template(const struct tok_vocab *v)
{
    return v->chat_template;
}

int tok_json_string_member(const char *json, size_t len, const char *key, struct tok_buf *out,
                           char **why)
{
    struct tok_json *root = NULL;
    int rc = tok_json_parse(json, len, &root, why);
    if (rc) return rc;
    const struct tok_json *m = tok_json_get(root, key);
    if (root->type != TOK_JSON_OBJECT)
        rc = tok_fail(why, TOK_ERR_FORMAT, "not a JSON object");
    else if (!m)
        rc = tok_fail(why, TOK_ERR_FORMAT, "missing member \"%s\"", key);
    else if (m->type != TOK_JSON_STRING)
        rc = tok_fail(why, TOK_ERR_FORMAT, "member \"%s\" is not a string", key);
    else if (tok_buf_append(out, m->s, m->len) != TOK_OK)
        rc = tok_fail(why, TOK_ERR_NOMEM, "out of memory");
    tok_json_free(root);
    return rc;
}
