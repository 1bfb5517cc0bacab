/* make_model — writes a random-weight GGUF with glm-4-9b-chat's exact shapes, for benchmarks.
 *
 * Usage: make_model [--layers N] [--vocab RANKS] -o FILE
 *
 * Dimensions are spec/glm4-model.md §1 (arch chatglm: d_model 4096, 32 heads, 2 KV heads,
 * head_dim 128, d_ffn 13696, vocab 151552, rope_dim 64, base 5e6, eps 1.5625e-7, context
 * 131072); only the layer count may change (--layers, default 40), so a 4-layer file has the
 * full-size embedding and output matrices (which dominate small variants) and per-layer
 * matrices of exactly the 9B model's size. The vocabulary is the real one (the tiktoken ranks
 * file as GPT-2 byte-level strings, the 14 specials at 151329..151342 as in
 * tokenizer_config.json, the padding rows UNUSED); merges are not written: the engine does not
 * need them and a benchmark never tokenizes.
 *
 * Weights are F16 draws of N(0, 0.02²) (norms 1, qkv bias N(0, 0.01²), both F32 as
 * convert_hf_to_gguf.py writes 1-D tensors). Speed matters more than statistics here: a table
 * of 65536 Box-Muller samples is indexed by 16 random bits, four values per splitmix64 draw.
 * Tensor data is streamed through eng_gguf_writer_write_cb, one tensor in memory at a time
 * (the largest, token_embd, is 1.2 GB), so the 19 GB 40-layer file needs about 1.3 GB of RAM.
 */
#include "engine/eng_int.h"
#include "tokenizer/tokenizer.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define N_VOCAB    151552 /* padded_vocab_size */
#define D_MODEL    4096
#define N_HEAD     32
#define N_HEAD_KV  2
#define HEAD_DIM   128
#define D_FFN      13696
#define N_CTX      131072 /* seq_length */
#define ROPE_DIM   64
#define ROPE_BASE  5e6f /* 10000 · rope_ratio 500 */
#define EPS        1.5625e-07f
#define WEIGHT_STD 0.02f
#define BIAS_STD   0.01f
#define SEED       0x62656e63686d6f64ull /* "benchmod" */

struct tensor {
    char name[64];
    uint32_t type; /* F16 matrices, F32 vectors */
    int64_t ne0, ne1;
    float std, fill; /* fill >= 0: constant */
};

struct gen {
    struct tensor *t;
    size_t n_t;
    void *buf; /* the largest tensor's bytes */
    uint16_t table[65536];
    uint64_t rng;
    double t0;
    uint64_t done_bytes, total_bytes;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int tensor_data(void *user, size_t index, const void **data, char **why)
{
    struct gen *g = user;
    (void)why;
    const struct tensor *t = &g->t[index];
    size_t n = (size_t)t->ne0 * (size_t)t->ne1;
    if (t->type == ENG_TYPE_F16) {
        uint16_t *p = g->buf;
        const float scale = t->std / WEIGHT_STD; /* the table holds N(0, WEIGHT_STD²) */
        if (scale == 1.0f) {
            size_t i = 0;
            for (; i + 4 <= n; i += 4) {
                uint64_t r = eng_rng_next(&g->rng);
                p[i] = g->table[r & 0xffff];
                p[i + 1] = g->table[(r >> 16) & 0xffff];
                p[i + 2] = g->table[(r >> 32) & 0xffff];
                p[i + 3] = g->table[r >> 48];
            }
            for (; i < n; i++)
                p[i] = g->table[eng_rng_next(&g->rng) & 0xffff];
        } else {
            for (size_t i = 0; i < n; i++)
                p[i] = eng_f32_to_f16(eng_rng_normal(&g->rng) * t->std);
        }
    } else {
        float *p = g->buf;
        for (size_t i = 0; i < n; i++)
            p[i] = t->fill >= 0 ? t->fill : eng_rng_normal(&g->rng) * t->std;
    }
    *data = g->buf;
    g->done_bytes += n * (t->type == ENG_TYPE_F16 ? 2 : 4);
    fprintf(stderr, "\rmake_model: %3zu/%zu %-28s %6.1f / %.1f GB  %5.0f s", index + 1, g->n_t,
            t->name, (double)g->done_bytes / 1e9, (double)g->total_bytes / 1e9, now_s() - g->t0);
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: make_model [--layers N] [--vocab RANKS] -o FILE\n"
          "\n"
          "Writes a random-weight F16 GGUF with glm-4-9b-chat's shapes (arch chatglm).\n"
          "  --layers N     transformer blocks (default 40: the real 9B model, 18.8 GB)\n"
          "  --vocab RANKS  tokenizer.model (default ../shared/data/glm4/tokenizer.model)\n"
          "  -o FILE        output path\n",
          f);
}

int main(int argc, char **argv)
{
    long n_layer = 40;
    const char *out = NULL;
    const char *ranks = "../shared/data/glm4/tokenizer.model";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "make_model: %s: missing value\n", a);
            return 2;
        }
        if (strcmp(a, "--layers") == 0) {
            char *end;
            errno = 0;
            n_layer = strtol(argv[++i], &end, 10);
            if (errno || *end || n_layer < 1 || n_layer > 40) {
                fprintf(stderr, "make_model: --layers: '%s' is not an integer in [1, 40]\n",
                        argv[i]);
                return 2;
            }
        } else if (strcmp(a, "-o") == 0) {
            out = argv[++i];
        } else if (strcmp(a, "--vocab") == 0) {
            ranks = argv[++i];
        } else {
            fprintf(stderr, "make_model: %s: unknown option\n", a);
            return 2;
        }
    }
    if (!out) {
        fputs("make_model: -o FILE is required\n", stderr);
        return 2;
    }

    int rc = 1;
    char *why = NULL;
    char **tokens = calloc(N_VOCAB, sizeof *tokens);
    int32_t *types = calloc(N_VOCAB, sizeof *types);
    struct gen *g = calloc(1, sizeof *g);
    struct eng_gguf_writer *w = eng_gguf_writer_new();
    struct tok_vocab *v = tok_vocab_load(ranks, &why);
    if (!v) {
        fprintf(stderr, "make_model: %s\n", why ? why : "cannot read the vocabulary");
        goto out;
    }
    if (!tokens || !types || !g || !w) goto oom;

    /* Vocabulary: ranks as byte-level strings, the specials, padding rows. */
    for (int32_t id = 0; id < N_VOCAB; id++) {
        const uint8_t *p;
        size_t len;
        if (id < tok_vocab_size(v) && tok_token_bytes(v, id, &p, &len) == 0) {
            char *s = malloc(2 * len + 1);
            if (!s) goto oom;
            size_t k = 0;
            for (size_t j = 0; j < len; j++)
                k += eng_byte_to_utf8(p[j], s + k);
            s[k] = 0;
            tokens[id] = s;
            types[id] = 1; /* NORMAL */
        } else if (id >= ENG_GLM4_SPECIAL_FIRST && id < ENG_GLM4_SPECIAL_FIRST + 14) {
            tokens[id] = strdup(eng_glm4_specials[id - ENG_GLM4_SPECIAL_FIRST]);
            types[id] = 3; /* CONTROL */
        } else {
            char pad[32];
            snprintf(pad, sizeof pad, "[PAD%d]", (int)id);
            tokens[id] = strdup(pad);
            types[id] = 5; /* UNUSED */
        }
        if (!tokens[id]) goto oom;
    }

    char name[128];
    snprintf(name, sizeof name, "glm-4-9b shapes, %ld layers, random weights (glmterm bench)",
             n_layer);
    eng_gguf_writer_str(w, "general.architecture", "chatglm");
    eng_gguf_writer_str(w, "general.name", name);
    eng_gguf_writer_u32(w, "general.file_type", 1); /* MOSTLY_F16 */
    eng_gguf_writer_u32(w, "chatglm.context_length", N_CTX);
    eng_gguf_writer_u32(w, "chatglm.embedding_length", D_MODEL);
    eng_gguf_writer_u32(w, "chatglm.feed_forward_length", D_FFN);
    eng_gguf_writer_u32(w, "chatglm.block_count", (uint32_t)n_layer);
    eng_gguf_writer_u32(w, "chatglm.attention.head_count", N_HEAD);
    eng_gguf_writer_u32(w, "chatglm.attention.head_count_kv", N_HEAD_KV);
    eng_gguf_writer_f32(w, "chatglm.attention.layer_norm_rms_epsilon", EPS);
    eng_gguf_writer_u32(w, "chatglm.rope.dimension_count", ROPE_DIM);
    eng_gguf_writer_f32(w, "chatglm.rope.freq_base", ROPE_BASE);
    eng_gguf_writer_str(w, "tokenizer.ggml.model", "gpt2");
    eng_gguf_writer_str(w, "tokenizer.ggml.pre", "chatglm-bpe");
    eng_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, NULL, N_VOCAB);
    eng_gguf_writer_arr_i32(w, "tokenizer.ggml.token_type", types, N_VOCAB);
    eng_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", 151329);
    eng_gguf_writer_u32(w, "tokenizer.ggml.eot_token_id", 151336);
    eng_gguf_writer_u32(w, "tokenizer.ggml.padding_token_id", 151329);
    eng_gguf_writer_u32(w, "tokenizer.ggml.unknown_token_id", 151329);
    eng_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", false);

    /* Tensors in convert_hf_to_gguf.py's order. */
    const int64_t qkv = N_HEAD * HEAD_DIM + 2 * N_HEAD_KV * HEAD_DIM; /* 4608 */
    g->n_t = 3 + 7 * (size_t)n_layer;
    g->t = calloc(g->n_t, sizeof *g->t);
    if (!g->t) goto oom;
    size_t k = 0;
    g->t[k++] =
        (struct tensor){"token_embd.weight", ENG_TYPE_F16, D_MODEL, N_VOCAB, WEIGHT_STD, -1};
    for (long l = 0; l < n_layer; l++) {
        static const struct tensor layer[] = {
            {"attn_norm.weight", ENG_TYPE_F32, D_MODEL, 1, 0, 1.0f},
            {"attn_qkv.weight", ENG_TYPE_F16, D_MODEL, qkv, WEIGHT_STD, -1},
            {"attn_qkv.bias", ENG_TYPE_F32, qkv, 1, BIAS_STD, -1},
            {"attn_output.weight", ENG_TYPE_F16, N_HEAD * HEAD_DIM, D_MODEL, WEIGHT_STD, -1},
            {"ffn_norm.weight", ENG_TYPE_F32, D_MODEL, 1, 0, 1.0f},
            {"ffn_up.weight", ENG_TYPE_F16, D_MODEL, 2 * D_FFN, WEIGHT_STD, -1},
            {"ffn_down.weight", ENG_TYPE_F16, D_FFN, D_MODEL, WEIGHT_STD, -1},
        };
        for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++) {
            g->t[k] = layer[i];
            snprintf(g->t[k].name, sizeof g->t[k].name, "blk.%d.%.40s", (int)(l % 1000),
                     layer[i].name);
            k++;
        }
    }
    g->t[k++] = (struct tensor){"output_norm.weight", ENG_TYPE_F32, D_MODEL, 1, 0, 1.0f};
    g->t[k++] = (struct tensor){"output.weight", ENG_TYPE_F16, D_MODEL, N_VOCAB, WEIGHT_STD, -1};

    size_t max_bytes = 0;
    for (size_t i = 0; i < g->n_t; i++) {
        const struct tensor *t = &g->t[i];
        size_t nb = (size_t)t->ne0 * (size_t)t->ne1 * (t->type == ENG_TYPE_F16 ? 2 : 4);
        if (nb > max_bytes) max_bytes = nb;
        g->total_bytes += nb;
        int64_t ne[2] = {t->ne0, t->ne1};
        if (eng_gguf_writer_tensor(w, t->name, t->type, t->ne1 > 1 ? 2 : 1, ne, NULL) != 0)
            goto oom;
    }
    g->buf = malloc(max_bytes);
    if (!g->buf) goto oom;
    g->rng = SEED;
    for (size_t i = 0; i < 65536; i++)
        g->table[i] = eng_f32_to_f16(eng_rng_normal(&g->rng) * WEIGHT_STD);
    g->t0 = now_s();
    if (eng_gguf_writer_write_cb(w, out, tensor_data, g, &why) != 0) {
        fprintf(stderr, "\nmake_model: %s\n", why ? why : "write failed");
        goto out;
    }
    fprintf(stderr, "\nmake_model: wrote %s (%ld layers) in %.0f s\n", out, n_layer,
            now_s() - g->t0);
    rc = 0;
    goto out;
oom:
    fputs("make_model: out of memory\n", stderr);
out:
    for (int32_t id = 0; tokens && id < N_VOCAB; id++)
        free(tokens[id]);
    free(tokens);
    free(types);
    if (g) {
        free(g->t);
        free(g->buf);
    }
    free(g);
    free(why);
    eng_gguf_writer_free(w);
    tok_vocab_free(v);
    return rc;
}
