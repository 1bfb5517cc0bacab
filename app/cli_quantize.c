/* `glmterm quantize IN OUT TYPE`: a GGUF file or Hugging Face directory to a quantised GGUF
 * file, as llama.cpp's llama-quantize makes it (engine/quantize.c does the work).
 *
 * For a Hugging Face directory this file supplies the tokenizer keys the engine cannot build
 * (the engine does not use the tokenizer module): tokenizer.ggml.tokens as GPT-2 byte-level
 * strings (id = tiktoken rank), the special tokens as their text, "[PAD<id>]" for unused ids,
 * token types (1 normal, 3 control, 5 unused), and merges recovered from the ranks the way
 * llama.cpp's convert_hf_to_gguf.py does for ChatGLM-4 (QwenModel.bpe: merge the lowest-ranked
 * pair below the token's own rank until none is left; the parts are the merge). Per-tensor
 * progress goes to stderr, one line per tensor.
 */
#include "app/app.h"
#include "engine/engine.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char USAGE[] =
    "usage: glmterm quantize IN OUT TYPE\n"
    "\n"
    "Converts a GGUF file or Hugging Face model directory IN to a GGUF v3 file OUT with the\n"
    "tensor types llama.cpp's llama-quantize chooses for TYPE (without an importance matrix),\n"
    "bit-identical to its reference quantisation. A quantised IN is dequantised first (as\n"
    "llama-quantize --allow-requantize). Progress goes to standard error.\n"
    "\n"
    "  TYPE  Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_M, Q5_K_M, Q6_K, F16 or BF16\n"
    "  -q, --quiet  no progress lines\n"
    "  -h, --help   this help\n";

/* ---- tokenizer keys for a Hugging Face directory ----------------------------------------- */

/* GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others for U+0100 on. */
static size_t byte_to_utf8(uint8_t b, char *out)
{
    uint32_t cp;
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) {
        cp = b;
    } else {
        uint32_t n = 0; /* rank of b among the non-printable bytes */
        for (uint32_t c = 0; c < b; c++)
            if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174)) n++;
        cp = 256 + n;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xc0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

static int buf_bytes(struct tok_buf *b, const uint8_t *p, size_t n)
{
    char u[2];
    for (size_t i = 0; i < n; i++)
        if (tok_buf_append(b, u, byte_to_utf8(p[i], u)) != 0) return -1;
    return 0;
}

/* bytes -> rank, open addressing. */
struct rank_map {
    const uint8_t **key;
    size_t *len;
    int32_t *rank;
    size_t mask;
};

static uint64_t hash_bytes(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3u;
    return h;
}

static int32_t rank_get(const struct rank_map *m, const uint8_t *p, size_t n)
{
    for (size_t i = hash_bytes(p, n) & m->mask;; i = (i + 1) & m->mask) {
        if (!m->key[i]) return -1;
        if (m->len[i] == n && memcmp(m->key[i], p, n) == 0) return m->rank[i];
    }
}

/* The parts of token `tok` after merging, lowest rank first, pairs ranked below max_rank. */
static size_t bpe_parts(const struct rank_map *m, const uint8_t *tok, size_t n, int32_t max_rank,
                        size_t *start)
{
    size_t np = n; /* part i is tok[start[i] .. start[i+1]) */
    for (size_t i = 0; i <= n; i++)
        start[i] = i;
    for (;;) {
        int32_t best = -1;
        size_t bi = 0;
        for (size_t i = 0; i + 1 < np; i++) {
            int32_t r = rank_get(m, tok + start[i], start[i + 2] - start[i]);
            if (r >= 0 && (best < 0 || r < best)) {
                best = r;
                bi = i;
            }
        }
        if (best < 0 || best >= max_rank) break;
        memmove(&start[bi + 1], &start[bi + 2], (np - bi - 1) * sizeof *start);
        np--;
    }
    return np;
}

/* From config.json: model_type "glm4" (GGUF arch glm4, pre-tokenizer "glm4")? and the
 * embedding's row count (padded_vocab_size or vocab_size; 0 when absent), which the token list
 * is padded to. */
static bool is_glm4_dir(const char *dir, int32_t *n_vocab)
{
    *n_vocab = 0;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    char *why = NULL;
    size_t len;
    char *text = app_read_stream(f, path, 1u << 20, &len, &why);
    fclose(f);
    free(why);
    if (!text) return false;
    cJSON *root = cJSON_Parse(text);
    free(text);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(root, "model_type");
    bool glm4 = cJSON_IsString(mt) && strcmp(mt->valuestring, "glm4") == 0;
    const cJSON *nv = cJSON_GetObjectItemCaseSensitive(root, "padded_vocab_size");
    if (!cJSON_IsNumber(nv)) nv = cJSON_GetObjectItemCaseSensitive(root, "vocab_size");
    if (cJSON_IsNumber(nv) && nv->valuedouble > 0 && nv->valuedouble < 1e7)
        *n_vocab = (int32_t)nv->valuedouble;
    cJSON_Delete(root);
    return glm4;
}

static struct eng_gguf_writer *tokenizer_keys(const char *dir, char **why)
{
    int32_t n_vocab;
    const bool glm4 = is_glm4_dir(dir, &n_vocab);
    struct eng_gguf_writer *w = NULL;
    struct tok_vocab *v = tok_vocab_load(dir, why);
    if (!v) return NULL;
    const int32_t n = n_vocab > tok_vocab_size(v) ? n_vocab : tok_vocab_size(v);
    char **tokens = calloc((size_t)n, sizeof *tokens);
    int32_t *types = calloc((size_t)n, sizeof *types);
    struct rank_map m = {0};
    size_t cap = 1;
    while (cap < 2 * (size_t)n)
        cap *= 2;
    m.key = calloc(cap, sizeof *m.key);
    m.len = calloc(cap, sizeof *m.len);
    m.rank = calloc(cap, sizeof *m.rank);
    m.mask = cap - 1;
    char **merges = calloc((size_t)n, sizeof *merges);
    size_t n_merges = 0;
    size_t *start = NULL;
    bool ok = tokens && types && m.key && m.len && m.rank && merges;
    size_t max_len = 0;
    for (int32_t id = 0; ok && id < n; id++) {
        const uint8_t *p;
        size_t len;
        struct tok_buf b = {0};
        const char *special = tok_special_text(v, id);
        if (tok_token_bytes(v, id, &p, &len) == 0) {
            ok = buf_bytes(&b, p, len) == 0;
            types[id] = 1; /* NORMAL */
            size_t i = hash_bytes(p, len) & m.mask;
            while (m.key[i])
                i = (i + 1) & m.mask;
            m.key[i] = p;
            m.len[i] = len;
            m.rank[i] = id;
            if (len > max_len) max_len = len;
        } else if (special) {
            ok = tok_buf_puts(&b, special) == 0;
            types[id] = 3; /* CONTROL */
        } else {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%d]", (int)id);
            ok = tok_buf_puts(&b, pad) == 0;
            types[id] = 5; /* UNUSED */
        }
        tokens[id] = b.s;
        if (ok && !b.s) ok = (tokens[id] = strdup("")) != NULL;
    }
    if (ok) ok = (start = calloc(max_len + 2, sizeof *start)) != NULL;
    for (int32_t id = 0; ok && id < n; id++) {
        const uint8_t *p;
        size_t len;
        if (tok_token_bytes(v, id, &p, &len) != 0 || len < 2) continue;
        size_t np = bpe_parts(&m, p, len, id, start);
        struct tok_buf b = {0};
        for (size_t i = 0; ok && i < np; i++) {
            if (i) ok = tok_buf_append(&b, " ", 1) == 0;
            if (ok) ok = buf_bytes(&b, p + start[i], start[i + 1] - start[i]) == 0;
        }
        merges[n_merges++] = b.s;
        if (ok && !b.s) ok = false;
    }
    if (ok) ok = (w = eng_gguf_writer_new()) != NULL;
    if (ok) {
        eng_gguf_writer_str(w, "tokenizer.ggml.model", "gpt2");
        /* convert_hf_to_gguf.py's names for the GLM-4 pre-tokenizer */
        eng_gguf_writer_str(w, "tokenizer.ggml.pre", glm4 ? "glm4" : "chatglm-bpe");
        eng_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, NULL,
                                (uint64_t)n);
        eng_gguf_writer_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)n);
        eng_gguf_writer_arr_str(w, "tokenizer.ggml.merges", (const char *const *)merges, NULL,
                                n_merges);
        int32_t eos = tok_special_id(v, "<|endoftext|>");
        int32_t eot = tok_special_id(v, "<|user|>");
        if (eos >= 0) {
            eng_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
            eng_gguf_writer_u32(w, "tokenizer.ggml.padding_token_id", (uint32_t)eos);
            eng_gguf_writer_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)eos);
        }
        if (eot >= 0) eng_gguf_writer_u32(w, "tokenizer.ggml.eot_token_id", (uint32_t)eot);
        if (glm4 && eos >= 0)
            eng_gguf_writer_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)eos);
        else
            eng_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", false);
        const char *tmpl = tok_vocab_chat_template(v);
        if (tmpl) eng_gguf_writer_str(w, "tokenizer.chat_template", tmpl);
    } else if (why && !*why) {
        *why = strdup("out of memory building the tokenizer keys");
    }
    for (int32_t id = 0; tokens && id < n; id++)
        free(tokens[id]);
    for (size_t i = 0; i < n_merges; i++)
        free(merges[i]);
    free(tokens);
    free(types);
    free(merges);
    free(start);
    free(m.key);
    free(m.len);
    free(m.rank);
    tok_vocab_free(v);
    return w;
}

/* ---- the command --------------------------------------------------------------------------- */

static int progress(const struct eng_quantize_event *ev, void *user)
{
    (void)user;
    char shape[80];
    int k = snprintf(shape, sizeof shape, "%lld", (long long)ev->ne[0]);
    for (uint32_t d = 1; d < ev->n_dims && k > 0 && (size_t)k < sizeof shape; d++)
        k += snprintf(shape + k, sizeof shape - (size_t)k, " x %lld", (long long)ev->ne[d]);
    char from[16], to[16];
    snprintf(from, sizeof from, "%s", eng_type_name(ev->from));
    snprintf(to, sizeof to, "%s", eng_type_name(ev->to));
    for (char *c = from; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    for (char *c = to; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    fprintf(stderr, "[%3lld/%3lld] %-36s %s -> %s  %s\n", (long long)ev->index,
            (long long)ev->count, ev->name, from, to, shape);
    return 0;
}

int app_cmd_quantize(int argc, char **argv)
{
    const char *pos[3];
    int n_pos = 0;
    bool quiet = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(USAGE, stdout);
            return APP_EXIT_OK;
        }
        if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            quiet = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            app_error("quantize: unknown option %s (see glmterm quantize --help)", a);
            return APP_EXIT_USAGE;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            app_error("quantize: too many arguments (see glmterm quantize --help)");
            return APP_EXIT_USAGE;
        }
    }
    if (n_pos != 3) {
        app_error("quantize: expected IN OUT TYPE (see glmterm quantize --help)");
        return APP_EXIT_USAGE;
    }
    int ftype = eng_ftype_parse(pos[2]);
    if (ftype < 0) {
        app_error("quantize: %s: unknown type (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K_M, Q5_K_M, "
                  "Q6_K, F16, BF16)",
                  pos[2]);
        return APP_EXIT_USAGE;
    }
    char *why = NULL;
    struct eng_gguf_writer *kvs = NULL;
    struct stat st;
    if (stat(pos[0], &st) == 0 && S_ISDIR(st.st_mode)) {
        kvs = tokenizer_keys(pos[0], &why);
        if (!kvs) {
            app_error("quantize: %s", why ? why : "cannot read the tokenizer");
            free(why);
            return APP_EXIT_RUNTIME;
        }
    }
    struct eng_quantize_opts o = {.ftype = ftype, .progress = quiet ? NULL : progress, .kvs = kvs};
    int rc = eng_quantize_file(pos[0], pos[1], &o, &why);
    eng_gguf_writer_free(kvs);
    if (rc != 0) {
        app_error("quantize: %s", why ? why : eng_err_str(rc));
        free(why);
        return APP_EXIT_RUNTIME;
    }
    return APP_EXIT_OK;
}
