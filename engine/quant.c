/* Portable reference kernels: dequantisation and dot products per tensor type, plus the
 * IEEE half / bfloat16 conversions they rest on.
 *
 * Owns no state: every function is pure, allocation-free and callable from any thread. The
 * `_ref` kernels are the scalar ground truth that later SIMD kernels are tested against, so
 * they favour obviousness over speed while staying usable as the fallback path.
 *
 * Block formats (ggml's, from ggml-org/llama.cpp ggml/src/ggml-common.h; all fields little
 * endian, f16 = IEEE binary16; QK_K = 256):
 *   Q4_0  32 elems, 18 B: f16 d | qs[16]           y = ((q & 15) - 8) * d
 *         element j (j < 16) is the low nibble of qs[j], element j + 16 its high nibble.
 *   Q4_1  32 elems, 20 B: f16 d, f16 m | qs[16]    y = q * d + m        (nibbles as Q4_0)
 *   Q5_0  32 elems, 22 B: f16 d | qh[4] | qs[16]   y = (q - 16) * d
 *         qh is one LE uint32: bit j is bit 4 of element j (nibbles as Q4_0).
 *   Q5_1  32 elems, 24 B: f16 d, f16 m | qh[4] | qs[16]   y = q * d + m
 *   Q8_0  32 elems, 34 B: f16 d | int8 qs[32]      y = q * d
 *   Q4_K 256 elems, 144 B: f16 d, f16 dmin | scales[12] | qs[128]
 *         8 sub-blocks of 32, each with a 6-bit scale sc and 6-bit min m packed in
 *         scales[12] (get_scale_min_k4: j < 4: sc = s[j] & 63, m = s[j+4] & 63; else
 *         sc = (s[j+4] & 15) | (s[j-4] >> 6) << 4, m = (s[j+4] >> 4) | (s[j] >> 6) << 4).
 *         Each 64-element chunk c uses qs[32c .. 32c+31]: low nibbles are sub-block 2c,
 *         high nibbles sub-block 2c+1.   y = (d * sc) * q - (dmin * m)
 *   Q5_K 256 elems, 176 B: f16 d, f16 dmin | scales[12] | qh[32] | qs[128]
 *         as Q4_K, plus bit 4 of element l of sub-block s is bit s of qh[l].
 *   Q6_K 256 elems, 210 B: ql[128] | qh[64] | int8 scales[16] | f16 d
 *         two halves of 128 elements; in half h, for l < 32, with a = ql[64h + l],
 *         b = ql[64h + 32 + l], c = qh[32h + l], the 6-bit values are
 *         l: a & 15 | (c & 3) << 4,        l+32: b & 15 | (c >> 2 & 3) << 4,
 *         l+64: a >> 4 | (c >> 4 & 3) << 4, l+96: b >> 4 | (c >> 6) << 4.
 *         q is the 6-bit value minus 32; sub-block of 16
 *         elements i uses scales[i].   y = (d * sc) * q
 *
 * Bit-exactness: the outputs must equal ggml's reference dequantize_row_* (ggml/src/
 * ggml-quants.c) bit for bit, so each formula above keeps ggml's float operations in ggml's
 * order: integers are formed exactly, converted once, and multiplied/added in float in the
 * same association. The association matters: Q6_K's (d * sc) * q is not d * (sc * q) (the
 * product can need 25 bits, and the sign of a zero differs). In the "a * q - b" forms the
 * product is always exact (11-bit f16 x 6-bit scale x at most 5-bit q), so an FMA would give
 * the same result; contraction is still kept off (GCC does not contract in ISO C mode, which
 * the project builds in; the pragma below covers clang) so no future formula depends on it.
 *
 * Dot products (eng_vec_dot_ref): the row is dequantised one block at a time (256 elements
 * at a time for F32/F16/BF16) into a stack buffer; within a block the products x[i]*w[i]
 * are summed in float, in element order, starting from 0; each block sum is then added to a
 * double accumulator, in block order; the double is rounded to float at the end.
 */
#include "engine/eng_int.h"

#include <math.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK     32  /* elements per Q4_0/Q4_1/Q5_0/Q5_1/Q8_0 block (ggml-common.h QK4_0...) */
#define QK_K   256 /* elements per K-quant super-block (ggml-common.h QK_K) */
#define CHUNK  256 /* elements per dequantised chunk of F32/F16/BF16 in the dot product */
#define BUF_EL 256 /* stack buffer: the largest of QK, QK_K, CHUNK */

_Static_assert(BUF_EL >= QK && BUF_EL >= QK_K && BUF_EL >= CHUNK, "dot-product buffer too small");

/* ---- scalar conversions ------------------------------------------------------------------ */

static inline uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float eng_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;

    if (exp == 0x1f) /* inf / NaN: keep the payload, so a NaN stays a NaN */
        return bits_f32(sign | 0x7f800000u | (mant << 13));
    if (exp != 0) /* normal: rebias 15 -> 127 */
        return bits_f32(sign | ((exp + 112u) << 23) | (mant << 13));
    if (mant == 0) return bits_f32(sign);
    /* subnormal: mant * 2^-24, normalised into an f32 normal */
    int shift = 0;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        shift++;
    }
    mant &= 0x3ffu;
    return bits_f32(sign | ((uint32_t)(113 - shift) << 23) | (mant << 13));
}

uint16_t eng_f32_to_f16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;

    if (ax > 0x7f800000u) /* NaN: quiet, sign kept (what ggml's conversion gives) */
        return sign | 0x7e00u;
    /* 65520 = halfway between the largest half 65504 (odd mantissa) and 2^16: ties to even
     * round it, and everything above it, to infinity. */
    if (ax >= 0x477ff000u) return sign | 0x7c00u;
    if (ax >= 0x38800000u) { /* >= 2^-14: a normal half */
        uint32_t h = ((ax >> 23) - 112u) << 10 | ((ax >> 13) & 0x3ffu);
        uint32_t rem = ax & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++; /* carry may bump exp */
        return sign | (uint16_t)h;
    }
    /* 2^-25 is halfway between 0 and the smallest subnormal 2^-24: ties to even give 0. */
    if (ax <= 0x33000000u) return sign;
    /* subnormal half: value / 2^-24 = m * 2^(e + 1) with e in [-25, -15] */
    uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    int e = (int)(ax >> 23) - 127;
    int shift = -(e + 1); /* 14 .. 24 */
    uint32_t h = m >> shift;
    uint32_t rem = m & ((1u << shift) - 1u);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1u))) h++; /* may become 0x400, the min normal */
    return sign | (uint16_t)h;
}

float eng_bf16_to_f32(uint16_t h)
{
    return bits_f32((uint32_t)h << 16);
}

/* ---- little-endian loads (blocks are byte-packed, so fields are unaligned) -------------- */

static inline float ldh(const uint8_t *p)
{
    return eng_f16_to_f32(eng_ld16(p));
}

/* ---- one block each ---------------------------------------------------------------------- */

static void dq_q4_0(const uint8_t *b, float *y)
{
    const float d = ldh(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < QK / 2; j++) {
        const int x0 = (qs[j] & 0x0f) - 8;
        const int x1 = (qs[j] >> 4) - 8;
        y[j] = (float)x0 * d;
        y[j + QK / 2] = (float)x1 * d;
    }
}

static void dq_q4_1(const uint8_t *b, float *y)
{
    const float d = ldh(b);
    const float m = ldh(b + 2);
    const uint8_t *qs = b + 4;
    for (int j = 0; j < QK / 2; j++) {
        const int x0 = qs[j] & 0x0f;
        const int x1 = qs[j] >> 4;
        y[j] = (float)x0 * d + m;
        y[j + QK / 2] = (float)x1 * d + m;
    }
}

static void dq_q5_0(const uint8_t *b, float *y)
{
    const float d = ldh(b);
    const uint32_t qh = eng_ld32(b + 2);
    const uint8_t *qs = b + 6;
    for (int j = 0; j < QK / 2; j++) {
        const int h0 = (int)((qh >> j) & 1u) << 4;
        const int h1 = (int)((qh >> (j + QK / 2)) & 1u) << 4;
        const int x0 = ((qs[j] & 0x0f) | h0) - 16;
        const int x1 = ((qs[j] >> 4) | h1) - 16;
        y[j] = (float)x0 * d;
        y[j + QK / 2] = (float)x1 * d;
    }
}

static void dq_q5_1(const uint8_t *b, float *y)
{
    const float d = ldh(b);
    const float m = ldh(b + 2);
    const uint32_t qh = eng_ld32(b + 4);
    const uint8_t *qs = b + 8;
    for (int j = 0; j < QK / 2; j++) {
        const int h0 = (int)((qh >> j) & 1u) << 4;
        const int h1 = (int)((qh >> (j + QK / 2)) & 1u) << 4;
        const int x0 = (qs[j] & 0x0f) | h0;
        const int x1 = (qs[j] >> 4) | h1;
        y[j] = (float)x0 * d + m;
        y[j + QK / 2] = (float)x1 * d + m;
    }
}

static void dq_q8_0(const uint8_t *b, float *y)
{
    const float d = ldh(b);
    const uint8_t *qs = b + 2;
    for (int j = 0; j < QK; j++)
        y[j] = (float)(int8_t)qs[j] * d;
}

static void dq_q4_k(const uint8_t *b, float *y)
{
    const float d = ldh(b);
    const float dmin = ldh(b + 2);
    const uint8_t *scales = b + 4;
    const uint8_t *q = b + 16;
    for (int c = 0; c < 4; c++) { /* 64-element chunks: sub-blocks 2c, 2c+1 */
        int32_t sc, m;
        eng_k4_scale_min(2 * c, scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        eng_k4_scale_min(2 * c + 1, scales, &sc, &m);
        const float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)(q[l] & 0x0f) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)(q[l] >> 4) - m2;
        q += 32;
    }
}

static void dq_q5_k(const uint8_t *b, float *y)
{
    const float d = ldh(b);
    const float dmin = ldh(b + 2);
    const uint8_t *scales = b + 4;
    const uint8_t *qh = b + 16;
    const uint8_t *ql = b + 48;
    for (int c = 0; c < 4; c++) {
        const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
        int32_t sc, m;
        eng_k4_scale_min(2 * c, scales, &sc, &m);
        const float d1 = d * (float)sc, m1 = dmin * (float)m;
        eng_k4_scale_min(2 * c + 1, scales, &sc, &m);
        const float d2 = d * (float)sc, m2 = dmin * (float)m;
        for (int l = 0; l < 32; l++)
            *y++ = d1 * (float)((ql[l] & 0x0f) + (qh[l] & u1 ? 16 : 0)) - m1;
        for (int l = 0; l < 32; l++)
            *y++ = d2 * (float)((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        ql += 32;
    }
}

static void dq_q6_k(const uint8_t *b, float *y)
{
    const uint8_t *ql = b;
    const uint8_t *qh = b + 128;
    const int8_t *sc = (const int8_t *)(b + 192);
    const float d = ldh(b + 208);
    for (int h = 0; h < 2; h++) { /* two halves of 128 elements */
        for (int l = 0; l < 32; l++) {
            const int is = l / 16;
            const int q1 = ((ql[l] & 0x0f) | ((qh[l] >> 0) & 3) << 4) - 32;
            const int q2 = ((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4) - 32;
            const int q3 = ((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4) - 32;
            const int q4 = ((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4) - 32;
            y[l] = d * (float)sc[is + 0] * (float)q1;
            y[l + 32] = d * (float)sc[is + 2] * (float)q2;
            y[l + 64] = d * (float)sc[is + 4] * (float)q3;
            y[l + 96] = d * (float)sc[is + 6] * (float)q4;
        }
        y += 128;
        ql += 64;
        qh += 32;
        sc += 8;
    }
}

typedef void (*dq_block_cb)(const uint8_t *b, float *y);

/* Block kernel of a quantised type, or NULL for F32/F16/BF16 and unsupported ids. */
static dq_block_cb block_fn(uint32_t type)
{
    switch (type) {
    case ENG_TYPE_Q4_0: return dq_q4_0;
    case ENG_TYPE_Q4_1: return dq_q4_1;
    case ENG_TYPE_Q5_0: return dq_q5_0;
    case ENG_TYPE_Q5_1: return dq_q5_1;
    case ENG_TYPE_Q8_0: return dq_q8_0;
    case ENG_TYPE_Q4_K: return dq_q4_k;
    case ENG_TYPE_Q5_K: return dq_q5_k;
    case ENG_TYPE_Q6_K: return dq_q6_k;
    default: return NULL;
    }
}

/* ---- public kernels ---------------------------------------------------------------------- */

bool eng_type_supported(uint32_t type)
{
    return type == ENG_TYPE_F32 || type == ENG_TYPE_F16 || type == ENG_TYPE_BF16 ||
           block_fn(type) != NULL;
}

int eng_dequant_row_ref(uint32_t type, const void *src, float *dst, int64_t n)
{
    if (!eng_type_supported(type)) return ENG_ERR_UNSUPPORTED;
    const int64_t bs = eng_type_block_size(type);
    if (n < 0 || n % bs != 0) return ENG_ERR_RANGE;
    const uint8_t *p = src;

    switch (type) {
    case ENG_TYPE_F32:
        for (int64_t i = 0; i < n; i++)
            dst[i] = bits_f32(eng_ld32(p + 4 * i));
        return 0;
    case ENG_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = eng_f16_to_f32(eng_ld16(p + 2 * i));
        return 0;
    case ENG_TYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            dst[i] = eng_bf16_to_f32(eng_ld16(p + 2 * i));
        return 0;
    default: break;
    }

    const dq_block_cb fn = block_fn(type);
    const size_t bb = eng_type_block_bytes(type);
    for (int64_t i = 0; i < n / bs; i++)
        fn(p + (size_t)i * bb, dst + i * bs);
    return 0;
}

/* Returns NaN for an unsupported type or an `n` that is not a whole number of blocks. */
float eng_vec_dot_ref(uint32_t type, const void *row, const float *x, int64_t n)
{
    if (!eng_type_supported(type)) return NAN;
    const int64_t bs = eng_type_block_size(type);
    if (n < 0 || n % bs != 0) return NAN;

    /* Elements dequantised per step: one block, or CHUNK elements of a per-element type. */
    const int64_t step = bs == 1 ? CHUNK : bs;
    const size_t step_bytes = (size_t)(step / bs) * eng_type_block_bytes(type);
    const dq_block_cb fn = block_fn(type); /* NULL for F32/F16/BF16 */
    const uint8_t *p = row;
    float w[BUF_EL];
    double acc = 0.0;

    for (int64_t i = 0; i < n; i += step) {
        const int64_t len = n - i < step ? n - i : step;
        if (fn)
            fn(p, w);
        else
            eng_dequant_row_ref(type, p, w, len); /* cannot fail: type and len checked above */
        float s = 0.0f;
        for (int64_t j = 0; j < len; j++)
            s += x[i + j] * w[j];
        acc += (double)s;
        p += step_bytes;
    }
    return (float)acc;
}
