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

/* ---- compute pool (pool.c) --------------------------------------------------------------- */

/* Most threads a pool takes (the command line's -t accepts 1..1024). */
#define ENG_POOL_MAX_THREADS 1024

/* A parallel region: called once on each thread index ith in 0..nth-1. */
typedef void (*eng_pool_fn_cb)(void *arg, int ith, int nth);

/* A fixed set of threads for parallel regions: n_threads - 1 workers plus the thread that
 * calls eng_pool_run. Workers spin briefly after a region, then sleep on a futex. */
struct eng_pool;

/* Starts n_threads - 1 workers (1..ENG_POOL_MAX_THREADS; 1 starts none). Returns a new pool,
 * or NULL with *why set (caller frees) when a thread cannot start or memory runs out. */
struct eng_pool *eng_pool_new(int n_threads, char **why);

/* Stops and joins the workers, frees the pool. NULL is fine. Not during eng_pool_run. */
void eng_pool_free(struct eng_pool *p);

/* Threads of the pool, the caller included. */
int eng_pool_n_threads(const struct eng_pool *p);

/* Runs fn(arg, ith, n) on every thread index ith in 0..n-1 (0 on the calling thread) and returns
 * when all have returned; their writes are then visible to the caller. Allocates nothing. One
 * caller at a time (any thread); fn must not call eng_pool_run on the same pool. */
void eng_pool_run(struct eng_pool *p, eng_pool_fn_cb fn, void *arg);

/* Physical cores this process may use: distinct (package, core_id) pairs of the CPUs in its
 * affinity mask (/sys/devices/system/cpu/cpuN/topology), capped by a cgroup v2 CPU quota;
 * the logical CPU count when the topology cannot be read. At least 1, at most
 * ENG_POOL_MAX_THREADS. Any thread. */
int eng_cpu_physical_cores(void);

/* ---- kernel table (kernels.c) ------------------------------------------------------------ */

/* The hot kernels of the forward pass, one table per instruction set, chosen once at start-up
 * by CPUID. Every entry of every table computes what the "ref" table's entry computes:
 *  - quantize_act: bit for bit (eng_quantize_row_ref's results) for NaN-free input;
 *  - vec_dot: the same integer block sums as eng_vec_dot_q8_ref (exact for every input), only
 *    the order in which the per-block float terms are added differs (and FMA may fuse them),
 *    so results agree to a few float roundings of sum|terms|; for F32/F16/BF16 weights the
 *    products are the same, summed in another order;
 *  - dot_f32, dot_f32_f16: the same products summed in another order;
 *  - axpy_f32, axpy_f16: bit for bit (a * x rounded, then added; never fused).
 * Arguments are not checked: n must be >= 0 and a whole number of blocks of the type; blocks
 * need no alignment, f32/f16/bf16 rows that of their element; outputs must not overlap inputs;
 * an activation row must be what quantize_act writes (the SIMD dots rely on Q8_K's bsums
 * being the sums of its quants). An entry is NULL for a type the engine does not handle
 * (vec_dot: types without eng_vec_dot_type; quantize_act: all but F32, Q8_0, Q8_1, Q8_K).
 * Tables are immutable; every kernel is pure and callable from any thread.
 *
 * A matmul quantises each activation row once, act = eng_vec_dot_type(w->type):
 *     k->quantize_act[act](x, xq, n_in);             xq: eng_act_row_bytes(act, n_in) bytes
 *     for each row r: out[r] = k->vec_dot[w->type](row_r, xq, n_in); */
struct eng_kernels {
    const char *name; /* "ref", "avx2", "avx512" */
    /* weight row (type w) · activation row already in eng_vec_dot_type(w) format (f32 for
     * float weights) */
    float (*vec_dot[ENG_TYPE_COUNT])(const void *w, const void *x, int64_t n);
    /* f32 row -> activation format act (Q8_0, Q8_1, Q8_K; F32 = copy) */
    void (*quantize_act[ENG_TYPE_COUNT])(const float *x, void *dst, int64_t n);
    float (*dot_f32)(const float *a, const float *b, int64_t n);        /* attention q·k, etc. */
    float (*dot_f32_f16)(const float *a, const uint16_t *b, int64_t n); /* q · f16 K cache */
    void (*axpy_f32)(float a, const float *x, float *y, int64_t n);     /* y += a·x (att · v) */
    void (*axpy_f16)(float a, const uint16_t *x, float *y, int64_t n);  /* y += a·f16 x */
};

/* The table for this process: chosen once (thread-safe) from the CPU's features (AVX-512
 * F/BW/VL/DQ + VNNI, then AVX2 + FMA + F16C, then ref). The environment variable
 * GLMTERM_KERNELS=ref|avx2|avx512 forces a path; an unknown value gives ref, a path the CPU
 * lacks gives the best one it has. Never NULL; any thread. */
const struct eng_kernels *eng_kernels(void);

/* The table eng_kernels() picks when GLMTERM_KERNELS is `force` (NULL: unset). Pure apart from
 * the one-time CPUID probe; any thread. For tests. */
const struct eng_kernels *eng_kernels_select(const char *force);

/* The table named `name` ("ref", "avx2", "avx512"), or NULL when the name is unknown or this
 * CPU (or this build) lacks the instruction set. Any thread. */
const struct eng_kernels *eng_kernels_get(const char *name);

/* Fill a copy of a lower table with the SIMD kernels of one file (kernels_avx2.c,
 * kernels_avx512.c). Called by kernels.c only, and only when CPUID reports the instruction
 * sets (the files are compiled for them, so even these functions may use them). */
void eng_kernels_fill_avx2(struct eng_kernels *k);
void eng_kernels_fill_avx512(struct eng_kernels *k);
