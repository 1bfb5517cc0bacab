/* Tests of the 8-bit activation kernels (engine/quant_q8.c): quantize_row, vec_dot_q8.
 *
 * Evidence:
 *   - hand-computed blocks for Q8_0/Q8_1 (llama.cpp's x86 quantisation: id = 127 / amax, exact
 *     .5 ties to even, where ggml's generic roundf and 1 / d would differ; NaN, inf and
 *     overflowing products as the x86 conversions give them) and Q8_K (ggml's nearest_int);
 *   - properties on seeded random rows over nine decades: the stored d is f16(amax / 127)
 *     (Q8_0/Q8_1) or 1 / (-127 / max) (Q8_K), |x - q d| <= d/2, s and bsums are the sums;
 *   - every supported weight type on the real GGUF rows of shared/fixtures/quant (ggml's own
 *     blocks; Q4_1 has no fixture and uses seeded random blocks), per row and the whole file
 *     as one long row: vec_dot_q8 equals an f64 sum of dequant(w) * dequant(q(x)), decoded here
 *     independently of the kernel, within a rounding bound, and the f32 vec_dot within the
 *     quantisation error bound of the activations;
 *   - K-quant float order: built blocks whose lane sums straddle 2^24 give ggml's result (lanes
 *     added last, mins subtracted first), which other orders miss;
 *   - refusals, the type table, all-zero, tiny and huge activations.
 */
#include "engine/eng_int.h"
#include "quant_fixture.h"
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* vec_dot_q8 against the exact f64 dot of the decoded rows. Each block costs ggml a few float
 * roundings (scale products, int -> float of sums over 2^24 in Q6_K lanes) and each block sum
 * one float addition, so the error is below ~(n_blocks + 8) roundings of sum|terms|; the
 * constant is that count's multiplier. */
#define Q8_DOT_ULPS_PER_BLOCK 2.0

/* Slack on |x - q d| <= d/2, in units of d: x * id and id = 127 / amax are themselves rounded
 * (each by up to 127 * 2^-24 in q units). */
#define QUANT_BOUND_SLACK 1e-4

/* f32 vec_dot_ref's own rounding, relative to sum|x w| (test_quant.c VEC_DOT_REL_TOL). */
#define F32_DOT_REL_TOL 1e-5

#define MAX_N 8192 /* longest row tested (a whole fixture file as one row: 16 x 256) */

/* ---- fixtures (index.json: flat objects of string and integer values) -------------------- */

struct fixture {
    uint32_t type;
    int64_t row_length, rows;
    size_t row_bytes;
    uint8_t *raw;
};

static struct fixture load(const char *type)
{
    struct quant_fixture q;
    if (!quant_fixture_load(type, &q)) fail_msg("index.json has no entry for %s", type);
    assert_true(q.rows * q.row_length <= MAX_N);
    return (struct fixture){.type = q.type,
                            .row_length = q.row_length,
                            .rows = q.rows,
                            .row_bytes = q.row_bytes,
                            .raw = q.data};
}

/* ---- an independent decoder of activation rows --------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static float rdf(const uint8_t *p)
{
    const uint32_t u =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Geometry of an activation type: elements and bytes per block, offset of qs. */
static void act_geom(uint32_t at, int *bs, int *bb, int *qs_off)
{
    switch (at) {
    case ENG_TYPE_Q8_0: *bs = 32, *bb = 34, *qs_off = 2; return;
    case ENG_TYPE_Q8_1: *bs = 32, *bb = 36, *qs_off = 4; return;
    case ENG_TYPE_Q8_K: *bs = 256, *bb = 292, *qs_off = 4; return;
    default: *bs = 1, *bb = 1, *qs_off = 0; fail_msg("not an activation type: %u", at);
    }
}

/* The scale d of activation block `b` as the format defines it (f16 or f32). */
static double act_d(uint32_t at, const uint8_t *b)
{
    return at == ENG_TYPE_Q8_K ? (double)rdf(b) : (double)eng_f16_to_f32(rd16(b));
}

static int act_q(uint32_t at, const uint8_t *row, int64_t i)
{
    int bs, bb, off;
    act_geom(at, &bs, &bb, &off);
    return (int8_t)row[(i / bs) * bb + off + i % bs];
}

/* out[i] = q[i] * d of its block, exact in double. */
static void act_decode(uint32_t at, const uint8_t *row, int64_t n, double *out)
{
    int bs, bb, off;
    act_geom(at, &bs, &bb, &off);
    for (int64_t i = 0; i < n; i++)
        out[i] = act_q(at, row, i) * act_d(at, row + (i / bs) * bb);
}

/* ---- helpers --------------------------------------------------------------------------------- */

static float rand_unit(uint64_t *rng)
{
    return (float)((double)(tu_rand(rng) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static uint8_t *xmalloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

/* ---- the type table ------------------------------------------------------------------------ */

static void test_vec_dot_type(void **state)
{
    for (uint32_t t = 0; t < ENG_TYPE_COUNT + 8; t++) {
        uint32_t want = ENG_TYPE_COUNT;
        switch (t) {
        case ENG_TYPE_Q4_0:
        case ENG_TYPE_Q5_0:
        case ENG_TYPE_Q8_0: want = ENG_TYPE_Q8_0; break;
        case ENG_TYPE_Q4_1:
        case ENG_TYPE_Q5_1: want = ENG_TYPE_Q8_1; break;
        case ENG_TYPE_Q4_K:
        case ENG_TYPE_Q5_K:
        case ENG_TYPE_Q6_K: want = ENG_TYPE_Q8_K; break;
        case ENG_TYPE_F32:
        case ENG_TYPE_F16:
        case ENG_TYPE_BF16: want = ENG_TYPE_F32; break;
        default: break;
        }
        assert_int_equal(eng_vec_dot_type(t), want);
        /* every pairing has a quantiser; nothing outside the kernels' types gets one */
        if (want != ENG_TYPE_COUNT) assert_true(eng_type_supported(t));
        if (want == ENG_TYPE_COUNT) assert_false(eng_type_supported(t));
    }
    assert_int_equal(eng_vec_dot_type(UINT32_MAX), ENG_TYPE_COUNT);
}

static void test_act_row_bytes(void **state)
{
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_Q8_0, 64), 68);
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_Q8_1, 64), 72);
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_Q8_K, 512), 584);
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_F32, 5), 20);
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_Q8_0, 0), 0);
    /* the block sizes agree with the type table (ggml's sizeof(block_q8_*)) */
    const uint32_t acts[] = {ENG_TYPE_Q8_0, ENG_TYPE_Q8_1, ENG_TYPE_Q8_K};
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(eng_act_row_bytes(acts[k], eng_type_block_size(acts[k])),
                         eng_type_block_bytes(acts[k]));
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_Q8_0, 48), 0);  /* not whole blocks */
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_Q8_K, 128), 0); /* not whole blocks */
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_Q8_0, -32), 0);
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_Q4_0, 32), 0); /* not an activation type */
    assert_int_equal(eng_act_row_bytes(ENG_TYPE_F16, 32), 0);
    assert_int_equal(eng_act_row_bytes(UINT32_MAX, 32), 0);
}

/* ---- hand-computed blocks ------------------------------------------------------------------ */

/* Quantises the 32-element block x as Q8_0 and as Q8_1 and checks both against the expected
 * f16 d and the first n q (the rest 0); with check_s, Q8_1's s must be f16(d32 * sum(q)). */
static void check_q8_block(const float *x, uint16_t want_d, const int8_t *want, int n, int check_s)
{
    uint8_t b0[34], b1[36];
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_0, x, b0, 32), 0);
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_1, x, b1, 32), 0);
    assert_int_equal(rd16(b0), want_d);
    assert_int_equal(rd16(b1), want_d);
    float amax = 0.0f;
    int sum = 0;
    for (int j = 0; j < 32; j++) {
        const int w = j < n ? want[j] : 0;
        if ((int8_t)b0[2 + j] != w || (int8_t)b1[4 + j] != w)
            fail_msg("x[%d] = %.9g: Q8_0 q %d, Q8_1 q %d, want %d", j, x[j], (int8_t)b0[2 + j],
                     (int8_t)b1[4 + j], w);
        sum += w;
        amax = fmaxf(amax, fabsf(x[j]));
    }
    if (check_s) assert_int_equal(rd16(b1 + 2), eng_f32_to_f16(amax / 127.0f * (float)sum));
}

/* Q8_0/Q8_1 follow llama.cpp's x86 quantize_row_q8_0/_q8_1: q = x * (127 / amax) rounded half
 * to even. Where ggml's generic _ref (id = 1 / d, roundf) would give another q, it is noted. */
static void test_q8_0_q8_1_known(void **state)
{
    /* amax = 127 makes d = 1 and id = 1 exactly, so q = x rounded: ties go to even (roundf
     * would give 1, -3, -1, 127, 3 for 0.5, -2.5, -0.5, 126.5, 2.5; 3.5 and -3.5 agree) */
    const float x[32] = {127.0f, 0.5f,    -2.5f,  1.49f, -0.5f, 3.5f,
                         0.0f,   -127.0f, 126.5f, -0.0f, 2.5f,  -3.5f};
    const int8_t xq[12] = {127, 0, -2, 1, 0, 4, 0, -127, 126, 0, 2, -4};
    check_q8_block(x, 0x3c00, xq, 12, 1); /* d = 1 */
    uint8_t b1[36];
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_1, x, b1, 32), 0);
    assert_int_equal(rd16(b1 + 2), 0x57f0); /* s = f16(127) = 2^6 * (1 + 1008/1024) */

    /* amax = 254: d = 2 (f16 0x4000), id = 0.5; the products 0.5, 1.5, 2.5, -2.5, 126.5, -0.5
     * are ties: 0, 2, 2, -2, 126, 0 (roundf: 1, 2, 3, -3, 127, -1) */
    const float y[32] = {254.0f, 1.0f, 3.0f, 5.0f, -5.0f, 253.0f, -1.0f, 7.0f};
    const int8_t yq[8] = {127, 0, 2, 2, -2, 126, 0, 4};
    check_q8_block(y, 0x4000, yq, 8, 1);
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_1, y, b1, 32), 0);
    assert_int_equal(rd16(b1 + 2), 0x600c); /* s = f16(2 * 259 = 518) = 2^9 * (1 + 12/1024) */

    /* amax = 1: d = 1/127 -> f16 0x2008 (2^-7 * (1 + 8/1024); 1/127 = 2^-7 * 1.00787...) and
     * id = 127 exactly: x = +-1 -> +-127, 0.5 -> 63.5 -> 64 (even), 0.25 -> 31.75 -> 32 */
    const float z[32] = {1.0f, -1.0f, 0.5f, 0.25f};
    const int8_t zq[4] = {127, -127, 64, 32};
    check_q8_block(z, 0x2008, zq, 4, 1);

    /* id is 127 / amax rounded, not 1 / d (d = amax / 127 rounded): x = amax / 2 makes the
     * exact product 63.5. amax = 11/16: x * id = 63.5000038 -> 64, with 1/d 63.4999962 -> 63;
     * amax = 29/16: 63.4999962 -> 63, with 1/d 63.5000038 -> 64.
     * And q is x * id, not x / d: amax = 15/16: x * id = 63.4999962 -> 63 where x / d = 63.5
     * -> 64; amax = 9/16: x * id = 63.5 -> 64 where x / d = 63.4999962 -> 63. */
    const float amaxes[4] = {0.6875f, 1.8125f, 0.9375f, 0.5625f};
    const int8_t half[4] = {64, 63, 63, 64};
    for (int k = 0; k < 4; k++) {
        const float w[32] = {amaxes[k], amaxes[k] / 2, -amaxes[k] / 2};
        const int8_t wq[3] = {127, half[k], (int8_t)-half[k]};
        check_q8_block(w, eng_f32_to_f16(amaxes[k] / 127.0f), wq, 3, 1);
    }
}

/* Where C leaves the float -> int conversion undefined, the x86 code's: _mm256_cvtps_epi32
 * gives INT32_MIN for NaN and out-of-range values, the packs saturate that to -128, and Q8_1's
 * s sums the int32 lanes (wrapping). */
static void test_q8_0_q8_1_x86_edges(void **state)
{
    /* amax < 127 / FLT_MAX: id = 127 / amax = inf, so x * id is +-inf (or NaN for 0 * inf):
     * every q is -128, d = f16(amax / 127) = 0, and s = f16(0 * (32 * INT32_MIN wrapped = 0)) */
    float x[32];
    for (int j = 0; j < 32; j++)
        x[j] = (j % 3 - 1) * 1e-38f * (float)(j + 1);
    int8_t all[32];
    memset(all, -128, sizeof all);
    check_q8_block(x, 0x0000, all, 32, 0);
    uint8_t b1[36];
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_1, x, b1, 32), 0);
    assert_int_equal(rd16(b1 + 2), 0x0000); /* +0: the int8 sum -4096 would give -0 (0x8000) */
    /* d = 0 makes the dots exactly 0, not NaN */
    struct fixture f = load("Q4_0");
    uint8_t q0[34 * 8];
    float row[256];
    for (int i = 0; i < 256; i++)
        row[i] = x[i % 32];
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_0, row, q0, 256), 0);
    assert_true(eng_vec_dot_q8_ref(ENG_TYPE_Q4_0, f.raw, q0, 256) == 0.0f);
    free(f.raw);

    /* an infinite x: amax = inf, d = f16 inf, id = 0; inf * 0 = NaN -> -128, finite x -> 0;
     * Q8_1's int32 sum is INT32_MIN, so s = f16(inf * -2^31) = -inf */
    const float y[32] = {INFINITY, 1.0f, -3.0f};
    uint8_t b0[34];
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_0, y, b0, 32), 0);
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_1, y, b1, 32), 0);
    assert_int_equal(rd16(b0), 0x7c00);
    assert_int_equal(rd16(b1), 0x7c00);
    assert_int_equal(rd16(b1 + 2), 0xfc00);
    for (int j = 0; j < 32; j++) {
        assert_int_equal((int8_t)b0[2 + j], j == 0 ? -128 : 0);
        assert_int_equal((int8_t)b1[4 + j], j == 0 ? -128 : 0);
    }
}

/* max = -127 (first of the two largest magnitudes) makes iscale = 1 and d = 1: q = x rounded
 * half to even by nearest_int, 127 stays 127. */
static void test_q8_k_known(void **state)
{
    float x[256] = {0.5f, 1.5f, 2.5f, -1.5f, -127.0f, 127.0f, -0.5f, 3.49f};
    x[20] = 3.25f;
    x[255] = -100.0f;
    uint8_t b[292];
    memset(b, 0xaa, sizeof b);
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_K, x, b, 256), 0);
    assert_true(rdf(b) == 1.0f);
    const int8_t want[8] = {0, 2, 2, -2, -127, 127, 0, 3};
    for (int j = 0; j < 256; j++) {
        const int w = j < 8 ? want[j] : j == 20 ? 3 : j == 255 ? -100 : 0;
        assert_int_equal((int8_t)b[4 + j], w);
    }
    for (int g = 0; g < 16; g++) {
        const int w = g == 0 ? 5 : g == 1 ? 3 : g == 15 ? -100 : 0;
        assert_int_equal((int16_t)rd16(b + 260 + 2 * g), w);
    }

    /* positive max: iscale = -63.5, d = 1 / -63.5; max -> -127, -max -> 127, 1 -> -63.5 -> -64 */
    float y[256] = {2.0f, -2.0f, 1.0f, -1.0f};
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_K, y, b, 256), 0);
    assert_true(rdf(b) == 1.0f / -63.5f);
    assert_int_equal((int8_t)b[4], -127);
    assert_int_equal((int8_t)b[5], 127);
    assert_int_equal((int8_t)b[6], -64); /* -63.5: tie to even */
    assert_int_equal((int8_t)b[7], 64);
    assert_int_equal((int16_t)rd16(b + 260), 0);
}

/* ---- properties on random rows ------------------------------------------------------------- */

static void check_quant_props(uint32_t at, const float *x, const uint8_t *q, int64_t n)
{
    int bs, bb, off;
    act_geom(at, &bs, &bb, &off);
    for (int64_t b = 0; b < n / bs; b++) {
        const float *xb = x + b * bs;
        const uint8_t *qb = q + b * bb;
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < bs; j++) {
            if (fabsf(xb[j]) > amax) amax = fabsf(xb[j]), max = xb[j];
        }
        double d; /* the scale q was computed with */
        if (at == ENG_TYPE_Q8_K) {
            d = amax == 0.0f ? 0.0 : (double)(1.0f / (-127.0f / max));
            assert_true(rdf(qb) == (float)d);
        } else {
            const float d32 = amax / 127.0f;
            d = d32;
            assert_int_equal(rd16(qb), eng_f32_to_f16(d32));
        }
        int sum = 0, seen_max = 0;
        for (int j = 0; j < bs; j++) {
            const int qj = (int8_t)qb[off + j];
            assert_true(qj >= -127 && qj <= 127);
            sum += qj;
            const double err = fabs((double)xb[j] - qj * d);
            if (err > fabs(d) * (0.5 + QUANT_BOUND_SLACK))
                fail_msg("%s block %lld elem %d: x %.9g q %d d %.9g err %.3g", eng_type_name(at),
                         (long long)b, j, xb[j], qj, d, err);
            if (fabsf(xb[j]) == amax && amax > 0) seen_max |= abs(qj) == 127;
        }
        assert_true(seen_max || amax == 0.0f);
        if (at == ENG_TYPE_Q8_1)
            assert_int_equal(rd16(qb + 2), eng_f32_to_f16((float)sum * (amax / 127.0f)));
        if (at == ENG_TYPE_Q8_K) {
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int k = 0; k < 16; k++)
                    s += (int8_t)qb[off + 16 * g + k];
                assert_int_equal((int16_t)rd16(qb + 260 + 2 * g), s);
            }
        }
    }
}

static void test_quantize_properties(void **state)
{
    enum { N = 1024 };
    const uint32_t acts[] = {ENG_TYPE_Q8_0, ENG_TYPE_Q8_1, ENG_TYPE_Q8_K};
    const float scales[] = {1e-4f, 1e-2f, 1.0f, 3.7f, 1e2f, 1e4f};
    float *x = (float *)xmalloc(N * sizeof *x);
    uint8_t *q = xmalloc(eng_act_row_bytes(ENG_TYPE_Q8_K, N) + 64);
    uint64_t rng = 0x51ed270bu;
    for (size_t a = 0; a < 3; a++) {
        for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
            for (int rep = 0; rep < 4; rep++) {
                for (int i = 0; i < N; i++) /* per-element magnitudes over two decades too */
                    x[i] = rand_unit(&rng) * scales[s] * (i % 7 == 0 ? 0.01f : 1.0f);
                if (rep == 1) x[5] = 0.0f, x[40] = -scales[s]; /* a negative block max */
                const size_t len = eng_act_row_bytes(acts[a], N);
                memset(q, 0xaa, len + 64);
                assert_int_equal(eng_quantize_row_ref(acts[a], x, q, N), 0);
                for (int k = 0; k < 64; k++) /* no write past the row */
                    assert_int_equal(q[len + k], 0xaa);
                check_quant_props(acts[a], x, q, N);
            }
        }
    }
    free(x);
    free(q);
}

/* ---- dot products on the fixtures ------------------------------------------------------------ */

/* The integer sum of q over activation block b (for the Q8_1 s allowance). */
static int act_block_qsum(uint32_t at, const uint8_t *row, int64_t b)
{
    int bs, bb, off;
    act_geom(at, &bs, &bb, &off);
    int s = 0;
    for (int j = 0; j < bs; j++)
        s += (int8_t)row[b * bb + off + j];
    return s;
}

struct dot_stats {
    double worst_exact; /* max |err| / bound against the exact dot */
    double worst_f32;   /* max |err| / bound against the f32 dot */
};

/* vec_dot_q8 of weight row `w` (n elements of `wt`) with q(x), against (a) the exact f64 dot
 * of the decoded rows and (b) the f32 vec_dot within the activation quantisation error. */
static void check_dot(uint32_t wt, const uint8_t *w, int64_t n, const float *x,
                      struct dot_stats *st)
{
    const uint32_t at = eng_vec_dot_type(wt);
    int bs, bb, off;
    act_geom(at, &bs, &bb, &off);
    uint8_t *q = xmalloc(eng_act_row_bytes(at, n));
    float *wd = (float *)xmalloc((size_t)n * sizeof *wd);
    double *xd = (double *)xmalloc((size_t)n * sizeof *xd);
    assert_int_equal(eng_quantize_row_ref(at, x, q, n), 0);
    assert_int_equal(eng_dequant_row_ref(wt, w, wd, n), 0);
    act_decode(at, q, n, xd);

    double exact = 0.0, mag = 0.0, f32_mag = 0.0, qerr = 0.0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)wd[i] * xd[i];
        mag += fabs((double)wd[i] * xd[i]);
        f32_mag += fabs((double)wd[i] * x[i]);
    }
    /* Q8_1: ggml adds m * s with s = f16(sum(q) * d32), not m * d16 * sum(q): allow the exact
     * difference of the two, block by block. */
    double s_allow = 0.0;
    if (at == ENG_TYPE_Q8_1) {
        const size_t wbb = eng_type_block_bytes(wt);
        for (int64_t b = 0; b < n / 32; b++) {
            const double m = eng_f16_to_f32(rd16(w + b * wbb + 2));
            const uint8_t *qb = q + b * bb;
            const double s = eng_f16_to_f32(rd16(qb + 2));
            const double ds = s - act_d(at, qb) * act_block_qsum(at, q, b);
            exact += m * ds; /* the formula's own value: m * s */
            s_allow += fabs(m * ds);
        }
    }
    /* per-element bound on |x - dequant(q(x))|: d32/2 plus 127 |d16 - d32| for the f16 d */
    for (int64_t b = 0; b < n / bs; b++) {
        const uint8_t *qb = q + b * bb;
        double e;
        if (at == ENG_TYPE_Q8_K) {
            e = fabs(act_d(at, qb)) * (0.5 + QUANT_BOUND_SLACK);
        } else {
            float amax = 0.0f;
            for (int j = 0; j < bs; j++)
                amax = fmaxf(amax, fabsf(x[b * bs + j]));
            const double d32 = amax / 127.0f;
            e = d32 * (0.5 + QUANT_BOUND_SLACK) + 127.0 * fabs(act_d(at, qb) - d32);
        }
        for (int j = 0; j < bs; j++)
            qerr += fabs((double)wd[b * bs + j]) * e;
    }

    const float got = eng_vec_dot_q8_ref(wt, w, q, n);
    assert_true(isfinite(got));
    const double nblk = (double)(n / eng_type_block_size(wt));
    const double bound = Q8_DOT_ULPS_PER_BLOCK * (nblk + 8) * FLT_EPSILON * mag + DBL_MIN;
    const double err = fabs((double)got - exact);
    if (err > bound)
        fail_msg("%s n %lld: vec_dot_q8 %.9g, exact %.9g, |err| %.3g > bound %.3g",
                 eng_type_name(wt), (long long)n, got, exact, err, bound);
    st->worst_exact = fmax(st->worst_exact, err / bound);

    const float f32 = eng_vec_dot_ref(wt, w, x, n);
    const double fbound = qerr + s_allow + bound + F32_DOT_REL_TOL * f32_mag + DBL_MIN;
    const double ferr = fabs((double)got - (double)f32);
    if (ferr > fbound)
        fail_msg("%s n %lld: vec_dot_q8 %.9g, f32 vec_dot %.9g, |diff| %.3g > bound %.3g",
                 eng_type_name(wt), (long long)n, got, f32, ferr, fbound);
    st->worst_f32 = fmax(st->worst_f32, ferr / fbound);
    free(q);
    free(wd);
    free(xd);
}

/* Every row of `raw` and all rows as one row, with random x at a few magnitudes. */
static void check_rows(uint32_t wt, const uint8_t *raw, size_t row_bytes, int64_t rows,
                       int64_t row_length, uint64_t seed)
{
    const int64_t total = rows * row_length;
    float *x = (float *)xmalloc((size_t)total * sizeof *x);
    uint64_t rng = seed;
    struct dot_stats st = {0, 0};
    const float mags[] = {1.0f, 0.01f, 30.0f};
    for (size_t k = 0; k < 3; k++) {
        for (int64_t i = 0; i < total; i++) /* with an outlier now and then, as in activations */
            x[i] = rand_unit(&rng) * mags[k] * (tu_rand(&rng) % 64 == 0 ? 8.0f : 1.0f);
        for (int64_t r = 0; r < rows; r++)
            check_dot(wt, raw + (size_t)r * row_bytes, row_length, x + r * row_length, &st);
        check_dot(wt, raw, total, x, &st);
    }
    /* the f32 comparison must not be vacuous: the bound is the quantisation error, which the
     * actual difference reaches a fair fraction of in the worst row */
    print_message("    %s: worst |err|/bound vs exact %.3f, vs f32 dot %.3f\n", eng_type_name(wt),
                  st.worst_exact, st.worst_f32);
    assert_true(st.worst_f32 > 0.01);
    free(x);
}

static void check_fixture(const char *name)
{
    struct fixture f = load(name);
    check_rows(f.type, f.raw, f.row_bytes, f.rows, f.row_length, 0x9e3779b97f4a7c15u ^ f.type);
    free(f.raw);
}

static void test_dot_q4_0(void **state)
{
    check_fixture("Q4_0");
}

static void test_dot_q5_0(void **state)
{
    check_fixture("Q5_0");
}

static void test_dot_q5_1(void **state)
{
    check_fixture("Q5_1");
}

static void test_dot_q8_0(void **state)
{
    check_fixture("Q8_0");
}

static void test_dot_q4_k(void **state)
{
    check_fixture("Q4_K");
}

static void test_dot_q5_k(void **state)
{
    check_fixture("Q5_K");
}

static void test_dot_q6_k(void **state)
{
    check_fixture("Q6_K");
}

/* Q4_1 has no fixture: seeded random nibbles with d in [2^-9, 2^-6) and m in (-1, 0]. */
static void test_dot_q4_1(void **state)
{
    enum { ROWS = 8, LEN = 256, BLK = LEN / 32 };
    uint8_t raw[ROWS * BLK * 20];
    uint64_t rng = 4242;
    for (int b = 0; b < ROWS * BLK; b++) {
        uint8_t *p = raw + 20 * b;
        const uint16_t d = eng_f32_to_f16(ldexpf(1.0f + rand_unit(&rng) * 0.5f + 0.5f, -8));
        const uint16_t m = eng_f32_to_f16(-fabsf(rand_unit(&rng)) * 0.1f);
        p[0] = (uint8_t)d, p[1] = (uint8_t)(d >> 8), p[2] = (uint8_t)m, p[3] = (uint8_t)(m >> 8);
        for (int j = 0; j < 16; j++)
            p[4 + j] = (uint8_t)tu_rand(&rng);
    }
    check_rows(ENG_TYPE_Q4_1, raw, BLK * 20, ROWS, LEN, 99);
}

/* ---- K-quant float order --------------------------------------------------------------------- */

/* Q8_K rows of integers with a -127 in each block quantise to q = x, d = 1. */
static void quant_k_ints(const float *x, uint8_t *q, int64_t n)
{
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_K, x, q, n), 0);
    for (int64_t b = 0; b < n / 256; b++)
        assert_true(rdf(q + 292 * b) == 1.0f);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(act_q(ENG_TYPE_Q8_K, q, i), (int)x[i]);
}

/* Sets element e (0..255) of a Q6_K block to the 6-bit value r (weight r - 32). */
static void q6k_set(uint8_t *blk, int e, int r)
{
    const int h = e / 128, qd = (e % 128) / 32, l = e % 32;
    uint8_t *ql = blk + 64 * h + (qd & 1) * 32 + l;
    uint8_t *qh = blk + 128 + 32 * h + l;
    if (qd < 2)
        *ql = (uint8_t)((*ql & 0xf0) | (r & 15));
    else
        *ql = (uint8_t)((*ql & 0x0f) | (r & 15) << 4);
    *qh = (uint8_t)((*qh & ~(3 << 2 * qd)) | (r >> 4) << 2 * qd);
}

/* ggml adds each lane's float sum (sums[l], over all blocks) to sumf at the very end, lane 0
 * first. Block 0 puts 1 in each of lanes 1..7, block 1 puts 2^24 in lane 0: ggml adds
 * 2^24 + 1 + ... + 1 and every + 1 is a tie that stays at 2^24 (even). Adding block by block
 * (or lane by lane within each block) gives 7 + 2^24 -> 2^24 + 8, exact arithmetic 2^24 + 7. */
static void test_order_q6_k(void **state)
{
    uint8_t w[2 * 210];
    memset(w, 0, sizeof w);
    for (int b = 0; b < 2; b++) {
        for (int e = 0; e < 256; e++)
            q6k_set(w + 210 * b, e, 32); /* weight 0 */
        for (int j = 0; j < 16; j++)
            w[210 * b + 192 + j] = 1; /* scales */
    }
    w[208] = 0x00, w[209] = 0x3c;             /* block 0: d = 1 */
    w[210 + 208] = 0x00, w[210 + 209] = 0x78; /* block 1: d = 2^15 */
    for (int e = 1; e < 8; e++)
        q6k_set(w, e, 33);  /* block 0, lanes 1..7: weight 1 */
    q6k_set(w + 210, 0, 0); /* block 1, element 0 (lane 0): weight -32 */

    float dq[512];
    assert_int_equal(eng_dequant_row_ref(ENG_TYPE_Q6_K, w, dq, 512), 0); /* the encoder */
    assert_true(dq[0] == 0.0f && dq[1] == 1.0f && dq[7] == 1.0f && dq[8] == 0.0f);
    assert_true(dq[256] == -32.0f * 32768.0f && dq[257] == 0.0f);

    float x[512] = {0};
    for (int e = 1; e < 8; e++)
        x[e] = 1.0f;
    x[8] = -127.0f;                    /* weight 0 there */
    x[256] = -16.0f, x[257] = -127.0f; /* lane 0: -32 * -16 = 512, times d = 2^24 */
    uint8_t q[2 * 292];
    quant_k_ints(x, q, 512);
    const float got = eng_vec_dot_q8_ref(ENG_TYPE_Q6_K, w, q, 512);
    if (got != 16777216.0f) fail_msg("Q6_K lane order: got %.9g, ggml gives 16777216", got);
}

/* Q4_K/Q5_K: ggml first subtracts every block's min term from sumf (here -(-1) twice: 2), then
 * adds the lanes: 2 + 2^24 = 2^24 + 2, and each further + 1 (lanes 1..7) is a tie that rounds
 * to 2^24 + 4. Subtracting the mins per block, into lane 0, or after the lanes gives 2^24;
 * exact arithmetic 2^24 + 9 (float 2^24 + 8). Block 0: d = 2^15, lane 0 = 8 * 64 -> 2^24;
 * block 1: d = 1, lanes 1..7 = 1; both: dmin = 1, min 1 on sub-block 0 whose bsums add to -1.
 * Q5_K runs the same blocks with qh = 0. */
static void check_order_q45_k(uint32_t wt)
{
    const int bb = wt == ENG_TYPE_Q5_K ? 176 : 144, qs_off = wt == ENG_TYPE_Q5_K ? 48 : 16;
    uint8_t w[2 * 176];
    memset(w, 0, sizeof w);
    uint8_t *b0 = w, *b1 = w + bb;
    b0[0] = 0x00, b0[1] = 0x78; /* d = 2^15 */
    b1[0] = 0x00, b1[1] = 0x3c; /* d = 1 */
    for (int b = 0; b < 2; b++) {
        uint8_t *p = w + b * bb;
        p[2] = 0x00, p[3] = 0x3c; /* dmin = 1 */
        p[4] = 1, p[8] = 1;       /* sub-block 0: scale 1, min 1; the others 0 */
    }
    b0[qs_off] = 8; /* element 0: weight 8 */
    for (int e = 1; e < 8; e++)
        b1[qs_off + e] = 1; /* elements 1..7: weight 1 * 1 - 1 */

    float x[512] = {0};
    x[0] = 64.0f, x[9] = -65.0f; /* lane 0: 8 * 64; bsums[0] = -1 (weight 0 at 9) */
    for (int e = 1; e < 8; e++)
        x[256 + e] = 1.0f;
    x[256 + 9] = -8.0f;            /* bsums[0] = 7 - 8 = -1 */
    x[40] = x[256 + 40] = -127.0f; /* d = 1; scale 0, min 0 there */
    uint8_t q[2 * 292];
    quant_k_ints(x, q, 512);
    const float got = eng_vec_dot_q8_ref(wt, w, q, 512);
    if (got != 16777220.0f)
        fail_msg("%s min/lane order: got %.9g, ggml gives 16777220", eng_type_name(wt), got);
}

static void test_order_q4_k(void **state)
{
    check_order_q45_k(ENG_TYPE_Q4_K);
}

static void test_order_q5_k(void **state)
{
    check_order_q45_k(ENG_TYPE_Q5_K);
}

/* ---- refusals and float types ---------------------------------------------------------------- */

static void test_refusals(void **state)
{
    uint8_t w[512] = {0}, q[600];
    float x[256] = {0};
    for (uint32_t t = 0; t < ENG_TYPE_COUNT + 8; t++) {
        const int is_act =
            t == ENG_TYPE_Q8_0 || t == ENG_TYPE_Q8_1 || t == ENG_TYPE_Q8_K || t == ENG_TYPE_F32;
        if (!is_act) assert_int_equal(eng_quantize_row_ref(t, x, q, 256), ENG_ERR_UNSUPPORTED);
        if (eng_vec_dot_type(t) == ENG_TYPE_COUNT) {
            assert_true(isnan(eng_vec_dot_q8_ref(t, w, q, 256)));
            continue;
        }
        const int64_t bs = eng_type_block_size(t);
        assert_int_equal(eng_quantize_row_ref(eng_vec_dot_type(t), x, q, bs), 0);
        assert_true(eng_vec_dot_q8_ref(t, w, q, bs) == 0.0f);
        assert_true(isnan(eng_vec_dot_q8_ref(t, w, q, -bs)));
        if (bs > 1) assert_true(isnan(eng_vec_dot_q8_ref(t, w, q, bs / 2)));
    }
    assert_true(isnan(eng_vec_dot_q8_ref(UINT32_MAX, w, q, 32)));
    const uint32_t acts[] = {ENG_TYPE_Q8_0, ENG_TYPE_Q8_1, ENG_TYPE_Q8_K};
    for (size_t k = 0; k < 3; k++) {
        const int64_t bs = eng_type_block_size(acts[k]);
        assert_int_equal(eng_quantize_row_ref(acts[k], x, q, bs / 2), ENG_ERR_RANGE);
        assert_int_equal(eng_quantize_row_ref(acts[k], x, q, -bs), ENG_ERR_RANGE);
        assert_int_equal(eng_quantize_row_ref(acts[k], x, q, 0), 0);
        assert_true(eng_vec_dot_q8_ref(ENG_TYPE_Q8_0, w, q, 0) == 0.0f);
    }
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_F32, x, q, -1), ENG_ERR_RANGE);
}

/* F32/F16/BF16 weights pair with f32 activations: quantize is a copy and vec_dot_q8 is
 * vec_dot_ref, bit for bit. */
static void test_float_weights(void **state)
{
    const char *names[] = {"F16", "BF16"};
    for (size_t k = 0; k < 2; k++) {
        struct fixture f = load(names[k]);
        float *x = (float *)xmalloc((size_t)f.row_length * sizeof *x);
        float *c = (float *)xmalloc((size_t)f.row_length * sizeof *c);
        uint64_t rng = 7 + k;
        for (int64_t r = 0; r < f.rows; r++) {
            for (int64_t i = 0; i < f.row_length; i++)
                x[i] = rand_unit(&rng);
            assert_int_equal(eng_quantize_row_ref(ENG_TYPE_F32, x, c, f.row_length), 0);
            assert_memory_equal(x, c, (size_t)f.row_length * sizeof *x);
            const uint8_t *w = f.raw + (size_t)r * f.row_bytes;
            const float a = eng_vec_dot_q8_ref(f.type, w, c, f.row_length);
            const float b = eng_vec_dot_ref(f.type, w, x, f.row_length);
            assert_memory_equal(&a, &b, sizeof a);
        }
        free(x);
        free(c);
        free(f.raw);
    }
}

/* ---- zero, tiny and huge activations --------------------------------------------------------- */

static void test_magnitudes(void **state)
{
    struct fixture fx[3] = {load("Q4_0"), load("Q5_1"), load("Q6_K")};
    uint8_t q[4 * 292];
    float x[256];
    /* all zero: d = 0 (and s = 0, bsums = 0), every product 0, no NaN */
    memset(x, 0, sizeof x);
    for (int k = 0; k < 3; k++) {
        const uint32_t at = eng_vec_dot_type(fx[k].type);
        memset(q, 0xaa, sizeof q);
        assert_int_equal(eng_quantize_row_ref(at, x, q, 256), 0);
        const size_t len = eng_act_row_bytes(at, 256);
        for (size_t i = 0; i < len; i++) /* every byte written, all zero (d = 0.0, q = 0) */
            assert_int_equal(q[i], 0);
        assert_true(eng_vec_dot_q8_ref(fx[k].type, fx[k].raw, q, 256) == 0.0f);
    }
    /* tiny and huge magnitudes: finite, and scaled exactly by powers of two where the scale
     * stays a normal number in its format */
    const float mags[] = {1e-30f, 1e-20f, 1e-6f, 1.0f, 1e3f, 1e6f};
    uint64_t rng = 31337;
    float base[256];
    for (int i = 0; i < 256; i++)
        base[i] = rand_unit(&rng);
    for (int k = 0; k < 3; k++) {
        const uint32_t at = eng_vec_dot_type(fx[k].type);
        for (size_t m = 0; m < sizeof mags / sizeof mags[0]; m++) {
            for (int i = 0; i < 256; i++)
                x[i] = base[i] * mags[m];
            assert_int_equal(eng_quantize_row_ref(at, x, q, 256), 0);
            if (at == ENG_TYPE_Q8_1 && mags[m] > 1e3f) {
                /* ggml's s = f16(d * sum(q)) overflows once |sum of a block| > 65504, long
                 * before d does: s = +-inf, and the dot inf or NaN, as in ggml */
                int infs = 0;
                for (int b = 0; b < 8; b++)
                    infs += (rd16(q + 36 * b + 2) & 0x7fffu) == 0x7c00u;
                assert_true(infs > 0);
                continue;
            }
            const float got = eng_vec_dot_q8_ref(fx[k].type, fx[k].raw, q, 256);
            if (!isfinite(got))
                fail_msg("%s at %g: %g", eng_type_name(fx[k].type), (double)mags[m], got);
            /* f16 d underflows to 0 below ~127 * 2^-25 (Q8_0/Q8_1): the dot is then exactly 0 */
            if (at != ENG_TYPE_Q8_K && mags[m] < 1e-20f) assert_true(got == 0.0f);
        }
        /* Q8_K keeps an f32 d: tiny rows keep their value, up to the power of two */
        if (at == ENG_TYPE_Q8_K) {
            for (int i = 0; i < 256; i++)
                x[i] = ldexpf(base[i], -100);
            assert_int_equal(eng_quantize_row_ref(at, x, q, 256), 0);
            const float tiny = eng_vec_dot_q8_ref(fx[k].type, fx[k].raw, q, 256);
            assert_int_equal(eng_quantize_row_ref(at, base, q, 256), 0);
            const float one = eng_vec_dot_q8_ref(fx[k].type, fx[k].raw, q, 256);
            assert_true(one != 0.0f && tiny == ldexpf(one, -100));
        }
    }
    /* a subnormal-only Q8_K block: -127 / max overflows to inf, ggml's bit trick then gives
     * q = 0 and d = -0 or 0; the dot is 0, not NaN */
    for (int i = 0; i < 256; i++)
        x[i] = base[i] * 1e-39f;
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_K, x, q, 256), 0);
    assert_true(rdf(q) == 0.0f);
    assert_true(eng_vec_dot_q8_ref(ENG_TYPE_Q6_K, fx[2].raw, q, 256) == 0.0f);
    /* beyond f16's range (amax / 127 > 65504) ggml stores d = inf: documented, not hidden */
    for (int i = 0; i < 32; i++)
        x[i] = base[i] * 1e8f;
    x[0] = 1e8f;
    assert_int_equal(eng_quantize_row_ref(ENG_TYPE_Q8_0, x, q, 32), 0);
    assert_int_equal(rd16(q), 0x7c00);
    for (int k = 0; k < 3; k++)
        free(fx[k].raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vec_dot_type),    cmocka_unit_test(test_act_row_bytes),
        cmocka_unit_test(test_q8_0_q8_1_known), cmocka_unit_test(test_q8_0_q8_1_x86_edges),
        cmocka_unit_test(test_q8_k_known),      cmocka_unit_test(test_quantize_properties),
        cmocka_unit_test(test_dot_q4_0),        cmocka_unit_test(test_dot_q4_1),
        cmocka_unit_test(test_dot_q5_0),        cmocka_unit_test(test_dot_q5_1),
        cmocka_unit_test(test_dot_q8_0),        cmocka_unit_test(test_dot_q4_k),
        cmocka_unit_test(test_dot_q5_k),        cmocka_unit_test(test_dot_q6_k),
        cmocka_unit_test(test_order_q6_k),      cmocka_unit_test(test_order_q4_k),
        cmocka_unit_test(test_order_q5_k),      cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_float_weights),   cmocka_unit_test(test_magnitudes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
