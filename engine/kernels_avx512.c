/* AVX-512 kernels of the kernel table (kernels.c): 512-bit float dots, axpys and activation
 * quantisers, and the quantised weight x 8-bit activation dots with AVX512_VNNI. Entries this
 * file does not set keep their AVX2 kernels (the table starts as a copy of the AVX2 table).
 *
 * This file alone is compiled with -mavx512f/bw/vl/dq/vnni (CMakeLists.txt); kernels.c calls
 * eng_kernels_fill_avx512 only after CPUID and XCR0 report all of them.
 *
 * Integer exactness as in kernels_avx2.c: unsigned x signed byte products go through
 * _mm512_dpbusd_epi32 (exact int32 sums of four products) or _mm512_maddubs_epi16 (pair sums
 * of at most 2 * 63 * 128, no saturation) followed by _mm512_dpwssd_epi32 with the int16
 * scales; offsets (Q4_0's 8, Q5_0's 16) are a second dpbusd by the constant, Q6_K's 32 comes
 * from the activation's bsums, and Q8_0's signed weights are biased to unsigned by ^ 0x80 and
 * the bias removed with the activation's byte sum. Four 32-element blocks go per step
 * (see dot_q45); the last 1..3 blocks use the 256-bit forms.
 *
 * BF16 weights: AVX512_BF16's _mm512_dpbf16_ps multiplies bf16 by bf16, so it would need the
 * activations rounded to bf16 (ggml does that; we keep exact f32 activations for float weights,
 * eng_vec_dot_type) and it flushes denormals. Widening bf16 to f32 is one shift, and the
 * shift + FMA loop already reaches memory bandwidth (bench/kernels), so nothing here uses
 * AVX512_BF16 and the file is not compiled with -mavx512bf16 (which would let the compiler
 * emit it on CPUs with VNNI but without BF16, such as Ice Lake).
 */
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) &&                      \
    defined(__AVX512DQ__) && defined(__AVX512VNNI__) && defined(__FMA__) && defined(__F16C__)

#include "engine/eng_int.h"

#include <immintrin.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK   32
#define QK_K 256

/* round half to even, no exception flags (an immediate: a macro, not a variable) */
#define ROUND_NEAREST (_MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)

/* ---- helpers ----------------------------------------------------------------------------- */

static inline float ldh(const uint8_t *p)
{
    return _cvtsh_ss(eng_ld16(p));
}

static inline __m512i loadu512(const void *p)
{
    return _mm512_loadu_si512(p);
}

static inline __m256i loadu256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

static inline __m128i loadu128(const void *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

static inline float hsum256_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float hsum_ps(__m512 v)
{
    return hsum256_ps(_mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1)));
}

/* Two 256-bit halves, lo in the low half. */
static inline __m512i join(__m256i lo, __m256i hi)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* ---- float weights, attention ------------------------------------------------------------ */

static inline __m512 ld16_f16(const uint16_t *p)
{
    return _mm512_cvtph_ps(loadu256(p));
}

static inline __m512 ld16_f16_tail(const uint16_t *p, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p));
}

static inline __m512 ld16_bf16(const uint16_t *p)
{
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(loadu256(p)), 16));
}

static inline __m512 ld16_bf16_tail(const uint16_t *p, __mmask16 m)
{
    return _mm512_castsi512_ps(
        _mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, p)), 16));
}

static inline __mmask16 tail_mask(int64_t left)
{
    return (__mmask16)((1u << left) - 1u);
}

static float dot_f32_avx512(const float *a, const float *b, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return hsum_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float dot_f32_f16_avx512(const float *a, const uint16_t *b, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), ld16_f16(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), ld16_f16(b + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), ld16_f16(b + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), ld16_f16(b + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), ld16_f16(b + i), s0);
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), ld16_f16_tail(b + i, m), s1);
    }
    return hsum_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float dot_bf16_f32(const uint16_t *w, const float *x, int64_t n)
{
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), ld16_bf16(w + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), ld16_bf16(w + i + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), ld16_bf16(w + i + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), ld16_bf16(w + i + 48), s3);
    }
    for (; i + 16 <= n; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), ld16_bf16(w + i), s0);
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), ld16_bf16_tail(w + i, m), s1);
    }
    return hsum_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

static float vec_dot_f32_avx512(const void *w, const void *x, int64_t n)
{
    return dot_f32_avx512(x, w, n);
}

static float vec_dot_f16_avx512(const void *w, const void *x, int64_t n)
{
    return dot_f32_f16_avx512(x, w, n);
}

static float vec_dot_bf16_avx512(const void *w, const void *x, int64_t n)
{
    return dot_bf16_f32(w, x, n);
}

static void axpy_f32_avx512(float a, const float *x, float *y, int64_t n)
{
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) /* mul then add, never fused: bit-exact with ref */
        _mm512_storeu_ps(y + i, _mm512_add_ps(_mm512_loadu_ps(y + i),
                                              _mm512_mul_ps(va, _mm512_loadu_ps(x + i))));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 p = _mm512_mul_ps(va, _mm512_maskz_loadu_ps(m, x + i));
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), p));
    }
}

static void axpy_f16_avx512(float a, const uint16_t *x, float *y, int64_t n)
{
    const __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i,
                         _mm512_add_ps(_mm512_loadu_ps(y + i), _mm512_mul_ps(va, ld16_f16(x + i))));
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        const __m512 p = _mm512_mul_ps(va, ld16_f16_tail(x + i, m));
        _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), p));
    }
}

/* ---- activation quantisers --------------------------------------------------------------- */

/* One Q8_0/Q8_1 block: q[32] and d as ref's q8_0_block; returns the wrapping sum of the 32
 * int32 values before saturation (Q8_1's s). */
static inline int32_t q8_block_avx512(const float *x, uint8_t *q, float *d_out)
{
    const __m512 v0 = _mm512_loadu_ps(x), v1 = _mm512_loadu_ps(x + 16);
    const float am = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v0), _mm512_abs_ps(v1)));
    *d_out = am / 127.0f;
    const __m512 id = _mm512_set1_ps(am != 0.0f ? 127.0f / am : 0.0f);
    const __m512i i0 =
        _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v0, id), ROUND_NEAREST));
    const __m512i i1 =
        _mm512_cvtps_epi32(_mm512_roundscale_ps(_mm512_mul_ps(v1, id), ROUND_NEAREST));
    _mm_storeu_si128((__m128i *)q, _mm512_cvtsepi32_epi8(i0));
    _mm_storeu_si128((__m128i *)(q + 16), _mm512_cvtsepi32_epi8(i1));
    const __m512i s = _mm512_add_epi32(i0, i1);
    const __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(s), _mm512_extracti64x4_epi64(s, 1));
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
    return _mm_cvtsi128_si32(t);
}

static void quantize_q8_0_avx512(const float *x, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK, b += 34) {
        float d;
        (void)q8_block_avx512(x, b + 2, &d);
        eng_st16(b, eng_f32_to_f16(d));
    }
}

static void quantize_q8_1_avx512(const float *x, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK, b += 36) {
        float d;
        const int32_t sum = q8_block_avx512(x, b + 4, &d);
        eng_st16(b, eng_f32_to_f16(d));
        eng_st16(b + 2, eng_f32_to_f16(d * (float)sum));
    }
}

static void quantize_q8_k_avx512(const float *x, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t ib = 0; ib < n / QK_K; ib++, x += QK_K, b += 292) {
        __m512 vmax = _mm512_setzero_ps();
        for (int k = 0; k < QK_K; k += 16)
            vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
        const float amax = _mm512_reduce_max_ps(vmax);
        if (amax == 0.0f) {
            memset(b, 0, 292);
            continue;
        }
        const __m512 va = _mm512_set1_ps(amax);
        float max = 0.0f;
        for (int k = 0; k < QK_K; k += 16) { /* the first element of largest magnitude */
            const __mmask16 m =
                _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_loadu_ps(x + k)), va, _CMP_EQ_OQ);
            if (m) {
                max = x[k + __builtin_ctz((unsigned)m)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m512 vs = _mm512_set1_ps(iscale), magic = _mm512_set1_ps(12582912.0f);
        const __m512i mant = _mm512_set1_epi32(0x007fffff), bias = _mm512_set1_epi32(0x00400000);
        const __m512i lim = _mm512_set1_epi32(127);
        uint8_t *qs = b + 4;
        for (int g = 0; g < QK_K / 16; g++) { /* one bsums group per 16 lanes */
            const __m512 v = _mm512_add_ps(_mm512_mul_ps(vs, _mm512_loadu_ps(x + 16 * g)), magic);
            __m512i i = _mm512_sub_epi32(_mm512_and_si512(_mm512_castps_si512(v), mant), bias);
            i = _mm512_min_epi32(i, lim);
            _mm_storeu_si128((__m128i *)(qs + 16 * g), _mm512_cvtepi32_epi8(i)); /* low byte */
            /* the stored bytes' signed values */
            const __m512i s8 = _mm512_srai_epi32(_mm512_slli_epi32(i, 24), 24);
            eng_st16(b + 4 + QK_K + 2 * g, (uint16_t)(int16_t)_mm512_reduce_add_epi32(s8));
        }
        const float d = 1.0f / iscale;
        memcpy(b, &d, sizeof d);
    }
}

/* ---- 32-element blocks (VNNI) ------------------------------------------------------------ */

/* Four blocks per step, two per register in the activation's own layout (256-bit half h =
 * block h's 32 quants), so each half's int32 sums belong to one block and the scale vector is
 * d_h broadcast per half. Q4/Q5 weights: a block's 16 qs bytes are broadcast to both 128-bit
 * lanes of its half and shifted by 0 or 4 per lane (low nibbles = elements 0..15, high =
 * 16..31). Broadcast loads and shifts rather than inserts: 512-bit shuffles run one per cycle
 * on Zen 4 and were the bound of a four-inserts-per-register layout (Q4_0 16.4 -> 18.9 GB/s).
 * The scales are gathered through general registers for the same reason. A last 1..3 blocks
 * take the 256-bit forms. */

/* f16(a_b) * f16(c_b) for b = 0..3, a_b at a + b * sa, c_b at c + b * sc. */
static inline __m128 prod4(const uint8_t *a, size_t sa, const uint8_t *c, size_t sc)
{
    const uint64_t pa = (uint64_t)eng_ld16(a) | (uint64_t)eng_ld16(a + sa) << 16 |
                        (uint64_t)eng_ld16(a + 2 * sa) << 32 | (uint64_t)eng_ld16(a + 3 * sa) << 48;
    const uint64_t pc = (uint64_t)eng_ld16(c) | (uint64_t)eng_ld16(c + sc) << 16 |
                        (uint64_t)eng_ld16(c + 2 * sc) << 32 | (uint64_t)eng_ld16(c + 3 * sc) << 48;
    return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)pa)),
                      _mm_cvtph_ps(_mm_cvtsi64_si128((long long)pc)));
}

/* Two Q4 blocks' 32 quants each in element order, block 0 in the low half. */
static inline __m512i q4_pair(const uint8_t *qs0, const uint8_t *qs1)
{
    const __m512i v = join(_mm256_broadcastsi128_si256(loadu128(qs0)),
                           _mm256_broadcastsi128_si256(loadu128(qs1)));
    const __m512i sh = _mm512_set_epi64(4, 4, 0, 0, 4, 4, 0, 0);
    return _mm512_and_si512(_mm512_srlv_epi64(v, sh), _mm512_set1_epi8(0x0f));
}

/* The 32 nibbles of a Q4 block in element order (low nibbles, then high). */
static inline __m256i nibbles32(const uint8_t *qs)
{
    const __m128i m4 = _mm_set1_epi8(0x0f);
    const __m128i q = loadu128(qs);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m4), _mm_and_si128(q, m4));
}

/* One Q4/Q5 block as 32 unsigned quants in element order (qh_off < 0: no fifth bit). */
static inline __m256i q45_one(const uint8_t *w, int qs_off, int qh_off)
{
    const __m256i q = nibbles32(w + qs_off);
    if (qh_off < 0) return q;
    return _mm256_mask_add_epi8(q, (__mmask32)eng_ld32(w + qh_off), q, _mm256_set1_epi8(0x10));
}

/* Q4_0, Q4_1, Q5_0, Q5_1 (weight block wb bytes: f16 d [, f16 m] [, qh] qs[16]) times Q8_0 or
 * Q8_1 (yb bytes: f16 d [, f16 s], qs[32]): sum_b d_b * sum_i (q_i - off) y_i [+ m_b s_b]. */
static inline float dot_q45(const uint8_t *w, const uint8_t *y, int64_t nb, int wb, int qs_off,
                            int qh_off, int yb, int off, int has_min)
{
    const int yq = yb - 32; /* offset of the activation quants */
    const __m512i b16 = _mm512_set1_epi8(0x10);
    const __m512i offv = _mm512_set1_epi8((char)off), z = _mm512_setzero_si512();
    const __m512i i01 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i i23 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    __m128 accm = _mm_setzero_ps();
    int64_t ib = 0;
    for (; ib + 4 <= nb; ib += 4, w += 4 * wb, y += 4 * yb) {
        __m512i q01 = q4_pair(w + qs_off, w + wb + qs_off);
        __m512i q23 = q4_pair(w + 2 * wb + qs_off, w + 3 * wb + qs_off);
        if (qh_off >= 0) { /* bit i of a block's qh is element i's fifth bit */
            const uint64_t m01 = eng_ld32(w + qh_off) | (uint64_t)eng_ld32(w + wb + qh_off) << 32;
            const uint64_t m23 =
                eng_ld32(w + 2 * wb + qh_off) | (uint64_t)eng_ld32(w + 3 * wb + qh_off) << 32;
            q01 = _mm512_mask_add_epi8(q01, m01, q01, b16);
            q23 = _mm512_mask_add_epi8(q23, m23, q23, b16);
        }
        const __m512i y01 = join(loadu256(y + yq), loadu256(y + yb + yq));
        const __m512i y23 = join(loadu256(y + 2 * yb + yq), loadu256(y + 3 * yb + yq));
        __m512i s01 = _mm512_dpbusd_epi32(z, q01, y01), s23 = _mm512_dpbusd_epi32(z, q23, y23);
        if (off) {
            s01 = _mm512_sub_epi32(s01, _mm512_dpbusd_epi32(z, offv, y01));
            s23 = _mm512_sub_epi32(s23, _mm512_dpbusd_epi32(z, offv, y23));
        }
        const __m512 d = _mm512_castps128_ps512(prod4(w, (size_t)wb, y, (size_t)yb));
        acc0 = _mm512_fmadd_ps(_mm512_permutexvar_ps(i01, d), _mm512_cvtepi32_ps(s01), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(i23, d), _mm512_cvtepi32_ps(s23), acc1);
        if (has_min) accm = _mm_add_ps(accm, prod4(w + 2, (size_t)wb, y + 2, (size_t)yb));
    }
    float sum = hsum_ps(_mm512_add_ps(acc0, acc1)), extra = 0.0f;
    for (; ib < nb; ib++, w += wb, y += yb) {
        const __m256i yv = loadu256(y + yq), z8 = _mm256_setzero_si256();
        __m256i s = _mm256_dpbusd_epi32(z8, q45_one(w, qs_off, qh_off), yv);
        if (off) s = _mm256_sub_epi32(s, _mm256_dpbusd_epi32(z8, _mm256_set1_epi8((char)off), yv));
        sum += hsum256_ps(_mm256_mul_ps(_mm256_set1_ps(ldh(w) * ldh(y)), _mm256_cvtepi32_ps(s)));
        if (has_min) extra += ldh(w + 2) * ldh(y + 2);
    }
    if (has_min) {
        accm = _mm_add_ps(accm, _mm_movehl_ps(accm, accm));
        accm = _mm_add_ss(accm, _mm_movehdup_ps(accm));
        extra += _mm_cvtss_f32(accm);
    }
    return sum + extra;
}

static float vec_dot_q4_0_avx512(const void *w, const void *x, int64_t n)
{
    return dot_q45(w, x, n / QK, 18, 2, -1, 34, 8, 0);
}

static float vec_dot_q4_1_avx512(const void *w, const void *x, int64_t n)
{
    return dot_q45(w, x, n / QK, 20, 4, -1, 36, 0, 1);
}

static float vec_dot_q5_0_avx512(const void *w, const void *x, int64_t n)
{
    return dot_q45(w, x, n / QK, 22, 6, 2, 34, 16, 0);
}

static float vec_dot_q5_1_avx512(const void *w, const void *x, int64_t n)
{
    return dot_q45(w, x, n / QK, 24, 8, 4, 36, 0, 1);
}

/* Q8_0 · Q8_0: sum w y = dpbusd(w ^ 0x80, y) - dpbusd(0x80, y), exact for every byte; two
 * blocks per register (256-bit halves), four per step. */
static inline __m512i q8_pair(const uint8_t *w, const uint8_t *y)
{
    const __m512i flip = _mm512_set1_epi8((char)0x80), z = _mm512_setzero_si512();
    const __m512i yv = join(loadu256(y + 2), loadu256(y + 34 + 2));
    const __m512i wv = join(loadu256(w + 2), loadu256(w + 34 + 2));
    return _mm512_sub_epi32(_mm512_dpbusd_epi32(z, _mm512_xor_si512(wv, flip), yv),
                            _mm512_dpbusd_epi32(z, flip, yv));
}

static float vec_dot_q8_0_avx512(const void *vw, const void *vx, int64_t n)
{
    const uint8_t *w = vw, *y = vx;
    const int64_t nb = n / QK;
    const __m512i i01 = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i i23 = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t ib = 0;
    for (; ib + 4 <= nb; ib += 4, w += 4 * 34, y += 4 * 34) {
        const __m512 d = _mm512_castps128_ps512(prod4(w, 34, y, 34));
        acc0 =
            _mm512_fmadd_ps(_mm512_permutexvar_ps(i01, d), _mm512_cvtepi32_ps(q8_pair(w, y)), acc0);
        acc1 = _mm512_fmadd_ps(_mm512_permutexvar_ps(i23, d),
                               _mm512_cvtepi32_ps(q8_pair(w + 68, y + 68)), acc1);
    }
    float sum = hsum_ps(_mm512_add_ps(acc0, acc1));
    const __m256i flip = _mm256_set1_epi8((char)0x80), z = _mm256_setzero_si256();
    for (; ib < nb; ib++, w += 34, y += 34) {
        const __m256i yv = loadu256(y + 2);
        const __m256i s =
            _mm256_sub_epi32(_mm256_dpbusd_epi32(z, _mm256_xor_si256(loadu256(w + 2), flip), yv),
                             _mm256_dpbusd_epi32(z, flip, yv));
        sum += hsum256_ps(_mm256_mul_ps(_mm256_set1_ps(ldh(w) * ldh(y)), _mm256_cvtepi32_ps(s)));
    }
    return sum;
}

/* ---- K-quants (VNNI) --------------------------------------------------------------------- */

/* The eight 6-bit scales (*sc, byte j = sub-block j) and mins (*mn) of a Q4_K/Q5_K super-block
 * from its 12 packed bytes, as kernels_avx2.c's k4_scales; in registers, not through memory
 * (two 4-byte stores read back as one 8-byte load cannot be forwarded and stall). */
static inline void k4_scales64(const uint8_t *s, uint64_t *sc, uint64_t *mn)
{
    const uint32_t a = eng_ld32(s), b = eng_ld32(s + 4), c = eng_ld32(s + 8);
    *sc = (a & 0x3f3f3f3fu) | (uint64_t)((c & 0x0f0f0f0fu) | ((a >> 6) & 0x03030303u) << 4) << 32;
    *mn = (b & 0x3f3f3f3fu) | (uint64_t)(((c >> 4) & 0x0f0f0f0fu) | ((b >> 6) & 0x03030303u) << 4)
                                  << 32;
}

/* Byte shuffle for 64-element chunk c of a Q4_K/Q5_K super-block: maddubs words 0..15 come
 * from sub-block 2c (low nibbles), 16..31 from 2c+1, so each word takes scale byte 2c or 2c+1
 * (the eight scale bytes sit in every 128-bit lane) zero-extended (0x80 selects zero). */
static inline __m512i chunk_idx(int c)
{
    const __m256i lo = _mm256_set1_epi16((short)(0x8000 | (2 * c)));
    const __m256i hi = _mm256_set1_epi16((short)(0x8000 | (2 * c + 1)));
    return join(lo, hi);
}

static inline float dot_q45_k_avx512(const uint8_t *w, const uint8_t *y, int64_t nb, size_t wbytes,
                                     int has_qh)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f), b16 = _mm512_set1_epi8(16);
    const __m512i sh4 = _mm512_set_epi64(4, 4, 4, 4, 0, 0, 0, 0);
    const __m512i idx[4] = {chunk_idx(0), chunk_idx(1), chunk_idx(2), chunk_idx(3)};
    __m512 acc = _mm512_setzero_ps();
    __m256 accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, w += wbytes, y += 292) {
        uint64_t sc, mn;
        k4_scales64(w + 4, &sc, &mn);
        const __m512i sc8 = _mm512_set1_epi64((long long)sc); /* in-lane shuffles: vpshufb */
        const float dy = eng_ldf(y);
        const uint8_t *qs = w + (has_qh ? 48 : 16), *q8 = y + 4;
        const __m256i qh = has_qh ? loadu256(w + 16) : _mm256_setzero_si256();
        const __m512i qh2 = join(qh, qh);
        __m512i sumi = _mm512_setzero_si512();
        for (int c = 0; c < 4; c++) {
            /* 32 qs bytes in both halves, the high half shifted down a nibble (no shuffle) */
            const __m512i qv = _mm512_broadcast_i64x4(loadu256(qs + 32 * c));
            __m512i q = _mm512_and_si512(_mm512_srlv_epi64(qv, sh4), m4);
            if (has_qh) {
                const __m512i bit = join(_mm256_set1_epi8((char)(1u << (2 * c))),
                                         _mm256_set1_epi8((char)(2u << (2 * c))));
                q = _mm512_mask_add_epi8(q, _mm512_test_epi8_mask(qh2, bit), q, b16);
            }
            const __m512i p = _mm512_maddubs_epi16(q, loadu512(q8 + 64 * c));
            sumi = _mm512_dpwssd_epi32(sumi, p, _mm512_shuffle_epi8(sc8, idx[c]));
        }
        acc = _mm512_fmadd_ps(_mm512_set1_ps(ldh(w) * dy), _mm512_cvtepi32_ps(sumi), acc);
        const __m128i m8 = _mm_cvtsi64_si128((long long)mn);
        const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
        const __m256i mins = _mm256_madd_epi16(loadu256(y + 4 + QK_K), m16);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w + 2) * dy), _mm256_cvtepi32_ps(mins), accm);
    }
    return hsum_ps(acc) - hsum256_ps(accm);
}

static float vec_dot_q4_k_avx512(const void *w, const void *x, int64_t n)
{
    return dot_q45_k_avx512(w, x, n / QK_K, 144, 0);
}

static float vec_dot_q5_k_avx512(const void *w, const void *x, int64_t n)
{
    return dot_q45_k_avx512(w, x, n / QK_K, 176, 1);
}

/* Q6_K: per half, ql[0..63] gives elements 0..63 (low nibbles) and 64..127 (high nibbles); the
 * two high bits come from qh shifted per 256-bit half. sum (q - 32) y sc = sum q y sc
 * - 32 sum_g sc[g] bsums[g]. */
static float vec_dot_q6_k_avx512(const void *vw, const void *vx, int64_t n)
{
    const uint8_t *w = vw, *y = vx;
    const __m512i m4 = _mm512_set1_epi8(0x0f), m30 = _mm512_set1_epi8(0x30);
    const __m512i sh_lo = join(_mm256_set1_epi16(4), _mm256_set1_epi16(2));
    const __m512i sh_hi = join(_mm256_setzero_si256(), _mm256_set1_epi16(2));
    /* 64-element group k has scales 4k..4k+3, 16 elements = 8 maddubs words each */
    __m512i idx[4];
    for (int k = 0; k < 4; k++) {
        uint16_t a[32];
        for (int j = 0; j < 32; j++)
            a[j] = (uint16_t)(4 * k + j / 8);
        idx[k] = _mm512_loadu_si512(a);
    }
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++, w += 210, y += 292) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(w + 192));
        const __m512i sc512 = _mm512_castsi256_si512(sc16); /* only words 0..15 are indexed */
        const __m256i corr = _mm256_madd_epi16(loadu256(y + 4 + QK_K), sc16);
        __m512i sumi = _mm512_setzero_si512();
        for (int h = 0; h < 2; h++) {
            const __m512i L = loadu512(w + 64 * h);
            const __m256i hb = loadu256(w + 128 + 32 * h);
            const __m512i H = join(hb, hb);
            const __m512i q12 = _mm512_or_si512(_mm512_and_si512(L, m4),
                                                _mm512_and_si512(_mm512_sllv_epi16(H, sh_lo), m30));
            const __m512i q34 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(L, 4), m4),
                                                _mm512_and_si512(_mm512_srlv_epi16(H, sh_hi), m30));
            const uint8_t *q8 = y + 4 + 128 * h;
            sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(q12, loadu512(q8)),
                                       _mm512_permutexvar_epi16(idx[2 * h], sc512));
            sumi = _mm512_dpwssd_epi32(sumi, _mm512_maddubs_epi16(q34, loadu512(q8 + 64)),
                                       _mm512_permutexvar_epi16(idx[2 * h + 1], sc512));
        }
        const __m512i c512 =
            _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_slli_epi32(corr, 5), 0);
        sumi = _mm512_sub_epi32(sumi, c512);
        acc = _mm512_fmadd_ps(_mm512_set1_ps(ldh(w + 208) * eng_ldf(y)), _mm512_cvtepi32_ps(sumi),
                              acc);
    }
    return hsum_ps(acc);
}

static void quantize_f32_avx512(const float *x, void *dst, int64_t n)
{
    if (n > 0) memcpy(dst, x, (size_t)n * sizeof *x);
}

/* ---- the table --------------------------------------------------------------------------- */

/* exp(x) for 16 floats: x = n ln2 + r, |r| <= ln2/2 (two-part ln2), e^r by its degree-7 Taylor
 * polynomial (truncation below 2e-8 relative), times 2^n by scalef (which gives inf, 0 and
 * denormals at the ends of the range as expf does). Within a few ulp of expf. */
static inline __m512 exp16(__m512 x)
{
    /* min/max return their second operand on NaN: x last keeps a NaN a NaN */
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), _mm512_min_ps(_mm512_set1_ps(89.0f), x));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

static inline __mmask16 mask_left(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : tail_mask(left);
}

static void silu_mul_avx512(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = mask_left(n - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_setzero_ps(), g));
        const __m512 s = _mm512_div_ps(g, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
        _mm512_mask_storeu_ps(gate + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, up + i)));
    }
}

static float exp_sum_avx512(float *v, float shift, int64_t n)
{
    __m512 sum = _mm512_setzero_ps();
    const __m512 sh = _mm512_set1_ps(shift);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = mask_left(n - i);
        const __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, v + i), sh));
        _mm512_mask_storeu_ps(v + i, m, e);
        sum = _mm512_add_ps(sum, _mm512_maskz_mov_ps(m, e));
    }
    return hsum_ps(sum);
}

void eng_kernels_fill_avx512(struct eng_kernels *k)
{
    k->silu_mul = silu_mul_avx512;
    k->exp_sum = exp_sum_avx512;
    k->vec_dot[ENG_TYPE_F32] = vec_dot_f32_avx512;
    k->vec_dot[ENG_TYPE_F16] = vec_dot_f16_avx512;
    k->vec_dot[ENG_TYPE_BF16] = vec_dot_bf16_avx512;
    k->quantize_act[ENG_TYPE_F32] = quantize_f32_avx512;
    k->quantize_act[ENG_TYPE_Q8_0] = quantize_q8_0_avx512;
    k->quantize_act[ENG_TYPE_Q8_1] = quantize_q8_1_avx512;
    k->quantize_act[ENG_TYPE_Q8_K] = quantize_q8_k_avx512;
    k->dot_f32 = dot_f32_avx512;
    k->dot_f32_f16 = dot_f32_f16_avx512;
    k->axpy_f32 = axpy_f32_avx512;
    k->axpy_f16 = axpy_f16_avx512;
    k->vec_dot[ENG_TYPE_Q4_0] = vec_dot_q4_0_avx512;
    k->vec_dot[ENG_TYPE_Q4_1] = vec_dot_q4_1_avx512;
    k->vec_dot[ENG_TYPE_Q5_0] = vec_dot_q5_0_avx512;
    k->vec_dot[ENG_TYPE_Q5_1] = vec_dot_q5_1_avx512;
    k->vec_dot[ENG_TYPE_Q8_0] = vec_dot_q8_0_avx512;
    k->vec_dot[ENG_TYPE_Q4_K] = vec_dot_q4_k_avx512;
    k->vec_dot[ENG_TYPE_Q5_K] = vec_dot_q5_k_avx512;
    k->vec_dot[ENG_TYPE_Q6_K] = vec_dot_q6_k_avx512;
}

#else
typedef int eng_kernels_avx512_unused; /* not an x86 build: kernels.c never asks for this file */
#endif
