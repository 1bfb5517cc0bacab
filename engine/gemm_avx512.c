/* The int8 GEMM with AVX-512 VNNI: SIMD tile packers and micro-kernels (eng_int.h, "batched
 * matmul"; the portable reference and the layouts are in gemm.c).
 *
 * Packing: the integers of 16 rows are transposed 16 bytes per row at a time (four 4x4 dword
 * transposes in the four 128-bit lanes, see tr16) and the bit fields of each type unpacked on
 * the transposed vectors (masks and shifts act byte-wise, so they commute with the transpose);
 * scales go through gemm.c's eng_gemm_pack_scales. A partial tile (fewer than 16 rows left)
 * takes the reference packer.
 *
 * Micro-kernels: NT tokens at a time against one tile; per token an int32 accumulator vector
 * (16 rows) fed by _mm512_dpbusd_epi32 with 4 activation bytes broadcast from memory, and an
 * f32 accumulator. Measured on Zen 4: the dpbusd stream runs at ~77 % of its peak (one per
 * cycle); the rest goes to the per-block float work (cvt, mul, fma).
 *
 * Compiled with the AVX-512 flags of kernels_avx512.c (CMakeLists.txt); only reached through
 * the avx512 kernel table, i.e. after CPUID.
 */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512DQ__) && defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "engine/model_int.h"

#include <immintrin.h>
#include <string.h>

#define QK   32
#define QK_K 256
#define NT   8 /* tokens per micro-kernel call (measured: 5 -> 166, 8 -> 171 GMAC/s; 10 spills) */

static inline __m128i loadu128(const void *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

static inline __m512i bcast32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

/* o[g] = dword g (bytes 4g..4g+3) of the 16 bytes at p[i] + off, row i in dword lane i. */
static inline void tr16(const uint8_t *const p[ENG_GEMM_ROWS], size_t off, __m512i o[4])
{
    __m512i r[4];
    for (int q = 0; q < 4; q++) { /* r[q]: rows q, q+4, q+8, q+12 in lanes 0..3 */
        __m512i v = _mm512_castsi128_si512(loadu128(p[q] + off));
        v = _mm512_inserti32x4(v, loadu128(p[q + 4] + off), 1);
        v = _mm512_inserti32x4(v, loadu128(p[q + 8] + off), 2);
        v = _mm512_inserti32x4(v, loadu128(p[q + 12] + off), 3);
        r[q] = v;
    }
    const __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]), t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]), t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    o[0] = _mm512_unpacklo_epi64(t0, t2);
    o[1] = _mm512_unpackhi_epi64(t0, t2);
    o[2] = _mm512_unpacklo_epi64(t1, t3);
    o[3] = _mm512_unpackhi_epi64(t1, t3);
}

static inline void st(uint8_t *tb, int g, __m512i v)
{
    _mm512_store_si512((void *)(tb + 64 * g), v);
}

/* dwords whose byte i is (bit i of the lane's 4-bit index) << 4: Q5's fifth bits */
static inline __m512i hbits(__m512i qh, int shift)
{
    static const int32_t lut[16] = {0x00000000, 0x00000010, 0x00001000, 0x00001010,
                                    0x00100000, 0x00100010, 0x00101000, 0x00101010,
                                    0x10000000, 0x10000010, 0x10001000, 0x10001010,
                                    0x10100000, 0x10100010, 0x10101000, 0x10101010};
    const __m512i idx =
        _mm512_and_si512(_mm512_srli_epi32(qh, (unsigned)shift), _mm512_set1_epi32(15));
    return _mm512_permutexvar_epi32(idx, _mm512_loadu_si512(lut));
}

/* The f16 at byte `off` of each row's block (rows[i] + at), widened to f32. */
static inline __m512 f16x16(const uint8_t *const rows[ENG_GEMM_ROWS], size_t at)
{
    uint16_t h[ENG_GEMM_ROWS];
    for (int i = 0; i < ENG_GEMM_ROWS; i++)
        memcpy(&h[i], rows[i] + at, 2);
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h));
}

/* Byte `k` (0..3) of every dword lane, as int32. */
static inline __m512i byte_k(__m512i v, int k)
{
    return _mm512_and_si512(_mm512_srli_epi32(v, (unsigned)(8 * k)), _mm512_set1_epi32(0xff));
}

/* Scales (and mins) of block `at` (byte offset in each row) of the 16 rows: what
 * eng_gemm_pack_scales writes, computed on transposed bytes. */
static inline void pack_scales(uint32_t type, const uint8_t *const rows[ENG_GEMM_ROWS], size_t at,
                               uint8_t *tb)
{
    switch (type) {
    case ENG_TYPE_Q4_0:
    case ENG_TYPE_Q5_0:
    case ENG_TYPE_Q8_0:
        _mm512_store_ps((float *)(tb + 512), f16x16(rows, at));
        _mm512_store_ps((float *)(tb + 576), _mm512_setzero_ps());
        break;
    case ENG_TYPE_Q4_1:
    case ENG_TYPE_Q5_1:
        _mm512_store_ps((float *)(tb + 512), f16x16(rows, at));
        _mm512_store_ps((float *)(tb + 576), f16x16(rows, at + 2));
        break;
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K: {
        __m512i o[4]; /* o[0]: d | dmin << 16; o[1..3]: scales bytes 0..11 */
        tr16(rows, at, o);
        const __m512i m63 = _mm512_set1_epi32(63), m15 = _mm512_set1_epi32(15);
        __m512i sc[8], mn[8];
        for (int j = 0; j < 4; j++) {
            sc[j] = _mm512_and_si512(byte_k(o[1], j), m63);
            mn[j] = _mm512_and_si512(byte_k(o[2], j), m63);
            const __m512i hi_s = _mm512_srli_epi32(byte_k(o[1], j), 6);
            const __m512i hi_m = _mm512_srli_epi32(byte_k(o[2], j), 6);
            sc[j + 4] =
                _mm512_or_si512(_mm512_and_si512(byte_k(o[3], j), m15), _mm512_slli_epi32(hi_s, 4));
            mn[j + 4] =
                _mm512_or_si512(_mm512_srli_epi32(byte_k(o[3], j), 4), _mm512_slli_epi32(hi_m, 4));
        }
        for (int j = 0; j < 8; j++)
            _mm512_store_si512((void *)(tb + 4096 + 64 * j), sc[j]);
        for (int p = 0; p < 4; p++)
            _mm512_store_si512((void *)(tb + 4608 + 64 * p),
                               _mm512_or_si512(mn[2 * p], _mm512_slli_epi32(mn[2 * p + 1], 16)));
        _mm512_store_ps((float *)(tb + 4864), _mm512_cvtph_ps(_mm512_cvtepi32_epi16(o[0])));
        _mm512_store_ps((float *)(tb + 4928),
                        _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(o[0], 16))));
        break;
    }
    case ENG_TYPE_Q6_K: {
        __m512i o[4]; /* the 16 int8 scales, bytes 4g..4g+3 in o[g] */
        tr16(rows, at + 192, o);
        for (int j = 0; j < 16; j++)
            _mm512_store_si512(
                (void *)(tb + 4096 + 64 * j),
                _mm512_srai_epi32(_mm512_slli_epi32(o[j / 4], (unsigned)(24 - 8 * (j % 4))), 24));
        _mm512_store_ps((float *)(tb + 5120), f16x16(rows, at + 208));
        break;
    }
    default: break;
    }
}

/* Rows r0..r0+15 (all present) of w into tile, byte-identical to eng_gemm_pack_ref. */
static void pack(const struct eng_tensor *w, int64_t r0, uint8_t *tile)
{
    const uint32_t type = w->type;
    const size_t row_bytes = eng_tensor_row_bytes(w), bb = eng_type_block_bytes(type);
    const size_t tbb = eng_gemm_tile_block_bytes(type);
    const int64_t nb =
        w->ne[0] /
        (type == ENG_TYPE_Q4_K || type == ENG_TYPE_Q5_K || type == ENG_TYPE_Q6_K ? QK_K : QK);
    const uint8_t *rows[ENG_GEMM_ROWS];
    for (int i = 0; i < ENG_GEMM_ROWS; i++)
        rows[i] = (const uint8_t *)w->data + (size_t)(r0 + i) * row_bytes;
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const __m512i one = _mm512_set1_epi8(1), three = _mm512_set1_epi8(3);
    __m512i o[4], h[8];
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *tb = tile + (size_t)b * tbb;
        const size_t at = (size_t)b * bb;
        switch (type) {
        case ENG_TYPE_Q4_0:
        case ENG_TYPE_Q4_1:
            tr16(rows, at + (type == ENG_TYPE_Q4_0 ? 2 : 4), o);
            for (int g = 0; g < 4; g++) {
                st(tb, g, _mm512_and_si512(o[g], m4));
                st(tb, g + 4, _mm512_and_si512(_mm512_srli_epi32(o[g], 4), m4));
            }
            break;
        case ENG_TYPE_Q5_0:
        case ENG_TYPE_Q5_1: {
            const size_t qo = type == ENG_TYPE_Q5_0 ? 2 : 4;
            int32_t qh[ENG_GEMM_ROWS];
            for (int i = 0; i < ENG_GEMM_ROWS; i++)
                memcpy(&qh[i], rows[i] + at + qo, 4);
            const __m512i qhv = _mm512_loadu_si512(qh);
            tr16(rows, at + qo + 4, o);
            for (int g = 0; g < 4; g++) {
                st(tb, g, _mm512_or_si512(_mm512_and_si512(o[g], m4), hbits(qhv, 4 * g)));
                st(tb, g + 4,
                   _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(o[g], 4), m4),
                                   hbits(qhv, 16 + 4 * g)));
            }
            break;
        }
        case ENG_TYPE_Q8_0: {
            const __m512i bias = _mm512_set1_epi8((char)0x80);
            for (int half = 0; half < 2; half++) {
                tr16(rows, at + 2 + 16 * (size_t)half, o);
                for (int g = 0; g < 4; g++)
                    st(tb, 4 * half + g, _mm512_xor_si512(o[g], bias));
            }
            break;
        }
        case ENG_TYPE_Q4_K:
        case ENG_TYPE_Q5_K: {
            const bool q5 = type == ENG_TYPE_Q5_K;
            const size_t qs = at + (q5 ? 48 : 16);
            if (q5) {
                tr16(rows, at + 16, h);
                tr16(rows, at + 32, h + 4);
            }
            for (int c = 0; c < 4; c++) {
                for (int half = 0; half < 2; half++) {
                    tr16(rows, qs + 32 * (size_t)c + 16 * (size_t)half, o);
                    for (int g = 0; g < 4; g++) {
                        const int gl = 16 * c + 4 * half + g; /* elements 64c + 16half + 4g */
                        __m512i lo = _mm512_and_si512(o[g], m4);
                        __m512i hi = _mm512_and_si512(_mm512_srli_epi32(o[g], 4), m4);
                        if (q5) {
                            const __m512i hv = h[4 * half + g];
                            lo = _mm512_or_si512(
                                lo,
                                _mm512_slli_epi32(
                                    _mm512_and_si512(_mm512_srli_epi32(hv, (unsigned)(2 * c)), one),
                                    4));
                            hi = _mm512_or_si512(
                                hi, _mm512_slli_epi32(
                                        _mm512_and_si512(
                                            _mm512_srli_epi32(hv, (unsigned)(2 * c + 1)), one),
                                        4));
                        }
                        st(tb, gl, lo);
                        st(tb, gl + 8, hi);
                    }
                }
            }
            break;
        }
        case ENG_TYPE_Q6_K:
            for (int hf = 0; hf < 2; hf++) {
                __m512i l[16];
                for (int q = 0; q < 4; q++)
                    tr16(rows, at + 64 * (size_t)hf + 16 * (size_t)q, l + 4 * q);
                tr16(rows, at + 128 + 32 * (size_t)hf, h);
                tr16(rows, at + 144 + 32 * (size_t)hf, h + 4);
                for (int g = 0; g < 8; g++) { /* l = 4g..4g+3 of this half */
                    const __m512i lo = l[g], hi = l[g + 8], qh = h[g];
                    const int base = 32 * hf;
                    st(tb, base + g,
                       _mm512_or_si512(_mm512_and_si512(lo, m4),
                                       _mm512_slli_epi32(_mm512_and_si512(qh, three), 4)));
                    st(tb, base + 8 + g,
                       _mm512_or_si512(_mm512_and_si512(hi, m4),
                                       _mm512_slli_epi32(
                                           _mm512_and_si512(_mm512_srli_epi32(qh, 2), three), 4)));
                    st(tb, base + 16 + g,
                       _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(lo, 4), m4),
                                       _mm512_slli_epi32(
                                           _mm512_and_si512(_mm512_srli_epi32(qh, 4), three), 4)));
                    st(tb, base + 24 + g,
                       _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(hi, 4), m4),
                                       _mm512_slli_epi32(
                                           _mm512_and_si512(_mm512_srli_epi32(qh, 6), three), 4)));
                }
            }
            break;
        default: break;
        }
        pack_scales(type, rows, at, tb);
    }
}

/* ---- micro-kernels ----------------------------------------------------------------------- */

static inline void store_rows(float *out, __m512 v, __mmask16 mask)
{
    _mm512_mask_storeu_ps(out, mask, v);
}

/* B32: tokens t0 .. t0+nt-1. Every pointer advances once per block; tokens are constant
 * offsets from it (struct eng_gemm_act's interleaved layout). */
static inline __attribute__((always_inline)) void
kern_b32(const uint8_t *tile, const struct eng_gemm_act *a, int32_t t0, const int nt,
         const bool has_min, float *out, int64_t out_stride, __mmask16 mask)
{
    const int64_t n_tok = a->n_tok;
    const uint8_t *x = (const uint8_t *)a->q + (size_t)t0 * QK;
    const float *d = a->d + t0, *s = has_min ? a->s + t0 : NULL;
    const int32_t *c = a->c + t0;
    __m512 f[NT];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        f[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < a->nb; b++) {
        const uint8_t *tb = tile + (size_t)b * 640;
        __m512i acc[NT];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            acc[t] = _mm512_set1_epi32(c[t]);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m512i wv = _mm512_load_si512((const void *)(tb + 64 * g));
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                acc[t] = _mm512_dpbusd_epi32(acc[t], wv, bcast32(x + QK * t + 4 * g));
        }
        const __m512 dv = _mm512_load_ps((const float *)(tb + 512));
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++) {
            const __m512 sc = _mm512_mul_ps(dv, _mm512_set1_ps(d[t]));
            f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[t]), sc, f[t]);
        }
        if (has_min) {
            const __m512 mv = _mm512_load_ps((const float *)(tb + 576));
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                f[t] = _mm512_fmadd_ps(mv, _mm512_set1_ps(s[t]), f[t]);
            s += n_tok;
        }
        x += (size_t)n_tok * QK;
        d += n_tok;
        c += n_tok;
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        store_rows(out + (t0 + t) * out_stride, f[t], mask);
}

/* K4 (k6 = false: 8 sub-blocks of 32, sub-block sums start at 0, mins) and K6 (k6 = true: 16
 * sub-blocks of 16, sums start at c = -32 * bsum, no mins); tile offsets as gemm.c's layouts. */
static inline __attribute__((always_inline)) void kern_k(const uint8_t *tile,
                                                         const struct eng_gemm_act *a, int32_t t0,
                                                         const int nt, const bool k6, float *out,
                                                         int64_t out_stride, __mmask16 mask)
{
    const int n_sub = k6 ? 16 : 8, groups = k6 ? 4 : 8, cpb = k6 ? 16 : 4;
    const size_t tbb = k6 ? 5184 : 4992, d_off = k6 ? 5120 : 4864;
    const int64_t n_tok = a->n_tok;
    const uint8_t *x = (const uint8_t *)a->q + (size_t)t0 * QK_K;
    const float *d = a->d + t0;
    const int32_t *c = a->c + (size_t)cpb * (size_t)t0;
    __m512 f[NT];
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        f[t] = _mm512_setzero_ps();
    for (int64_t sb = 0; sb < a->nb; sb++) {
        const uint8_t *tb = tile + (size_t)sb * tbb;
        __m512i isb[NT], acc[NT];
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            isb[t] = _mm512_setzero_si512();
        for (int j = 0; j < n_sub; j++) {
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                acc[t] = k6 ? _mm512_set1_epi32(c[16 * t + j]) : _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int g = 0; g < groups; g++) {
                const __m512i wv = _mm512_load_si512((const void *)(tb + 64 * (groups * j + g)));
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++)
                    acc[t] = _mm512_dpbusd_epi32(acc[t], wv,
                                                 bcast32(x + QK_K * t + 4 * (groups * j + g)));
            }
            const __m512i scv = _mm512_load_si512((const void *)(tb + 4096 + 64 * j));
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                isb[t] = _mm512_add_epi32(isb[t], _mm512_mullo_epi32(acc[t], scv));
        }
        const __m512 dv = _mm512_load_ps((const float *)(tb + d_off));
#pragma GCC unroll 8
        for (int t = 0; t < nt; t++)
            f[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isb[t]),
                                   _mm512_mul_ps(dv, _mm512_set1_ps(d[t])), f[t]);
        if (!k6) { /* mins: sum_j m_j * bs_j, int16 pairs */
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                acc[t] = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int p = 0; p < 4; p++) {
                const __m512i mp = _mm512_load_si512((const void *)(tb + 4608 + 64 * p));
#pragma GCC unroll 8
                for (int t = 0; t < nt; t++)
                    acc[t] = _mm512_dpwssd_epi32(acc[t], mp, _mm512_set1_epi32(c[4 * t + p]));
            }
            const __m512 mv = _mm512_load_ps((const float *)(tb + 4928));
#pragma GCC unroll 8
            for (int t = 0; t < nt; t++)
                f[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(acc[t]),
                                        _mm512_mul_ps(mv, _mm512_set1_ps(d[t])), f[t]);
        }
        x += (size_t)n_tok * QK_K;
        d += n_tok;
        c += (size_t)cpb * (size_t)n_tok;
    }
#pragma GCC unroll 8
    for (int t = 0; t < nt; t++)
        store_rows(out + (t0 + t) * out_stride, f[t], mask);
}

/* One tile against all tokens, NT at a time, the rest with the matching narrower kernel. */
#define DISPATCH(CALL)                                                                             \
    do {                                                                                           \
        int32_t t0 = 0;                                                                            \
        for (; t0 + NT <= a->n_tok; t0 += NT)                                                      \
            CALL(NT);                                                                              \
        switch (a->n_tok - t0) {                                                                   \
        case 7: CALL(7); break;                                                                    \
        case 6: CALL(6); break;                                                                    \
        case 5: CALL(5); break;                                                                    \
        case 4: CALL(4); break;                                                                    \
        case 3: CALL(3); break;                                                                    \
        case 2: CALL(2); break;                                                                    \
        case 1: CALL(1); break;                                                                    \
        default: break;                                                                            \
        }                                                                                          \
    } while (0)
_Static_assert(NT == 8, "DISPATCH handles remainders up to 7 tokens");

static void tile_b32(const uint8_t *tile, const struct eng_gemm_act *a, float *out,
                     int64_t out_stride, __mmask16 mask)
{
#define B32_0(n) kern_b32(tile, a, t0, n, false, out, out_stride, mask)
    DISPATCH(B32_0);
#undef B32_0
}

static void tile_b32_min(const uint8_t *tile, const struct eng_gemm_act *a, float *out,
                         int64_t out_stride, __mmask16 mask)
{
#define B32_1(n) kern_b32(tile, a, t0, n, true, out, out_stride, mask)
    DISPATCH(B32_1);
#undef B32_1
}

static void tile_k4(const uint8_t *tile, const struct eng_gemm_act *a, float *out,
                    int64_t out_stride, __mmask16 mask)
{
#define K4(n) kern_k(tile, a, t0, n, false, out, out_stride, mask)
    DISPATCH(K4);
#undef K4
}

static void tile_k6(const uint8_t *tile, const struct eng_gemm_act *a, float *out,
                    int64_t out_stride, __mmask16 mask)
{
#define K6(n) kern_k(tile, a, t0, n, true, out, out_stride, mask)
    DISPATCH(K6);
#undef K6
}

static void gemm_avx512(const struct eng_tensor *w, int64_t r0, int64_t r1,
                        const struct eng_gemm_act *a, float *out, int64_t out_stride, void *scratch)
{
    void (*tile_fn)(const uint8_t *, const struct eng_gemm_act *, float *, int64_t, __mmask16);
    switch (w->type) {
    case ENG_TYPE_Q4_1:
    case ENG_TYPE_Q5_1: tile_fn = tile_b32_min; break;
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K: tile_fn = tile_k4; break;
    case ENG_TYPE_Q6_K: tile_fn = tile_k6; break;
    default: tile_fn = tile_b32; break;
    }
    for (int64_t r = r0; r < r1; r += ENG_GEMM_ROWS) {
        const int64_t rows = r1 - r < ENG_GEMM_ROWS ? r1 - r : ENG_GEMM_ROWS;
        if (r + ENG_GEMM_ROWS <= w->ne[1])
            pack(w, r, scratch);
        else
            eng_gemm_pack_ref(w, r, scratch);
        tile_fn(scratch, a, out + r, out_stride, (__mmask16)((1u << rows) - 1u));
    }
}

/* 16 Q4_0 blocks from `base` (18 bytes apart): their 16-byte qs transposed as tr16 does. */
static inline __attribute__((always_inline)) void tr16_q4(const uint8_t *base, __m512i o[4])
{
    __m512i r[4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) {
        __m512i v = _mm512_castsi128_si512(loadu128(base + 18 * q + 2));
        v = _mm512_inserti32x4(v, loadu128(base + 18 * (q + 4) + 2), 1);
        v = _mm512_inserti32x4(v, loadu128(base + 18 * (q + 8) + 2), 2);
        v = _mm512_inserti32x4(v, loadu128(base + 18 * (q + 12) + 2), 3);
        r[q] = v;
    }
    const __m512i t0 = _mm512_unpacklo_epi32(r[0], r[1]), t1 = _mm512_unpackhi_epi32(r[0], r[1]);
    const __m512i t2 = _mm512_unpacklo_epi32(r[2], r[3]), t3 = _mm512_unpackhi_epi32(r[2], r[3]);
    o[0] = _mm512_unpacklo_epi64(t0, t2);
    o[1] = _mm512_unpackhi_epi64(t0, t2);
    o[2] = _mm512_unpacklo_epi64(t1, t3);
    o[3] = _mm512_unpackhi_epi64(t1, t3);
}

static inline __attribute__((always_inline)) __m512 gemv_group(__m512i o[4], __m512 dw,
                                                               const uint8_t *x, __m512 f)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i a0 = _mm512_load_si512((const void *)(x + 512)), a1 = _mm512_setzero_si512();
#pragma GCC unroll 4
    for (int g = 0; g < 4; g++) {
        a0 = _mm512_dpbusd_epi32(a0, _mm512_and_si512(o[g], m4),
                                 _mm512_load_si512((const void *)(x + 64 * g)));
        a1 = _mm512_dpbusd_epi32(a1, _mm512_and_si512(_mm512_srli_epi32(o[g], 4), m4),
                                 _mm512_load_si512((const void *)(x + 64 * (g + 4))));
    }
    const __m512 s = _mm512_mul_ps(dw, _mm512_load_ps((const float *)(x + 576)));
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a0, a1)), s, f);
}

/* Q4_0 decode dot on a packed activation row (eng_int.h, "decode GEMV"). */
static float gemv_q4_0(const void *vw, const void *xp, int64_t n)
{
    static const uint8_t zeros[32];
    const int64_t nb = n / QK;
    const uint8_t *w = vw, *x = xp;
    __m512 f = _mm512_setzero_ps();
    int64_t g0 = 0;
    for (; g0 + ENG_GEMV_GROUP <= nb; g0 += ENG_GEMV_GROUP, x += ENG_GEMV_GROUP_BYTES) {
        const uint8_t *base = w + (size_t)g0 * 18;
        __m512i o[4];
        tr16_q4(base, o);
        /* the 16 scales through general registers, four per 64-bit word: fewer vector
         * shuffles than word inserts or a gather (measured) */
        uint64_t hq[4];
#pragma GCC unroll 4
        for (int q = 0; q < 4; q++) {
            const uint8_t *b = base + 72 * q;
            uint16_t a0, a1, a2, a3;
            memcpy(&a0, b, 2);
            memcpy(&a1, b + 18, 2);
            memcpy(&a2, b + 36, 2);
            memcpy(&a3, b + 54, 2);
            hq[q] = (uint64_t)a0 | (uint64_t)a1 << 16 | (uint64_t)a2 << 32 | (uint64_t)a3 << 48;
        }
        const __m256i h = _mm256_set_epi64x((long long)hq[3], (long long)hq[2], (long long)hq[1],
                                            (long long)hq[0]);
        f = gemv_group(o, _mm512_cvtph_ps(h), x, f);
    }
    if (g0 < nb) {
        const uint8_t *base = w + (size_t)g0 * 18;
        const uint8_t *p[ENG_GEMV_GROUP];
        uint16_t h[ENG_GEMV_GROUP] = {0};
        for (int i = 0; i < ENG_GEMV_GROUP; i++) {
            p[i] = g0 + i < nb ? base + 18 * i + 2 : zeros;
            if (g0 + i < nb) memcpy(&h[i], base + 18 * i, 2);
        }
        __m512i o[4];
        tr16(p, 0, o);
        f = gemv_group(o, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)h)), x, f);
    }
    /* (i + 8), (i + 4), (i + 2), (i + 1), as eng_gemv_ref */
    __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(f), _mm512_extractf32x8_ps(f, 1));
    __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
    __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
    __m128 s1 = _mm_add_ss(s2, _mm_movehdup_ps(s2));
    return _mm_cvtss_f32(s1);
}

void eng_gemm_fill_avx512(struct eng_kernels *k);
void eng_gemm_fill_avx512(struct eng_kernels *k)
{
    static const uint32_t types[] = {ENG_TYPE_Q4_0, ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1,
                                     ENG_TYPE_Q8_0, ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        k->gemm[types[i]] = gemm_avx512;
    k->gemv[ENG_TYPE_Q4_0] = gemv_q4_0;
    k->gemm_min_tok = 4;
}

#endif
