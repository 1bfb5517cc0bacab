/* The built-in demo model: a tiny randomly initialised GLM-4 (arch chatglm), generated
 * deterministically so the whole workstation can be tried with no download.
 *
 * It has glm-4-9b-chat's structure at toy size (2 layers, d_model 64, 4 heads, 2 KV heads,
 * d_ffn 160) and the real special-token ids (the padded vocabulary of 151552 rows), but its
 * vocabulary is byte-level only: ids 0..255 are the 256 bytes (as GPT-2 byte-level strings),
 * 151329..151342 the GLM-4 specials, the rest unused. It knows nothing; its weights are
 * random. They are shaped so the output reads as text rather than noise: every embedding
 * carries a constant component on dimension 0 that the final norm scales to about 1, and only
 * the rows of printable ASCII, newline and <|user|> (end of reply) read that component, so
 * replies are printable and end after a few dozen tokens on average (tuned by PRINTABLE_BIAS
 * and STOP_BIAS below). The file says what it is in general.name.
 */
#include "engine/eng_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_VOCAB   151552
#define D_MODEL   64
#define N_LAYER   2
#define N_HEAD    4
#define N_HEAD_KV 2
#define HEAD_DIM  16
#define D_FFN     160
#define N_CTX     4096
/* Logit offsets of printable bytes and of <|user|>: with temperature 1 a reply ends with
 * probability ~1/60 per token (e^(STOP-PRINTABLE) / (96 * e^(σ²/2)) with σ ≈ 1.5). */
#define PRINTABLE_BIAS 15.0f
#define STOP_BIAS      15.3f
#define SEED           0x676c6d7465726dull /* "glmterm" */

const char *const eng_glm4_specials[14] = {
    "<|endoftext|>",
    "[MASK]",
    "[gMASK]",
    "[sMASK]",
    "<sop>",
    "<eop>",
    "<|system|>",
    "<|user|>",
    "<|assistant|>",
    "<|observation|>",
    "<|begin_of_image|>",
    "<|end_of_image|>",
    "<|begin_of_video|>",
    "<|end_of_video|>",
};

uint64_t eng_rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float eng_rng_normal(uint64_t *s)
{
    double u1 = ((double)(eng_rng_next(s) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = (double)(eng_rng_next(s) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

size_t eng_byte_to_utf8(uint8_t b, char out[2])
{
    /* bytes_to_unicode: printable Latin-1 maps to itself, the other 68 bytes to 256.. in order */
    uint32_t cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
        uint32_t k = 0;
        for (uint32_t c = 0; c < b; c++)
            if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174)) k++;
        cp = 256 + k;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | cp >> 6);
    out[1] = (char)(0x80 | (cp & 63));
    return 2;
}

static float *normal_tensor(uint64_t *s, size_t n, float std)
{
    float *t = malloc(n * sizeof *t);
    if (t)
        for (size_t i = 0; i < n; i++)
            t[i] = eng_rng_normal(s) * std;
    return t;
}

static bool printable(int32_t id)
{
    return (id >= 32 && id <= 126) || id == '\n';
}

int eng_demo_write(const char *path, char **why)
{
    int rc = ENG_ERR_NOMEM;
    uint64_t s = SEED;
    struct eng_gguf_writer *w = eng_gguf_writer_new();
    char **tokens = calloc(N_VOCAB, sizeof *tokens);
    int32_t *types = calloc(N_VOCAB, sizeof *types);
    float *bufs[64] = {0};
    size_t n_bufs = 0;
    uint8_t *embd_q = NULL, *out_q = NULL;
    if (!w || !tokens || !types) goto out;

    /* Vocabulary: bytes as GPT-2 byte-level strings, specials, unused ids. */
    for (int b = 0; b < 256; b++) {
        char u[3] = {0};
        eng_byte_to_utf8((uint8_t)b, u);
        tokens[b] = strdup(u);
        types[b] = 1;
    }
    for (int32_t id = 256; id < N_VOCAB; id++) {
        char name[32];
        if (id >= ENG_GLM4_SPECIAL_FIRST && id < ENG_GLM4_SPECIAL_FIRST + 14) {
            tokens[id] = strdup(eng_glm4_specials[id - ENG_GLM4_SPECIAL_FIRST]);
            types[id] = 3;
        } else {
            snprintf(name, sizeof name, "[UNUSED%d]", (int)id);
            tokens[id] = strdup(name);
            types[id] = 5;
        }
    }
    for (int32_t id = 0; id < N_VOCAB; id++)
        if (!tokens[id]) goto out;

    eng_gguf_writer_str(w, "general.architecture", "chatglm");
    eng_gguf_writer_str(w, "general.name", "glmterm demo (random weights, not a trained model)");
    eng_gguf_writer_u32(w, "chatglm.context_length", N_CTX);
    eng_gguf_writer_u32(w, "chatglm.embedding_length", D_MODEL);
    eng_gguf_writer_u32(w, "chatglm.feed_forward_length", D_FFN);
    eng_gguf_writer_u32(w, "chatglm.block_count", N_LAYER);
    eng_gguf_writer_u32(w, "chatglm.attention.head_count", N_HEAD);
    eng_gguf_writer_u32(w, "chatglm.attention.head_count_kv", N_HEAD_KV);
    eng_gguf_writer_f32(w, "chatglm.attention.layer_norm_rms_epsilon", 1.5625e-07f);
    eng_gguf_writer_u32(w, "chatglm.rope.dimension_count", HEAD_DIM / 2);
    eng_gguf_writer_f32(w, "chatglm.rope.freq_base", 10000.0f);
    eng_gguf_writer_str(w, "tokenizer.ggml.model", "gpt2");
    eng_gguf_writer_str(w, "tokenizer.ggml.pre", "chatglm-bpe");
    eng_gguf_writer_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tokens, NULL, N_VOCAB);
    eng_gguf_writer_arr_i32(w, "tokenizer.ggml.token_type", types, N_VOCAB);
    eng_gguf_writer_u32(w, "tokenizer.ggml.eos_token_id", 151329);
    eng_gguf_writer_u32(w, "tokenizer.ggml.eot_token_id", 151336);
    eng_gguf_writer_u32(w, "tokenizer.ggml.padding_token_id", 151329);
    eng_gguf_writer_bool(w, "tokenizer.ggml.add_bos_token", false);

    /* Embeddings: dimension 0 carries the constant the output rows read. */
    float *embd = normal_tensor(&s, (size_t)N_VOCAB * D_MODEL, 0.1f);
    bufs[n_bufs++] = embd;
    if (!embd) goto out;
    for (int32_t id = 0; id < N_VOCAB; id++)
        embd[(size_t)id * D_MODEL] = 1.0f;
    float *out_w = calloc((size_t)N_VOCAB * D_MODEL, sizeof *out_w);
    bufs[n_bufs++] = out_w;
    if (!out_w) goto out;
    for (int32_t id = 0; id < N_VOCAB; id++) {
        if (!printable(id) && id != 151336) continue;
        float *row = out_w + (size_t)id * D_MODEL;
        row[0] = id == 151336 ? STOP_BIAS : PRINTABLE_BIAS;
        for (int i = 1; i < D_MODEL; i++)
            row[i] = eng_rng_normal(&s) * 0.3f;
    }
    /* The two big matrices as Q8_0 (10 MB each instead of 39). */
    size_t qrow = eng_act_row_bytes(ENG_TYPE_Q8_0, D_MODEL);
    embd_q = malloc((size_t)N_VOCAB * qrow);
    out_q = malloc((size_t)N_VOCAB * qrow);
    if (!embd_q || !out_q) goto out;
    for (int32_t id = 0; id < N_VOCAB; id++) {
        eng_quantize_row_ref(ENG_TYPE_Q8_0, embd + (size_t)id * D_MODEL, embd_q + id * qrow,
                             D_MODEL);
        eng_quantize_row_ref(ENG_TYPE_Q8_0, out_w + (size_t)id * D_MODEL, out_q + id * qrow,
                             D_MODEL);
    }
    int64_t ne_vocab[2] = {D_MODEL, N_VOCAB};
    eng_gguf_writer_tensor(w, "token_embd.weight", ENG_TYPE_Q8_0, 2, ne_vocab, embd_q);

    const int32_t qkv = N_HEAD * HEAD_DIM + 2 * N_HEAD_KV * HEAD_DIM;
    for (int l = 0; l < N_LAYER; l++) {
        char name[64];
        struct {
            const char *suffix;
            int64_t ne0, ne1;
            float std, fill; /* fill >= 0: constant instead of random */
        } ts[] = {
            {"attn_norm.weight", D_MODEL, 1, 0, 1.0f},
            {"attn_qkv.weight", D_MODEL, qkv, 0.125f, -1},
            {"attn_qkv.bias", qkv, 1, 0.02f, -1},
            {"attn_output.weight", N_HEAD * HEAD_DIM, D_MODEL, 0.02f, -1},
            {"ffn_norm.weight", D_MODEL, 1, 0, 1.0f},
            {"ffn_up.weight", D_MODEL, 2 * D_FFN, 0.125f, -1},
            {"ffn_down.weight", D_FFN, D_MODEL, 0.02f, -1},
        };
        for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
            size_t n = (size_t)ts[i].ne0 * (size_t)ts[i].ne1;
            float *t = normal_tensor(&s, n, ts[i].std);
            if (!t || n_bufs == sizeof bufs / sizeof bufs[0]) {
                free(t);
                goto out;
            }
            bufs[n_bufs++] = t;
            if (ts[i].fill >= 0)
                for (size_t j = 0; j < n; j++)
                    t[j] = ts[i].fill;
            snprintf(name, sizeof name, "blk.%d.%s", l, ts[i].suffix);
            int64_t ne[2] = {ts[i].ne0, ts[i].ne1};
            eng_gguf_writer_tensor(w, name, ENG_TYPE_F32, ts[i].ne1 > 1 ? 2 : 1, ne, t);
        }
    }
    /* Final norm: scales dimension 0 of the normalised state to about 1 (rms ≈ 0.16). */
    float *onorm = malloc(D_MODEL * sizeof *onorm);
    bufs[n_bufs++] = onorm;
    if (!onorm) goto out;
    for (int i = 0; i < D_MODEL; i++)
        onorm[i] = i == 0 ? 0.16f : 1.0f;
    int64_t ne_norm[1] = {D_MODEL};
    eng_gguf_writer_tensor(w, "output_norm.weight", ENG_TYPE_F32, 1, ne_norm, onorm);
    eng_gguf_writer_tensor(w, "output.weight", ENG_TYPE_Q8_0, 2, ne_vocab, out_q);

    rc = eng_gguf_writer_write(w, path, why);
    goto done;
out:
    eng_fail(why, rc, "%s: out of memory generating the demo model", path);
done:
    for (size_t i = 0; i < n_bufs; i++)
        free(bufs[i]);
    free(embd_q);
    free(out_q);
    if (tokens)
        for (int32_t id = 0; id < N_VOCAB; id++)
            free(tokens[id]);
    free(tokens);
    free(types);
    eng_gguf_writer_free(w);
    return rc;
}
