/* Tests of the batched matmul kernels (engine/gemm.c, gemm_avx512.c, blas.c).
 *
 * Evidence:
 *   - the reference int8 GEMM (eng_gemm_ref) against the independent row-by-row dot product
 *     eng_vec_dot_q8_ref for every GEMM type, within a bound of float roundings relative to
 *     the sum of |block terms|: random weight bytes (every value) with finite random scales,
 *     activations from quantize_act and raw random activation bytes (-128 included), 40 rows
 *     (two whole tiles and a partial one), token counts 1..17 (two full token groups and
 *     every remainder width);
 *   - every SIMD GEMM entry bit for bit against eng_gemm_ref (the same integer sums and the
 *     same fused float order), including row ranges that start inside the matrix;
 *   - packing: eng_gemm_pack_ref puts element k of row i at qs[k/4][i][k%4] with the type's
 *     unsigned integer (checked against dequantisation: d * q ... for a hand-made block);
 *   - OpenBLAS rows (eng_blas_rows) against vec_dot for F32, F16, BF16 and a dequantised Q4_0.
 * Paths the CPU lacks are skipped with a message.
 */
#include "engine/model_int.h"
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_ROWS 40
#define N_IN   512
#define MAX_T  17

static const uint32_t GTYPES[] = {ENG_TYPE_Q4_0, ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1,
                                  ENG_TYPE_Q8_0, ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
#define N_GTYPES (sizeof GTYPES / sizeof *GTYPES)

static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    assert_non_null(p);
    return p;
}

static float rand_unit(uint64_t *rng) /* [-1, 1) */
{
    return (float)((double)(tu_rand(rng) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

/* Random bytes, then every f16 scale field set to a finite value (K-quant sub-scales keep
 * their random bits: they are integers). */
static void random_rows(uint32_t type, uint8_t *w, size_t n_bytes, uint64_t *rng)
{
    for (size_t i = 0; i < n_bytes; i++)
        w[i] = (uint8_t)tu_rand(rng);
    const size_t bb = eng_type_block_bytes(type);
    for (size_t b = 0; b < n_bytes / bb; b++) {
        uint8_t *blk = w + b * bb;
        const uint16_t h1 = eng_f32_to_f16(rand_unit(rng) * 0.05f);
        const uint16_t h2 = eng_f32_to_f16(rand_unit(rng) * 0.05f);
        switch (type) {
        case ENG_TYPE_Q6_K: wr16(blk + 208, h1); break;
        case ENG_TYPE_Q4_0:
        case ENG_TYPE_Q5_0:
        case ENG_TYPE_Q8_0: wr16(blk, h1); break;
        default: /* Q4_1, Q5_1 (d, m); Q4_K, Q5_K (d, dmin) */
            wr16(blk, h1);
            wr16(blk + 2, h2);
            break;
        }
    }
}

struct batch {
    uint32_t type;
    struct eng_tensor w;
    uint8_t *wdata, *xq;
    size_t xq_stride;
    int8_t *q;
    float *d, *s;
    int32_t *c;
    struct eng_gemm_act a;
};

static void batch_make(struct batch *b, uint32_t type, int32_t n_tok, bool raw_act, uint64_t *rng)
{
    memset(b, 0, sizeof *b);
    b->type = type;
    const size_t rb = (size_t)N_IN / eng_type_block_size(type) * eng_type_block_bytes(type);
    b->wdata = xmalloc(rb * N_ROWS);
    random_rows(type, b->wdata, rb * N_ROWS, rng);
    b->w = (struct eng_tensor){.type = type,
                               .n_dims = 2,
                               .ne = {N_IN, N_ROWS, 1, 1},
                               .data = b->wdata,
                               .nbytes = rb * N_ROWS};
    const uint32_t act = eng_vec_dot_type(type);
    b->xq_stride = eng_act_row_bytes(act, N_IN);
    b->xq = xmalloc(b->xq_stride * (size_t)n_tok);
    float x[N_IN];
    for (int32_t t = 0; t < n_tok; t++) {
        const float scale = powf(10.0f, (float)(t % 5) - 2.0f);
        for (int i = 0; i < N_IN; i++)
            x[i] = rand_unit(rng) * scale;
        uint8_t *row = b->xq + (size_t)t * b->xq_stride;
        assert_int_equal(eng_quantize_row_ref(act, x, row, N_IN), 0);
        if (raw_act) { /* every byte value in the quants; sums kept consistent */
            if (act == ENG_TYPE_Q8_K) {
                for (int sb = 0; sb < N_IN / 256; sb++) {
                    uint8_t *blk = row + (size_t)sb * 292;
                    for (int j = 0; j < 16; j++) {
                        int sum = 0;
                        for (int k = 0; k < 16; k++) {
                            blk[4 + 16 * j + k] = (uint8_t)tu_rand(rng);
                            sum += (int8_t)blk[4 + 16 * j + k];
                        }
                        wr16(blk + 4 + 256 + 2 * j, (uint16_t)(int16_t)sum);
                    }
                }
            } else {
                const size_t bs = act == ENG_TYPE_Q8_1 ? 36 : 34, qo = act == ENG_TYPE_Q8_1 ? 4 : 2;
                for (int blk = 0; blk < N_IN / 32; blk++)
                    for (int k = 0; k < 32; k++)
                        row[(size_t)blk * bs + qo + k] = (uint8_t)tu_rand(rng);
            }
        }
    }
    int64_t bs, nb, cpb;
    eng_gemm_act_sizes(type, N_IN, &bs, &nb, &cpb);
    assert_int_equal(bs * nb, N_IN);
    b->q = xmalloc((size_t)(N_IN * n_tok));
    b->d = xmalloc(sizeof(float) * (size_t)(nb * n_tok));
    b->s = xmalloc(sizeof(float) * (size_t)(nb * n_tok));
    b->c = xmalloc(sizeof(int32_t) * (size_t)(nb * cpb * n_tok));
    /* tokens in reverse order: each token's entries must land in its own slots */
    for (int32_t t = n_tok - 1; t >= 0; t--)
        eng_gemm_prep(type, b->xq + (size_t)t * b->xq_stride, N_IN, t, n_tok, b->q, b->d, b->s,
                      b->c);
    b->a =
        (struct eng_gemm_act){.q = b->q, .d = b->d, .s = b->s, .c = b->c, .nb = nb, .n_tok = n_tok};
}

static void batch_free(struct batch *b)
{
    free(b->wdata);
    free(b->xq);
    free(b->q);
    free(b->d);
    free(b->s);
    free(b->c);
}

/* An upper bound of sum over the blocks of |integer block term * scales| + |min term| for
 * row r, token t: the scale of the float roundings either side may make. From the reference
 * tile: |q - offset| <= q + offset, sub-block scales <= 63 (Q4_K/Q5_K) or 128 (Q6_K). */
static double term_mag(const struct batch *b, int64_t r, int32_t t, uint8_t *tile)
{
    eng_gemm_pack_ref(&b->w, r / ENG_GEMM_ROWS * ENG_GEMM_ROWS, tile);
    const int i = (int)(r % ENG_GEMM_ROWS);
    const uint8_t *x = b->xq + (size_t)t * b->xq_stride;
    const uint32_t type = b->type;
    const size_t tbb = eng_gemm_tile_block_bytes(type);
    const bool k = type == ENG_TYPE_Q4_K || type == ENG_TYPE_Q5_K || type == ENG_TYPE_Q6_K;
    const bool q81 = eng_vec_dot_type(type) == ENG_TYPE_Q8_1;
    const int bs = k ? 256 : 32;
    const size_t xb = k ? 292 : q81 ? 36 : 34, xo = k ? 4 : q81 ? 4 : 2;
    const double off = type == ENG_TYPE_Q4_0   ? 8.0
                       : type == ENG_TYPE_Q5_0 ? 16.0
                       : type == ENG_TYPE_Q8_0 ? 128.0
                       : type == ENG_TYPE_Q6_K ? 32.0
                                               : 0.0;
    const double scmax = type == ENG_TYPE_Q6_K ? 128.0 : k ? 63.0 : 1.0;
    const size_t doff = k ? (type == ENG_TYPE_Q6_K ? 5120 : 4864) : 512;
    double mag = 0.0;
    for (int64_t blk = 0; blk < b->a.nb; blk++) {
        const uint8_t *tb = tile + (size_t)blk * tbb;
        double sumabs = 0.0, xabs = 0.0;
        for (int e = 0; e < bs; e++) {
            const double xe = fabs((double)(int8_t)x[(size_t)blk * xb + xo + (size_t)e]);
            sumabs += ((double)tb[(e / 4) * 64 + i * 4 + e % 4] + off) * xe;
            xabs += xe;
        }
        float dw;
        memcpy(&dw, tb + doff + 4 * (size_t)i, sizeof dw);
        const double dx = fabs((double)b->a.d[blk * b->a.n_tok + t]);
        mag += sumabs * scmax * fabs((double)dw) * dx;
        if (q81) {
            float mw;
            memcpy(&mw, tb + 576 + 4 * (size_t)i, sizeof mw);
            mag += fabs((double)mw * b->a.s[blk * b->a.n_tok + t]);
        }
        if (type == ENG_TYPE_Q4_K || type == ENG_TYPE_Q5_K) {
            float dmin;
            memcpy(&dmin, tb + 4928 + 4 * (size_t)i, sizeof dmin);
            mag += fabs((double)dmin) * dx * 63.0 * xabs;
        }
    }
    return mag;
}

static void check_ref_vs_dot(uint32_t type, bool raw_act)
{
    uint64_t rng = 0x67656d6d00000000ull ^ type ^ (raw_act ? 0x1000 : 0);
    uint8_t *tile = xmalloc(eng_gemm_scratch_bytes(type, N_IN));
    double worst = 0.0;
    for (int32_t n_tok = 1; n_tok <= MAX_T; n_tok += 3) {
        struct batch b;
        batch_make(&b, type, n_tok, raw_act, &rng);
        float *out = xmalloc(sizeof(float) * N_ROWS * (size_t)n_tok);
        eng_gemm_ref(&b.w, 0, N_ROWS, &b.a, out, N_ROWS, tile);
        const size_t rb = eng_tensor_row_bytes(&b.w);
        for (int32_t t = 0; t < n_tok; t++) {
            for (int64_t r = 0; r < N_ROWS; r++) {
                const float want = eng_vec_dot_q8_ref(type, b.wdata + (size_t)r * rb,
                                                      b.xq + (size_t)t * b.xq_stride, N_IN);
                const float got = out[t * N_ROWS + r];
                const double mag = term_mag(&b, r, t, tile);
                const double bound = (2.0 * (double)b.a.nb + 16.0) * FLT_EPSILON * mag;
                const double err = fabs((double)got - (double)want);
                if (!(err <= bound))
                    fail_msg("gemm ref %s: row %d token %d: %.9g, vec_dot %.9g (|d| %.3g > %.3g)",
                             eng_type_name(type), (int)r, (int)t, (double)got, (double)want, err,
                             bound);
                if (mag > 0 && err / mag > worst) worst = err / mag;
            }
        }
        free(out);
        batch_free(&b);
    }
    print_message("gemm: %-5s ref vs vec_dot%s: worst |diff| / sum|terms| %.2e\n",
                  eng_type_name(type), raw_act ? " (raw activations)" : "", worst);
    free(tile);
}

static void test_ref_vs_dot(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_GTYPES; i++) {
        assert_true(eng_gemm_scratch_bytes(GTYPES[i], N_IN) > 0);
        check_ref_vs_dot(GTYPES[i], false);
        check_ref_vs_dot(GTYPES[i], true);
    }
    assert_int_equal(eng_gemm_scratch_bytes(ENG_TYPE_F16, N_IN), 0); /* no GEMM family */
    assert_int_equal(eng_gemm_scratch_bytes(ENG_TYPE_Q2_K, N_IN), 0);
}

static void test_simd_bit_exact(void **state)
{
    (void)state;
    static const char *const paths[] = {"ref", "avx2", "avx512"};
    int tested = 0;
    for (size_t p = 0; p < 3; p++) {
        const struct eng_kernels *k = eng_kernels_get(paths[p]);
        if (!k) {
            print_message("test_gemm: no %s on this CPU, its GEMM is skipped\n", paths[p]);
            continue;
        }
        for (size_t i = 0; i < N_GTYPES; i++) {
            const uint32_t type = GTYPES[i];
            if (!k->gemm[type]) continue;
            tested++;
            uint64_t rng = 0x73696d6400000000ull ^ type;
            uint8_t *tile = xmalloc(eng_gemm_scratch_bytes(type, N_IN));
            for (int32_t n_tok = 1; n_tok <= MAX_T; n_tok++) {
                struct batch b;
                batch_make(&b, type, n_tok, n_tok % 2 == 0, &rng);
                const size_t n_out = (size_t)N_ROWS * (size_t)n_tok;
                float *want = xmalloc(sizeof(float) * n_out), *got = xmalloc(sizeof(float) * n_out);
                for (size_t e = 0; e < n_out; e++)
                    want[e] = got[e] = -12345.0f;
                /* two calls, the second starting at the second tile, as two threads would */
                eng_gemm_ref(&b.w, 0, N_ROWS, &b.a, want, N_ROWS, tile);
                k->gemm[type](&b.w, 0, ENG_GEMM_ROWS, &b.a, got, N_ROWS, tile);
                k->gemm[type](&b.w, ENG_GEMM_ROWS, N_ROWS, &b.a, got, N_ROWS, tile);
                for (size_t e = 0; e < n_out; e++)
                    if (memcmp(&want[e], &got[e], sizeof(float)) != 0)
                        fail_msg("gemm %s %s: %d tokens: element (token %d, row %d) %.9g, ref "
                                 "%.9g",
                                 k->name, eng_type_name(type), (int)n_tok, (int)(e / N_ROWS),
                                 (int)(e % N_ROWS), (double)got[e], (double)want[e]);
                free(want);
                free(got);
                batch_free(&b);
            }
            free(tile);
        }
    }
    print_message("gemm: %d SIMD GEMM entries bit-exact with eng_gemm_ref\n", tested);
}

/* A hand-made Q4_0 row and Q8_0 row: tile placement and the offset correction. */
static void test_pack_layout(void **state)
{
    (void)state;
    uint8_t w[ENG_GEMM_ROWS][18];
    memset(w, 0, sizeof w);
    for (int r = 0; r < ENG_GEMM_ROWS; r++) {
        wr16(w[r], eng_f32_to_f16(1.0f));
        for (int j = 0; j < 16; j++)
            w[r][2 + j] = (uint8_t)(((j + r) & 15) | ((15 - j) & 15) << 4);
    }
    struct eng_tensor t = {
        .type = ENG_TYPE_Q4_0, .n_dims = 2, .ne = {32, 12, 1, 1}, .data = w, .nbytes = sizeof w};
    uint8_t *tile = xmalloc(eng_gemm_scratch_bytes(ENG_TYPE_Q4_0, 32));
    eng_gemm_pack_ref(&t, 0, tile);
    for (int r = 0; r < ENG_GEMM_ROWS; r++) {
        for (int k = 0; k < 32; k++) {
            const int want = r >= 12 ? 0 : k < 16 ? (k + r) & 15 : (15 - (k - 16)) & 15;
            assert_int_equal(tile[(k / 4) * 64 + r * 4 + k % 4], want);
        }
        float d;
        memcpy(&d, tile + 512 + 4 * r, sizeof d);
        assert_true(d == (r >= 12 ? 0.0f : 1.0f));
    }
    /* activation all ones with d = 1: dot = sum (q - 8) */
    uint8_t xq[34];
    wr16(xq, eng_f32_to_f16(1.0f));
    memset(xq + 2, 1, 32);
    int8_t q1[32];
    float d1, s1;
    int32_t c1;
    eng_gemm_prep(ENG_TYPE_Q4_0, xq, 32, 0, 1, q1, &d1, &s1, &c1);
    assert_int_equal(c1, -8 * 32);
    assert_true(d1 == 1.0f);
    struct eng_gemm_act a = {.q = q1, .d = &d1, .s = &s1, .c = &c1, .nb = 1, .n_tok = 1};
    float out[12];
    eng_gemm_ref(&t, 0, 12, &a, out, 12, tile);
    for (int r = 0; r < 12; r++) {
        int want = 0;
        for (int k = 0; k < 32; k++)
            want += (k < 16 ? (k + r) & 15 : (15 - (k - 16)) & 15) - 8;
        assert_true(out[r] == (float)want);
    }
    free(tile);
}

static void test_blas_rows(void **state)
{
    (void)state;
    static const uint32_t types[] = {ENG_TYPE_F32, ENG_TYPE_F16, ENG_TYPE_BF16, ENG_TYPE_Q4_0};
    eng_blas_init();
    const struct eng_kernels *k = eng_kernels();
    const int64_t n_rows = 70; /* two whole ENG_BLAS_ROWS and a part */
    const int32_t n_tok = 9;
    uint64_t rng = 0x626c617300000000ull;
    for (size_t ti = 0; ti < sizeof types / sizeof *types; ti++) {
        const uint32_t type = types[ti];
        float *wf = xmalloc(sizeof(float) * N_IN * (size_t)n_rows);
        for (int64_t e = 0; e < N_IN * n_rows; e++)
            wf[e] = rand_unit(&rng);
        const size_t rb = (size_t)N_IN / eng_type_block_size(type) * eng_type_block_bytes(type);
        uint8_t *wd = xmalloc(rb * (size_t)n_rows);
        for (int64_t r = 0; r < n_rows; r++)
            assert_int_equal(
                eng_quantize_weight_row_ref(type, wf + r * N_IN, wd + (size_t)r * rb, N_IN), 0);
        struct eng_tensor w = {.type = type,
                               .n_dims = 2,
                               .ne = {N_IN, n_rows, 1, 1},
                               .data = wd,
                               .nbytes = rb * (size_t)n_rows};
        float *x = xmalloc(sizeof(float) * N_IN * n_tok);
        for (int64_t e = 0; e < N_IN * n_tok; e++)
            x[e] = rand_unit(&rng);
        float *out = xmalloc(sizeof(float) * (size_t)n_rows * n_tok);
        float *tile = xmalloc(sizeof(float) * ENG_BLAS_ROWS * N_IN);
        eng_blas_rows(k, &w, 0, 48, x, N_IN, n_tok, out, n_rows, tile);
        eng_blas_rows(k, &w, 48, n_rows, x, N_IN, n_tok, out, n_rows, tile);
        float deq[N_IN];
        double worst = 0.0;
        for (int32_t t = 0; t < n_tok; t++)
            for (int64_t r = 0; r < n_rows; r++) {
                assert_int_equal(eng_dequant_row_ref(type, wd + (size_t)r * rb, deq, N_IN), 0);
                double want = 0.0, mag = 0.0;
                for (int e = 0; e < N_IN; e++) {
                    want += (double)deq[e] * x[t * N_IN + e];
                    mag += fabs((double)deq[e] * x[t * N_IN + e]);
                }
                const double err = fabs(out[t * n_rows + r] - want);
                if (err > 64.0 * FLT_EPSILON * mag)
                    fail_msg("blas %s: row %d token %d: %.9g, exact %.9g", eng_type_name(type),
                             (int)r, (int)t, (double)out[t * n_rows + r], want);
                if (err / mag > worst) worst = err / mag;
            }
        print_message("gemm: OpenBLAS rows %-5s worst |diff| / sum|terms| %.2e\n",
                      eng_type_name(type), worst);
        free(wf);
        free(wd);
        free(x);
        free(out);
        free(tile);
    }
}

/* The decode GEMV: ref against vec_dot, every SIMD entry bit for bit against ref; row lengths
 * with whole and partial 16-block groups. */
static void test_gemv(void **state)
{
    (void)state;
    static const int64_t lens[] = {32, 480, 512, 4096 + 96};
    static const char *const paths[] = {"ref", "avx2", "avx512"};
    uint64_t rng = 0x67656d7600000000ull;
    assert_int_equal(eng_gemv_act_bytes(ENG_TYPE_Q8_0, 512), 0);
    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
        const int64_t n = lens[li], nb = n / 32;
        const size_t rb = (size_t)nb * 18;
        uint8_t *w = xmalloc(rb * 8), *xq = xmalloc((size_t)nb * 34);
        uint8_t *xp = xmalloc(eng_gemv_act_bytes(ENG_TYPE_Q4_0, n));
        random_rows(ENG_TYPE_Q4_0, w, rb * 8, &rng);
        float *x = xmalloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++)
            x[i] = rand_unit(&rng);
        assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_0, x, xq, n), 0);
        eng_gemv_prep(ENG_TYPE_Q4_0, xq, n, xp);
        for (int r = 0; r < 8; r++) {
            const uint8_t *row = w + (size_t)r * rb;
            const float ref = eng_gemv_ref(ENG_TYPE_Q4_0, row, xp, n);
            const float dot = eng_vec_dot_q8_ref(ENG_TYPE_Q4_0, row, xq, n);
            double mag = 0.0; /* sum over blocks of |dw dx| * sum |q - 8| |x| */
            for (int64_t b = 0; b < nb; b++) {
                const uint8_t *blk = row + (size_t)b * 18, *yb = xq + (size_t)b * 34;
                double s = 0.0;
                for (int j = 0; j < 16; j++)
                    s += abs((blk[2 + j] & 15) - 8) * abs((int8_t)yb[2 + j]) +
                         abs((blk[2 + j] >> 4) - 8) * abs((int8_t)yb[18 + j]);
                mag += s * fabs((double)eng_f16_to_f32((uint16_t)(blk[0] | blk[1] << 8)) *
                                (double)eng_f16_to_f32((uint16_t)(yb[0] | yb[1] << 8)));
            }
            if (!(fabs((double)ref - dot) <= (2.0 * (double)nb + 16.0) * FLT_EPSILON * mag))
                fail_msg("gemv ref, n %d row %d: %.9g, vec_dot %.9g", (int)n, r, (double)ref,
                         (double)dot);
            for (size_t p = 0; p < 3; p++) {
                const struct eng_kernels *k = eng_kernels_get(paths[p]);
                if (!k || !k->gemv[ENG_TYPE_Q4_0]) continue;
                const float got = k->gemv[ENG_TYPE_Q4_0](row, xp, n);
                if (memcmp(&got, &ref, sizeof got) != 0)
                    fail_msg("gemv %s, n %d row %d: %.9g, ref %.9g", k->name, (int)n, r,
                             (double)got, (double)ref);
            }
        }
        free(w);
        free(xq);
        free(xp);
        free(x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pack_layout),    cmocka_unit_test(test_ref_vs_dot),
        cmocka_unit_test(test_simd_bit_exact), cmocka_unit_test(test_blas_rows),
        cmocka_unit_test(test_gemv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
