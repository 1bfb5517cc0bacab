/* Resolving MODEL|TOKENIZER arguments to the tokenizer the model uses.
 *
 * A GGUF file carries its vocabulary as GPT-2 byte-level strings (tokenizer.ggml.tokens), the
 * token types and usually its Jinja chat template; the engine's reader maps it and the
 * tokenizer builds the vocabulary from those strings. A Hugging Face directory carries
 * tokenizer.model or tokenizer.json plus tokenizer_config.json (loaded by the tokenizer) and a
 * config.json whose model_type names the architecture ("chatglm" or "glm4").
 */
#include "app/app.h"
#include "engine/engine.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int set_why(char **why, const char *fmt, const char *a, const char *b)
{
    if (why && asprintf(why, fmt, a, b) < 0) *why = NULL;
    return -1;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int is_gguf_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char magic[4] = {0};
    if (!f) return has_suffix(path, ".gguf");
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    return (got == 4 && memcmp(magic, "GGUF", 4) == 0) || has_suffix(path, ".gguf");
}

static struct tok_vocab *open_gguf(const char *path, enum tok_template_kind *kind, char **why)
{
    struct tok_vocab *v = NULL;
    const char **tokens = NULL;
    size_t *lens = NULL;
    int32_t *types = NULL;
    struct eng_gguf *g = eng_gguf_open(path, why);
    if (!g) return NULL;

    const char *s;
    size_t len;
    char model[64] = "", arch[64] = "";
    if (eng_gguf_get_str(g, "tokenizer.ggml.model", &s, &len) == 0)
        snprintf(model, sizeof model, "%.*s", (int)len, s);
    if (eng_gguf_get_str(g, "general.architecture", &s, &len) == 0)
        snprintf(arch, sizeof arch, "%.*s", (int)len, s);
    uint32_t elem;
    uint64_t n;
    int64_t kidx = eng_gguf_find_key(g, "tokenizer.ggml.tokens");
    if (kidx < 0 || eng_gguf_get_arr(g, "tokenizer.ggml.tokens", &elem, &n) != 0 ||
        elem != ENG_GGUF_TYPE_STRING || n == 0) {
        set_why(why, "%s: no vocabulary (tokenizer.ggml.tokens missing or not a string array)%s",
                path, "");
        goto out;
    }
    if (*model && strcmp(model, "gpt2") != 0) {
        set_why(why, "%s: tokenizer.ggml.model is '%s'; GLM-4 uses byte-level BPE ('gpt2')", path,
                model);
        goto out;
    }
    tokens = calloc(n, sizeof *tokens);
    lens = calloc(n, sizeof *lens);
    types = calloc(n, sizeof *types);
    if (!tokens || !lens || !types) {
        set_why(why, "%s: out of memory%s", path, "");
        goto out;
    }
    for (uint64_t i = 0; i < n; i++) {
        if (eng_gguf_arr_str(g, kidx, i, &tokens[i], &lens[i]) != 0) {
            set_why(why, "%s: tokenizer.ggml.tokens is unreadable%s", path, "");
            goto out;
        }
    }
    int64_t tidx = eng_gguf_find_key(g, "tokenizer.ggml.token_type");
    uint64_t tn = 0;
    if (tidx >= 0) {
        if (eng_gguf_get_arr(g, "tokenizer.ggml.token_type", NULL, &tn) != 0 || tn != n ||
            eng_gguf_arr_copy_i32(g, tidx, types, n) != 0) {
            set_why(why, "%s: tokenizer.ggml.token_type does not match tokenizer.ggml.tokens%s",
                    path, "");
            goto out;
        }
    }
    v = tok_vocab_from_gguf(tokens, lens, tidx >= 0 ? types : NULL, n, path, why);
    if (!v) goto out;
    const char *tmpl = NULL;
    if (eng_gguf_get_str(g, "tokenizer.chat_template", &s, &len) == 0) {
        if (tok_vocab_set_chat_template(v, s, len) != 0) {
            set_why(why, "%s: out of memory%s", path, "");
            tok_vocab_free(v);
            v = NULL;
            goto out;
        }
        tmpl = tok_vocab_chat_template(v);
    }
    if (kind) *kind = tok_template_detect(tmpl, *arch ? arch : NULL);
out:
    free(tokens);
    free(lens);
    free(types);
    eng_gguf_close(g);
    return v;
}

/* model_type from a Hugging Face config.json, or "" when there is none. */
static void hf_model_type(const char *dir, char *out, size_t cap)
{
    char path[4096];
    out[0] = 0;
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return;
    size_t len;
    char *text = app_read_stream(f, path, 1 << 20, &len, NULL);
    fclose(f);
    if (!text) return;
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    if (cJSON_IsString(mt)) snprintf(out, cap, "%s", mt->valuestring);
    cJSON_Delete(root);
    free(text);
}

struct tok_vocab *app_tokenizer_open(const char *path, enum tok_template_kind *kind, char **why)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        set_why(why, "%s: no such file or directory%s", path, "");
        return NULL;
    }
    if (S_ISREG(st.st_mode) && is_gguf_file(path)) return open_gguf(path, kind, why);
    struct tok_vocab *v = tok_vocab_load(path, why);
    if (!v) return NULL;
    if (kind) {
        char arch[64] = "";
        if (S_ISDIR(st.st_mode)) hf_model_type(path, arch, sizeof arch);
        *kind = tok_template_detect(tok_vocab_chat_template(v), *arch ? arch : NULL);
    }
    return v;
}

int app_demo_model(char *path, size_t cap, char **why)
{
    const char *data = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    char dir[4096];
    if (data && *data)
        snprintf(dir, sizeof dir, "%s/glmterm", data);
    else if (home && *home)
        snprintf(dir, sizeof dir, "%s/.local/share/glmterm", home);
    else
        return set_why(why, "%s%s: neither XDG_DATA_HOME nor HOME is set", "demo", "");
    if (app_mkdirs(dir, why) != 0) return -1;
    if ((size_t)snprintf(path, cap, "%s/demo-random-glm4.gguf", dir) >= cap)
        return set_why(why, "%s: path too long%s", dir, "");
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) return 0;
    return eng_demo_write(path, why) == 0 ? 0 : -1;
}

const char *app_model_resolve(const char *arg, char *buf, size_t cap, char **why)
{
    if (strcmp(arg, "demo") == 0) return app_demo_model(buf, cap, why) == 0 ? buf : NULL;
    return arg;
}
