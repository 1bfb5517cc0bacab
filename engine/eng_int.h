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

#include <string.h>

/* ---- little-endian fields ---------------------------------------------------------------- */

/* Loads and stores of little-endian fields at any alignment (GGUF and ggml's blocks are byte
 * packed little endian): memcpy on little-endian hosts (one unaligned load, which matters in
 * the SIMD kernels' scale gathers: the byte-by-byte form measured 15 % slower there), byte by
 * byte elsewhere. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
static inline uint16_t eng_ld16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t eng_ld32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}
#else
static inline uint16_t eng_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t eng_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
#endif

static inline uint64_t eng_ld64(const uint8_t *p)
{
    return (uint64_t)eng_ld32(p) | (uint64_t)eng_ld32(p + 4) << 32;
}

static inline float eng_ldf(const uint8_t *p)
{
    const uint32_t u = eng_ld32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline void eng_st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void eng_stf(uint8_t *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    p[0] = (uint8_t)u, p[1] = (uint8_t)(u >> 8), p[2] = (uint8_t)(u >> 16),
    p[3] = (uint8_t)(u >> 24);
}

/* The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K super-block from its 12
 * packed bytes `s` (ggml's get_scale_min_k4). */
static inline void eng_k4_scale_min(int j, const uint8_t *s, int32_t *sc, int32_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0x0f) | (s[j - 4] >> 6) << 4;
        *m = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
    }
}

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

/* Shard `i` of `hf` (0 .. n-1): its whole-file read-only mapping (`*map`, `*size` bytes) and
 * full path (`*path`), all borrowed until eng_hf_close. Returns the number of shards n when
 * `i` < n (the out pointers set), else n with nothing set; any thread. */
uint32_t eng_hf_shard_map(const struct eng_hf *hf, uint32_t i, const void **map, uint64_t *size,
                          const char **path);

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

/* ---- random-weight models (demo.c; bench/make_model.c uses them too) -------------------- */

/* GLM-4's 14 special tokens, ids ENG_GLM4_SPECIAL_FIRST .. +13 in this order. */
#define ENG_GLM4_SPECIAL_FIRST 151329
extern const char *const eng_glm4_specials[14];

/* splitmix64: the next value of the deterministic generator `*s`; and a standard normal from
 * it (Box-Muller). Pure apart from *s; any thread. */
uint64_t eng_rng_next(uint64_t *s);
float eng_rng_normal(uint64_t *s);

/* Byte b as GPT-2's byte-level vocabulary writes it (bytes_to_unicode), UTF-8 encoded into
 * out (1 or 2 bytes, not terminated); returns the length. */
size_t eng_byte_to_utf8(uint8_t b, char out[2]);

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

/* ---- batched matmul: int8 GEMM (gemm.c, gemm_avx512.c) and OpenBLAS (blas.c) -------------- */

/* A prompt batch multiplies each weight matrix by n_tok activation rows at once. Dotting every
 * row with every token (the decode path) is compute-bound, so batches go through a GEMM:
 *
 * int8 GEMM for quantised weights. A thread takes 16 weight rows at a time and repacks them
 * into a tile whose 512-bit lanes are the 16 rows: per 4 consecutive elements k one 64-byte
 * vector holds the 16 rows' unsigned weight integers (tile layout [k/4][row][4 bytes]), so one
 * VNNI dpbusd multiplies 16 rows by 4 activation bytes broadcast from one token and no
 * horizontal sums are ever needed. The block scales sit beside the integers, one float (or
 * int32) vector of the 16 rows per block. A few tokens at a time then stream through the tile.
 * Families (the activation row is the type's eng_vec_dot_type, as quantize_act writes it):
 *   B32 (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; 32-element blocks): weights as unsigned integers
 *       (Q8_0 biased by 128), the offset (8, 16, 128) removed through the activation block's
 *       byte sum; per block and token: acc = c + sum q*x; f = fma((float)acc, dw*dx, f)
 *       and, for Q4_1/Q5_1, f = fma(mw, sx, f).
 *   K4 (Q4_K, Q5_K; 256-element super-blocks, 8 sub-blocks with 6-bit scales and mins):
 *       isb = sum_j sc_j * (sum q*x over sub-block j), msum = sum_j m_j * bs_j (bs: the
 *       activation's sub-block sums); f = fma((float)isb, d*dx, f); f = fma(-(float)msum,
 *       dmin*dx, f).
 *   K6 (Q6_K): isb = sum_j sc_j * (c_j + sum q*x over 16-element sub-block j), c_j = -32 *
 *       bsum_j; f = fma((float)isb, d*dx, f).
 * Integer parts are exact, as in every vec_dot; the float terms are added per row in block
 * order (fused), which is not the vec_dot order, so a batched row differs from the same row
 * computed token by token by float rounding (and, through 8-bit re-quantisation downstream,
 * occasionally by one activation step). Each output element is computed the same way whatever
 * the tile, token group or thread, so results stay bit-identical for any thread count. The
 * portable eng_gemm_ref computes exactly what the SIMD GEMM computes (fmaf, same order).
 *
 * OpenBLAS for float weights (F32/F16/BF16; F32 rows in place, others converted to f32 tiles)
 * and, on request (GLMTERM_GEMM=blas, for measurements), for dequantised quantised tiles.
 *
 * Rows go to threads in whole tiles of ENG_GEMM_ROWS; a call computes rows [r0, r1) of `w`
 * (r0 a multiple of ENG_GEMM_ROWS) for all tokens of `a`. */
#define ENG_GEMM_ROWS 16

struct eng_kernels;

/* Bytes of one block's slice of a tile: B32 640 (qs 512, d, m), K4 4992 (qs 4096, sc[8][16],
 * m pairs[4][16], d, dmin), K6 5184 (qs 4096, sc[16][16], d). Offsets in gemm.c. */
size_t eng_gemm_tile_block_bytes(uint32_t wtype);

/* The non-integer part of one block of a tile: scales (and mins) of the 16 rows whose block b
 * starts at rows[i] + b * block_bytes (NULL: a padding row, all zero), written into the tile
 * block `tb`. Shared by every packer. */
void eng_gemm_pack_scales(uint32_t wtype, const uint8_t *const rows[ENG_GEMM_ROWS], int64_t b,
                          uint8_t *tb);

/* A batch of activation rows prepared for the int8 GEMM of one weight type, interleaved by
 * block so that a kernel walks n_tok tokens with one pointer: block b (32 or 256 elements) of
 * token t has its int8 quants at q + (b * n_tok + t) * bs and its figures at [b * n_tok + t]:
 *   d: the activation scale (Q8_0/Q8_1 f16 d, Q8_K f32 d) as f32;
 *   s: Q8_1's s as f32 (Q4_1, Q5_1), else unused;
 *   c: cpb words: B32 (1): -offset * (sum of the block's quants) (0 for Q4_1/Q5_1); K4 (4):
 *      each two int16 sub-block sums (low half: sub-block 2i, high half: 2i+1); K6 (16):
 *      -32 * bsums[j] per 16-element sub-block. */
struct eng_gemm_act {
    const int8_t *q;
    const float *d, *s;
    const int32_t *c;
    int64_t nb; /* blocks per token */
    int32_t n_tok;
};

/* Block size (32 or 256), blocks and words of c per block for weight type `wtype` and row
 * length n (whole blocks). */
void eng_gemm_act_sizes(uint32_t wtype, int64_t n, int64_t *bs, int64_t *nb, int64_t *cpb);

/* Writes token t of n_tok into the interleaved arrays q, d, s, c (sized for n_tok tokens by
 * eng_gemm_act_sizes) from its activation row `xq` (eng_vec_dot_type(wtype), n elements).
 * Any thread; different tokens may be written at once. */
void eng_gemm_prep(uint32_t wtype, const uint8_t *xq, int64_t n, int32_t t, int32_t n_tok,
                   int8_t *q, float *d, float *s, int32_t *c);

/* Decode GEMV ("lanes = blocks"): for a single token the weight rows cannot be repacked
 * (that costs as much as the dot), so for the types that have one (Q4_0) the activation row is
 * packed instead, once per matmul: per group of 16 blocks, the int8 quants as
 * q[k/4][block][k%4] (512 B), c[16] (-offset * block sum, int32) and d[16] (f32); blocks past
 * the row are zero. A row's dot then transposes its own 16 blocks' bytes the same way (the
 * GEMM's 16x16-byte transpose) and one dpbusd lane per block sums the block exactly; per
 * group f_i = fma((float)acc_i, dw_i * dx_i, f_i) in lane i, and the 16 lanes are added in a
 * fixed tree: (i + 8), then (i + 4), (i + 2), (i + 1). */
#define ENG_GEMV_GROUP       16
#define ENG_GEMV_GROUP_BYTES 640

/* Bytes of a packed activation row of n elements for `wtype`'s GEMV; 0 when it has none. */
size_t eng_gemv_act_bytes(uint32_t wtype, int64_t n);

/* Packs the activation row xq (eng_vec_dot_type(wtype), n elements) into xp. Any thread. */
void eng_gemv_prep(uint32_t wtype, const uint8_t *xq, int64_t n, void *xp);

/* The reference GEMV dot (what the SIMD one computes bit for bit). Any thread. */
float eng_gemv_ref(uint32_t wtype, const void *w, const void *xp, int64_t n);

/* Bytes of scratch one thread needs for a tile of rows of length n of `wtype`. */
size_t eng_gemm_scratch_bytes(uint32_t wtype, int64_t n);

/* The tile of rows r0 .. r0+15 of w (rows past ne[1] are zero) in the layout described above,
 * written to `tile` (eng_gemm_scratch_bytes). The reference the SIMD packers are tested
 * against byte for byte. Any thread. */
void eng_gemm_pack_ref(const struct eng_tensor *w, int64_t r0, void *tile);

/* out[t * out_stride + r] for r in [r0, r1) and every token of `a`: the portable GEMM (the
 * definition of the SIMD one's results). `scratch`: eng_gemm_scratch_bytes. Any thread. */
void eng_gemm_ref(const struct eng_tensor *w, int64_t r0, int64_t r1, const struct eng_gemm_act *a,
                  float *out, int64_t out_stride, void *scratch);

/* OpenBLAS: out[t * out_stride + r] = row r of w · x[t] (f32 rows, x + t * x_stride) for r in
 * [r0, r1) and t < n_tok, by cblas_sgemm on ENG_BLAS_ROWS rows at a time, converted to f32
 * into `tile` (ENG_BLAS_ROWS * ne[0] floats) unless w is F32. Types: those eng_dequant_row_ref
 * takes. Call eng_blas_init once first. Any thread (OpenBLAS runs one thread per call). */
#define ENG_BLAS_ROWS 32
void eng_blas_init(void);
/* Row-major f32 products on the calling thread (one OpenBLAS thread): C (m x n) = A (m x k)
 * B^T (B: n x k), and C += A B (B: k x n); leading dimensions in elements. */
void eng_blas_abt(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                  int ldc);
void eng_blas_ab_acc(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                     float *c, int ldc);
void eng_blas_rows(const struct eng_kernels *k, const struct eng_tensor *w, int64_t r0, int64_t r1,
                   const float *x, int64_t x_stride, int32_t n_tok, float *out, int64_t out_stride,
                   float *tile);

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
    /* the int8 GEMM (see above): NULL where the path has none (then batches dot row by row);
     * used for batches of at least gemm_min_tok tokens (below that packing the tiles costs
     * more than the GEMM saves: measured per path with bench/kernels) */
    int gemm_min_tok;
    void (*gemm[ENG_TYPE_COUNT])(const struct eng_tensor *w, int64_t r0, int64_t r1,
                                 const struct eng_gemm_act *a, float *out, int64_t out_stride,
                                 void *scratch);
    /* gate[i] = gate[i] / (1 + exp(-gate[i])) * up[i] (SwiGLU); SIMD within 4 ulp of ref, and
     * an element's result must not depend on its position in the call (rows are split between
     * threads, results stay bit-identical for any thread count) */
    void (*silu_mul)(float *gate, const float *up, int64_t n);
    /* v[i] = exp(v[i] - shift), returns their sum (softmax); SIMD within 4 ulp per element */
    float (*exp_sum)(float *v, float shift, int64_t n);
    /* decode dot on a packed activation row (eng_gemv_prep); NULL: vec_dot on the plain row */
    float (*gemv[ENG_TYPE_COUNT])(const void *w, const void *xp, int64_t n);
    /* f32 row of a float weight type (F16, BF16; F32 = copy) for the OpenBLAS path */
    void (*to_f32[ENG_TYPE_COUNT])(const void *src, float *dst, int64_t n);
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
void eng_gemm_fill_avx512(struct eng_kernels *k); /* gemm_avx512.c: the int8 GEMM entries */
void eng_gemm_fill_avx2(struct eng_kernels *k);   /* gemm_avx2.c: the same with AVX2 */
