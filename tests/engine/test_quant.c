/* Tests of the reference kernels (engine/quant.c): dequantisation, dot products, f16/bf16.
 *
 * Evidence:
 *   - shared/fixtures/quant/: for each type, raw GGUF block bytes of a few rows (<TYPE>.bin)
 *     and ggml's own dequantisation of them (<TYPE>.f32, little-endian float32), shapes in
 *     index.json. Every row must match bit for bit (memcmp), also from an unaligned copy;
 *   - a hand-built Q4_1 block (no fixture exists for Q4_1) with exactly representable values;
 *   - vec_dot against a double-precision dot of the dequantised row on seeded random x;
 *   - f16: all 65536 halves through f32 and back, every rounding midpoint between adjacent
 *     halves (ties to even, subnormals, overflow to inf), named edge cases, and, where the
 *     compiler has _Float16, a random comparison with the compiler's own conversion;
 *   - unsupported types and bad lengths are refused.
 */
#include "engine/eng_int.h"
#include "quant_fixture.h"
#include "test_util.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* vec_dot_ref (f32 sums within a block, f64 across blocks) against an f64 dot: the error
 * bound is ~block_size * FLT_EPSILON * sum|x*w| in the worst case and far below it in
 * practice. Measured relative to sum|x*w| because relative to |dot| is meaningless when the
 * products cancel. */
#define VEC_DOT_REL_TOL 1e-5

#define MAX_ROW 4096 /* longest fixture row this test accepts */

/* ---- index.json: a tiny ad-hoc scan (flat objects of string and integer values) --------- */

/* ---- fixtures: bit-exact dequantisation -------------------------------------------------- */

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bitsf(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

struct loaded {
    struct quant_fixture f;
    uint32_t type;
    size_t row_bytes;
    uint8_t *raw;
    float *ref; /* (rows, row_length), converted from little endian */
};

static struct loaded load(const char *name)
{
    struct loaded L;
    char rel[128];
    size_t f32_len;
    if (!quant_fixture_load(name, &L.f)) fail_msg("index.json has no entry for %s", name);
    L.type = L.f.type;
    L.row_bytes = L.f.row_bytes;
    L.raw = L.f.data;
    assert_true(L.f.row_length <= MAX_ROW);

    snprintf(rel, sizeof rel, "fixtures/quant/%s", L.f.f32);
    uint8_t *f32 = (uint8_t *)tu_read_file(tu_shared(rel), &f32_len);
    size_t n = (size_t)(L.f.rows * L.f.row_length);
    assert_int_equal(f32_len, n * 4);
    L.ref = malloc(n * sizeof *L.ref);
    assert_non_null(L.ref);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = f32 + 4 * i;
        L.ref[i] = bitsf((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24);
    }
    free(f32);
    return L;
}

static void unload(struct loaded *L)
{
    free(L->raw);
    free(L->ref);
}

/* Compares `n` floats bitwise; on a difference names the first mismatching element. */
static void expect_bits(const char *what, int64_t row, const float *got, const float *want,
                        int64_t n)
{
    if (memcmp(got, want, (size_t)n * sizeof *got) == 0) return;
    for (int64_t i = 0; i < n; i++) {
        if (fbits(got[i]) != fbits(want[i]))
            fail_msg("%s row %lld: first mismatch at element %lld: got %.9g (0x%08x), ggml "
                     "%.9g (0x%08x)",
                     what, (long long)row, (long long)i, got[i], fbits(got[i]), want[i],
                     fbits(want[i]));
    }
}

static void check_fixture(const char *name)
{
    struct loaded L = load(name);
    const int64_t n = L.f.row_length;
    float *out = malloc((size_t)n * sizeof *out);
    uint8_t *shifted = malloc(L.row_bytes + 1); /* for an unaligned copy of each row */
    assert_non_null(out);
    assert_non_null(shifted);
    int nonzero = 0;
    for (int64_t r = 0; r < L.f.rows; r++) {
        const uint8_t *src = L.raw + (size_t)r * L.row_bytes;
        const float *want = L.ref + r * n;
        memset(out, 0xff, (size_t)n * sizeof *out);
        assert_int_equal(eng_dequant_row_ref(L.type, src, out, n), 0);
        expect_bits(name, r, out, want, n);

        memcpy(shifted + 1, src, L.row_bytes);
        memset(out, 0xff, (size_t)n * sizeof *out);
        assert_int_equal(eng_dequant_row_ref(L.type, shifted + 1, out, n), 0);
        expect_bits(name, r, out, want, n);

        for (int64_t i = 0; i < n; i++)
            nonzero += want[i] != 0.0f;
    }
    assert_true(nonzero > 0); /* an all-zero fixture would prove nothing */
    free(shifted);
    free(out);
    unload(&L);
}

static void test_fixture_f16(void **state)
{
    check_fixture("F16");
}

static void test_fixture_bf16(void **state)
{
    check_fixture("BF16");
}

static void test_fixture_q4_0(void **state)
{
    check_fixture("Q4_0");
}

static void test_fixture_q5_0(void **state)
{
    check_fixture("Q5_0");
}

static void test_fixture_q5_1(void **state)
{
    check_fixture("Q5_1");
}

static void test_fixture_q8_0(void **state)
{
    check_fixture("Q8_0");
}

static void test_fixture_q4_k(void **state)
{
    check_fixture("Q4_K");
}

static void test_fixture_q5_k(void **state)
{
    check_fixture("Q5_K");
}

static void test_fixture_q6_k(void **state)
{
    check_fixture("Q6_K");
}

/* ---- hand-built blocks for the types without a fixture ----------------------------------- */

/* Q4_1: d = 0.5 (f16 0x3800), m = -1.25 (0xbd00); element j < 16 is the low nibble of qs[j],
 * j + 16 the high nibble. Every value q * 0.5 - 1.25 is exact. */
static void test_q4_1_block(void **state)
{
    uint8_t b[2 * 20];
    float y[64];
    for (int k = 0; k < 2; k++) {
        uint8_t *p = b + 20 * k;
        p[0] = 0x00, p[1] = 0x38; /* d */
        p[2] = 0x00, p[3] = 0xbd; /* m */
        for (int j = 0; j < 16; j++)
            p[4 + j] = (uint8_t)(((j + k) & 15) | (15 - j) << 4);
    }
    assert_int_equal(eng_dequant_row_ref(ENG_TYPE_Q4_1, b, y, 64), 0);
    for (int k = 0; k < 2; k++) {
        for (int j = 0; j < 16; j++) {
            assert_true(y[32 * k + j] == (float)((j + k) & 15) * 0.5f - 1.25f);
            assert_true(y[32 * k + j + 16] == (float)(15 - j) * 0.5f - 1.25f);
        }
    }
    assert_true(y[0] == -1.25f && y[16] == 6.25f);
}

static void test_f32_rows(void **state)
{
    const float v[4] = {1.5f, -0.0f, INFINITY, 3.0e-42f /* subnormal */};
    float y[4];
    assert_int_equal(eng_dequant_row_ref(ENG_TYPE_F32, v, y, 4), 0);
    assert_memory_equal(v, y, sizeof v);
}

/* ---- dot products ------------------------------------------------------------------------- */

static float rand_unit(uint64_t *rng)
{
    return (float)((double)(tu_rand(rng) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

/* vec_dot of every row of `raw` (rows x n elements of `type`) against seeded random x,
 * checked against an f64 dot of the dequantised row. */
static void check_dot_rows(uint32_t type, const uint8_t *raw, size_t row_bytes, int64_t rows,
                           int64_t n, uint64_t seed)
{
    float *x = malloc((size_t)n * sizeof *x);
    float *w = malloc((size_t)n * sizeof *w);
    assert_non_null(x);
    assert_non_null(w);
    uint64_t rng = seed;
    for (int64_t r = 0; r < rows; r++) {
        const uint8_t *row = raw + (size_t)r * row_bytes;
        for (int64_t i = 0; i < n; i++)
            x[i] = rand_unit(&rng);
        assert_int_equal(eng_dequant_row_ref(type, row, w, n), 0);
        double ref = 0.0, scale = 0.0;
        for (int64_t i = 0; i < n; i++) {
            ref += (double)x[i] * (double)w[i];
            scale += fabs((double)x[i] * (double)w[i]);
        }
        const float got = eng_vec_dot_ref(type, row, x, n);
        assert_true(isfinite(got));
        const double err = fabs((double)got - ref);
        if (err > VEC_DOT_REL_TOL * scale + DBL_MIN)
            fail_msg("%s row %lld: vec_dot %.9g, f64 dot %.9g, |err| %.3g > %.1g * %.9g",
                     eng_type_name(type), (long long)r, got, ref, err, VEC_DOT_REL_TOL, scale);
    }
    free(x);
    free(w);
}

static void test_vec_dot_fixtures(void **state)
{
    static const char *const names[] = {"F16",  "BF16", "Q4_0", "Q5_0", "Q5_1",
                                        "Q8_0", "Q4_K", "Q5_K", "Q6_K"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        struct loaded L = load(names[k]);
        check_dot_rows(L.type, L.raw, L.row_bytes, L.f.rows, L.f.row_length, 0x9e3779b9u + k);
        unload(&L);
    }
}

static void test_vec_dot_synthetic(void **state)
{
    enum { N = 1000 }; /* not a multiple of the 256-element chunk */
    uint64_t rng = 12345;
    float *v = malloc(N * sizeof *v);
    assert_non_null(v);
    for (int i = 0; i < N; i++)
        v[i] = rand_unit(&rng) * 100.0f;
    check_dot_rows(ENG_TYPE_F32, (const uint8_t *)v, N * sizeof *v, 1, N, 777);
    free(v);

    /* Q4_1: 8 blocks with random nibbles and sane scales */
    uint8_t q[8 * 20];
    for (int b = 0; b < 8; b++) {
        q[20 * b + 0] = 0x00, q[20 * b + 1] = (uint8_t)(0x2c + b); /* d: 2^-4 .. */
        q[20 * b + 2] = 0x00, q[20 * b + 3] = 0xbc;                /* m = -1 */
        for (int j = 0; j < 16; j++)
            q[20 * b + 4 + j] = (uint8_t)tu_rand(&rng);
    }
    check_dot_rows(ENG_TYPE_Q4_1, q, sizeof q, 1, 256, 4242);

    /* exact small case: 1 * 2 + 2 * 3 + ... with an f32 row */
    const float a[3] = {1, 2, 3}, b3[3] = {2, 3, 4};
    assert_true(eng_vec_dot_ref(ENG_TYPE_F32, a, b3, 3) == 20.0f);
    assert_true(eng_vec_dot_ref(ENG_TYPE_F32, a, b3, 0) == 0.0f);
}

/* ---- f16 / bf16 conversions ---------------------------------------------------------------- */

static int h_is_nan(uint16_t h)
{
    return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
}

/* The value of a finite half from its fields, computed in double independently. */
static double half_value(uint16_t h)
{
    const int e = (h >> 10) & 31, m = h & 0x3ff;
    const double mag = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000u) ? -mag : mag;
}

static void test_f16_exhaustive(void **state)
{
    for (uint32_t i = 0; i < 65536; i++) {
        const uint16_t h = (uint16_t)i;
        const float f = eng_f16_to_f32(h);
        if (h_is_nan(h)) {
            assert_true(isnan(f));
            assert_int_equal(!!signbit(f), !!(h & 0x8000u));
            const uint16_t back = eng_f32_to_f16(f);
            assert_true(h_is_nan(back));
            assert_int_equal(back & 0x8000u, h & 0x8000u);
            continue;
        }
        if ((h & 0x7fffu) == 0x7c00u)
            assert_true(isinf(f) && !!signbit(f) == !!(h & 0x8000u));
        else if ((double)f != half_value(h))
            fail_msg("f16 0x%04x -> %.9g, expected %.9g", h, f, half_value(h));
        if ((h & 0x7fffu) == 0) assert_int_equal(!!signbit(f), !!(h & 0x8000u));
        const uint16_t back = eng_f32_to_f16(f);
        if (back != h) fail_msg("f16 0x%04x -> %.9g -> 0x%04x", h, f, back);
    }
}

/* Between every pair of adjacent finite halves (and between 65504 and the overflow
 * threshold 2^16), the midpoint rounds to the even one and its float neighbours round to
 * the nearer one. Covers zero/subnormal/normal boundaries and overflow to infinity. */
static void test_f16_midpoints(void **state)
{
    for (uint32_t h = 0; h < 0x7c00u; h++) {
        for (int neg = 0; neg < 2; neg++) {
            const uint16_t s = neg ? 0x8000u : 0;
            const double lo = fabs(half_value((uint16_t)h));
            const double hi = h + 1 == 0x7c00u ? 65536.0 : fabs(half_value((uint16_t)(h + 1)));
            const float mid = (float)((lo + hi) / 2); /* exact: 12 significant bits */
            assert_true((double)mid == (lo + hi) / 2);
            const float smid = neg ? -mid : mid;
            const uint16_t even = (h & 1u) ? (uint16_t)(h + 1) : (uint16_t)h;
            const uint16_t below = eng_f32_to_f16(neg ? -nextafterf(mid, 0) : nextafterf(mid, 0));
            const uint16_t at = eng_f32_to_f16(smid);
            const uint16_t above =
                eng_f32_to_f16(neg ? -nextafterf(mid, INFINITY) : nextafterf(mid, INFINITY));
            if (below != (s | h) || at != (s | even) || above != (s | (h + 1)))
                fail_msg("around the midpoint %.9g of 0x%04x/0x%04x: below 0x%04x, at 0x%04x, "
                         "above 0x%04x",
                         smid, s | h, s | (h + 1), below, at, above);
        }
    }
}

static void test_f16_cases(void **state)
{
    static const struct {
        float f;
        uint16_t h;
    } cases[] = {
        {0.0f, 0x0000},
        {-0.0f, 0x8000},
        {1.0f, 0x3c00},
        {-2.0f, 0xc000},
        {1.0f + 0x1p-11f, 0x3c00},     /* tie, 0x3c00 even: down */
        {1.0f + 3 * 0x1p-11f, 0x3c02}, /* tie, 0x3c01 odd: up */
        {1.0f + 0x1p-11f + 0x1p-23f, 0x3c01},
        {0.1f, 0x2e66},
        {65504.0f, 0x7bff},   /* largest half */
        {65519.996f, 0x7bff}, /* just below the overflow tie */
        {65520.0f, 0x7c00},   /* the tie: rounds to even = inf */
        {1.0e10f, 0x7c00},
        {FLT_MAX, 0x7c00},
        {-FLT_MAX, 0xfc00},
        {INFINITY, 0x7c00},
        {-INFINITY, 0xfc00},
        {0x1p-14f, 0x0400}, /* smallest normal */
        {0x1p-24f, 0x0001}, /* smallest subnormal */
        {0x1p-25f, 0x0000}, /* tie with 0: even */
        {0x1.000002p-25f, 0x0001},
        {-0x1p-25f, 0x8000},
        {0x1.8p-24f, 0x0002}, /* 1.5 ulp: tie, 1 odd: up */
        {0x1.4p-23f, 0x0002}, /* 2.5 ulp: tie, 2 even: down */
        {0x3ffp-24f, 0x03ff}, /* largest subnormal */
        {0x7ffp-25f, 0x0400}, /* 1023.5 ulp: tie, 0x3ff odd: up into normals */
        {1.0e-30f, 0x0000},
        {-1.0e-30f, 0x8000},
        {FLT_TRUE_MIN, 0x0000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const uint16_t got = eng_f32_to_f16(cases[i].f);
        if (got != cases[i].h)
            fail_msg("f32 %a -> 0x%04x, expected 0x%04x", cases[i].f, got, cases[i].h);
    }
    assert_true(h_is_nan(eng_f32_to_f16(NAN)));
    assert_true(h_is_nan(eng_f32_to_f16(-NAN)));
    assert_true(eng_f32_to_f16(-NAN) & 0x8000u);
    assert_true(h_is_nan(eng_f32_to_f16(bitsf(0x7f800001u)))); /* signalling, tiny payload */
}

static void test_f16_random_vs_compiler(void **state)
{
#ifdef __FLT16_MAX__
    uint64_t rng = 0xfeedbeefu;
    for (int i = 0; i < 2000000; i++) {
        /* random exponents concentrated on the half range and its edges */
        uint32_t u = (uint32_t)tu_rand(&rng);
        const uint32_t exp = 96u + (uint32_t)(tu_rand(&rng) % 50u); /* 2^-31 .. 2^18 */
        u = (u & 0x807fffffu) | exp << 23;
        const float f = bitsf(u);
        const _Float16 c = (_Float16)f;
        uint16_t want;
        memcpy(&want, &c, sizeof want);
        const uint16_t got = eng_f32_to_f16(f);
        if (got != want) fail_msg("f32 %a -> 0x%04x, compiler says 0x%04x", f, got, want);
    }
#else
    skip();
#endif
}

static void test_bf16(void **state)
{
    for (uint32_t i = 0; i < 65536; i++)
        assert_int_equal(fbits(eng_bf16_to_f32((uint16_t)i)), i << 16);
    assert_true(eng_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(eng_bf16_to_f32(0xc040) == -3.0f);
}

/* ---- refusals ------------------------------------------------------------------------------ */

static void test_supported_types(void **state)
{
    static const uint32_t yes[] = {ENG_TYPE_F32,  ENG_TYPE_F16,  ENG_TYPE_BF16, ENG_TYPE_Q4_0,
                                   ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1, ENG_TYPE_Q8_0,
                                   ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
    uint8_t buf[512] = {0};
    float out[256];
    float x[256] = {0};
    for (uint32_t t = 0; t < ENG_TYPE_COUNT + 8; t++) {
        bool want = false;
        for (size_t k = 0; k < sizeof yes / sizeof yes[0]; k++)
            want = want || yes[k] == t;
        assert_int_equal(eng_type_supported(t), want);
        if (want) {
            const int64_t bs = eng_type_block_size(t);
            assert_int_equal(eng_dequant_row_ref(t, buf, out, bs), 0);
            assert_true(eng_vec_dot_ref(t, buf, x, bs) == 0.0f);
            if (bs > 1) { /* not a whole number of blocks */
                assert_int_equal(eng_dequant_row_ref(t, buf, out, bs / 2), ENG_ERR_RANGE);
                assert_true(isnan(eng_vec_dot_ref(t, buf, x, bs / 2)));
            }
            assert_int_equal(eng_dequant_row_ref(t, buf, out, -bs), ENG_ERR_RANGE);
        } else {
            assert_int_equal(eng_dequant_row_ref(t, buf, out, 256), ENG_ERR_UNSUPPORTED);
            assert_true(isnan(eng_vec_dot_ref(t, buf, x, 256)));
        }
    }
    assert_int_equal(eng_dequant_row_ref(UINT32_MAX, buf, out, 32), ENG_ERR_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_f16),
        cmocka_unit_test(test_fixture_bf16),
        cmocka_unit_test(test_fixture_q4_0),
        cmocka_unit_test(test_fixture_q5_0),
        cmocka_unit_test(test_fixture_q5_1),
        cmocka_unit_test(test_fixture_q8_0),
        cmocka_unit_test(test_fixture_q4_k),
        cmocka_unit_test(test_fixture_q5_k),
        cmocka_unit_test(test_fixture_q6_k),
        cmocka_unit_test(test_q4_1_block),
        cmocka_unit_test(test_f32_rows),
        cmocka_unit_test(test_vec_dot_fixtures),
        cmocka_unit_test(test_vec_dot_synthetic),
        cmocka_unit_test(test_f16_exhaustive),
        cmocka_unit_test(test_f16_midpoints),
        cmocka_unit_test(test_f16_cases),
        cmocka_unit_test(test_f16_random_vs_compiler),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_supported_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
