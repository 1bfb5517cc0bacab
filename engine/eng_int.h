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

/* Bytes of memory available for new allocations (MemAvailable), or -1 when unknown. The
 * environment variable GLMTERM_MEM_AVAILABLE overrides it (tests). */
int64_t eng_mem_available(void);

/* ---- 8-bit activations (quant_q8.c) ------------------------------------------------------ */

/* The activation type ggml pairs with weight type `wtype` (type_traits_cpu vec_dot_type):
 * Q4_0, Q5_0, Q8_0 -> Q8_0; Q4_1, Q5_1 -> Q8_1; Q4_K, Q5_K, Q6_K -> Q8_K; F32, F16, BF16 -> F32
 * (float weights keep exact f32 activations, unlike ggml). ENG_TYPE_COUNT (no type) for any
 * other `wtype`. Pure, any thread. */
uint32_t eng_vec_dot_type(uint32_t wtype);

/* Bytes of an activation row of `n` elements of `act_type`: Q8_0 34 B per 32, Q8_1 36 B per
 * 32, Q8_K 292 B per 256, F32 4 B each. 0 when `act_type` is none of these, n < 0, or n is
 * not a whole number of blocks. */
size_t eng_act_row_bytes(uint32_t act_type, int64_t n);

/* Quantises the f32 row `x` (n elements) into `dst` (eng_act_row_bytes(act_type, n) bytes, not
 * overlapping x), bit-exactly as llama.cpp's x86 (AVX/AVX2) build does: Q8_0/Q8_1 as its SIMD
 * quantize_row_q8_0 / _q8_1 (id = 127 / amax, round half to even; not ggml's generic _ref),
 * Q8_K as quantize_row_q8_K_ref (see quant_q8.c); F32 is a copy. Returns 0, ENG_ERR_UNSUPPORTED
 * (another act_type) or ENG_ERR_RANGE (n < 0 or not a whole number of blocks). No allocation, any
 * thread. */
int eng_quantize_row_ref(uint32_t act_type, const float *x, void *dst, int64_t n);

/* Dot product of a weight row `w` (n elements of `wtype`) with an activation row `xq` of type
 * eng_vec_dot_type(wtype) made by eng_quantize_row_ref, computed exactly as ggml's generic
 * ggml_vec_dot_<w>_<act>_generic does (integer block sums, ggml's float order; see
 * quant_q8.c) for Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K. For F32/F16/BF16 `xq` is
 * the f32 row and the result is eng_vec_dot_ref's. NaN for any other type, n < 0 or n not a
 * whole number of blocks. No allocation, any thread. */
float eng_vec_dot_q8_ref(uint32_t wtype, const void *w, const void *xq, int64_t n);
