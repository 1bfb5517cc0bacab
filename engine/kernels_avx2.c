/* AVX2 + FMA + F16C kernels of the kernel table (kernels.c): quantised weight rows times 8-bit
 * activation rows, float weight rows times f32 rows, the attention dots and axpys, and the
 * activation quantisers.
 *
 * This file alone is compiled with -mavx2 -mfma -mf16c (CMakeLists.txt); kernels.c calls
 * eng_kernels_fill_avx2 only after CPUID says the CPU and OS have them, and nothing else here is
 * reachable otherwise. Block formats: quant.c and quant_q8.c.
 *
 * Exactness (the contract in eng_int.h): integer block sums are formed exactly for every input
 * byte. Signed x signed byte products use sign extension to int16 and _mm256_madd_epi16 (the
 * sign trick of ggml's x86 code is wrong for an activation byte of -128); unsigned nibble x
 * signed byte products use _mm256_maddubs_epi16, whose int16 pair sums cannot saturate here
 * (at most 2 * 63 * 128), and an offset like Q4_0's -8 is subtracted as a second maddubs by the
 * constant. Each block's 8 int32 lane sums are converted to float (exact below 2^24, which
 * only extreme K-quant blocks reach, and then one more rounding, as ggml's own int -> float)
 * and multiplied into float accumulators with FMA, so only the float order differs from
 * eng_vec_dot_q8_ref. The quantisers compute ref's values with the same float operations (max
 * is exact in any order) and are bit-exact for NaN-free input; the axpys round a * x before
 * adding, as ref does, and are bit-exact.
 */
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "engine/eng_int.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK   32
#define QK_K 256

/* ---- helpers ----------------------------------------------------------------------------- */

static inline float ldh(const uint8_t *p)
{
    return _cvtsh_ss(eng_ld16(p)); /* exact, as eng_f16_to_f32 */
}

static inline __m256i loadu256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

static inline __m128i loadu128(const void *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

static inline float hsum_ps(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int32_t hsum_epi32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline float hmax_ps(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* The 32 nibbles of a Q4 block in element order: low nibbles (elements 0..15), then high. */
static inline __m256i nibbles32(const uint8_t *qs)
{
    /* the 16 bytes in both lanes, the high lane shifted down a nibble: a broadcast load and a
     * shift instead of an insert (shuffle units are the scarcer ones) */
    const __m256i q = _mm256_broadcastsi128_si256(loadu128(qs));
    const __m256i q2 = _mm256_srlv_epi64(q, _mm256_set_epi64x(4, 4, 0, 0));
    return _mm256_and_si256(q2, _mm256_set1_epi8(0x0f));
}

/* Byte j = 0x10 where bit j of qh is set (Q5_0/Q5_1's fifth bit). */
static inline __m256i bit4_bytes(uint32_t qh)
{
    const __m256i shuf = _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                           0x0101010101010101, 0x0000000000000000);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), shuf);
    v = _mm256_cmpeq_epi8(_mm256_and_si256(v, bit), bit);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* 8 int32 lanes summing u[i] * s[i] over 32 bytes, u unsigned (< 64), s signed. */
static inline __m256i dot_us(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* 8 int32 lanes summing (u[i] - off) * s[i]. */
static inline __m256i dot_us_off(__m256i u, __m256i s, __m256i off)
{
    const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(u, s), _mm256_maddubs_epi16(off, s));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* ---- float weights ----------------------------------------------------------------------- */

static inline __m256 ld8_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(loadu128(p));
}

static inline __m256 ld8_bf16(const uint16_t *p)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(loadu128(p)), 16));
}

static inline float bf16f(uint16_t h)
{
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float dot_f32_avx2(const float *a, const float *b, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float dot_f32_f16_avx2(const float *a, const uint16_t *b, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), ld8_f16(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), ld8_f16(b + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), ld8_f16(b + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), ld8_f16(b + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), ld8_f16(b + i), s0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        sum += a[i] * _cvtsh_ss(b[i]);
    return sum;
}

static float dot_bf16_f32(const uint16_t *w, const float *x, int64_t n)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), ld8_bf16(w + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), ld8_bf16(w + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), ld8_bf16(w + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), ld8_bf16(w + i + 24), s3);
    }
    for (; i + 8 <= n; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), ld8_bf16(w + i), s0);
    float sum = hsum_ps(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
    for (; i < n; i++)
        sum += x[i] * bf16f(w[i]);
    return sum;
}

static float vec_dot_f32_avx2(const void *w, const void *x, int64_t n)
{
    return dot_f32_avx2(x, w, n);
}

static float vec_dot_f16_avx2(const void *w, const void *x, int64_t n)
{
    return dot_f32_f16_avx2(x, w, n);
}

static float vec_dot_bf16_avx2(const void *w, const void *x, int64_t n)
{
    return dot_bf16_f32(w, x, n);
}

static void axpy_f32_avx2(float a, const float *x, float *y, int64_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) /* mul then add, never fused: bit-exact with ref */
        _mm256_storeu_ps(y + i, _mm256_add_ps(_mm256_loadu_ps(y + i),
                                              _mm256_mul_ps(va, _mm256_loadu_ps(x + i))));
    for (; i < n; i++)
        y[i] += a * x[i];
}

static void axpy_f16_avx2(float a, const uint16_t *x, float *y, int64_t n)
{
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i,
                         _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(va, ld8_f16(x + i))));
    for (; i < n; i++)
        y[i] += a * _cvtsh_ss(x[i]);
}

/* ---- 32-element blocks ------------------------------------------------------------------- */

/* Two blocks per step into two accumulators: one accumulator would make every block wait for
 * the previous block's FMA (4 cycles on Zen 4), the bound of the one-block loop. */
static float vec_dot_q4_0_avx2(const void *vw, const void *vx, int64_t n)
{
    const uint8_t *w = vw, *y = vx;
    const __m256i eight = _mm256_set1_epi8(8);
    const int64_t nb = n / QK;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t ib = 0;
    for (; ib + 2 <= nb; ib += 2, w += 36, y += 68) {
        const __m256i s0 = dot_us_off(nibbles32(w + 2), loadu256(y + 2), eight);
        const __m256i s1 = dot_us_off(nibbles32(w + 20), loadu256(y + 36), eight);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w) * ldh(y)), _mm256_cvtepi32_ps(s0), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w + 18) * ldh(y + 34)), _mm256_cvtepi32_ps(s1),
                               acc1);
    }
    if (ib < nb) {
        const __m256i s = dot_us_off(nibbles32(w + 2), loadu256(y + 2), eight);
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w) * ldh(y)), _mm256_cvtepi32_ps(s), acc0);
    }
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}

static float vec_dot_q4_1_avx2(const void *vw, const void *vx, int64_t n)
{
    const uint8_t *w = vw, *y = vx;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t ib = 0; ib < n / QK; ib++, w += 20, y += 36) {
        const __m256i s = dot_us(nibbles32(w + 4), loadu256(y + 4));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w) * ldh(y)), _mm256_cvtepi32_ps(s), acc);
        summ += ldh(w + 2) * ldh(y + 2);
    }
    return hsum_ps(acc) + summ;
}

static float vec_dot_q5_0_avx2(const void *vw, const void *vx, int64_t n)
{
    const uint8_t *w = vw, *y = vx;
    const __m256i sixteen = _mm256_set1_epi8(16);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t ib = 0; ib < n / QK; ib++, w += 22, y += 34) {
        const __m256i q = _mm256_or_si256(nibbles32(w + 6), bit4_bytes(eng_ld32(w + 2)));
        const __m256i s = dot_us_off(q, loadu256(y + 2), sixteen);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w) * ldh(y)), _mm256_cvtepi32_ps(s), acc);
    }
    return hsum_ps(acc);
}

static float vec_dot_q5_1_avx2(const void *vw, const void *vx, int64_t n)
{
    const uint8_t *w = vw, *y = vx;
    __m256 acc = _mm256_setzero_ps();
    float summ = 0.0f;
    for (int64_t ib = 0; ib < n / QK; ib++, w += 24, y += 36) {
        const __m256i q = _mm256_or_si256(nibbles32(w + 8), bit4_bytes(eng_ld32(w + 4)));
        const __m256i s = dot_us(q, loadu256(y + 4));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w) * ldh(y)), _mm256_cvtepi32_ps(s), acc);
        summ += ldh(w + 2) * ldh(y + 2);
    }
    return hsum_ps(acc) + summ;
}

static inline __m256i q8_0_block(const uint8_t *w, const uint8_t *y)
{
    const __m256i w0 = _mm256_cvtepi8_epi16(loadu128(w + 2));
    const __m256i w1 = _mm256_cvtepi8_epi16(loadu128(w + 18));
    const __m256i y0 = _mm256_cvtepi8_epi16(loadu128(y + 2));
    const __m256i y1 = _mm256_cvtepi8_epi16(loadu128(y + 18));
    return _mm256_add_epi32(_mm256_madd_epi16(w0, y0), _mm256_madd_epi16(w1, y1));
}

static float vec_dot_q8_0_avx2(const void *vw, const void *vx, int64_t n)
{
    const uint8_t *w = vw, *y = vx;
    const int64_t nb = n / QK;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t ib = 0;
    for (; ib + 2 <= nb; ib += 2, w += 68, y += 68) { /* two accumulators: see Q4_0 */
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w) * ldh(y)),
                               _mm256_cvtepi32_ps(q8_0_block(w, y)), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w + 34) * ldh(y + 34)),
                               _mm256_cvtepi32_ps(q8_0_block(w + 34, y + 34)), acc1);
    }
    if (ib < nb)
        acc0 = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w) * ldh(y)),
                               _mm256_cvtepi32_ps(q8_0_block(w, y)), acc0);
    return hsum_ps(_mm256_add_ps(acc0, acc1));
}

/* ---- K-quants ---------------------------------------------------------------------------- */

/* The 6-bit scales (sc[0..7]) and mins (*mn, byte j = sub-block j) of a Q4_K/Q5_K super-block
 * from its 12 packed bytes (eng_k4_scale_min for all eight sub-blocks, four at a time).
 * The mins stay in a register: two 4-byte stores read back as one 8-byte load would stall. */
static inline void k4_scales(const uint8_t *s, uint8_t sc[8], uint64_t *mn)
{
    const uint32_t a = eng_ld32(s), b = eng_ld32(s + 4), c = eng_ld32(s + 8);
    const uint32_t u[2] = {
        a & 0x3f3f3f3fu,                                   /* sc 0..3 */
        (c & 0x0f0f0f0fu) | ((a >> 6) & 0x03030303u) << 4, /* sc 4..7 */
    };
    memcpy(sc, u, 8);
    *mn = (b & 0x3f3f3f3fu) | /* m 0..3, then m 4..7 */
          (uint64_t)(((c >> 4) & 0x0f0f0f0fu) | ((b >> 6) & 0x03030303u) << 4) << 32;
}

/* 8 int32 lanes summing bsums[j] * mn[j / 2] (the Q4_K/Q5_K min term of one super-block). */
static inline __m256i k4_mins(const uint8_t *bsums, uint64_t mn)
{
    const __m128i m8 = _mm_cvtsi64_si128((long long)mn);
    const __m256i m16 = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m8, m8));
    return _mm256_madd_epi16(loadu256(bsums), m16);
}

/* Q4_K (qh == NULL) and Q5_K. */
static inline float dot_q45_k_avx2(const uint8_t *w, const uint8_t *y, int64_t nb, size_t wbytes,
                                   int has_qh)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
    for (int64_t i = 0; i < nb; i++, w += wbytes, y += 292) {
        uint8_t sc[8];
        uint64_t mn;
        k4_scales(w + 4, sc, &mn);
        const float dy = eng_ldf(y);
        const uint8_t *qs = w + (has_qh ? 48 : 16), *q8 = y + 4;
        __m256i qh = has_qh ? loadu256(w + 16) : _mm256_setzero_si256();
        __m256i sumi = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            const __m256i qv = loadu256(qs + 32 * c);
            __m256i lo = _mm256_and_si256(qv, m4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qv, 4), m4);
            if (has_qh) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(qh, one), 4));
                hi = _mm256_or_si256(
                    hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 1), one), 4));
                qh = _mm256_srli_epi16(qh, 2);
            }
            const __m256i p0 = _mm256_maddubs_epi16(lo, loadu256(q8 + 64 * c));
            const __m256i p1 = _mm256_maddubs_epi16(hi, loadu256(q8 + 64 * c + 32));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p0, _mm256_set1_epi16(sc[2 * c])));
            sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p1, _mm256_set1_epi16(sc[2 * c + 1])));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w) * dy), _mm256_cvtepi32_ps(sumi), acc);
        accm = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w + 2) * dy),
                               _mm256_cvtepi32_ps(k4_mins(y + 4 + QK_K, mn)), accm);
    }
    return hsum_ps(acc) - hsum_ps(accm);
}

static float vec_dot_q4_k_avx2(const void *w, const void *x, int64_t n)
{
    return dot_q45_k_avx2(w, x, n / QK_K, 144, 0);
}

static float vec_dot_q5_k_avx2(const void *w, const void *x, int64_t n)
{
    return dot_q45_k_avx2(w, x, n / QK_K, 176, 1);
}

/* Q6_K: sum (q - 32) y sc = sum q y sc - 32 sum_g sc[g] bsums[g] (the activation's group
 * sums), so the -32 costs one madd per super-block instead of a maddubs per 32 elements. The
 * per-32-element scale pairs come from the 16 scales, widened once, by in-lane byte shuffles
 * (inserts and broadcasts would load the shuffle units three times as much). */
static float vec_dot_q6_k_avx2(const void *vw, const void *vx, int64_t n)
{
    const uint8_t *w = vw, *y = vx;
    const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    /* word 2k of the low lane, word 2k + 1 of the high lane, as byte pairs */
    __m256i pick[4];
    for (int k = 0; k < 4; k++) {
        const int lo = (4 * k) | (4 * k + 1) << 8, hi = (4 * k + 2) | (4 * k + 3) << 8;
        pick[k] = _mm256_set_m128i(_mm_set1_epi16((short)hi), _mm_set1_epi16((short)lo));
    }
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QK_K; i++, w += 210, y += 292) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(loadu128(w + 192)); /* 16 int16 scales */
        __m256i sumi = _mm256_slli_epi32(_mm256_madd_epi16(loadu256(y + 4 + QK_K), sc16), 5);
        sumi = _mm256_sub_epi32(_mm256_setzero_si256(), sumi);
        for (int h = 0; h < 2; h++) { /* halves of 128 elements: scales 8h .. 8h + 7 */
            const __m256i sch = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)
                                  : _mm256_permute2x128_si256(sc16, sc16, 0x00);
            const uint8_t *ql = w + 64 * h, *q8 = y + 4 + 128 * h;
            const __m256i l0 = loadu256(ql), l1 = loadu256(ql + 32);
            const __m256i hb = loadu256(w + 128 + 32 * h);
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(l0, m4),
                                   _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
            q[1] = _mm256_or_si256(_mm256_and_si256(l1, m4),
                                   _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                                   _mm256_and_si256(hb, m30));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), m4),
                                   _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
            for (int k = 0; k < 4; k++) { /* elements 32k..32k+31: scales 2k, 2k+1 */
                const __m256i p = _mm256_maddubs_epi16(q[k], loadu256(q8 + 32 * k));
                sumi =
                    _mm256_add_epi32(sumi, _mm256_madd_epi16(p, _mm256_shuffle_epi8(sch, pick[k])));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(ldh(w + 208) * eng_ldf(y)), _mm256_cvtepi32_ps(sumi),
                              acc);
    }
    return hsum_ps(acc);
}

/* ---- activation quantisers --------------------------------------------------------------- */

/* One Q8_0/Q8_1 block's 32 rounded int32 values of x * id (ref's cvt_nearest_i32), packed to
 * int8 with saturation into q[32]; returns the int32 lanes' wrapping sum. */
static inline __m256i q8_block_avx2(const float *x, uint8_t *q, float *d_out)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; k++) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
    }
    const float am = hmax_ps(amax);
    *d_out = am / 127.0f;
    const __m256 id = _mm256_set1_ps(am != 0.0f ? 127.0f / am : 0.0f);
    __m256i i[4];
    for (int k = 0; k < 4; k++)
        i[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], id),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    const __m256i sum =
        _mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3]));
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
    return sum;
}

static void quantize_q8_0_avx2(const float *x, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK, b += 34) {
        float d;
        (void)q8_block_avx2(x, b + 2, &d);
        eng_st16(b, eng_f32_to_f16(d));
    }
}

static void quantize_q8_1_avx2(const float *x, void *dst, int64_t n)
{
    uint8_t *b = dst;
    for (int64_t i = 0; i < n / QK; i++, x += QK, b += 36) {
        float d;
        const int32_t sum = hsum_epi32(q8_block_avx2(x, b + 4, &d));
        eng_st16(b, eng_f32_to_f16(d));
        eng_st16(b + 2, eng_f32_to_f16(d * (float)sum));
    }
}

static void quantize_q8_k_avx2(const float *x, void *dst, int64_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    uint8_t *b = dst;
    for (int64_t ib = 0; ib < n / QK_K; ib++, x += QK_K, b += 292) {
        __m256 vmax = _mm256_setzero_ps();
        for (int k = 0; k < QK_K; k += 8)
            vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
        const float amax = hmax_ps(vmax);
        if (amax == 0.0f) {
            memset(b, 0, 292);
            continue;
        }
        /* ref keeps the signed value of the first element of largest magnitude */
        const __m256 va = _mm256_set1_ps(amax);
        float max = 0.0f;
        for (int k = 0; k < QK_K; k += 8) {
            const __m256 eq =
                _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)), va, _CMP_EQ_OQ);
            const int m = _mm256_movemask_ps(eq);
            if (m) {
                max = x[k + __builtin_ctz((unsigned)m)];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 vs = _mm256_set1_ps(iscale), magic = _mm256_set1_ps(12582912.0f);
        const __m256i mant = _mm256_set1_epi32(0x007fffff), bias = _mm256_set1_epi32(0x00400000);
        const __m256i lim = _mm256_set1_epi32(127), lowb = _mm256_set1_epi32(0xff);
        uint8_t *qs = b + 4;
        for (int k = 0; k < QK_K; k += 32) {
            __m256i i[4];
            for (int j = 0; j < 4; j++) { /* ggml's nearest_int, min 127, low byte */
                const __m256 v =
                    _mm256_add_ps(_mm256_mul_ps(vs, _mm256_loadu_ps(x + k + 8 * j)), magic);
                i[j] = _mm256_sub_epi32(_mm256_and_si256(_mm256_castps_si256(v), mant), bias);
                i[j] = _mm256_and_si256(_mm256_min_epi32(i[j], lim), lowb);
            }
            __m256i p = _mm256_packus_epi16(_mm256_packus_epi32(i[0], i[1]),
                                            _mm256_packus_epi32(i[2], i[3]));
            p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
            _mm256_storeu_si256((__m256i *)(qs + k), p);
        }
        /* bsums: sum of 16 signed bytes = sad of (q ^ 0x80) - 16 * 128 */
        const __m256i flip = _mm256_set1_epi8((char)0x80);
        for (int g = 0; g < QK_K / 16; g += 2) {
            const __m256i s = _mm256_sad_epu8(_mm256_xor_si256(loadu256(qs + 16 * g), flip),
                                              _mm256_setzero_si256());
            const __m256i t = _mm256_add_epi64(s, _mm256_srli_si256(s, 8));
            const int s0 = _mm_cvtsi128_si32(_mm256_castsi256_si128(t)) - 2048;
            const int s1 = _mm_cvtsi128_si32(_mm256_extracti128_si256(t, 1)) - 2048;
            eng_st16(b + 4 + QK_K + 2 * g, (uint16_t)(int16_t)s0);
            eng_st16(b + 4 + QK_K + 2 * g + 2, (uint16_t)(int16_t)s1);
        }
        const float d = 1.0f / iscale;
        memcpy(b, &d, sizeof d);
    }
}

static void quantize_f32_avx2(const float *x, void *dst, int64_t n)
{
    if (n > 0) memcpy(dst, x, (size_t)n * sizeof *x);
}

/* ---- the table --------------------------------------------------------------------------- */

/* f16 row -> f32 (exact: every f16 is an f32) for the OpenBLAS path */
static void to_f32_f16_avx2(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++)
        dst[i] = _cvtsh_ss(h[i]);
}

/* exp(x) for 8 floats: x = n ln2 + r (two-part ln2), e^r by its degree-7 Taylor polynomial,
 * times 2^n through the exponent bits. That covers x in [-87, 88.7]; below, expf's results are
 * denormals or 0 (given as 0, under 1.2e-38), above, inf; NaN stays NaN. */
static inline __m256 exp8(__m256 x)
{
    const __m256 lo = _mm256_set1_ps(-87.0f), hi = _mm256_set1_ps(88.72283935546875f);
    const __m256 xc = _mm256_max_ps(lo, _mm256_min_ps(hi, x));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^n with n in [-126, 128]: split in two factors so neither exponent overflows */
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    const __m256 s1 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    const __m256 s2 =
        _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    __m256 e = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    e = _mm256_blendv_ps(e, _mm256_setzero_ps(), _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
    e = _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    return _mm256_blendv_ps(e, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN in, NaN out */
}

/* Every element goes through exp8, the tail too (in a padded copy): an element's result must
 * not depend on where a thread's share of the row begins (forward.c splits rows), and exp8's
 * lanes are independent. */
static inline __m256 silu_mul8(__m256 g, __m256 u)
{
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), g));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void silu_mul_avx2(float *gate, const float *up, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(gate + i, silu_mul8(_mm256_loadu_ps(gate + i), _mm256_loadu_ps(up + i)));
    if (i < n) {
        float g8[8] = {0}, u8[8] = {0};
        memcpy(g8, gate + i, (size_t)(n - i) * sizeof(float));
        memcpy(u8, up + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(g8, silu_mul8(_mm256_loadu_ps(g8), _mm256_loadu_ps(u8)));
        memcpy(gate + i, g8, (size_t)(n - i) * sizeof(float));
    }
}

static float exp_sum_avx2(float *v, float shift, int64_t n)
{
    __m256 sum = _mm256_setzero_ps();
    const __m256 sh = _mm256_set1_ps(shift);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(v + i), sh));
        _mm256_storeu_ps(v + i, e);
        sum = _mm256_add_ps(sum, e);
    }
    if (i < n) {
        float v8[8];
        for (int k = 0; k < 8; k++)
            v8[k] = i + k < n ? v[i + k] : -INFINITY; /* exp(-inf) = 0 adds nothing */
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(v8), sh));
        _mm256_storeu_ps(v8, e);
        memcpy(v + i, v8, (size_t)(n - i) * sizeof(float));
        sum = _mm256_add_ps(sum, e);
    }
    return hsum_ps(sum);
}

void eng_kernels_fill_avx2(struct eng_kernels *k)
{
    k->silu_mul = silu_mul_avx2;
    k->exp_sum = exp_sum_avx2;
    k->to_f32[ENG_TYPE_F16] = to_f32_f16_avx2;
    k->vec_dot[ENG_TYPE_F32] = vec_dot_f32_avx2;
    k->vec_dot[ENG_TYPE_F16] = vec_dot_f16_avx2;
    k->vec_dot[ENG_TYPE_BF16] = vec_dot_bf16_avx2;
    k->vec_dot[ENG_TYPE_Q4_0] = vec_dot_q4_0_avx2;
    k->vec_dot[ENG_TYPE_Q4_1] = vec_dot_q4_1_avx2;
    k->vec_dot[ENG_TYPE_Q5_0] = vec_dot_q5_0_avx2;
    k->vec_dot[ENG_TYPE_Q5_1] = vec_dot_q5_1_avx2;
    k->vec_dot[ENG_TYPE_Q8_0] = vec_dot_q8_0_avx2;
    k->vec_dot[ENG_TYPE_Q4_K] = vec_dot_q4_k_avx2;
    k->vec_dot[ENG_TYPE_Q5_K] = vec_dot_q5_k_avx2;
    k->vec_dot[ENG_TYPE_Q6_K] = vec_dot_q6_k_avx2;
    k->quantize_act[ENG_TYPE_F32] = quantize_f32_avx2;
    k->quantize_act[ENG_TYPE_Q8_0] = quantize_q8_0_avx2;
    k->quantize_act[ENG_TYPE_Q8_1] = quantize_q8_1_avx2;
    k->quantize_act[ENG_TYPE_Q8_K] = quantize_q8_k_avx2;
    k->dot_f32 = dot_f32_avx2;
    k->dot_f32_f16 = dot_f32_f16_avx2;
    k->axpy_f32 = axpy_f32_avx2;
    k->axpy_f16 = axpy_f16_avx2;
}

#else
typedef int eng_kernels_avx2_unused; /* not an x86 build: kernels.c never asks for this file */
#endif
