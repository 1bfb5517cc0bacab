/* Tests of the Hugging Face directory reader (engine/hf.c) and the engine's JSON reader
 * (engine/json.c).
 *
 * Evidence:
 *   - the two tiny HF fixtures in shared/ (THUDM-original chatglm names, BF16; and
 *     Glm4ForCausalLM 0414 names): hyper-parameters exactly as their config.json and as the
 *     GGUF conversions of the same weights record them; every tensor of the GGUF files found
 *     under its GGUF name with identical ne, and values equal: all elements of the chatglm
 *     tensors against the F16 GGUF within bf16 precision, and the 0414 tensors against the
 *     Q4_0 GGUF (F32 norms and biases within bf16 precision, Q4_0/Q8_0 matrices within one
 *     quantisation step, dequantised here independently of the engine's kernels) — so a
 *     swapped norm mapping cannot pass;
 *   - hand-built directories, one per validation rule, each expected to fail with a
 *     one-line message naming the file and the field or tensor;
 *   - the chatglm fixture's safetensors cut at every offset through the header and at 200
 *     more: every cut fails cleanly (the ASan build runs this);
 *   - JSON documents: values, number exactness, escapes, UTF-8, and one bad document per rule.
 */
#include "engine/eng_int.h"
#include "engine/eng_json.h"
#include "test_util.h"

#include <dirent.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHATGLM_HF   "fixtures/models/glm4-tiny64/hf"
#define CHATGLM_F16  "fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"
#define G0414_HF     "fixtures/models/glm4-0414-tiny64/hf"
#define G0414_Q4_0   "fixtures/models/glm4-0414-tiny64/glm4-0414-tiny64-Q4_0.gguf"
#define N_VOCAB      151552      /* spec/glm4-model.md §1, padded_vocab_size */
#define BF16_REL_TOL (1.0 / 256) /* bf16 keeps 8 significant bits: relative error <= 2^-9 */
#define ABS_TOL      1e-6        /* f16 subnormals near zero */

/* ---- local conversions (independent of engine/quant.c) ---------------------------------- */

static float half_to_float(uint16_t h)
{
    int sign = h >> 15, exp = h >> 10 & 0x1f, man = h & 0x3ff;
    float v;
    if (exp == 0)
        v = ldexpf((float)man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexpf((float)(man | 0x400), exp - 25);
    return sign ? -v : v;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static float ldf32(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Element i of an F32 / F16 / BF16 tensor. */
static float elem(uint32_t type, const void *data, int64_t i)
{
    const uint8_t *p = data;
    switch (type) {
    case ENG_TYPE_F32: return ldf32(p + 4 * i);
    case ENG_TYPE_F16: return half_to_float(ld16(p + 2 * i));
    case ENG_TYPE_BF16: return bf16_to_float(ld16(p + 2 * i));
    default: fail_msg("elem: type %u", (unsigned)type);
    }
    return 0;
}

/* ---- errors -------------------------------------------------------------------------------- */

/* why must be one non-empty line "<prefix>: ..." containing `want` (when not NULL). */
static void check_why(const char *why, const char *prefix, const char *want)
{
    assert_non_null(why);
    size_t nl = strlen(prefix);
    if (strncmp(why, prefix, nl) != 0 || strncmp(why + nl, ": ", 2) != 0)
        fail_msg("message does not start with '%s: ': %s", prefix, why);
    if (strlen(why) <= nl + 2) fail_msg("empty message: %s", why);
    for (const char *p = why; *p; p++)
        if ((unsigned char)*p < 0x20) fail_msg("control byte in message: %s", why);
    if (want && !strstr(why, want)) fail_msg("expected '%s' in: %s", want, why);
}

/* ---- temporary model directories ------------------------------------------------------------ */

static char tdir[512];

static void tdir_new(void)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp) tmp = "/tmp";
    snprintf(tdir, sizeof tdir, "%s/glmterm-hf-XXXXXX", tmp);
    if (!mkdtemp(tdir)) fail_msg("mkdtemp %s", tdir);
}

static const char *tpath(const char *file)
{
    static char p[4][1024];
    static int k;
    k = (k + 1) & 3;
    snprintf(p[k], sizeof p[k], "%s/%s", tdir, file);
    return p[k];
}

static void tput(const char *file, const void *data, size_t n)
{
    const char *path = tpath(file);
    FILE *f = fopen(path, "wb");
    if (!f) fail_msg("cannot create %s", path);
    if (n && fwrite(data, 1, n, f) != n) fail_msg("short write %s", path);
    if (fclose(f) != 0) fail_msg("close %s", path);
}

static void tput_str(const char *file, const char *s)
{
    tput(file, s, strlen(s));
}

/* Removes every file in the directory, then the directory. */
static void tdir_free(void)
{
    DIR *d = opendir(tdir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        unlink(tpath(e->d_name));
    }
    closedir(d);
    rmdir(tdir);
}

/* A safetensors file: header padded with spaces to a multiple of 8, then `data_len` bytes
 * of a pattern. */
static void tput_st(const char *file, const char *header, size_t data_len)
{
    size_t hl = strlen(header), padded = (hl + 7) / 8 * 8;
    size_t n = 8 + padded + data_len;
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(b + 8, header, hl);
    memset(b + 8 + hl, ' ', padded - hl);
    for (size_t i = 0; i < data_len; i++)
        b[8 + padded + i] = (uint8_t)(i * 13 + 5);
    tput(file, b, n);
    free(b);
}

/* A Glm4ForCausalLM config (key, JSON value) that the reader accepts. */
static const char *const cfg_0414[][2] = {
    {"model_type", "\"glm4\""},
    {"architectures", "[\"Glm4ForCausalLM\"]"},
    {"num_hidden_layers", "1"},
    {"hidden_size", "8"},
    {"num_attention_heads", "2"},
    {"num_key_value_heads", "1"},
    {"head_dim", "4"},
    {"intermediate_size", "6"},
    {"vocab_size", "16"},
    {"max_position_embeddings", "128"},
    {"rms_norm_eps", "1e-05"},
    {"rope_theta", "10000.0"},
    {"partial_rotary_factor", "0.5"},
    {"attention_bias", "true"},
    {"hidden_act", "\"silu\""},
};
#define CFG_N (sizeof cfg_0414 / sizeof cfg_0414[0])

/* Writes config.json from cfg_0414 with `key` left out (value NULL) or given `value`. */
static void tput_config(const char *key, const char *value)
{
    char buf[2048];
    size_t o = 0;
    o += (size_t)snprintf(buf + o, sizeof buf - o, "{\n");
    bool first = true;
    for (size_t i = 0; i < CFG_N; i++) {
        const char *v = cfg_0414[i][1];
        if (key && strcmp(key, cfg_0414[i][0]) == 0) {
            if (!value) continue;
            v = value;
        }
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s  \"%s\": %s", first ? "" : ",\n",
                              cfg_0414[i][0], v);
        first = false;
    }
    snprintf(buf + o, sizeof buf - o, "\n}\n");
    tput_str("config.json", buf);
}

/* A valid two-tensor safetensors header (48 data bytes). */
#define ST_OK                                                                                      \
    "{\"__metadata__\":{\"format\":\"pt\"},"                                                       \
    "\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]},"             \
    "\"lm_head.weight\":{\"dtype\":\"BF16\",\"shape\":[2,4],\"data_offsets\":[32,48]}}"

static struct eng_hf *open_ok(const char *dir)
{
    char *why = NULL;
    struct eng_hf *hf = eng_hf_open(dir, &why);
    if (!hf) fail_msg("eng_hf_open(%s) failed: %s", dir, why ? why : "(no message)");
    assert_null(why);
    return hf;
}

/* The directory must fail to open with a message "<prefix>: ...want...". */
static void expect_bad_dir(const char *prefix_file, const char *want)
{
    char *why = NULL;
    struct eng_hf *hf = eng_hf_open(tdir, &why);
    if (hf) {
        eng_hf_close(hf);
        fail_msg("opened a bad directory (expected '%s')", want);
    }
    check_why(why, prefix_file ? tpath(prefix_file) : tdir, want);
    free(why);
}

/* ---- fixtures ------------------------------------------------------------------------------- */

static void test_chatglm_hparams(void **state)
{
    (void)state;
    struct eng_hf *hf = open_ok(tu_shared(CHATGLM_HF));
    const struct eng_hparams *hp = eng_hf_hparams(hf);
    assert_int_equal(hp->arch, ENG_ARCH_CHATGLM);
    assert_int_equal(hp->n_layer, 2);
    assert_int_equal(hp->d_model, 64);
    assert_int_equal(hp->n_head, 4);
    assert_int_equal(hp->n_head_kv, 2);
    assert_int_equal(hp->head_dim, 16);
    assert_int_equal(hp->d_ffn, 160);
    assert_int_equal(hp->n_vocab, N_VOCAB);
    assert_int_equal(hp->n_ctx_train, 131072);
    assert_int_equal(hp->rope_dim, 8);
    assert_true(hp->rope_base == (float)(10000.0 * 500)); /* config.json rope_ratio 500 */
    assert_true(hp->norm_eps == (float)1.5625e-07);       /* config.json layernorm_epsilon */

    /* The GGUF conversion of the same model records the same numbers. */
    struct eng_gguf *g = eng_gguf_open(tu_shared(CHATGLM_F16), NULL);
    assert_non_null(g);
    float base, eps;
    uint32_t rd;
    assert_int_equal(eng_gguf_get_f32(g, "chatglm.rope.freq_base", &base), 0);
    assert_int_equal(eng_gguf_get_f32(g, "chatglm.attention.layer_norm_rms_epsilon", &eps), 0);
    assert_int_equal(eng_gguf_get_u32(g, "chatglm.rope.dimension_count", &rd), 0);
    assert_true(base == hp->rope_base);
    assert_true(eps == hp->norm_eps);
    assert_int_equal(rd, hp->rope_dim);
    eng_gguf_close(g);
    eng_hf_close(hf);
}

static void test_0414_hparams(void **state)
{
    (void)state;
    struct eng_hf *hf = open_ok(tu_shared(G0414_HF));
    const struct eng_hparams *hp = eng_hf_hparams(hf);
    assert_int_equal(hp->arch, ENG_ARCH_GLM4);
    assert_int_equal(hp->n_layer, 2);
    assert_int_equal(hp->d_model, 64);
    assert_int_equal(hp->n_head, 4);
    assert_int_equal(hp->n_head_kv, 2);
    assert_int_equal(hp->head_dim, 16);
    assert_int_equal(hp->d_ffn, 160);
    assert_int_equal(hp->n_vocab, N_VOCAB);
    assert_int_equal(hp->n_ctx_train, 32768);
    assert_int_equal(hp->rope_dim, 8); /* head_dim 16 x partial_rotary_factor 0.5 */
    assert_true(hp->rope_base == 10000.0f);
    assert_true(hp->norm_eps == 1e-5f);

    struct eng_gguf *g = eng_gguf_open(tu_shared(G0414_Q4_0), NULL);
    assert_non_null(g);
    float base, eps;
    uint32_t rd, n_ctx;
    assert_int_equal(eng_gguf_get_f32(g, "glm4.rope.freq_base", &base), 0);
    assert_int_equal(eng_gguf_get_f32(g, "glm4.attention.layer_norm_rms_epsilon", &eps), 0);
    assert_int_equal(eng_gguf_get_u32(g, "glm4.rope.dimension_count", &rd), 0);
    assert_int_equal(eng_gguf_get_u32(g, "glm4.context_length", &n_ctx), 0);
    assert_true(base == hp->rope_base);
    assert_true(eps == hp->norm_eps);
    assert_int_equal(rd, hp->rope_dim);
    assert_int_equal(n_ctx, hp->n_ctx_train);
    eng_gguf_close(g);
    eng_hf_close(hf);
}

/* |a - b| within bf16 precision of b (the HF value). */
static bool close_bf16(float a, float b)
{
    return fabsf(a - b) <= BF16_REL_TOL * fabsf(b) + ABS_TOL;
}

/* The HF tensor must have the GGUF tensor's ne; returns it. */
static struct eng_tensor hf_like(const struct eng_hf *hf, const struct eng_gguf_tensor *gt)
{
    struct eng_tensor t;
    if (eng_hf_tensor(hf, gt->name, &t) != 0) fail_msg("HF directory lacks %s", gt->name);
    for (int j = 0; j < 4; j++)
        if (t.ne[j] != gt->ne[j])
            fail_msg("%s: ne[%d] %lld in HF, %lld in GGUF", gt->name, j, (long long)t.ne[j],
                     (long long)gt->ne[j]);
    assert_int_equal(t.n_dims, (int)gt->n_dims);
    assert_int_equal(t.type, ENG_TYPE_BF16); /* both fixtures are stored in bf16 */
    assert_int_equal(t.nbytes, (uint64_t)gt->n_elements * 2);
    assert_non_null(t.data);
    return t;
}

static void test_chatglm_vs_gguf(void **state)
{
    (void)state;
    struct eng_hf *hf = open_ok(tu_shared(CHATGLM_HF));
    struct eng_gguf *g = eng_gguf_open(tu_shared(CHATGLM_F16), NULL);
    assert_non_null(g);
    int64_t n = eng_gguf_tensor_count(g);
    assert_int_equal(n, 17); /* 2 layers x 7 + embd, norm, output */
    for (int64_t i = 0; i < n; i++) {
        const struct eng_gguf_tensor *gt = eng_gguf_tensor_at(g, i);
        struct eng_tensor t = hf_like(hf, gt);
        int64_t bad = 0, nonzero = 0;
        for (int64_t k = 0; k < gt->n_elements; k++) {
            float a = elem(gt->type, gt->data, k), b = elem(t.type, t.data, k);
            if (!close_bf16(a, b) && bad++ < 3)
                print_message("%s[%lld]: GGUF %g, HF %g\n", gt->name, (long long)k, a, b);
            nonzero += b != 0;
        }
        if (bad) fail_msg("%s: %lld elements differ", gt->name, (long long)bad);
        if (nonzero < gt->n_elements / 2) fail_msg("%s: mostly zeros", gt->name);
    }
    /* Split names do not exist in a fused checkpoint, and bad names are refused. */
    struct eng_tensor t;
    static const char *const absent[] = {"blk.0.attn_q.weight",
                                         "blk.0.post_attention_norm.weight",
                                         "blk.2.attn_norm.weight",
                                         "blk.00.attn_norm.weight",
                                         "blk.0.attn_norm",
                                         "blk..attn_norm.weight",
                                         "blk.0..weight",
                                         "token_embd",
                                         "token_embd.weightx",
                                         "",
                                         "output.bias",
                                         "rope_freqs.weight",
                                         "blk.99999999.attn_norm.weight",
                                         "blk.-1.attn_norm.weight",
                                         "attn_norm.weight"};
    for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
        if (eng_hf_tensor(hf, absent[i], &t) != ENG_ERR_RANGE) fail_msg("found '%s'", absent[i]);
    eng_gguf_close(g);
    eng_hf_close(hf);
}

/* Dequantises element k of a Q4_0 / Q8_0 tensor (ggml block layouts, ggml-common.h) and
 * returns the block scale |d| in *step. */
static float dequant(const struct eng_gguf_tensor *gt, int64_t k, float *step)
{
    const uint8_t *p = gt->data;
    int64_t blk = k / 32, j = k % 32;
    if (gt->type == ENG_TYPE_Q4_0) {
        const uint8_t *b = p + blk * 18; /* f16 d, 16 bytes of nibbles */
        float d = half_to_float(ld16(b));
        int q = j < 16 ? (b[2 + j] & 0xf) : (b[2 + j - 16] >> 4);
        *step = fabsf(d);
        return (float)(q - 8) * d;
    }
    if (gt->type == ENG_TYPE_Q8_0) {
        const uint8_t *b = p + blk * 34; /* f16 d, 32 int8 */
        float d = half_to_float(ld16(b));
        *step = fabsf(d) / 2;
        return (float)(int8_t)b[2 + j] * d;
    }
    *step = 0;
    return elem(gt->type, gt->data, k);
}

static void test_0414_vs_gguf(void **state)
{
    (void)state;
    struct eng_hf *hf = open_ok(tu_shared(G0414_HF));
    struct eng_gguf *g = eng_gguf_open(tu_shared(G0414_Q4_0), NULL);
    assert_non_null(g);
    int64_t n = eng_gguf_tensor_count(g);
    assert_int_equal(n, 29); /* 2 layers x 13 + embd, norm, output */
    for (int64_t i = 0; i < n; i++) {
        const struct eng_gguf_tensor *gt = eng_gguf_tensor_at(g, i);
        struct eng_tensor t = hf_like(hf, gt);
        int64_t bad = 0;
        for (int64_t k = 0; k < gt->n_elements; k++) {
            float step, a = dequant(gt, k, &step), b = elem(t.type, t.data, k);
            if (fabsf(a - b) > step + BF16_REL_TOL * fabsf(b) + ABS_TOL && bad++ < 3)
                print_message("%s[%lld]: GGUF %g, HF %g\n", gt->name, (long long)k, a, b);
        }
        if (bad) fail_msg("%s: %lld elements differ", gt->name, (long long)bad);
    }
    /* The four norms of a layer hold different values, so the value check above proves
     * each maps to the right HF norm. */
    static const char *const norms[] = {"blk.0.attn_norm.weight",
                                        "blk.0.post_attention_norm.weight", "blk.0.ffn_norm.weight",
                                        "blk.0.post_ffw_norm.weight"};
    struct eng_tensor nt[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(eng_hf_tensor(hf, norms[i], &nt[i]), 0);
    for (int i = 0; i < 4; i++)
        for (int j = i + 1; j < 4; j++)
            if (memcmp(nt[i].data, nt[j].data, (size_t)nt[i].nbytes) == 0)
                fail_msg("%s and %s are equal: the fixture cannot tell them apart", norms[i],
                         norms[j]);
    struct eng_tensor t;
    assert_int_equal(eng_hf_tensor(hf, "blk.0.attn_qkv.weight", &t), ENG_ERR_RANGE);
    assert_int_equal(eng_hf_tensor(hf, "blk.1.attn_q.bias", &t), 0);
    assert_int_equal(t.n_dims, 1);
    assert_int_equal(t.ne[0], 64);
    eng_gguf_close(g);
    eng_hf_close(hf);
}

/* ---- synthetic directories ------------------------------------------------------------------- */

static void test_synthetic_ok(void **state)
{
    (void)state;
    tdir_new();
    tput_config(NULL, NULL);
    tput_st("model.safetensors", ST_OK, 48);
    struct eng_hf *hf = open_ok(tdir);
    const struct eng_hparams *hp = eng_hf_hparams(hf);
    assert_int_equal(hp->arch, ENG_ARCH_GLM4);
    assert_int_equal(hp->rope_dim, 2);
    struct eng_tensor t;
    assert_int_equal(eng_hf_tensor(hf, "output_norm.weight", &t), 0);
    assert_int_equal(t.type, ENG_TYPE_F32);
    assert_int_equal(t.n_dims, 1);
    assert_int_equal(t.ne[0], 8);
    assert_int_equal(t.ne[1], 1);
    assert_int_equal(t.nbytes, 32);
    assert_int_equal(((const uint8_t *)t.data)[1], 13 + 5);
    assert_int_equal(eng_hf_tensor(hf, "output.weight", &t), 0);
    assert_int_equal(t.type, ENG_TYPE_BF16);
    assert_int_equal(t.n_dims, 2);
    assert_int_equal(t.ne[0], 4); /* HF [2, 4] = ggml {4, 2} */
    assert_int_equal(t.ne[1], 2);
    assert_int_equal(((const uint8_t *)t.data)[0], (uint8_t)(32 * 13 + 5));
    eng_hf_close(hf);

    /* No lm_head: output is tied to the embedding. */
    tput_st("model.safetensors",
            "{\"model.embed_tokens.weight\":{\"dtype\":\"F16\",\"shape\":[16,8],"
            "\"data_offsets\":[0,256]}}",
            256);
    hf = open_ok(tdir);
    struct eng_tensor e;
    assert_int_equal(eng_hf_tensor(hf, "token_embd.weight", &e), 0);
    assert_int_equal(eng_hf_tensor(hf, "output.weight", &t), 0);
    assert_ptr_equal(t.data, e.data);
    assert_int_equal(t.ne[0], 8);
    assert_int_equal(t.ne[1], 16);
    assert_int_equal(eng_hf_tensor(hf, "output_norm.weight", &t), ENG_ERR_RANGE);
    eng_hf_close(hf);

    /* Sharded: the index names two shards. */
    unlink(tpath("model.safetensors"));
    tput_st("model-00001-of-00002.safetensors",
            "{\"model.norm.weight\":{\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]}}",
            32);
    tput_st("model-00002-of-00002.safetensors",
            "{\"lm_head.weight\":{\"dtype\":\"BF16\",\"shape\":[2,4],\"data_offsets\":[0,16]}}",
            16);
    tput_str("model.safetensors.index.json",
             "{\"metadata\":{\"total_size\":48},\"weight_map\":{"
             "\"model.norm.weight\":\"model-00001-of-00002.safetensors\","
             "\"lm_head.weight\":\"model-00002-of-00002.safetensors\"}}");
    hf = open_ok(tdir);
    assert_int_equal(eng_hf_tensor(hf, "output_norm.weight", &t), 0);
    assert_int_equal(t.nbytes, 32);
    assert_int_equal(eng_hf_tensor(hf, "output.weight", &t), 0);
    assert_int_equal(t.nbytes, 16);
    eng_hf_close(hf);

    /* -hf conversion (GlmForCausalLM): arch chatglm, rope_ratio preferred over rope_theta. */
    unlink(tpath("model.safetensors.index.json"));
    tput_st("model.safetensors", ST_OK, 48);
    tput_str("config.json",
             "{\"model_type\":\"glm\",\"num_hidden_layers\":1,\"hidden_size\":8,"
             "\"num_attention_heads\":2,\"num_key_value_heads\":1,\"intermediate_size\":6,"
             "\"vocab_size\":16,\"max_position_embeddings\":128,\"rms_norm_eps\":1.5625e-07,"
             "\"rope_theta\":10000.0,\"rope_ratio\":500,\"attention_bias\":true}");
    hf = open_ok(tdir);
    hp = eng_hf_hparams(hf);
    assert_int_equal(hp->arch, ENG_ARCH_CHATGLM);
    assert_int_equal(hp->head_dim, 4); /* hidden / heads */
    assert_int_equal(hp->rope_dim, 2);
    assert_true(hp->rope_base == 5e6f);
    eng_hf_close(hf);

    /* Original chatglm config with defaults: no rope_ratio (1), no multi-query (kv = heads). */
    tput_str("config.json",
             "{\"model_type\":\"chatglm\",\"num_layers\":1,\"hidden_size\":8,"
             "\"num_attention_heads\":2,\"ffn_hidden_size\":6,\"padded_vocab_size\":16,"
             "\"seq_length\":64,\"layernorm_epsilon\":1e-5,\"rmsnorm\":true}");
    hf = open_ok(tdir);
    hp = eng_hf_hparams(hf);
    assert_int_equal(hp->n_head_kv, 2);
    assert_int_equal(hp->head_dim, 4);
    assert_true(hp->rope_base == 10000.0f);
    eng_hf_close(hf);
    tdir_free();
}

static void test_bad_config(void **state)
{
    (void)state;
    tdir_new();
    tput_st("model.safetensors", ST_OK, 48);
    expect_bad_dir("config.json", "No such file");

    tput_str("config.json", "{\"model_type\": \"glm4\",\n  \"hidden_size\": 64,,}");
    expect_bad_dir("config.json", "2:21: unexpected ','");
    tput_str("config.json", "");
    expect_bad_dir("config.json", "1:1: unexpected end of input");
    tput_str("config.json", "[1]");
    expect_bad_dir("config.json", "top level is array");

    static const char *const required[] = {"model_type",
                                           "num_hidden_layers",
                                           "hidden_size",
                                           "num_attention_heads",
                                           "intermediate_size",
                                           "vocab_size",
                                           "max_position_embeddings",
                                           "rms_norm_eps"};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        char want[96];
        snprintf(want, sizeof want, "missing field '%s'", required[i]);
        tput_config(required[i], NULL);
        expect_bad_dir("config.json", want);
    }
    tput_config("hidden_size", "null");
    expect_bad_dir("config.json", "missing field 'hidden_size'");
    tput_config("hidden_size", "\"64\"");
    expect_bad_dir("config.json", "field 'hidden_size' is string, expected an integer");
    tput_config("hidden_size", "64.5");
    expect_bad_dir("config.json", "field 'hidden_size' is a fraction");
    tput_config("hidden_size", "0");
    expect_bad_dir("config.json", "field 'hidden_size' = 0 is out of range");
    tput_config("hidden_size", "4294967296");
    expect_bad_dir("config.json", "field 'hidden_size' = 4294967296 is out of range");
    tput_config("rms_norm_eps", "-1");
    expect_bad_dir("config.json", "field 'rms_norm_eps' = -1 is out of range");
    tput_config("rms_norm_eps", "1e-60"); /* 0 as a float */
    expect_bad_dir("config.json", "field 'rms_norm_eps'");
    tput_config("rope_theta", "\"big\"");
    expect_bad_dir("config.json", "field 'rope_theta' is string, expected a number");
    tput_config("attention_bias", "1");
    expect_bad_dir("config.json", "field 'attention_bias' is number, expected a boolean");
    tput_config("model_type", "\"llama\"");
    expect_bad_dir("config.json", "field 'model_type' is 'llama'");
    tput_config("model_type", "42");
    expect_bad_dir("config.json", "field 'model_type' is number, expected a string");
    tput_config("hidden_act", "\"gelu\"");
    expect_bad_dir("config.json", "field 'hidden_act' is 'gelu'");
    tput_config("num_key_value_heads", "3");
    expect_bad_dir("config.json", "2 attention heads cannot share 3 key/value heads");
    tput_config("partial_rotary_factor", "0.3");
    expect_bad_dir("config.json", "field 'partial_rotary_factor'");
    tput_config("head_dim", "2000000000");
    expect_bad_dir("config.json", "dimensions too large");
    tput_config("head_dim", "2");
    expect_bad_dir("config.json", "rotated dims");

    /* chatglm: its own required fields; multi_query_group_num only with multi-query. */
    tput_str("config.json", "{\"model_type\":\"chatglm\",\"hidden_size\":8}");
    expect_bad_dir("config.json", "missing field 'num_layers'");
    tput_str("config.json",
             "{\"model_type\":\"chatglm\",\"num_layers\":1,\"hidden_size\":8,"
             "\"num_attention_heads\":2,\"multi_query_attention\":true,\"ffn_hidden_size\":6,"
             "\"padded_vocab_size\":16,\"seq_length\":64,\"layernorm_epsilon\":1e-5}");
    expect_bad_dir("config.json", "missing field 'multi_query_group_num'");
    tput_str("config.json",
             "{\"model_type\":\"chatglm\",\"num_layers\":1,\"hidden_size\":8,"
             "\"num_attention_heads\":2,\"ffn_hidden_size\":6,\"padded_vocab_size\":16,"
             "\"seq_length\":64,\"layernorm_epsilon\":1e-5,\"rope_ratio\":\"x\"}");
    expect_bad_dir("config.json", "field 'rope_ratio' is string");
    tput_str("config.json",
             "{\"model_type\":\"chatglm\",\"num_layers\":1,\"hidden_size\":8,"
             "\"num_attention_heads\":2,\"ffn_hidden_size\":6,\"padded_vocab_size\":16,"
             "\"seq_length\":64,\"layernorm_epsilon\":1e-5,\"rmsnorm\":false}");
    expect_bad_dir("config.json", "field 'rmsnorm' is false");

    /* Not a regular file. */
    unlink(tpath("config.json"));
    if (mkdir(tpath("config.json"), 0700) != 0) fail_msg("mkdir");
    expect_bad_dir("config.json", "not a regular file");
    rmdir(tpath("config.json"));
    tdir_free();
}

/* A safetensors header that must be refused with `want` in the message. */
static void bad_header(const char *header, size_t data_len, const char *want)
{
    tput_st("model.safetensors", header, data_len);
    expect_bad_dir("model.safetensors", want);
}

#define T_NORM(body) "{\"model.norm.weight\":{" body "}}"

static void test_bad_safetensors(void **state)
{
    (void)state;
    tdir_new();
    tput_config(NULL, NULL);

    expect_bad_dir(NULL, "no model.safetensors or model.safetensors.index.json");

    /* Length field and header framing. */
    tput("model.safetensors", "\x10\0\0", 3);
    expect_bad_dir("model.safetensors", "too short");
    tput("model.safetensors", "\xff\0\0\0\0\0\0\0{}", 10);
    expect_bad_dir("model.safetensors", "header length 255 runs past the end of the file");
    tput("model.safetensors", "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    expect_bad_dir("model.safetensors", "header length 18446744073709551615");
    tput("model.safetensors", "\x02\0\0\0\0\0\0\0[]", 10);
    expect_bad_dir("model.safetensors", "header is not a JSON object");
    bad_header("{\"a\":}", 0, "header: 1:6: unexpected '}'");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4,
               "header: 1:57: unexpected end of input, expected ',' or '}'"); /* spaces pad it */
    bad_header("{\"__metadata__\":{\"format\":1}}", 0, "__metadata__ is not an object of strings");

    /* Tensor entries. */
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,32]"), 31,
               "tensor 'model.norm.weight': data_offsets [0, 32] outside the 31 data bytes");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,36]"), 36,
               "tensor 'model.norm.weight': shape holds 8 elements of 4 bytes but data_offsets "
               "span 36 bytes");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[32,0]"), 32,
               "tensor 'model.norm.weight': data_offsets [32, 0]");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0,18446744073709551648]"),
               32, "tensor 'model.norm.weight': data_offsets[1] is not a non-negative integer");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[-4,28]"), 32,
               "data_offsets[0] is not a non-negative integer");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0]"), 32,
               "data_offsets is not an array of 2 integers");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[8],\"data_offsets\":[0.5,32]"), 32,
               "data_offsets[0] is not a non-negative integer");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[4294967296,4],\"data_offsets\":[0,32]"), 32,
               "tensor 'model.norm.weight': shape holds 17179869184 elements of 4 bytes");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[2305843009213693952,2],"
                      "\"data_offsets\":[0,32]"),
               32, "tensor 'model.norm.weight': shape holds 4611686018427387904 elements");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],"
                      "\"data_offsets\":[0,32]"),
               32, "tensor 'model.norm.weight': shape overflows");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[2,-4],\"data_offsets\":[0,32]"), 32,
               "shape[1] is not a non-negative integer");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[1,1,1,1,8],\"data_offsets\":[0,32]"), 32,
               "tensor 'model.norm.weight': 5 dimensions");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":8,\"data_offsets\":[0,32]"), 32,
               "shape is number, expected an array");
    bad_header(T_NORM("\"dtype\":\"Q4\",\"shape\":[8],\"data_offsets\":[0,32]"), 32,
               "tensor 'model.norm.weight': unknown dtype 'Q4'");
    bad_header(T_NORM("\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[0,32]"), 32,
               "tensor 'model.norm.weight': unsupported dtype 'I64'");
    bad_header(T_NORM("\"dtype\":4,\"shape\":[8],\"data_offsets\":[0,32]"), 32,
               "dtype is number, expected a string");
    bad_header(T_NORM("\"shape\":[8],\"data_offsets\":[0,32]"), 32,
               "tensor 'model.norm.weight': missing 'dtype'");
    bad_header(T_NORM("\"dtype\":\"F32\",\"data_offsets\":[0,32]"), 32, "missing 'shape'");
    bad_header(T_NORM("\"dtype\":\"F32\",\"shape\":[8]"), 32, "missing 'data_offsets'");
    bad_header("{\"model.norm.weight\":[1]}", 0, "tensor 'model.norm.weight': entry is array");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[2,10]}}", 10,
               "tensor 'a': data at file offset");
    bad_header("{\"a\\u0000b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a?b': empty name or NUL");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
               12, "tensors 'a' and 'b' overlap");
    bad_header("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
               "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
               16, "duplicate key 'a'");
    /* A control byte in a name stays out of the one-line message. */
    bad_header("{\"a\\nb\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
               "tensor 'a?b': unknown dtype");

    /* Empty tensors and scalars are valid safetensors. */
    tput_st("model.safetensors",
            "{\"e\":{\"dtype\":\"F16\",\"shape\":[0,4],\"data_offsets\":[0,0]},"
            "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}",
            4);
    struct eng_hf *hf = open_ok(tdir);
    eng_hf_close(hf);
    tdir_free();
}

static void test_bad_index(void **state)
{
    (void)state;
    tdir_new();
    tput_config(NULL, NULL);
    const char *s1 = "model-00001-of-00002.safetensors", *s2 = "model-00002-of-00002.safetensors";
    tput_st(s1, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    tput_st(s2, "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    const char *idx = "model.safetensors.index.json";

    tput_str(idx, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                  "\"b\":\"model-00002-of-00002.safetensors\"}}");
    struct eng_hf *hf = open_ok(tdir);
    eng_hf_close(hf);

    tput_str(idx, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                  "\"c\":\"model-00003-of-00002.safetensors\"}}");
    expect_bad_dir("model-00003-of-00002.safetensors",
                   "No such file or directory (named by model.safetensors.index.json)");
    tput_str(idx, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                  "\"b\":\"model-00001-of-00002.safetensors\"}}");
    expect_bad_dir(idx, "weight_map: tensor 'b' is not in model-00001-of-00002.safetensors");
    tput_str(idx, "{\"weight_map\":{\"a\":\"../model-00001-of-00002.safetensors\"}}");
    expect_bad_dir(idx, "weight_map: tensor 'a': shard is not a plain file name");
    tput_str(idx, "{\"weight_map\":{\"a\":7}}");
    expect_bad_dir(idx, "tensor 'a': shard is not a plain file name");
    tput_str(idx, "{\"metadata\":{}}");
    expect_bad_dir(idx, "missing field 'weight_map'");
    tput_str(idx, "{\"weight_map\":{}}");
    expect_bad_dir(idx, "field 'weight_map' is not a non-empty object");
    tput_str(idx, "{\"weight_map\":{\"a\":\"x\",\"a\":\"y\"}}");
    expect_bad_dir(idx, "duplicate key 'a'");
    tput_str(idx, "{\"weight_map\":");
    expect_bad_dir(idx, "1:15: unexpected end of input");

    /* The same tensor in two shards. */
    tput_st(s2, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
    tput_str(idx, "{\"weight_map\":{\"a\":\"model-00001-of-00002.safetensors\","
                  "\"b\":\"model-00002-of-00002.safetensors\"}}");
    expect_bad_dir(s2, "tensor 'a': duplicate (also in model-00001-of-00002.safetensors)");
    tdir_free();
}

/* Copies `src` to `dst` (both full paths). */
static void copy_file(const char *src, const char *dst)
{
    size_t n;
    char *b = tu_read_file(src, &n);
    FILE *f = fopen(dst, "wb");
    if (!f) fail_msg("cannot create %s", dst);
    if (fwrite(b, 1, n, f) != n) fail_msg("short write %s", dst);
    if (fclose(f) != 0) fail_msg("close %s", dst);
    free(b);
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

static void test_cuts(void **state)
{
    (void)state;
    char src[1024];
    snprintf(src, sizeof src, "%s", tu_shared(CHATGLM_HF));
    tdir_new();
    char p[1100];
    snprintf(p, sizeof p, "%s/config.json", src);
    copy_file(p, tpath("config.json"));
    snprintf(p, sizeof p, "%s/model.safetensors", src);
    const char *st = tpath("model.safetensors");
    copy_file(p, st);
    struct stat sb;
    assert_int_equal(stat(st, &sb), 0);
    uint64_t size = (uint64_t)sb.st_size;
    struct eng_hf *hf = open_ok(tdir); /* the full copy opens */
    eng_hf_close(hf);

    /* Every offset through the header and 64 bytes beyond, plus 200 seeded random ones. */
    FILE *f = fopen(st, "rb");
    assert_non_null(f);
    uint8_t len8[8];
    assert_int_equal(fread(len8, 1, 8, f), 8);
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | len8[i];
    assert_true(hlen > 1000 && 8 + hlen < size);
    size_t n_cuts = (size_t)(8 + hlen + 64) + 200;
    uint64_t *cuts = malloc(n_cuts * sizeof *cuts);
    assert_non_null(cuts);
    size_t k = 0;
    for (uint64_t c = 0; c < 8 + hlen + 64; c++)
        cuts[k++] = c;
    uint64_t rng = 0x5eed5eed;
    for (int i = 0; i < 199; i++)
        cuts[k++] = 8 + hlen + 64 + tu_rand(&rng) % (size - 8 - hlen - 64);
    cuts[k++] = size - 1;
    qsort(cuts, k, sizeof *cuts, cmp_desc);
    /* Shrinking the one copy in place: each cut is a prefix of the file. */
    for (size_t i = 0; i < k; i++) {
        if (truncate(st, (off_t)cuts[i]) != 0) fail_msg("truncate %s", st);
        char *why = NULL;
        hf = eng_hf_open(tdir, &why);
        if (hf) {
            eng_hf_close(hf);
            fail_msg("opened a file cut at %llu of %llu", (unsigned long long)cuts[i],
                     (unsigned long long)size);
        }
        check_why(why, st, NULL);
        free(why);
    }
    free(cuts);
    tdir_free();
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static struct eng_json_doc *parse_ok(const char *text)
{
    char *why = NULL;
    struct eng_json_doc *d = eng_json_parse(text, strlen(text), &why);
    if (!d) fail_msg("parse failed: %s: %s", text, why ? why : "(no message)");
    return d;
}

static void parse_bad(const char *text, size_t len, const char *want)
{
    char *why = NULL;
    struct eng_json_doc *d = eng_json_parse(text, len, &why);
    if (d) {
        eng_json_free(d);
        fail_msg("parsed a bad document (expected '%s')", want);
    }
    assert_non_null(why);
    for (const char *p = why; *p; p++)
        if ((unsigned char)*p < 0x20) fail_msg("control byte in message: %s", why);
    if (!strstr(why, want)) fail_msg("expected '%s' in: %s", want, why);
    free(why);
}

#define BAD(s, want) parse_bad(s, sizeof(s) - 1, want)

static void test_json_values(void **state)
{
    (void)state;
    struct eng_json_doc *d =
        parse_ok(" {\"b\": [1, -2.5, true, false, null, \"x\"], \"a\": {}, \"c\": [], "
                 "\"s\": \"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u4e2d\\ud83d\\ude00\xe4\xb8\xad\"} ");
    const struct eng_json *r = eng_json_root(d);
    assert_int_equal(r->type, ENG_JSON_OBJECT);
    assert_int_equal(r->len, 4);
    assert_string_equal(r->kids[0].key, "b"); /* document order */
    assert_string_equal(r->kids[1].key, "a");
    const struct eng_json *b = eng_json_get(r, "b");
    assert_int_equal(b->len, 6);
    assert_true(b->kids[0].is_int && b->kids[0].integer == 1);
    assert_true(!b->kids[1].is_int && b->kids[1].number == -2.5);
    assert_true(b->kids[2].type == ENG_JSON_BOOL && b->kids[2].boolean);
    assert_true(b->kids[3].type == ENG_JSON_BOOL && !b->kids[3].boolean);
    assert_int_equal(b->kids[4].type, ENG_JSON_NULL);
    assert_string_equal(b->kids[5].str, "x");
    assert_ptr_equal(eng_json_at(b, 5), &b->kids[5]);
    assert_null(eng_json_at(b, 6));
    assert_null(eng_json_get(b, "x"));
    assert_null(eng_json_get(r, "zz"));
    assert_int_equal(eng_json_get(r, "a")->len, 0);
    assert_int_equal(eng_json_get(r, "c")->type, ENG_JSON_ARRAY);
    const struct eng_json *s = eng_json_get(r, "s");
    const char want[] = "\"\\/\b\f\n\r\t\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80\xe4\xb8\xad";
    assert_int_equal(s->len, sizeof want - 1);
    assert_memory_equal(s->str, want, sizeof want - 1);
    eng_json_free(d);

    /* Numbers: exact integers from the decimal text, not from the double. */
    static const struct {
        const char *text;
        bool is_int;
        int64_t i;
        double d;
    } nums[] = {
        {"0", true, 0, 0},
        {"-0", true, 0, -0.0},
        {"9007199254740993", true, 9007199254740993LL, 9007199254740992.0},
        {"9223372036854775807", true, INT64_MAX, 9223372036854775807.0},
        {"-9223372036854775808", true, INT64_MIN, -9223372036854775808.0},
        {"9223372036854775808", false, 0, 9223372036854775808.0},
        {"1e3", true, 1000, 1000},
        {"1.5e1", true, 15, 15},
        {"1.50E+1", true, 15, 15},
        {"100e-2", true, 1, 1},
        {"0.000e5", true, 0, 0},
        {"1.5", false, 0, 1.5},
        {"1e-1", false, 0, 0.1},
        {"1.5625e-07", false, 0, 1.5625e-07},
        {"1e19", false, 0, 1e19},
        {"1e-400", false, 0, 0},
        {"123456789012345678901234567890e-20", false, 0, 1234567890.1234567890123456789},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        d = parse_ok(nums[i].text);
        r = eng_json_root(d);
        assert_int_equal(r->type, ENG_JSON_NUMBER);
        if (r->is_int != nums[i].is_int || (r->is_int && r->integer != nums[i].i) ||
            r->number != nums[i].d)
            fail_msg("%s: is_int %d integer %lld number %.17g", nums[i].text, r->is_int,
                     (long long)r->integer, r->number);
        eng_json_free(d);
    }

    /* A byte order mark is skipped; the locale's decimal point is not used. */
    d = parse_ok("\xef\xbb\xbf[0.5]");
    assert_true(eng_json_root(d)->kids[0].number == 0.5);
    eng_json_free(d);
    if (setlocale(LC_NUMERIC, "de_DE.UTF-8") || setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        d = parse_ok("0.25");
        assert_true(eng_json_root(d)->number == 0.25);
        eng_json_free(d);
        setlocale(LC_NUMERIC, "C");
    }

    /* Depth: 64 nested arrays are fine. */
    char deep[200];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    deep[128] = 0;
    d = parse_ok(deep);
    eng_json_free(d);

    /* Not NUL-terminated: the parser stops at len. */
    d = eng_json_parse("123456", 3, NULL);
    assert_non_null(d);
    assert_int_equal(eng_json_root(d)->integer, 123);
    eng_json_free(d);

    /* Big objects use the hashed duplicate check. */
    char *big = malloc(200000);
    assert_non_null(big);
    size_t o = 0;
    big[o++] = '{';
    for (int i = 0; i < 5000; i++)
        o += (size_t)sprintf(big + o, "%s\"k%d\":%d", i ? "," : "", i, i);
    big[o++] = '}';
    d = eng_json_parse(big, o, NULL);
    assert_non_null(d);
    assert_int_equal(eng_json_root(d)->len, 5000);
    assert_int_equal(eng_json_get(eng_json_root(d), "k4999")->integer, 4999);
    eng_json_free(d);
    o = (size_t)sprintf(big + o - 1, ",\"k1234\":0}") + o - 1;
    parse_bad(big, o, "duplicate key 'k1234'");
    free(big);
}

static void test_json_bad(void **state)
{
    (void)state;
    BAD("", "1:1: unexpected end of input");
    BAD("   ", "1:4: unexpected end of input");
    BAD("{\"a\":1,}", "1:8: unexpected '}', expected a string key");
    BAD("[1,]", "1:4: unexpected ']'");
    BAD("[1 2]", "1:4: unexpected '2', expected ',' or ']'");
    BAD("{\"a\" 1}", "1:6: unexpected '1', expected ':'");
    BAD("{a:1}", "1:2: unexpected 'a', expected a string key");
    BAD("01", "1:2: leading zero");
    BAD("-", "1:2: unexpected end of input, expected a digit");
    BAD("1.", "expected a digit after the decimal point");
    BAD("1.e5", "1:3: unexpected 'e'");
    BAD("1e", "expected a digit in the exponent");
    BAD("+1", "1:1: unexpected '+'");
    BAD(".5", "unexpected '.'");
    BAD("1e400", "1:1: number out of range");
    BAD("-1e400", "number out of range");
    BAD("NaN", "unexpected 'N'");
    BAD("Infinity", "unexpected 'I'");
    BAD("tru", "unexpected 't'");
    BAD("nul", "unexpected 'n'");
    BAD("true false", "1:6: unexpected 'f', expected the end");
    BAD("{} x", "expected the end after the value");
    BAD("\"abc", "1:1: unterminated string");
    BAD("\"a\\", "unterminated string");
    BAD("\"a\nb\"", "1:3: control character 0x0a in a string");
    BAD("\"\t\"", "control character 0x09");
    BAD("\"\\x\"", "1:2: invalid escape '\\x'");
    BAD("\"\\u12G4\"", "invalid \\u escape");
    BAD("\"\\u12\"", "invalid \\u escape");
    BAD("\"\\udc00\"", "lone low surrogate \\uDC00");
    BAD("\"\\ud800\"", "high surrogate \\uD800 not followed by a low one");
    BAD("\"\\ud800\\u0041\"", "high surrogate");
    BAD("\"\xc0\x80\"", "1:2: invalid UTF-8");    /* overlong NUL */
    BAD("\"\xe0\x80\xaf\"", "invalid UTF-8");     /* overlong '/' */
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8");     /* encoded surrogate */
    BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* above U+10FFFF */
    BAD("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
    BAD("\"\x80\"", "invalid UTF-8");     /* lone continuation */
    BAD("\"\xe4\xb8\"", "invalid UTF-8"); /* truncated sequence */
    BAD("\"\xff\"", "invalid UTF-8");
    BAD("\xff", "unexpected byte 0xff");
    BAD("{\"a\":1,\"a\":2}", "1:8: duplicate key 'a'");
    BAD("[\n  1,\n  \xe4\xb8\xad]", "3:3: unexpected byte 0xe4"); /* col counts characters */
    BAD("\"\xe4\xb8\xad\xe4\xb8\xad\" x", "1:6: unexpected 'x'");
    BAD("[1]\0", "1:4: unexpected byte 0x00");

    char deep[200];
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    parse_bad(deep, 130, "1:65: nested deeper than 64 levels");

    char longnum[5000];
    memset(longnum, '1', sizeof longnum);
    parse_bad(longnum, sizeof longnum, "number longer than 4096");

    /* Every prefix of a real header is refused or parsed; never a crash. */
    size_t n;
    char *cfg = tu_read_file(tu_shared(CHATGLM_HF "/config.json"), &n);
    const char *last = strrchr(cfg, '}'); /* cuts after it leave only whitespace out */
    assert_non_null(last);
    for (size_t cut = 0; cut <= (size_t)(last - cfg); cut++) {
        char *why = NULL;
        struct eng_json_doc *d = eng_json_parse(cfg, cut, &why);
        if (d) fail_msg("a config.json cut at %zu parsed", cut);
        assert_non_null(why);
        free(why);
    }
    struct eng_json_doc *d = eng_json_parse(cfg, n, NULL);
    assert_non_null(d);
    eng_json_free(d);
    free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_values),
        cmocka_unit_test(test_json_bad),
        cmocka_unit_test(test_chatglm_hparams),
        cmocka_unit_test(test_0414_hparams),
        cmocka_unit_test(test_chatglm_vs_gguf),
        cmocka_unit_test(test_0414_vs_gguf),
        cmocka_unit_test(test_synthetic_ok),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_bad_safetensors),
        cmocka_unit_test(test_bad_index),
        cmocka_unit_test(test_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
