/* Engine internals shared by the engine sources — not part of the public API (engine/engine.h).
 *
 * Three pieces meet here:
 *  - kernels (quant.c): dequantisation and dot products per tensor type, a portable `_ref`
 *    version of each (SIMD versions come with the speed issue);
 *  - weight sources (gguf.c via model.c, hf.c): a uniform view of a model's tensors under
 *    GGUF names, whether they come from a GGUF file or a Hugging Face directory;
 *  - hyper-parameters (`struct eng_hparams`) read from GGUF keys or config.json.
 */
#pragma once

#include "engine/engine.h"

/* ---- kernels (quant.c) ------------------------------------------------------------------- */

/* Dequantises `n` elements (a multiple of the type's block size) of type `type` at `src`
 * into `dst`, bit-exactly as ggml's reference dequantisation does. Supported: F32, F16,
 * BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K. Returns 0 or ENG_ERR_UNSUPPORTED. */
int eng_dequant_row_ref(uint32_t type, const void *src, float *dst, int64_t n);

/* Dot product of one row of `n` elements of type `type` with the f32 vector `x`:
 * sum_i dequant(row)[i] * x[i], accumulated in f32/f64 as documented in quant.c. */
float eng_vec_dot_ref(uint32_t type, const void *row, const float *x, int64_t n);

/* True when the kernels handle `type`. */
bool eng_type_supported(uint32_t type);

/* IEEE half and bfloat16 <-> float. */
float eng_f16_to_f32(uint16_t h);
uint16_t eng_f32_to_f16(float f);
float eng_bf16_to_f32(uint16_t h);

/* ---- model description ------------------------------------------------------------------- */

enum eng_arch {
    ENG_ARCH_CHATGLM = 0, /* glm-4-9b-chat (GGUF arch "chatglm") */
    ENG_ARCH_GLM4 = 1,    /* GLM-4-0414 / GLM-Z1 (GGUF arch "glm4") */
};

struct eng_hparams {
    enum eng_arch arch;
    int32_t n_layer;
    int32_t d_model;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim; /* d_model / n_head unless the file says otherwise */
    int32_t d_ffn;    /* per half of the fused gate+up projection */
    int32_t n_vocab;  /* rows of token_embd / output (padded: 151552) */
    int32_t n_ctx_train;
    int32_t rope_dim; /* rotated dims per head (64 of 128 for GLM-4) */
    float rope_base;  /* 10000 * rope_ratio for chatglm; rope_theta for glm4 */
    float norm_eps;
};

/* One weight tensor as the forward pass sees it: ggml layout (ne[0] = row length), data in
 * a read-only mapping owned by the source. */
struct eng_tensor {
    uint32_t type;
    int32_t n_dims;
    int64_t ne[4];
    const void *data;
    uint64_t nbytes;
};

/* ---- Hugging Face directories (hf.c) ----------------------------------------------------- */

/* A Hugging Face model directory: config.json + model.safetensors or sharded
 * model-*.safetensors with model.safetensors.index.json, every shard mmap'd read-only and its
 * header validated against the file. Immutable after open. */
struct eng_hf;

struct eng_hf *eng_hf_open(const char *dir, char **why);
void eng_hf_close(struct eng_hf *hf);
/* Hyper-parameters from config.json (model_type "chatglm" or "glm4"). */
const struct eng_hparams *eng_hf_hparams(const struct eng_hf *hf);
/* The tensor with GGUF name `name` ("blk.3.attn_qkv.weight", "token_embd.weight", ...),
 * mapped from whichever HF naming the checkpoint uses (chatglm original, -hf split q/k/v
 * names, 0414 names). Returns 0 and fills `*t`, or ENG_ERR_RANGE when absent. For split
 * checkpoints the fused names (attn_qkv) are absent and attn_q/attn_k/attn_v exist. */
int eng_hf_tensor(const struct eng_hf *hf, const char *name, struct eng_tensor *t);

/* ---- shared helpers (util.c) ------------------------------------------------------------- */

/* Sets *why (when why != NULL) to a malloc'd formatted line and returns `err`. */
int eng_fail(char **why, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
