/* The GLM-4 forward pass (arch chatglm and glm4) and the per-sequence session state.
 *
 * Data model: a session holds the KV cache of one sequence and the scratch activations of one
 * batch; the model (model_int.h) is only read. Activations are f32. A batch of up to n_batch
 * tokens goes through each layer together, so weights stream from memory once per batch rather
 * than once per token: batches of the kernel table's gemm_min_tok or more go through the int8 GEMM
 * (quantised weights) or OpenBLAS (float weights), smaller ones dot each weight row with each token
 * (matmul, mm_path below; eng_int.h "batched matmul"), and attention of batches of
 * BLAS_MIN_TOK or more runs as OpenBLAS products with an online softmax (fa_thread). Per token,
 * following spec/glm4-model.md §1, §3:
 *
 *     x = tok_embd[id]
 *     per layer:  h = rmsnorm(x)·attn_norm;  q|k|v = W·h + b;  rope(q, k) at its position
 *                 a = W_o · softmax(q·kᵀ/sqrt(head_dim), causal)·v   (GQA: head h reads kv
 *                     head h / (n_head/n_head_kv))
 *                 glm4: a = rmsnorm(a)·post_attention_norm;          x += a
 *                 h = rmsnorm(x)·ffn_norm;  g|u = W_up·h;  f = W_down·(silu(g)⊙u)
 *                 glm4: f = rmsnorm(f)·post_ffw_norm;                x += f
 *     logits = W_out · (rmsnorm(x)·output_norm)
 *
 * RoPE is GLM's: the first rope_dim dims of each head rotate as interleaved pairs
 * (x[2i], x[2i+1]) by angle p·base^(−2i/rope_dim), p counted from 0 at the first token; the
 * rest pass through. Angles are computed in double per token (no table to size by n_ctx).
 *
 * Threads: each session owns a compute pool (pool.c) of n_threads. The O(d²) work runs as
 * parallel regions on it: every matmul splits its output rows into one contiguous chunk of
 * whole 16-row tiles per thread (the activations are quantised once, before the region; for
 * the GEMM in a region of their own, tokens split between threads), attention hands the
 * (token, head) pairs, or for batches the (KV head, token chunk) units, out round-robin, each
 * thread with its own scratch, and the SwiGLU product splits its elements. Every output element
 * is computed by one thread exactly as one thread would compute it, so results are
 * bit-identical for any thread count. The O(d) steps between regions (rmsnorm, bias, rope, the
 * KV store, residual adds) stay on the caller. OpenBLAS runs one thread inside each pool thread
 * (blas.c), so the two never compete for cores.
 *
 * Evaluation checks its arguments first and then cannot fail, so a session never holds a
 * half-evaluated batch; nothing is allocated per token or per batch.
 */
#include "engine/model_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Defaults when the caller does not say. 4096 positions of glm-4-9b's cache take 160 MiB in
 * F16 (spec §5: 40 KiB per token). A batch of 512 tokens packs each weight tile once for 512
 * tokens (64 cost glm-4-9b a quarter of its prompt speed: 28 against 38 t/s); its scratch is
 * about 100 MB for glm-4-9b, and the abort callback keeps it interruptible between layers. */
#define DEFAULT_N_CTX   4096
#define DEFAULT_N_BATCH 512

/* How batches multiply (GLMTERM_GEMM=auto|dot|int8|blas; auto unless set): auto takes the
 * int8 GEMM for quantised weights where the kernel table has one and OpenBLAS for float
 * weights; dot always dots row by row; int8 / blas force a method where it applies (blas:
 * any dequantisable type, with f32 activations; for measurements). */
enum gemm_mode { GEMM_AUTO, GEMM_DOT, GEMM_INT8, GEMM_BLAS };

/* Positions per step of the batched attention's online softmax. */
#define FA_TILE 256

/* Batches of float weights smaller than this dot row by row (the int8 GEMM's threshold is the
 * kernel table's gemm_min_tok). */
#define BLAS_MIN_TOK 8

struct eng_session {
    const struct eng_model *m;
    int32_t n_ctx;
    int32_t n_past;
    int32_t n_batch;
    enum eng_kv_type kv_type;
    /* The cache: element type per kv_type (uint16_t f16 bits or float). Position j of layer l
     * starts at element (l*n_ctx + j)*kv_dim; within it, kv head g's head_dim values start at
     * g*head_dim. Keys are stored after rope. */
    void *k_cache; /* (n_layer, n_ctx, kv_dim) */
    void *v_cache; /* (n_layer, n_ctx, kv_dim) */
    /* Scratch for one batch of up to n_batch tokens (row t = token t of the batch). */
    float *x;      /* (n_batch, d_model) residual stream */
    float *xb;     /* (n_batch, d_model) normed input of a branch, then the branch's output */
    float *qkv;    /* (n_batch, q_dim + 2*kv_dim) q | k | v per token */
    float *att;    /* (n_batch, q_dim) attention output, heads side by side */
    float *hb;     /* (n_batch, 2*d_ffn) gate | up; silu(gate)·up overwrites the gate half */
    float *scores; /* (n_threads, n_ctx) per thread: one head's weights over the positions */
    float *rope;   /* (n_batch, rope_dim/2, 2) cos, sin per token and rotated pair */
    uint8_t *xq;   /* (n_batch, xq_stride) activations quantised for quantised weights */
    size_t xq_stride;
    /* Batched matmuls (eng_int.h): per-token block figures of the int8 GEMM's activations, and
     * per thread a tile of packed weight rows and one of f32 rows for OpenBLAS. */
    uint8_t *gv; /* (n_batch, gv_stride) activations packed for the decode GEMV, or NULL */
    size_t gv_stride;
    int8_t *ga_q;
    float *ga_d, *ga_s;
    int32_t *ga_c;
    uint8_t *gemm_scratch; /* n_threads x gemm_stride bytes, 64-aligned */
    size_t gemm_stride;
    float *blas_tile; /* n_threads x ENG_BLAS_ROWS x max_in floats; NULL when never needed */
    int64_t max_in;
    enum gemm_mode gemm_mode;
    /* Batched attention (attention_batch): per thread one block of fa_stride floats, laid out
     * as q (fa_m x hd) | s (fa_m x FA_TILE) | k, v (FA_TILE x hd each) | o (fa_m x hd) |
     * row max, row sum (fa_m each); fa_m = fa_chunk tokens x the heads of one KV head. */
    float *fa;
    size_t fa_stride;
    int32_t fa_chunk, fa_m;
    eng_abort_cb abort_cb; /* checked before every layer (eng_session_set_abort); may be NULL */
    void *abort_user;
    struct eng_pool *pool;          /* n_threads threads: the caller and the pool's workers */
    const struct eng_kernels *kern; /* the kernel table chosen at start-up (CPUID) */
    int32_t n_threads;
};

/* ---- kernels ----------------------------------------------------------------------------- */

/* A matmul as a parallel region: thread ith of nth takes one contiguous chunk of rows. */
struct matmul_job {
    float *out; /* row r of token t at out[t*out_stride + r] */
    int64_t out_stride;
    const uint8_t *x; /* token t's activations at x + t*x_stride bytes */
    size_t x_stride;
    const struct eng_tensor *w;
    int32_t n_tok;
    float (*dot)(const void *w, const void *x, int64_t n); /* the kernel for w's type */
};

/* Chunks are whole multiples of 16 rows (64 bytes of output) so that two threads never write
 * the same cache line of a token's output. */
#define MATMUL_ROW_UNIT 16

static void row_chunk(const struct eng_tensor *w, int ith, int nth, int64_t *r0, int64_t *r1);

static void matmul_thread(void *arg, int ith, int nth)
{
    const struct matmul_job *j = arg;
    const struct eng_tensor *w = j->w;
    const int64_t n_in = w->ne[0];
    int64_t r0, r1;
    row_chunk(w, ith, nth, &r0, &r1);
    const size_t row_bytes = eng_tensor_row_bytes(w);
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r0 * row_bytes;
    for (int64_t r = r0; r < r1; r++, row += row_bytes)
        for (int32_t t = 0; t < j->n_tok; t++)
            j->out[t * j->out_stride + r] = j->dot(row, j->x + (size_t)t * j->x_stride, n_in);
}

/* Thread ith's chunk of the rows of w: whole MATMUL_ROW_UNITs, possibly empty. */
static void row_chunk(const struct eng_tensor *w, int ith, int nth, int64_t *r0, int64_t *r1)
{
    const int64_t n_out = w->ne[1];
    const int64_t n_units = (n_out + MATMUL_ROW_UNIT - 1) / MATMUL_ROW_UNIT;
    *r0 = n_units * ith / nth * MATMUL_ROW_UNIT;
    *r1 = n_units * (ith + 1) / nth * MATMUL_ROW_UNIT;
    if (*r1 > n_out) *r1 = n_out;
}

/* The int8 GEMM: first every token's activations are quantised and their block figures
 * prepared (tokens split between threads), then every thread packs and multiplies its rows. */
struct gemm_job {
    struct eng_session *s;
    const float *x;
    int64_t x_stride;
    const struct eng_tensor *w;
    struct eng_gemm_act a;
    float *out;
    int64_t out_stride;
};

static void gemm_prep_thread(void *arg, int ith, int nth)
{
    const struct gemm_job *j = arg;
    struct eng_session *s = j->s;
    const uint32_t act = eng_vec_dot_type(j->w->type);
    const int64_t n_in = j->w->ne[0];
    for (int32_t t = ith; t < j->a.n_tok; t += nth) {
        uint8_t *xq = s->xq + (size_t)t * s->xq_stride;
        s->kern->quantize_act[act](j->x + t * j->x_stride, xq, n_in);
        eng_gemm_prep(j->w->type, xq, n_in, t, j->a.n_tok, s->ga_q, s->ga_d, s->ga_s, s->ga_c);
    }
}

static void gemm_thread(void *arg, int ith, int nth)
{
    const struct gemm_job *j = arg;
    int64_t r0, r1;
    row_chunk(j->w, ith, nth, &r0, &r1);
    if (r0 >= r1) return;
    j->s->kern->gemm[j->w->type](j->w, r0, r1, &j->a, j->out, j->out_stride,
                                 j->s->gemm_scratch + (size_t)ith * j->s->gemm_stride);
}

static void blas_thread(void *arg, int ith, int nth)
{
    const struct gemm_job *j = arg;
    int64_t r0, r1;
    row_chunk(j->w, ith, nth, &r0, &r1);
    if (r0 >= r1) return;
    eng_blas_rows(j->s->kern, j->w, r0, r1, j->x, j->x_stride, j->a.n_tok, j->out, j->out_stride,
                  j->s->blas_tile + (size_t)ith * ENG_BLAS_ROWS * (size_t)j->s->max_in);
}

enum mm_path { MM_DOT, MM_INT8, MM_BLAS };

static enum gemm_mode gemm_mode_from_env(void)
{
    const char *e = getenv("GLMTERM_GEMM");
    if (!e) return GEMM_AUTO;
    if (strcmp(e, "dot") == 0) return GEMM_DOT;
    if (strcmp(e, "int8") == 0) return GEMM_INT8;
    if (strcmp(e, "blas") == 0) return GEMM_BLAS;
    return GEMM_AUTO;
}

static bool float_type(uint32_t type)
{
    return type == ENG_TYPE_F32 || type == ENG_TYPE_F16 || type == ENG_TYPE_BF16;
}

/* How a batch of n_tok tokens multiplies by w (see enum gemm_mode). */
static enum mm_path mm_path(enum gemm_mode mode, const struct eng_kernels *k, uint32_t type,
                            int32_t n_tok)
{
    if (mode == GEMM_DOT) return MM_DOT;
    if (mode == GEMM_BLAS) return n_tok >= BLAS_MIN_TOK ? MM_BLAS : MM_DOT;
    if (k->gemm[type] && n_tok >= k->gemm_min_tok) return MM_INT8;
    if (mode == GEMM_AUTO && float_type(type) && n_tok >= BLAS_MIN_TOK) return MM_BLAS;
    return MM_DOT;
}

/* out[t][r] = row r of w · x[t] for t < n_tok and every row r of w. Row r of token t is at
 * out + t*out_stride + r, its input at x + t*x_stride; each weight row is read once, by one
 * thread of the pool. Quantised weights take their activations quantised to 8 bits once per
 * token (the format's vec_dot_type, as llama.cpp computes, so GGUF results follow the
 * reference implementation); float weights keep f32 activations, so Hugging Face checkpoints
 * stay exact. Batches go through the int8 GEMM or OpenBLAS (mm_path). */
static void matmul(struct eng_session *s, float *out, int64_t out_stride, const float *x,
                   int64_t x_stride, const struct eng_tensor *w, int32_t n_tok)
{
    const struct eng_kernels *k = s->kern;
    const uint32_t act = eng_vec_dot_type(w->type);
    const enum mm_path path = mm_path(s->gemm_mode, k, w->type, n_tok);
    if (path != MM_DOT) {
        struct gemm_job g = {
            .s = s, .x = x, .x_stride = x_stride, .w = w, .out = out, .out_stride = out_stride};
        g.a.n_tok = n_tok;
        if (path == MM_BLAS) {
            eng_pool_run(s->pool, blas_thread, &g);
            return;
        }
        int64_t bs, cpb;
        eng_gemm_act_sizes(w->type, w->ne[0], &bs, &g.a.nb, &cpb);
        g.a.q = s->ga_q;
        g.a.d = s->ga_d;
        g.a.s = s->ga_s;
        g.a.c = s->ga_c;
        eng_pool_run(s->pool, gemm_prep_thread, &g);
        eng_pool_run(s->pool, gemm_thread, &g);
        return;
    }
    struct matmul_job j = {
        .out = out, .out_stride = out_stride, .w = w, .n_tok = n_tok, .dot = k->vec_dot[w->type]};
    if (act == ENG_TYPE_F32) {
        j.x = (const uint8_t *)x;
        j.x_stride = (size_t)x_stride * sizeof(float);
    } else {
        for (int32_t t = 0; t < n_tok; t++)
            k->quantize_act[act](x + t * x_stride, s->xq + (size_t)t * s->xq_stride, w->ne[0]);
        j.x = s->xq;
        j.x_stride = s->xq_stride;
        if (k->gemv[w->type] && s->gv) { /* decode GEMV: the activation packed once */
            for (int32_t t = 0; t < n_tok; t++)
                eng_gemv_prep(w->type, s->xq + (size_t)t * s->xq_stride, w->ne[0],
                              s->gv + (size_t)t * s->gv_stride);
            j.x = s->gv;
            j.x_stride = s->gv_stride;
            j.dot = k->gemv[w->type];
        }
    }
    eng_pool_run(s->pool, matmul_thread, &j);
}

/* out = x / sqrt(mean(x²) + eps) · weight, n elements; out may be x. */
static void rmsnorm(float *out, const float *x, const float *weight, int32_t n, float eps)
{
    double ss = 0.0;
    for (int32_t i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int32_t i = 0; i < n; i++)
        out[i] = x[i] * scale * weight[i];
}

/* Rotates the first 2*n_pairs dims of one head: pair i = (v[2i], v[2i+1]) by cs[i]. */
static void rope_head(float *v, const float *cs /* (n_pairs, 2) */, int32_t n_pairs)
{
    for (int32_t i = 0; i < n_pairs; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1];
        float v0 = v[2 * i], v1 = v[2 * i + 1];
        v[2 * i] = v0 * c - v1 * s;
        v[2 * i + 1] = v1 * c + v0 * s;
    }
}

static void kv_store(const struct eng_session *s, void *cache, int64_t at, const float *src,
                     int32_t n)
{
    if (s->kv_type == ENG_KV_F32) {
        memcpy((float *)cache + at, src, (size_t)n * sizeof(float));
    } else {
        uint16_t *dst = (uint16_t *)cache + at;
        for (int32_t i = 0; i < n; i++)
            dst[i] = eng_f32_to_f16(src[i]);
    }
}

/* ---- one layer over a batch -------------------------------------------------------------- */

/* Attention of one head for the token at position `pos`: reads keys and values 0..pos of kv
 * head `g` in layer `il` and writes head_dim values to `out`; `att` is pos+1 floats of
 * scratch. */
static void attend(const struct eng_session *s, int32_t il, int32_t g, int32_t pos, const float *q,
                   float *out, float *att)
{
    const struct eng_model *m = s->m;
    const int32_t hd = m->hp.head_dim, kv_dim = m->kv_dim;
    const int64_t base = ((int64_t)il * s->n_ctx) * kv_dim + (int64_t)g * hd;
    const float scale = 1.0f / sqrtf((float)hd); /* spec §1: plain 1/sqrt(head_dim) */

    float max = -INFINITY;
    for (int32_t j = 0; j <= pos; j++) {
        int64_t at = base + (int64_t)j * kv_dim;
        float score = s->kv_type == ENG_KV_F32
                          ? s->kern->dot_f32(q, (const float *)s->k_cache + at, hd)
                          : s->kern->dot_f32_f16(q, (const uint16_t *)s->k_cache + at, hd);
        att[j] = score * scale;
        if (att[j] > max) max = att[j];
    }
    const float sum = s->kern->exp_sum(att, max, pos + 1);
    const float inv = 1.0f / sum;
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int32_t j = 0; j <= pos; j++) {
        const float a = att[j] * inv;
        int64_t at = base + (int64_t)j * kv_dim;
        if (s->kv_type == ENG_KV_F32)
            s->kern->axpy_f32(a, (const float *)s->v_cache + at, out, hd);
        else
            s->kern->axpy_f16(a, (const uint16_t *)s->v_cache + at, out, hd);
    }
}

/* Attention of a batch as a parallel region: the n_tok × n_head (token, head) pairs go to the
 * threads round-robin, which balances the causal triangle of a prompt batch. */
struct attention_job {
    struct eng_session *s;
    int32_t il, n_tok;
};

static void attention_thread(void *arg, int ith, int nth)
{
    const struct attention_job *j = arg;
    struct eng_session *s = j->s;
    const struct eng_hparams *hp = &s->m->hp;
    const int32_t hd = hp->head_dim, q_dim = s->m->q_dim, qkv_dim = q_dim + 2 * s->m->kv_dim;
    const int32_t group = hp->n_head / hp->n_head_kv;
    float *att = s->scores + (size_t)ith * (size_t)s->n_ctx;
    for (int32_t i = ith; i < j->n_tok * hp->n_head; i += nth) {
        const int32_t t = i / hp->n_head, h = i % hp->n_head;
        attend(s, j->il, h / group, s->n_past + t, s->qkv + (int64_t)t * qkv_dim + h * hd,
               s->att + (int64_t)t * q_dim + h * hd, att);
    }
}

/* Attention of a batch of n_tok >= BLAS_MIN_TOK tokens with OpenBLAS: the work is cut into
 * units of (KV head g, chunk of fa_chunk tokens), handed to the threads round-robin. A unit
 * stacks the queries of its tokens' heads that read KV head g into a matrix Q (fa_m x hd) and
 * walks the cached positions in tiles of FA_TILE: S = Q K_tile^T / sqrt(hd) (sgemm), positions
 * after a row's own token masked, an online softmax (running row max and sum, the output
 * rescaled when the max grows), O += P V_tile (sgemm); finally O / sum goes to s->att. K and V
 * tiles are widened to f32 per unit (a fraction 1 / (2 fa_m) of the multiply work). The result
 * equals attend()'s up to float rounding; each unit is computed the same on any thread. */
struct fa_job {
    struct eng_session *s;
    int32_t il, n_tok, n_chunks;
};

static void fa_load_tile(const struct eng_session *s, const void *cache, int64_t base, int32_t j0,
                         int32_t n, float *dst)
{
    const int32_t hd = s->m->hp.head_dim, kv_dim = s->m->kv_dim;
    for (int32_t j = 0; j < n; j++) {
        const int64_t at = base + (int64_t)(j0 + j) * kv_dim;
        if (s->kv_type == ENG_KV_F32)
            memcpy(dst + (size_t)j * hd, (const float *)cache + at, (size_t)hd * sizeof(float));
        else /* every kernel table has it */
            s->kern->to_f32[ENG_TYPE_F16]((const uint16_t *)cache + at, dst + (size_t)j * hd, hd);
    }
}

static void fa_thread(void *arg, int ith, int nth)
{
    const struct fa_job *j = arg;
    struct eng_session *s = j->s;
    const struct eng_model *m = s->m;
    const struct eng_hparams *hp = &m->hp;
    const int32_t hd = hp->head_dim, q_dim = m->q_dim, qkv_dim = q_dim + 2 * m->kv_dim;
    const int32_t group = hp->n_head / hp->n_head_kv;
    const float scale = 1.0f / sqrtf((float)hd);
    float *q = s->fa + (size_t)ith * s->fa_stride;
    float *sc = q + (size_t)s->fa_m * hd;
    float *kt = sc + (size_t)s->fa_m * FA_TILE, *vt = kt + (size_t)FA_TILE * hd;
    float *o = vt + (size_t)FA_TILE * hd, *rmax = o + (size_t)s->fa_m * hd, *rsum = rmax + s->fa_m;
    const int32_t n_units = hp->n_head_kv * j->n_chunks;
    for (int32_t u = ith; u < n_units; u += nth) {
        const int32_t g = u / j->n_chunks, c = u % j->n_chunks;
        const int32_t t0 = c * s->fa_chunk;
        const int32_t nt = j->n_tok - t0 < s->fa_chunk ? j->n_tok - t0 : s->fa_chunk;
        const int32_t rows = nt * group;
        for (int32_t t = 0; t < nt; t++)
            memcpy(q + (size_t)t * group * hd,
                   s->qkv + (int64_t)(t0 + t) * qkv_dim + g * group * hd,
                   (size_t)group * hd * sizeof(float));
        memset(o, 0, (size_t)rows * hd * sizeof(float));
        for (int32_t r = 0; r < rows; r++) {
            rmax[r] = -INFINITY;
            rsum[r] = 0.0f;
        }
        const int64_t base = ((int64_t)j->il * s->n_ctx) * m->kv_dim + (int64_t)g * hd;
        const int32_t n_pos = s->n_past + t0 + nt; /* positions the last token reads */
        for (int32_t j0 = 0; j0 < n_pos; j0 += FA_TILE) {
            const int32_t np = n_pos - j0 < FA_TILE ? n_pos - j0 : FA_TILE;
            fa_load_tile(s, s->k_cache, base, j0, np, kt);
            fa_load_tile(s, s->v_cache, base, j0, np, vt);
            eng_blas_abt(rows, np, hd, q, hd, kt, hd, sc, FA_TILE);
            for (int32_t r = 0; r < rows; r++) {
                const int32_t last = s->n_past + t0 + r / group; /* its own position */
                const int32_t nv = last - j0 + 1 < np ? last - j0 + 1 : np;
                float *row = sc + (size_t)r * FA_TILE;
                float mx = rmax[r];
                for (int32_t i = 0; i < nv; i++) {
                    row[i] *= scale;
                    if (row[i] > mx) mx = row[i];
                }
                const float corr = expf(rmax[r] - mx); /* 0 on the first tile (-inf) */
                const float sum = nv > 0 ? s->kern->exp_sum(row, mx, nv) : 0.0f;
                for (int32_t i = nv > 0 ? nv : 0; i < np; i++)
                    row[i] = 0.0f;
                if (nv > 0) {
                    rsum[r] = rsum[r] * corr + sum;
                    rmax[r] = mx;
                    if (corr != 1.0f)
                        for (int32_t d = 0; d < hd; d++)
                            o[(size_t)r * hd + d] *= corr;
                }
            }
            eng_blas_ab_acc(rows, hd, np, sc, FA_TILE, vt, hd, o, hd);
        }
        for (int32_t r = 0; r < rows; r++) {
            const int32_t t = t0 + r / group, h = g * group + r % group;
            float *dst = s->att + (int64_t)t * q_dim + (int64_t)h * hd;
            const float inv = 1.0f / rsum[r];
            for (int32_t d = 0; d < hd; d++)
                dst[d] = o[(size_t)r * hd + d] * inv;
        }
    }
}

/* gate = silu(gate)·up for every token of s->hb, each thread on one chunk of every row. */
struct swiglu_job {
    const struct eng_kernels *kern;
    float *hb; /* (n_tok, 2*d_ffn) */
    int32_t d_ffn, n_tok;
};

static void swiglu_thread(void *arg, int ith, int nth)
{
    const struct swiglu_job *j = arg;
    const int32_t i0 = (int32_t)((int64_t)j->d_ffn * ith / nth);
    const int32_t i1 = (int32_t)((int64_t)j->d_ffn * (ith + 1) / nth);
    for (int32_t t = 0; t < j->n_tok; t++) {
        float *gate = j->hb + (int64_t)t * 2 * j->d_ffn, *up = gate + j->d_ffn;
        j->kern->silu_mul(gate + i0, up + i0, i1 - i0);
    }
}

/* Runs layer `il` on the n_tok tokens of the batch in s->x, at positions n_past.. . */
static void layer_forward(struct eng_session *s, int32_t il, int32_t n_tok)
{
    const struct eng_model *m = s->m;
    const struct eng_hparams *hp = &m->hp;
    const struct eng_layer *L = &m->layers[il];
    const int32_t d = hp->d_model, hd = hp->head_dim, q_dim = m->q_dim, kv_dim = m->kv_dim;
    const int32_t qkv_dim = q_dim + 2 * kv_dim, d_ffn = hp->d_ffn;
    const int32_t n_pairs = hp->rope_dim / 2;

    /* attention */
    for (int32_t t = 0; t < n_tok; t++)
        rmsnorm(s->xb + t * d, s->x + t * d, L->attn_norm, d, hp->norm_eps);
    if (L->fused_qkv) {
        matmul(s, s->qkv, qkv_dim, s->xb, d, &L->wqkv, n_tok);
    } else {
        matmul(s, s->qkv, qkv_dim, s->xb, d, &L->wq, n_tok);
        matmul(s, s->qkv + q_dim, qkv_dim, s->xb, d, &L->wk, n_tok);
        matmul(s, s->qkv + q_dim + kv_dim, qkv_dim, s->xb, d, &L->wv, n_tok);
    }
    for (int32_t t = 0; t < n_tok; t++) {
        float *q = s->qkv + (int64_t)t * qkv_dim, *k = q + q_dim, *v = k + kv_dim;
        const float *cs = s->rope + (int64_t)t * n_pairs * 2;
        for (int32_t i = 0; L->bq && i < q_dim; i++)
            q[i] += L->bq[i];
        for (int32_t i = 0; L->bk && i < kv_dim; i++)
            k[i] += L->bk[i];
        for (int32_t i = 0; L->bv && i < kv_dim; i++)
            v[i] += L->bv[i];
        for (int32_t h = 0; h < hp->n_head; h++)
            rope_head(q + h * hd, cs, n_pairs);
        for (int32_t g = 0; g < hp->n_head_kv; g++)
            rope_head(k + g * hd, cs, n_pairs);
        int64_t at = ((int64_t)il * s->n_ctx + s->n_past + t) * kv_dim;
        kv_store(s, s->k_cache, at, k, kv_dim);
        kv_store(s, s->v_cache, at, v, kv_dim);
    }
    /* Every key of the batch is cached before any query runs; causality comes from each
     * token reading positions up to its own only. */
    if (s->fa && n_tok >= BLAS_MIN_TOK) {
        struct fa_job fj = {
            .s = s, .il = il, .n_tok = n_tok, .n_chunks = (n_tok + s->fa_chunk - 1) / s->fa_chunk};
        eng_pool_run(s->pool, fa_thread, &fj);
    } else {
        struct attention_job aj = {.s = s, .il = il, .n_tok = n_tok};
        eng_pool_run(s->pool, attention_thread, &aj);
    }
    matmul(s, s->xb, d, s->att, q_dim, &L->wo, n_tok);
    for (int32_t t = 0; t < n_tok; t++) {
        float *o = s->xb + (int64_t)t * d, *x = s->x + (int64_t)t * d;
        if (L->post_attn_norm) rmsnorm(o, o, L->post_attn_norm, d, hp->norm_eps);
        for (int32_t i = 0; i < d; i++)
            x[i] += o[i];
    }

    /* feed-forward */
    for (int32_t t = 0; t < n_tok; t++)
        rmsnorm(s->xb + t * d, s->x + t * d, L->ffn_norm, d, hp->norm_eps);
    matmul(s, s->hb, 2 * d_ffn, s->xb, d, &L->w_up, n_tok);
    struct swiglu_job sj = {.kern = s->kern, .hb = s->hb, .d_ffn = d_ffn, .n_tok = n_tok};
    eng_pool_run(s->pool, swiglu_thread, &sj);
    matmul(s, s->xb, d, s->hb, 2 * d_ffn, &L->w_down, n_tok);
    for (int32_t t = 0; t < n_tok; t++) {
        float *f = s->xb + (int64_t)t * d, *x = s->x + (int64_t)t * d;
        if (L->post_ffw_norm) rmsnorm(f, f, L->post_ffw_norm, d, hp->norm_eps);
        for (int32_t i = 0; i < d; i++)
            x[i] += f[i];
    }
}

/* Evaluates one batch (n_tok <= n_batch, ids already checked) and advances n_past. Logit
 * rows of tokens first..n_tok-1 of the batch go to `logits` (n_vocab floats each, row
 * `first` at logits[0]); nothing when logits is NULL. Returns false, n_past unchanged, when
 * the abort callback stopped it before a layer. */
static bool batch_forward(struct eng_session *s, const int32_t *ids, int32_t n_tok, float *logits,
                          int32_t first)
{
    const struct eng_model *m = s->m;
    const struct eng_hparams *hp = &m->hp;
    const int32_t d = hp->d_model, n_pairs = hp->rope_dim / 2;
    const size_t embd_row = eng_tensor_row_bytes(&m->tok_embd);

    for (int32_t t = 0; t < n_tok; t++) {
        const uint8_t *row = (const uint8_t *)m->tok_embd.data + (size_t)ids[t] * embd_row;
        eng_dequant_row_ref(m->tok_embd.type, row, s->x + (int64_t)t * d, d);
        const double pos = (double)(s->n_past + t);
        float *cs = s->rope + (int64_t)t * n_pairs * 2;
        for (int32_t i = 0; i < n_pairs; i++) {
            double angle = pos * pow(hp->rope_base, -2.0 * i / hp->rope_dim);
            cs[2 * i] = (float)cos(angle);
            cs[2 * i + 1] = (float)sin(angle);
        }
    }
    for (int32_t il = 0; il < hp->n_layer; il++) {
        if (s->abort_cb && s->abort_cb(s->abort_user)) return false;
        layer_forward(s, il, n_tok);
    }
    s->n_past += n_tok;

    if (!logits || first >= n_tok) return true;
    const int32_t n_out = n_tok - first;
    for (int32_t t = first; t < n_tok; t++)
        rmsnorm(s->xb + (int64_t)t * d, s->x + (int64_t)t * d, m->output_norm, d, hp->norm_eps);
    matmul(s, logits, hp->n_vocab, s->xb + (int64_t)first * d, d, &m->output, n_out);
    return true;
}

/* ---- public ------------------------------------------------------------------------------ */

struct eng_session *eng_session_new(const struct eng_model *m, const struct eng_session_opts *o,
                                    char **why)
{
    if (why) *why = NULL;
    const struct eng_hparams *hp = &m->hp;
    struct eng_session_opts opts = {0};
    if (o) opts = *o;
    if (opts.n_ctx <= 0)
        opts.n_ctx = hp->n_ctx_train < DEFAULT_N_CTX ? hp->n_ctx_train : DEFAULT_N_CTX;
    if (opts.n_batch <= 0) opts.n_batch = DEFAULT_N_BATCH;
    if (opts.n_batch > opts.n_ctx) opts.n_batch = opts.n_ctx;
    if (opts.n_ctx > hp->n_ctx_train) {
        eng_fail(why, 0, "session: n_ctx %d exceeds the model's training context %d",
                 (int)opts.n_ctx, (int)hp->n_ctx_train);
        return NULL;
    }
    if (opts.kv_type != ENG_KV_F16 && opts.kv_type != ENG_KV_F32) {
        eng_fail(why, 0, "session: unknown KV cache type %d", (int)opts.kv_type);
        return NULL;
    }
    if (opts.n_threads <= 0) opts.n_threads = eng_cpu_physical_cores();
    if (opts.n_threads > ENG_POOL_MAX_THREADS) {
        eng_fail(why, 0, "session: %d threads is more than %d", (int)opts.n_threads,
                 ENG_POOL_MAX_THREADS);
        return NULL;
    }

    /* Refuse a cache that cannot fit rather than be killed for it later: the KV cache is
     * touched as the conversation grows, so an over-committed malloc would succeed now and
     * die mid-conversation. */
    {
        const double kv_bytes = 2.0 * hp->n_layer * (double)opts.n_ctx * m->kv_dim *
                                (opts.kv_type == ENG_KV_F32 ? 4.0 : 2.0);
        const int64_t avail = eng_mem_available();
        if (avail >= 0 && kv_bytes > (double)avail) {
            eng_fail(why, ENG_ERR_NOMEM,
                     "session: a context of %d tokens needs %.2f GiB of KV cache, but only "
                     "%.2f GiB of memory is available (use a smaller -c or --kv-type f16)",
                     (int)opts.n_ctx, kv_bytes / 1073741824.0, (double)avail / 1073741824.0);
            return NULL;
        }
    }

    struct eng_session *s = calloc(1, sizeof *s);
    if (!s) goto nomem;
    s->m = m;
    s->n_ctx = opts.n_ctx;
    s->n_batch = opts.n_batch;
    s->kv_type = opts.kv_type;
    s->n_threads = opts.n_threads;
    const size_t nb = (size_t)opts.n_batch;
    const size_t kv_elems = (size_t)hp->n_layer * (size_t)opts.n_ctx * (size_t)m->kv_dim;
    const size_t kv_elt = opts.kv_type == ENG_KV_F32 ? sizeof(float) : sizeof(uint16_t);
    /* Hyper-parameters are capped at load (model.c), so these products cannot overflow on a
     * 64-bit size_t; a huge cache simply fails to allocate. */
    s->k_cache = malloc(kv_elems * kv_elt);
    s->v_cache = malloc(kv_elems * kv_elt);
    s->x = malloc(nb * (size_t)hp->d_model * sizeof(float));
    s->xb = malloc(nb * (size_t)hp->d_model * sizeof(float));
    s->qkv = malloc(nb * (size_t)(m->q_dim + 2 * m->kv_dim) * sizeof(float));
    s->att = malloc(nb * (size_t)m->q_dim * sizeof(float));
    s->hb = malloc(nb * 2 * (size_t)hp->d_ffn * sizeof(float));
    s->scores = malloc((size_t)opts.n_threads * (size_t)opts.n_ctx * sizeof(float));
    s->rope = malloc(nb * (size_t)hp->rope_dim * sizeof(float));
    /* The widest matmul input: d_model, q_dim (attn_output) or d_ffn (ffn_down); 8-bit
     * activation rows take at most 292 bytes per 256 elements (Q8_K). */
    int64_t max_in = hp->d_model;
    if (m->q_dim > max_in) max_in = m->q_dim;
    if (hp->d_ffn > max_in) max_in = hp->d_ffn;
    s->xq_stride = (size_t)(max_in / 256 + 1) * 292;
    s->xq = malloc(nb * s->xq_stride);
    s->max_in = max_in;
    s->kern = eng_kernels();
    s->gemm_mode = gemm_mode_from_env();
    /* per token: d and s per 32 elements at most, c per 16 (K6) at most */
    s->ga_q = malloc(nb * (size_t)max_in);
    s->ga_d = malloc(nb * (size_t)(max_in / 32 + 1) * sizeof(float));
    s->ga_s = malloc(nb * (size_t)(max_in / 32 + 1) * sizeof(float));
    s->ga_c = malloc(nb * (size_t)(max_in / 16 + 1) * sizeof(int32_t));
    {
        bool any_float = false, any_int8 = false;
        size_t scratch = 0;
        for (int32_t il = 0; il <= hp->n_layer; il++) {
            const struct eng_layer *L = il < hp->n_layer ? &m->layers[il] : NULL;
            const struct eng_tensor *ts[] = {L ? &L->wq : &m->output, L ? &L->wk : NULL,
                                             L ? &L->wv : NULL,       L ? &L->wqkv : NULL,
                                             L ? &L->wo : NULL,       L ? &L->w_up : NULL,
                                             L ? &L->w_down : NULL};
            for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) {
                if (!ts[i] || !ts[i]->data) continue;
                const uint32_t type = ts[i]->type;
                if (float_type(type) || s->gemm_mode == GEMM_BLAS) any_float = true;
                if (s->kern->gemm[type]) {
                    any_int8 = true;
                    size_t b = eng_gemm_scratch_bytes(type, ts[i]->ne[0]);
                    if (b > scratch) scratch = b;
                }
            }
        }
        if (any_int8 && s->gemm_mode != GEMM_DOT && s->gemm_mode != GEMM_BLAS) {
            s->gemm_stride = (scratch + 63) / 64 * 64;
            s->gemm_scratch = aligned_alloc(64, (size_t)opts.n_threads * s->gemm_stride);
            if (!s->gemm_scratch) goto nomem;
        }
        if (any_float && s->gemm_mode != GEMM_DOT) {
            eng_blas_init();
            s->blas_tile =
                malloc((size_t)opts.n_threads * ENG_BLAS_ROWS * (size_t)max_in * sizeof(float));
            if (!s->blas_tile) goto nomem;
        }
        if (opts.n_batch >= BLAS_MIN_TOK && s->gemm_mode != GEMM_DOT) {
            const int32_t group = hp->n_head / hp->n_head_kv, hd = hp->head_dim;
            s->fa_chunk = group >= 256 ? 1 : 256 / group;
            s->fa_m = s->fa_chunk * group;
            s->fa_stride = (size_t)s->fa_m * hd * 2 + (size_t)s->fa_m * FA_TILE +
                           (size_t)FA_TILE * hd * 2 + (size_t)s->fa_m * 2;
            s->fa_stride = (s->fa_stride + 15) / 16 * 16;
            eng_blas_init();
            s->fa = aligned_alloc(64, (size_t)opts.n_threads * s->fa_stride * sizeof(float));
            if (!s->fa) goto nomem;
        }
        if (s->kern->gemv[ENG_TYPE_Q4_0]) {
            s->gv_stride = (eng_gemv_act_bytes(ENG_TYPE_Q4_0, max_in) + 63) / 64 * 64;
            s->gv = aligned_alloc(64, nb * s->gv_stride);
            if (!s->gv) goto nomem;
        }
    }
    if (!s->k_cache || !s->v_cache || !s->x || !s->xb || !s->qkv || !s->att || !s->hb ||
        !s->scores || !s->rope || !s->xq || !s->ga_q || !s->ga_d || !s->ga_s || !s->ga_c)
        goto nomem;
    char *pool_why = NULL;
    s->pool = eng_pool_new(opts.n_threads, &pool_why);
    if (!s->pool) {
        eng_fail(why, 0, "session: %s", pool_why ? pool_why : "cannot start the compute pool");
        free(pool_why);
        eng_session_free(s);
        return NULL;
    }
    return s;
nomem:
    eng_session_free(s);
    eng_fail(why, 0, "session: out of memory (n_ctx %d)", (int)opts.n_ctx);
    return NULL;
}

void eng_session_free(struct eng_session *s)
{
    if (!s) return;
    eng_pool_free(s->pool);
    free(s->k_cache);
    free(s->v_cache);
    free(s->x);
    free(s->xb);
    free(s->qkv);
    free(s->att);
    free(s->hb);
    free(s->scores);
    free(s->rope);
    free(s->xq);
    free(s->gv);
    free(s->fa);
    free(s->ga_q);
    free(s->ga_d);
    free(s->ga_s);
    free(s->ga_c);
    free(s->gemm_scratch);
    free(s->blas_tile);
    free(s);
}

int32_t eng_session_n_past(const struct eng_session *s)
{
    return s->n_past;
}

int32_t eng_session_n_ctx(const struct eng_session *s)
{
    return s->n_ctx;
}

int32_t eng_session_n_threads(const struct eng_session *s)
{
    return s->n_threads;
}

int eng_session_eval(struct eng_session *s, const int32_t *ids, int32_t n, float *logits,
                     bool all_rows, char **why)
{
    if (why) *why = NULL;
    const int32_t n_vocab = s->m->hp.n_vocab;
    if (n < 0 || (n > 0 && !ids))
        return eng_fail(why, ENG_ERR_RANGE, "eval: bad token count %d", (int)n);
    if (n > s->n_ctx - s->n_past)
        return eng_fail(why, ENG_ERR_RANGE, "eval: %d tokens do not fit: %d of %d positions used",
                        (int)n, (int)s->n_past, (int)s->n_ctx);
    for (int32_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= n_vocab)
            return eng_fail(why, ENG_ERR_RANGE,
                            "eval: token id %d at index %d is outside the vocabulary [0, %d)",
                            (int)ids[i], (int)i, (int)n_vocab);
    }
    for (int32_t done = 0; done < n;) {
        int32_t n_tok = n - done < s->n_batch ? n - done : s->n_batch;
        float *out = NULL;
        int32_t first = n_tok; /* no logits from this batch */
        if (logits && all_rows) {
            out = logits + (size_t)done * (size_t)n_vocab;
            first = 0;
        } else if (logits && done + n_tok == n) {
            out = logits;
            first = n_tok - 1;
        }
        if (!batch_forward(s, ids + done, n_tok, out, first))
            return eng_fail(why, ENG_ERR_CANCELLED, "eval: cancelled after %d of %d tokens",
                            (int)done, (int)n);
        done += n_tok;
    }
    return 0;
}

void eng_session_set_abort(struct eng_session *s, eng_abort_cb cb, void *user)
{
    s->abort_cb = cb;
    s->abort_user = user;
}

int eng_session_truncate(struct eng_session *s, int32_t n_keep)
{
    if (n_keep < 0) return ENG_ERR_RANGE;
    if (n_keep < s->n_past) s->n_past = n_keep;
    return 0;
}
