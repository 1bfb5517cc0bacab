/* Tests of the kernel table (engine/kernels.c, kernels_avx2.c, kernels_avx512.c): every entry
 * of every path this CPU has against the "ref" path.
 *
 * Evidence:
 *   - quantize_act: bit-exact (memcmp) with ref on seeded random rows over nine decades, rows
 *     with exact .5 ties, all-zero blocks, equal-magnitude maxima of both signs (Q8_K keeps the
 *     first), infinities, and on activations made from the real fixture weights;
 *   - vec_dot: within a named bound relative to sum|terms| (the sum of |w_e y_e| plus the
 *     |offset| terms of Q4_1/Q5_1/Q4_K/Q5_K) against ref, for weights from
 *     shared/fixtures/quant (ggml's blocks, per row and the whole file as one row) and seeded
 *     random blocks (every byte value, odd block counts), with activations from quantize_act
 *     and with random activation bytes (-128 included: the integer parts must stay exact);
 *   - a built case where a wrong integer sum cannot hide in the tolerance: identical blocks
 *     whose exact dot is a known integer multiple;
 *   - dot_f32 / dot_f32_f16 within a bound relative to sum|a b|, lengths 0..130 and 4096,
 *     unaligned; axpy_f32 / axpy_f16 bit-exact with ref;
 *   - silu_mul and exp_sum within 4 ulp of ref per element over -110..110 (dense near 0),
 *     signed zeros, infinities, NaN, the underflow and overflow edges, every length 0..40;
 *   - table shape (same entries as ref), GLMTERM_KERNELS parsing and fallbacks.
 * Paths the CPU lacks are skipped with a message.
 *
 * With an argument ("bench"), prints a quick GB/s table instead (bench/kern_bench is the full
 * one).
 */
#include "engine/eng_int.h"
#include "quant_fixture.h"
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Quantised dots: ref and SIMD each add one float rounding per block (per lane for SIMD) of a
 * partial sum bounded by sum|terms|, plus a few roundings per term (d_w * d_y, the int -> float
 * of a block sum, the FMA); so |simd - ref| <= (ULPS_PER_BLOCK * n_blocks + ULPS_FIXED) * eps *
 * sum|terms|. */
#define QDOT_ULPS_PER_BLOCK 2.0
#define QDOT_ULPS_FIXED     48.0

/* Float dots: ref sums 256-element chunks in float (<= 256 roundings per chunk) and the chunks
 * in double; SIMD sums n / (lanes * accumulators) terms per lane, then a reduction tree. */
#define FDOT_ULPS_FIXED 320.0

/* Decades of activation magnitude in the dot tests (1e-4 .. 1e2; see rand_floats). */
#define DOT_DECADES 7

#define MAX_N 8192 /* longest row (a fixture file as one row: 16 x 256; random rows 4096 + 256) */

static const char *const PATHS[] = {"ref", "avx2", "avx512"};
#define N_PATHS 3

static const uint32_t WTYPES[] = {ENG_TYPE_F32,  ENG_TYPE_F16,  ENG_TYPE_BF16, ENG_TYPE_Q4_0,
                                  ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1, ENG_TYPE_Q8_0,
                                  ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
#define N_WTYPES (sizeof WTYPES / sizeof *WTYPES)

static const uint32_t ATYPES[] = {ENG_TYPE_F32, ENG_TYPE_Q8_0, ENG_TYPE_Q8_1, ENG_TYPE_Q8_K};

/* ---- helpers ----------------------------------------------------------------------------- */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

static float rand_unit(uint64_t *rng) /* [-1, 1) */
{
    return (float)((double)(tu_rand(rng) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

static float rdf(const uint8_t *p)
{
    const uint32_t u =
        (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static size_t row_bytes(uint32_t type, int64_t n)
{
    return (size_t)(n / eng_type_block_size(type)) * eng_type_block_bytes(type);
}

/* The paths to test besides ref; prints once for each one the CPU lacks. */
static int simd_paths(const struct eng_kernels *out[N_PATHS])
{
    static int told;
    int n = 0;
    for (int p = 1; p < N_PATHS; p++) {
        const struct eng_kernels *k = eng_kernels_get(PATHS[p]);
        if (k)
            out[n++] = k;
        else if (!(told & 1 << p))
            print_message("test_kernels: no %s on this CPU, its kernels are skipped\n", PATHS[p]),
                told |= 1 << p;
    }
    return n;
}

/* ---- fixtures (index.json: flat objects of string and integer values) -------------------- */

struct fixture {
    uint32_t type;
    int64_t row_length, rows;
    size_t row_bytes;
    uint8_t *raw;
};

static struct fixture load(uint32_t type)
{
    struct quant_fixture q;
    struct fixture f;
    memset(&f, 0, sizeof f);
    if (!quant_fixture_load(eng_type_name(type), &q)) return f; /* no fixture for this type */
    assert_true(q.rows * q.row_length <= MAX_N);
    f = (struct fixture){.type = q.type,
                         .row_length = q.row_length,
                         .rows = q.rows,
                         .row_bytes = q.row_bytes,
                         .raw = q.data};
    return f;
}

/* ---- sum |terms| ------------------------------------------------------------------------- */

/* |offset| of element e's weight (the term not multiplied by its quant): Q4_1/Q5_1's m, Q4_K/
 * Q5_K's dmin * min of its sub-block; 0 for the other types (their offsets are inside the
 * integer sums). */
static double w_offset(uint32_t type, const uint8_t *w, int64_t e)
{
    switch (type) {
    case ENG_TYPE_Q4_1: return fabs(eng_f16_to_f32(rd16(w + (e / 32) * 20 + 2)));
    case ENG_TYPE_Q5_1: return fabs(eng_f16_to_f32(rd16(w + (e / 32) * 24 + 2)));
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K: {
        const uint8_t *b = w + (e / 256) * (type == ENG_TYPE_Q4_K ? 144 : 176);
        const uint8_t *s = b + 4;
        const int j = (int)(e % 256) / 32;
        const int m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | (s[j] >> 6) << 4;
        return fabs(eng_f16_to_f32(rd16(b + 2))) * m;
    }
    default: return 0.0;
    }
}

/* The activation value of element e (q * d, or the f32). */
static double act_value(uint32_t at, const uint8_t *x, int64_t e)
{
    switch (at) {
    case ENG_TYPE_Q8_0: {
        const uint8_t *b = x + (e / 32) * 34;
        return (int8_t)b[2 + e % 32] * (double)eng_f16_to_f32(rd16(b));
    }
    case ENG_TYPE_Q8_1: {
        const uint8_t *b = x + (e / 32) * 36;
        return (int8_t)b[4 + e % 32] * (double)eng_f16_to_f32(rd16(b));
    }
    case ENG_TYPE_Q8_K: {
        const uint8_t *b = x + (e / 256) * 292;
        return (int8_t)b[4 + e % 256] * (double)rdf(b);
    }
    default: return rdf(x + 4 * e);
    }
}

static double sum_abs_terms(uint32_t type, const uint8_t *w, const uint8_t *x, int64_t n)
{
    const uint32_t at = eng_vec_dot_type(type);
    float *wd = xmalloc((size_t)n * sizeof *wd);
    assert_int_equal(eng_dequant_row_ref(type, w, wd, n), 0);
    double s = 0.0;
    for (int64_t e = 0; e < n; e++)
        s += fabs(act_value(at, x, e)) * (fabs((double)wd[e]) + w_offset(type, w, e));
    free(wd);
    return s;
}

/* ref's vec_dot against path k's; `what` names the case in a failure. */
static void expect_dot(const struct eng_kernels *k, uint32_t type, const uint8_t *w,
                       const uint8_t *x, int64_t n, const char *what)
{
    const struct eng_kernels *ref = eng_kernels_get("ref");
    const float want = ref->vec_dot[type](w, x, n);
    const float got = k->vec_dot[type](w, x, n);
    const double s = sum_abs_terms(type, w, x, n);
    const int64_t bs = eng_type_block_size(type);
    const double ulps = bs == 1 ? FDOT_ULPS_FIXED + (double)n / 32.0
                                : QDOT_ULPS_PER_BLOCK * (double)(n / bs) + QDOT_ULPS_FIXED;
    const double tol = ulps * FLT_EPSILON * s;
    if (!isfinite(want) || !(fabs((double)got - (double)want) <= tol))
        fail_msg("%s %s %s n=%lld: got %.9g, ref %.9g, |diff| %.3g > tol %.3g (sum|terms| %.6g)",
                 k->name, eng_type_name(type), what, (long long)n, got, want,
                 fabs((double)got - (double)want), tol, s);
}

/* ---- random data ------------------------------------------------------------------------- */

/* A random weight row: every quant byte random, f16 scale fields finite and moderate (as the
 * bench does), float types random finite values. */
static void rand_weights(uint32_t type, uint8_t *w, int64_t n, uint64_t *rng)
{
    const int64_t bs = eng_type_block_size(type), bb = eng_type_block_bytes(type);
    if (bs == 1) {
        for (int64_t i = 0; i < n; i++) {
            const float f = rand_unit(rng) * 4.0f;
            const uint32_t u = fbits(f);
            if (type == ENG_TYPE_F32)
                memcpy(w + 4 * i, &u, 4);
            else
                wr16(w + 2 * i, type == ENG_TYPE_F16 ? eng_f32_to_f16(f) : (uint16_t)(u >> 16));
        }
        return;
    }
    for (int64_t i = 0; i < n / bs * bb; i++)
        w[i] = (uint8_t)tu_rand(rng);
    for (int64_t b = 0; b < n / bs; b++) {
        uint8_t *p = w + b * bb;
        const uint16_t d = eng_f32_to_f16(0.02f * rand_unit(rng));
        const uint16_t m = eng_f32_to_f16(0.05f * rand_unit(rng));
        switch (type) {
        case ENG_TYPE_Q4_1:
        case ENG_TYPE_Q5_1:
        case ENG_TYPE_Q4_K:
        case ENG_TYPE_Q5_K: wr16(p, d), wr16(p + 2, m); break;
        case ENG_TYPE_Q6_K: wr16(p + 208, d); break;
        default: wr16(p, d); break;
        }
    }
}

/* A random activation row in format `at`: every qs byte random (-128 included), scales finite,
 * Q8_K's bsums the sums of its qs (the format's invariant, which the kernels rely on). */
static void rand_act_bytes(uint32_t at, uint8_t *x, int64_t n, uint64_t *rng)
{
    if (at == ENG_TYPE_F32) {
        for (int64_t i = 0; i < n; i++) {
            const float f = rand_unit(rng);
            memcpy(x + 4 * i, &f, 4);
        }
        return;
    }
    const size_t total = eng_act_row_bytes(at, n);
    for (size_t i = 0; i < total; i++)
        x[i] = (uint8_t)tu_rand(rng);
    if (at == ENG_TYPE_Q8_K) {
        for (int64_t b = 0; b < n / 256; b++) {
            uint8_t *p = x + b * 292;
            const float d = 0.01f * rand_unit(rng);
            memcpy(p, &d, 4);
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int j = 0; j < 16; j++)
                    s += (int8_t)p[4 + 16 * g + j];
                wr16(p + 260 + 2 * g, (uint16_t)(int16_t)s);
            }
        }
        return;
    }
    const int bb = at == ENG_TYPE_Q8_0 ? 34 : 36;
    for (int64_t b = 0; b < n / 32; b++) {
        wr16(x + b * bb, eng_f32_to_f16(0.01f * rand_unit(rng)));
        if (at == ENG_TYPE_Q8_1) wr16(x + b * bb + 2, eng_f32_to_f16(0.3f * rand_unit(rng)));
    }
}

/* Random f32 activations: per block a magnitude from 1e-4 to 1e(decades - 5). Dots use 7
 * decades (up to 100): larger blocks overflow Q8_1's f16 s = d * sum(q), as in llama.cpp. */
static void rand_floats(float *x, int64_t n, uint64_t *rng, int decades)
{
    for (int64_t i = 0; i < n; i += 32) {
        const float scale = powf(10.0f, (float)(tu_rand(rng) % (uint64_t)decades) - 4.0f);
        for (int64_t j = i; j < i + 32 && j < n; j++)
            x[j] = rand_unit(rng) * scale;
    }
}

/* ---- SwiGLU and softmax exponentials ------------------------------------------------------ */

/* |got - want| within 4 ulp of want, or both tiny (below 1e-37), or the same NaN-ness and
 * infinity. */
static bool close_ulp(float got, float want)
{
    if (isnan(want)) return isnan(got);
    if (isinf(want)) return got == want;
    if (fabsf(want) < 1e-37f && fabsf(got) < 1e-37f) return true;
    return fabs((double)got - want) <= 4.0 * FLT_EPSILON * fabs((double)want);
}

static void test_silu_exp(void **state)
{
    (void)state;
    const struct eng_kernels *ref = eng_kernels_get("ref");
    enum { N = 1037 };
    float g[N], u[N], a[N], b[N], v1[N], v2[N];
    uint64_t r = 0x73696c7500000000ull;
    for (int i = 0; i < N; i++) { /* -110 .. 110, dense near 0, plus edge values */
        const float t = rand_unit(&r);
        g[i] = i % 3 == 0 ? t * 110.0f : i % 3 == 1 ? t * 8.0f : t * 1e-3f;
        u[i] = rand_unit(&r) * 4.0f;
    }
    g[0] = 0.0f, g[1] = -0.0f, g[2] = INFINITY, g[3] = -INFINITY, g[4] = NAN, g[5] = 88.9f;
    g[6] = -88.0f, g[7] = -103.9f, g[8] = 1e-30f;
    for (int p = 0; p < N_PATHS; p++) {
        const struct eng_kernels *k = eng_kernels_get(PATHS[p]);
        if (!k) continue;
        for (int n = 0; n <= N; n += n < 40 ? 1 : N - 40) {
            memcpy(a, g, sizeof a);
            memcpy(b, g, sizeof b);
            ref->silu_mul(a, u, n);
            k->silu_mul(b, u, n);
            for (int i = 0; i < N; i++)
                if (!(i < n ? close_ulp(b[i], a[i]) : memcmp(&b[i], &g[i], 4) == 0))
                    fail_msg("silu_mul %s n %d: [%d] of %g: %.9g, ref %.9g", k->name, n, i,
                             (double)g[i], (double)b[i], (double)a[i]);
            /* softmax use: values minus their max, all <= 0 (NaN/inf left out) */
            float mx = -INFINITY;
            for (int i = 0; i < n; i++)
                if (isfinite(g[i]) && g[i] > mx) mx = g[i];
            for (int i = 0; i < N; i++)
                v1[i] = v2[i] = isfinite(g[i]) ? g[i] : 0.0f;
            const float s1 = ref->exp_sum(v1, mx, n), s2 = k->exp_sum(v2, mx, n);
            double mag = 0.0;
            for (int i = 0; i < n; i++) {
                if (!close_ulp(v2[i], v1[i]))
                    fail_msg("exp_sum %s n %d: [%d] exp(%g - %g): %.9g, ref %.9g", k->name, n, i,
                             (double)g[i], (double)mx, (double)v2[i], (double)v1[i]);
                mag += v1[i];
            }
            if (!(fabs((double)s1 - s2) <= (n + 8.0) * FLT_EPSILON * mag + 1e-37))
                fail_msg("exp_sum %s n %d: sum %.9g, ref %.9g", k->name, n, (double)s2, (double)s1);
        }
    }
}

/* ---- table shape and selection ----------------------------------------------------------- */

static void test_tables(void **state)
{
    (void)state;
    const struct eng_kernels *ref = eng_kernels_get("ref");
    assert_non_null(ref);
    assert_string_equal(ref->name, "ref");
    for (uint32_t t = 0; t < ENG_TYPE_COUNT; t++) {
        const uint32_t at = eng_vec_dot_type(t);
        assert_int_equal(ref->vec_dot[t] != NULL, at != ENG_TYPE_COUNT);
        const bool is_act =
            t == ENG_TYPE_F32 || t == ENG_TYPE_Q8_0 || t == ENG_TYPE_Q8_1 || t == ENG_TYPE_Q8_K;
        assert_int_equal(ref->quantize_act[t] != NULL, is_act);
    }
    for (int p = 0; p < N_PATHS; p++) {
        const struct eng_kernels *k = eng_kernels_get(PATHS[p]);
        if (!k) continue;
        assert_string_equal(k->name, PATHS[p]);
        for (uint32_t t = 0; t < ENG_TYPE_COUNT; t++) {
            assert_int_equal(k->vec_dot[t] != NULL, ref->vec_dot[t] != NULL);
            assert_int_equal(k->quantize_act[t] != NULL, ref->quantize_act[t] != NULL);
        }
        assert_non_null(k->dot_f32);
        assert_non_null(k->dot_f32_f16);
        assert_non_null(k->axpy_f32);
        assert_non_null(k->axpy_f16);
        assert_non_null(k->silu_mul);
        assert_non_null(k->exp_sum);
        if (p > 0) assert_ptr_not_equal(k->vec_dot[ENG_TYPE_Q4_0], ref->vec_dot[ENG_TYPE_Q4_0]);
    }
    assert_null(eng_kernels_get("AVX2"));
    assert_null(eng_kernels_get(""));
    assert_null(eng_kernels_get(NULL));
    print_message("test_kernels: paths here: ref%s%s; eng_kernels() = %s\n",
                  eng_kernels_get("avx2") ? " avx2" : "",
                  eng_kernels_get("avx512") ? " avx512" : "", eng_kernels()->name);
}

static void test_select(void **state)
{
    (void)state;
    const struct eng_kernels *ref = eng_kernels_get("ref"), *a2 = eng_kernels_get("avx2"),
                             *a5 = eng_kernels_get("avx512");
    const struct eng_kernels *best = a5 ? a5 : a2 ? a2 : ref;
    assert_ptr_equal(eng_kernels_select(NULL), best);
    assert_ptr_equal(eng_kernels_select(""), best);
    assert_ptr_equal(eng_kernels_select("ref"), ref);
    assert_ptr_equal(eng_kernels_select("avx2"), a2 ? a2 : best);
    assert_ptr_equal(eng_kernels_select("avx512"), a5 ? a5 : best);
    /* errors give the portable path, never a crash */
    assert_ptr_equal(eng_kernels_select("avx1024"), ref);
    assert_ptr_equal(eng_kernels_select("AVX2"), ref);
    assert_ptr_equal(eng_kernels_select("avx2 "), ref);
    assert_ptr_equal(eng_kernels(), eng_kernels_select(getenv("GLMTERM_KERNELS")));
    assert_ptr_equal(eng_kernels(), eng_kernels()); /* chosen once */
}

/* ---- quantize_act: bit-exact ------------------------------------------------------------- */

static void expect_quant(const struct eng_kernels *k, uint32_t at, const float *x, int64_t n,
                         const char *what)
{
    const struct eng_kernels *ref = eng_kernels_get("ref");
    const size_t nb = eng_act_row_bytes(at, n);
    uint8_t *want = xmalloc(nb + 1), *got = xmalloc(nb + 1);
    memset(want, 0xa5, nb + 1);
    memset(got, 0xa5, nb + 1);
    ref->quantize_act[at](x, want, n);
    k->quantize_act[at](x, got + 1, n); /* unaligned destination */
    memmove(got, got + 1, nb);
    got[nb] = 0xa5;
    for (size_t i = 0; i < nb; i++)
        if (got[i] != want[i])
            fail_msg("%s quantize %s %s n=%lld: byte %zu differs (%02x, ref %02x)", k->name,
                     eng_type_name(at), what, (long long)n, i, got[i], want[i]);
    free(want);
    free(got);
}

static void test_quantize(void **state)
{
    (void)state;
    const struct eng_kernels *ks[N_PATHS];
    const int np = simd_paths(ks);
    uint64_t rng = 0x51ed270b8c3a9f11ull;
    float *x = xmalloc((MAX_N + 1) * sizeof *x);
    static const int64_t lens[] = {256, 512, 4096, 4096 + 256};
    for (int p = 0; p < np; p++) {
        for (size_t a = 0; a < sizeof ATYPES / sizeof *ATYPES; a++) {
            const uint32_t at = ATYPES[a];
            for (int rep = 0; rep < 8; rep++) {
                for (size_t l = 0; l < sizeof lens / sizeof *lens; l++) {
                    rand_floats(x + 1, lens[l], &rng, 10);
                    expect_quant(ks[p], at, x + 1, lens[l], "random"); /* unaligned source */
                }
            }
            /* exact .5 ties: amax 127 makes id = 1, so x * id = x */
            for (int i = 0; i < 512; i++)
                x[i] = (float)((int)(tu_rand(&rng) % 254) - 127) + ((i & 1) ? 0.5f : 0.0f);
            x[0] = 127.0f, x[256] = -127.0f;
            expect_quant(ks[p], at, x, 512, "ties");
            /* zero blocks, signed zeros, equal maxima of both signs, tiny values */
            for (int i = 0; i < 512; i++)
                x[i] = (i & 1) ? -0.0f : 0.0f;
            x[10] = 5.0f, x[100] = -5.0f;  /* Q8_K keeps the first: 5 */
            x[300] = -3.0f, x[301] = 3.0f; /* -3 */
            expect_quant(ks[p], at, x, 512, "zeros and ties of the max");
            for (int i = 0; i < 512; i++)
                x[i] = rand_unit(&rng) * 1e-30f;
            expect_quant(ks[p], at, x, 512, "tiny");
            /* infinities */
            for (int i = 0; i < 512; i++)
                x[i] = rand_unit(&rng);
            x[7] = INFINITY, x[23] = -INFINITY, x[290] = -INFINITY, x[317] = INFINITY;
            expect_quant(ks[p], at, x, 512, "inf");
        }
    }
    free(x);
}

/* ---- vec_dot ----------------------------------------------------------------------------- */

static void test_vec_dot_random(void **state)
{
    (void)state;
    const struct eng_kernels *ks[N_PATHS];
    const int np = simd_paths(ks);
    const struct eng_kernels *ref = eng_kernels_get("ref");
    uint64_t rng = 0x3c6ef372fe94f82bull;
    uint8_t *w = xmalloc(row_bytes(ENG_TYPE_F32, MAX_N) + 4);
    uint8_t *x = xmalloc(eng_act_row_bytes(ENG_TYPE_F32, MAX_N) + 4);
    float *xf = xmalloc(MAX_N * sizeof *xf);
    static const int64_t blocks32[] = {1, 2, 3, 7, 8, 128, 129};
    static const int64_t blocks256[] = {1, 2, 3, 16, 17};
    static const int64_t elems[] = {1, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100, 128, 4096, 4097};
    for (int p = 0; p < np; p++) {
        for (size_t t = 0; t < N_WTYPES; t++) {
            const uint32_t type = WTYPES[t], at = eng_vec_dot_type(type);
            const int64_t bs = eng_type_block_size(type);
            const int64_t *ln = bs == 1 ? elems : bs == 32 ? blocks32 : blocks256;
            const size_t nl = bs == 1    ? sizeof elems / sizeof *elems
                              : bs == 32 ? sizeof blocks32 / sizeof *blocks32
                                         : sizeof blocks256 / sizeof *blocks256;
            for (size_t l = 0; l < nl; l++) {
                const int64_t n = bs == 1 ? ln[l] : ln[l] * bs;
                for (int rep = 0; rep < 4; rep++) {
                    /* rows off 32-byte alignment: blocks at any byte, float rows (the
                     * contract) at their element size */
                    uint8_t *wr = w + (bs == 1 ? 4 : 1), *xr = x + (at == ENG_TYPE_F32 ? 4 : 1);
                    rand_weights(type, wr, n, &rng);
                    rand_floats(xf, n, &rng, DOT_DECADES);
                    ref->quantize_act[at](xf, xr, n);
                    expect_dot(ks[p], type, wr, xr, n, "random w, quantised x");
                    rand_act_bytes(at, xr, n, &rng);
                    expect_dot(ks[p], type, wr, xr, n, "random w, random x bytes");
                }
            }
        }
    }
    free(w);
    free(x);
    free(xf);
}

/* Integer sums that a tolerance could not hide: every block identical, so the dot is the
 * block's (exact, small) integer sum times n_blocks times a power-of-two scale product; any
 * integer error shows as a difference far above the float slack. */
static void test_vec_dot_exact(void **state)
{
    (void)state;
    const struct eng_kernels *ks[N_PATHS];
    const int np = simd_paths(ks);
    const struct eng_kernels *ref = eng_kernels_get("ref");
    uint64_t rng = 0x0badc0ffee123457ull;
    uint8_t *w = xmalloc(row_bytes(ENG_TYPE_Q8_0, 4096));
    uint8_t *x = xmalloc(eng_act_row_bytes(ENG_TYPE_Q8_0, 4096) + 292 * 16);
    for (int p = 0; p < np; p++) {
        for (size_t t = 0; t < N_WTYPES; t++) {
            const uint32_t type = WTYPES[t], at = eng_vec_dot_type(type);
            const int64_t bs = eng_type_block_size(type);
            if (bs == 1) continue;
            const int64_t n = bs == 32 ? 32 * 9 : 256 * 3;
            const size_t wb = eng_type_block_bytes(type);
            for (int rep = 0; rep < 16; rep++) {
                rand_weights(type, w, bs, &rng);
                rand_act_bytes(at, x, bs, &rng);
                /* power-of-two scales: d_w * d_y and every scale product are exact */
                if (type == ENG_TYPE_Q6_K)
                    wr16(w + 208, 0x3c00); /* 1.0 */
                else
                    wr16(w, 0x3c00);
                if (type == ENG_TYPE_Q4_1 || type == ENG_TYPE_Q5_1 || type == ENG_TYPE_Q4_K ||
                    type == ENG_TYPE_Q5_K)
                    wr16(w + 2, 0x3800); /* 0.5 */
                if (at == ENG_TYPE_Q8_K) {
                    const float d = 0.25f;
                    memcpy(x, &d, 4);
                } else {
                    wr16(x, 0x3400);                              /* 0.25 */
                    if (at == ENG_TYPE_Q8_1) wr16(x + 2, 0x4000); /* 2.0 */
                }
                const size_t xb = eng_act_row_bytes(at, bs);
                for (int64_t b = 1; b < n / bs; b++) {
                    memcpy(w + b * wb, w, wb);
                    memcpy(x + b * xb, x, xb);
                }
                const float one = ref->vec_dot[type](w, x, bs);
                const float want = ref->vec_dot[type](w, x, n);
                const float got = ks[p]->vec_dot[type](w, x, n);
                /* one block's value is exact (small integers times powers of two), as are its
                 * multiples by 9 or 3 */
                assert_true(want == one * (float)(n / bs));
                if (got != want)
                    fail_msg("%s %s: identical blocks give %.9g, ref %.9g", ks[p]->name,
                             eng_type_name(type), got, want);
            }
        }
    }
    free(w);
    free(x);
}

static void test_vec_dot_fixtures(void **state)
{
    (void)state;
    const struct eng_kernels *ks[N_PATHS];
    const int np = simd_paths(ks);
    uint64_t rng = 0x6a09e667f3bcc909ull;
    float *xf = xmalloc(MAX_N * sizeof *xf);
    uint8_t *x = xmalloc(eng_act_row_bytes(ENG_TYPE_F32, MAX_N));
    uint8_t *x2 = xmalloc(eng_act_row_bytes(ENG_TYPE_F32, MAX_N));
    int tested = 0;
    for (size_t t = 0; t < N_WTYPES; t++) {
        const uint32_t type = WTYPES[t], at = eng_vec_dot_type(type);
        struct fixture f = load(type);
        if (!f.raw) continue; /* no fixture of this type (F32, Q4_1) */
        tested++;
        const int64_t whole = f.row_length * f.rows;
        for (int rep = 0; rep < 4; rep++) {
            /* rows, then the whole file as one row */
            rand_floats(xf, whole, &rng, DOT_DECADES);
            for (int p = 0; p < np; p++) {
                ks[p]->quantize_act[at](xf, x, whole);
                eng_kernels_get("ref")->quantize_act[at](xf, x2, whole);
                assert_memory_equal(x, x2, eng_act_row_bytes(at, whole));
                for (int64_t r = 0; r < f.rows; r++)
                    expect_dot(ks[p], type, f.raw + r * f.row_bytes, x, f.row_length,
                               "fixture row");
                expect_dot(ks[p], type, f.raw, x, whole, "fixture file as one row");
            }
        }
        free(f.raw);
    }
    assert_true(tested >= 8);
    free(xf);
    free(x);
    free(x2);
}

/* ---- attention kernels ------------------------------------------------------------------- */

static void test_attention(void **state)
{
    (void)state;
    const struct eng_kernels *ks[N_PATHS];
    const int np = simd_paths(ks);
    const struct eng_kernels *ref = eng_kernels_get("ref");
    uint64_t rng = 0xbb67ae8584caa73bull;
    enum { N = 4096 + 8 };
    float *a = xmalloc(N * sizeof *a), *b = xmalloc(N * sizeof *b);
    float *y0 = xmalloc(N * sizeof *y0), *y1 = xmalloc(N * sizeof *y1);
    uint16_t *h = xmalloc(N * sizeof *h);
    for (int p = 0; p < np; p++) {
        const struct eng_kernels *k = ks[p];
        for (int64_t n = 0; n <= 4096 + 1; n = n < 130 ? n + 1 : n == 130 ? 4096 : n + 1) {
            for (int64_t i = 0; i < n + 1; i++) {
                a[i] = rand_unit(&rng) * 3.0f;
                b[i] = rand_unit(&rng);
                h[i] = eng_f32_to_f16(rand_unit(&rng) * 2.0f);
                y0[i] = y1[i] = rand_unit(&rng);
            }
            double s = 0.0, sh = 0.0;
            for (int64_t i = 0; i < n; i++) {
                s += fabs((double)a[i + 1] * b[i]);
                sh += fabs((double)a[i + 1] * eng_f16_to_f32(h[i]));
            }
            const double tol = (FDOT_ULPS_FIXED + (double)n / 16.0) * FLT_EPSILON;
            const float d0 = ref->dot_f32(a + 1, b, n), d1 = k->dot_f32(a + 1, b, n);
            if (!(fabs((double)d0 - d1) <= tol * s))
                fail_msg("%s dot_f32 n=%lld: %.9g vs ref %.9g", k->name, (long long)n, d1, d0);
            const float e0 = ref->dot_f32_f16(a + 1, h, n), e1 = k->dot_f32_f16(a + 1, h, n);
            if (!(fabs((double)e0 - e1) <= tol * sh))
                fail_msg("%s dot_f32_f16 n=%lld: %.9g vs ref %.9g", k->name, (long long)n, e1, e0);
            const float c = rand_unit(&rng);
            ref->axpy_f32(c, a + 1, y0, n);
            k->axpy_f32(c, a + 1, y1, n);
            assert_memory_equal(y0, y1, (size_t)(n + 1) * sizeof *y0); /* y[n] untouched too */
            ref->axpy_f16(c, h + 1, y0 + 1, n);
            k->axpy_f16(c, h + 1, y1 + 1, n);
            assert_memory_equal(y0, y1, (size_t)(n + 1) * sizeof *y0);
        }
    }
    free(a);
    free(b);
    free(y0);
    free(y1);
    free(h);
}

/* ---- a quick benchmark ------------------------------------------------------------------- */

static int quick_bench(void)
{
    printf("quick kernel bench: see bench/kernels (kern_bench) for the full table\n");
    const int64_t rows = 1024, cols = 4096;
    uint64_t rng = 1;
    for (size_t t = 0; t < N_WTYPES; t++) {
        const uint32_t type = WTYPES[t], at = eng_vec_dot_type(type);
        const size_t rb = row_bytes(type, cols);
        uint8_t *w = malloc(rb * (size_t)rows);
        uint8_t *x = malloc(eng_act_row_bytes(ENG_TYPE_F32, cols));
        float *xf = malloc((size_t)cols * sizeof *xf);
        if (!w || !x || !xf) return 1;
        for (int64_t r = 0; r < rows; r++)
            rand_weights(type, w + r * rb, cols, &rng);
        rand_floats(xf, cols, &rng, DOT_DECADES);
        printf("%-5s", eng_type_name(type));
        for (int p = 0; p < N_PATHS; p++) {
            const struct eng_kernels *k = eng_kernels_get(PATHS[p]);
            if (!k) continue;
            k->quantize_act[at](xf, x, cols);
            struct timespec t0, t1;
            volatile float sink = 0.0f;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            for (int64_t r = 0; r < rows; r++)
                sink += k->vec_dot[type](w + r * rb, x, cols);
            clock_gettime(CLOCK_MONOTONIC, &t1);
            (void)sink;
            const double dt = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (t1.tv_nsec - t0.tv_nsec);
            printf("  %s %6.2f GB/s", k->name, (double)(rb * (size_t)rows) / dt / 1e9);
        }
        printf("\n");
        free(w);
        free(x);
        free(xf);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1) return quick_bench();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_silu_exp),         cmocka_unit_test(test_tables),
        cmocka_unit_test(test_select),           cmocka_unit_test(test_quantize),
        cmocka_unit_test(test_vec_dot_random),   cmocka_unit_test(test_vec_dot_exact),
        cmocka_unit_test(test_vec_dot_fixtures), cmocka_unit_test(test_attention),
    };
    (void)argv;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
