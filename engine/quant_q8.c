/* 8-bit activations: quantising an f32 activation row the way llama.cpp does before a matmul
 * with quantised weights, and the integer block dot products between a weight row and such a row.
 *
 * Owns no state: every function is pure, allocation-free and callable from any thread. These
 * are `_ref` kernels: portable C that defines the results, so later SIMD kernels can be tested
 * against them bit for bit.
 *
 * Why: llama.cpp (whose runs are our GGUF reference logits) never multiplies a quantised weight
 * by an f32 activation. Each matmul first quantises the activation row once into the weight
 * type's "vec_dot_type" (ggml-cpu/ggml-cpu.c, type_traits_cpu[].vec_dot_type) and then takes
 * integer dot products block by block. Keeping f32 activations differs from llama.cpp by a few
 * 1e-2 per logit on Q4_0 (shared/README.md), enough to flip close argmaxes.
 *
 * Pairing (type_traits_cpu): Q4_0, Q5_0, Q8_0 -> Q8_0; Q4_1, Q5_1 -> Q8_1;
 * Q4_K, Q5_K, Q6_K -> Q8_K; F32, F16, BF16 -> F32 (our choice: float weights keep exact f32
 * activations, so Hugging Face checkpoints stay exact; ggml would round to F16/BF16).
 *
 * Activation block formats (ggml/src/ggml-common.h; little endian, f16 = IEEE binary16):
 *   Q8_0  32 elems, 34 B: f16 d | int8 qs[32]                          x ~ q * d
 *   Q8_1  32 elems, 36 B: f16 d, f16 s | int8 qs[32]   s = d * sum(q)   x ~ q * d
 *   Q8_K 256 elems, 292 B: f32 d | int8 qs[256] | int16 bsums[16]      x ~ q * d
 *         bsums[j] = sum of qs[16j .. 16j+15] (the K-quant dot products use them for the mins).
 * Weight block formats: see quant.c.
 *
 * Q8_0/Q8_1 follow llama.cpp's x86 SIMD quantisation, not ggml's generic reference: our
 * reference logits come from x86 builds, and on them quantize_row_q8_0 / quantize_row_q8_1
 * (ggml/src/ggml-cpu/arch/x86/quants.c, the AVX/AVX2 path, which AVX-512 builds take too) never
 * call quantize_row_q8_0_ref / _q8_1_ref. Measured: with these semantics our Q4_0 logits track
 * llama.cpp's closer (argmax 49/49 instead of 48/49 on one reference file). Per block:
 *   amax = max |x| (the fold `a > b ? a : b` from 0; the SIMD max_ps tree gives the same value
 *     for any block without NaN), d = amax / 127 in f32, id = amax != 0 ? 127 / amax : 0 (not
 *     ggml_ref's 1/d, which differs in the last bit for some amax), q = x * id rounded half to
 *     even (_mm256_round_ps with _MM_ROUND_NEAREST; ggml_ref's roundf goes half away from zero
 *     and differs on exact .5 ties). The block stores d rounded to f16, but q was computed with
 *     the f32 id. Q8_1 adds s = f16(d * (float)sum(q)): the x86 code sums the 32 int32 results
 *     of _mm256_cvtps_epi32 (before they are packed to int8) and multiplies by the f32 d.
 *   Rounding is nearbyintf in the default FE_TONEAREST mode; the engine never changes the
 *   floating-point rounding mode (nothing in glmterm calls fesetround).
 *   Builds without AVX use the generic reference instead; we do not follow those.
 *
 * Q8_K (ggml/src/ggml-quants.c quantize_row_q8_K_ref; the x86 quantize_row_q8_K calls it too):
 *   max = the signed x of largest |x| (the first one on ties); all zero -> d = 0, q = 0.
 *   Otherwise iscale = -127 / max, q = min(127, nearest_int(iscale * x)) with ggml's
 *   nearest_int (add 1.5 * 2^23, read the mantissa: round half to even), d = 1 / iscale
 *   = -max / 127 (the largest-magnitude element quantises to -127; d has the sign opposite
 *   to max's).
 *
 * Dot products (ggml/src/ggml-cpu/quants.c, ggml_vec_dot_<w>_<act>_generic), float sums start
 * at 0 and run over the blocks in order:
 *   Q4_0: sumi = sumi0 + sumi1 (low / high nibble halves); sumf += ((float)sumi * dw) * dy
 *   Q5_0: sumf += (dw * dy) * (float)sumi
 *   Q8_0: sumf += (float)sumi * (dw * dy)
 *   Q4_1, Q5_1: sumf += (dw * dy) * (float)sumi + mw * sy
 *   Q4_K, Q5_K: per super-block, aux32[l] (l = 0..7) collects scale * q8[e] * qw[e] over the
 *     elements e with e % 8 == l (the 8-lane arrays of the generic code; integer, so the order
 *     within a lane does not matter); then d = dw * dy, sums[l] += d * (float)aux32[l] for
 *     l = 0..7; dmin = dminw * dy, sumf -= dmin * (float)sumi_min with
 *     sumi_min = sum_j bsums[j] * min[j / 2]. After the last super-block
 *     sumf += sums[0] ... sums[7] in lane order.
 *   Q6_K: the same lanes with the int8 sub-block scales, no mins.
 * Weight and activation integers are formed exactly and converted to float once, as ggml does.
 *
 * Where C leaves a conversion undefined we define it as the x86 code computes it. Q8_0/Q8_1:
 * _mm256_cvtps_epi32 turns NaN and values outside int32 into INT32_MIN, the packs saturate to
 * int8, so such a q is -128 and adds INT32_MIN (wrapping) to Q8_1's sum; this happens only
 * for non-finite x or amax < 127 / FLT_MAX ~ 3.7e-37, where id = inf (d is then 0 in f16).
 * Q8_K: nearest_int outside its asserted range keeps the low byte of ggml's bit trick, and
 * all-zero blocks get zero bsums (ggml leaves them unwritten; d = 0 makes them irrelevant).
 * Blocks holding a NaN are not bit-exact with the SIMD build (max_ps drops or keeps a NaN by
 * lane position, our fold by element order); their results are meaningless either way.
 * Activations beyond f16's range behave as in llama.cpp: Q8_0/Q8_1 store d = inf once
 * amax > 65504 * 127, and Q8_1's s = inf once |sum of a block| > 65504 (Q4_1/Q5_1 dots then
 * give inf or NaN).
 *
 * Contraction stays off (GCC does not contract in the ISO C mode the project builds in; the
 * pragma covers clang), so every product and sum rounds as written. A ggml built in GNU C mode
 * for an FMA target may fuse `sums[l] += d * aux32[l]` and the like and differ in the last bit.
 *
 * The dot products stay the generic ones: llama.cpp's SIMD dot products add in other orders
 * with FMA and differ from these in the last bits.
 */
#include "engine/eng_int.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK   32  /* elements per Q4_0 ... Q8_1 block (ggml-common.h QK8_0) */
#define QK_K 256 /* elements per K-quant / Q8_K super-block (ggml-common.h QK_K) */

#define Q8_0_BYTES 34  /* sizeof(block_q8_0) */
#define Q8_1_BYTES 36  /* sizeof(block_q8_1) */
#define Q8_K_BYTES 292 /* sizeof(block_q8_K): 4 + 256 + 16 * 2 */

/* ---- little-endian field access ---------------------------------------------------------- */

static inline float ldh(const uint8_t *p)
{
    return eng_f16_to_f32(eng_ld16(p));
}

/* The signed value of a stored int8 byte. */
static inline int i8(uint8_t b)
{
    return b < 128 ? (int)b : (int)b - 256;
}

/* The signed value of a stored int16. */
static inline int i16(uint16_t v)
{
    return v < 32768u ? (int)v : (int)v - 65536;
}

/* x86's _mm256_round_ps(v, _MM_ROUND_NEAREST) then _mm256_cvtps_epi32: round half to even (the
 * engine keeps the default FE_TONEAREST mode), then INT32_MIN ("integer indefinite") for NaN
 * and for results outside int32. */
static inline int32_t cvt_nearest_i32(float v)
{
    const float r = nearbyintf(v);
    return (r >= -2147483648.0f && r < 2147483648.0f) ? (int32_t)r : INT32_MIN;
}

/* _mm256_packs_epi32 then _mm256_packs_epi16: signed saturation to int8. */
static inline int8_t sat_i8(int32_t v)
{
    return (int8_t)(v > 127 ? 127 : v < -128 ? -128 : v);
}

/* ggml's nearest_int: round half to even by adding 1.5 * 2^23 and reading the mantissa. Exact
 * for |f| <= 4194303 (ggml asserts that); outside it we return what the trick gives. */
static inline int nearest_int(float f)
{
    const float v = f + 12582912.0f;
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return (int)(u & 0x007fffffu) - 0x00400000;
}

/* ---- quantisation, one block each -------------------------------------------------------- */

/* max |x| over a Q8_0/Q8_1 block, folded as ggml's MAX(amax, a) (NaN behaviour included). */
static float block_amax(const float *x)
{
    float amax = 0.0f;
    for (int j = 0; j < QK; j++) {
        const float a = fabsf(x[j]);
        amax = amax > a ? amax : a;
    }
    return amax;
}

static void q8_0_block(const float *x, uint8_t *b)
{
    const float amax = block_amax(x);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f; /* x86: 127/amax, not 1/d */
    eng_st16(b, eng_f32_to_f16(d));
    for (int j = 0; j < QK; j++)
        b[2 + j] = (uint8_t)sat_i8(cvt_nearest_i32(x[j] * id));
}

static void q8_1_block(const float *x, uint8_t *b)
{
    const float amax = block_amax(x);
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    eng_st16(b, eng_f32_to_f16(d));
    uint32_t usum = 0; /* the int32 lane sum, wrapping as _mm256_add_epi32 does */
    for (int j = 0; j < QK; j++) {
        const int32_t v = cvt_nearest_i32(x[j] * id);
        b[4 + j] = (uint8_t)sat_i8(v);
        usum += (uint32_t)v;
    }
    const int32_t sum = usum <= INT32_MAX ? (int32_t)usum : -(int32_t)(~usum) - 1;
    eng_st16(b + 2, eng_f32_to_f16(d * (float)sum));
}

static void q8_k_block(const float *x, uint8_t *b)
{
    float max = 0.0f, amax = 0.0f;
    for (int j = 0; j < QK_K; j++) {
        const float a = fabsf(x[j]);
        if (a > amax) {
            amax = a;
            max = x[j];
        }
    }
    uint8_t *qs = b + 4;
    uint8_t *bsums = b + 4 + QK_K;
    if (amax == 0.0f) {
        eng_stf(b, 0.0f);
        memset(qs, 0, QK_K + 2 * (QK_K / 16));
        return;
    }
    const float iscale = -127.0f / max;
    for (int j = 0; j < QK_K; j++) {
        const int v = nearest_int(iscale * x[j]);
        /* min(127, v) stored to int8: ggml's int -> int8 conversion keeps the low byte */
        qs[j] = (uint8_t)((uint32_t)(v < 127 ? v : 127) & 0xffu);
    }
    for (int g = 0; g < QK_K / 16; g++) {
        int sum = 0;
        for (int k = 0; k < 16; k++)
            sum += i8(qs[16 * g + k]);
        eng_st16(bsums + 2 * g, (uint16_t)(int16_t)sum); /* |sum| <= 16 * 128 fits */
    }
    eng_stf(b, 1.0f / iscale);
}

/* ---- dot products, whole rows ------------------------------------------------------------ */

static float dot_q4_0(const uint8_t *w, const uint8_t *y, int64_t nb)
{
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++, w += 18, y += Q8_0_BYTES) {
        const uint8_t *qs = w + 2, *q8 = y + 2;
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < QK / 2; j++) {
            sumi0 += ((qs[j] & 0x0f) - 8) * i8(q8[j]);
            sumi1 += ((qs[j] >> 4) - 8) * i8(q8[j + QK / 2]);
        }
        const int sumi = sumi0 + sumi1;
        sumf += (float)sumi * ldh(w) * ldh(y);
    }
    return sumf;
}

static float dot_q4_1(const uint8_t *w, const uint8_t *y, int64_t nb)
{
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++, w += 20, y += Q8_1_BYTES) {
        const uint8_t *qs = w + 4, *q8 = y + 4;
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < QK / 2; j++) {
            sumi0 += (qs[j] & 0x0f) * i8(q8[j]);
            sumi1 += (qs[j] >> 4) * i8(q8[j + QK / 2]);
        }
        const int sumi = sumi0 + sumi1;
        sumf += (ldh(w) * ldh(y)) * (float)sumi + ldh(w + 2) * ldh(y + 2);
    }
    return sumf;
}

static float dot_q5_0(const uint8_t *w, const uint8_t *y, int64_t nb)
{
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++, w += 22, y += Q8_0_BYTES) {
        const uint32_t qh = eng_ld32(w + 2);
        const uint8_t *qs = w + 6, *q8 = y + 2;
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < QK / 2; j++) {
            const int h0 = (int)((qh >> j) & 1u) << 4;
            const int h1 = (int)((qh >> (j + QK / 2)) & 1u) << 4;
            sumi0 += (((qs[j] & 0x0f) | h0) - 16) * i8(q8[j]);
            sumi1 += (((qs[j] >> 4) | h1) - 16) * i8(q8[j + QK / 2]);
        }
        const int sumi = sumi0 + sumi1;
        sumf += (ldh(w) * ldh(y)) * (float)sumi;
    }
    return sumf;
}

static float dot_q5_1(const uint8_t *w, const uint8_t *y, int64_t nb)
{
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++, w += 24, y += Q8_1_BYTES) {
        const uint32_t qh = eng_ld32(w + 4);
        const uint8_t *qs = w + 8, *q8 = y + 4;
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < QK / 2; j++) {
            const int h0 = (int)((qh >> j) & 1u) << 4;
            const int h1 = (int)((qh >> (j + QK / 2)) & 1u) << 4;
            sumi0 += ((qs[j] & 0x0f) | h0) * i8(q8[j]);
            sumi1 += ((qs[j] >> 4) | h1) * i8(q8[j + QK / 2]);
        }
        const int sumi = sumi0 + sumi1;
        sumf += (ldh(w) * ldh(y)) * (float)sumi + ldh(w + 2) * ldh(y + 2);
    }
    return sumf;
}

static float dot_q8_0(const uint8_t *w, const uint8_t *y, int64_t nb)
{
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < nb; ib++, w += 34, y += Q8_0_BYTES) {
        int sumi = 0;
        for (int j = 0; j < QK; j++)
            sumi += i8(w[2 + j]) * i8(y[2 + j]);
        sumf += (float)sumi * (ldh(w) * ldh(y));
    }
    return sumf;
}

/* The integer part shared by the K-quant dot products: a[e] are the 256 weight integers of a
 * super-block in element order, scale[e / 16] the scale of each 16-element group; adds
 * scale * q8[e] * a[e] into lane e % 8. */
static void k_lanes(const int8_t *a, const int *scale16, const uint8_t *q8, int32_t aux32[8])
{
    for (int e = 0; e < QK_K; e++)
        aux32[e % 8] += scale16[e / 16] * (i8(q8[e]) * a[e]);
}

/* Q4_K (has_qh = 0) and Q5_K (has_qh = 1); the block layouts differ only by qh[32]. */
static float dot_q45_k(const uint8_t *w, const uint8_t *y, int64_t nb, int has_qh)
{
    const size_t wbytes = has_qh ? 176 : 144;
    float sums[8] = {0};
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += wbytes, y += Q8_K_BYTES) {
        const uint8_t *scales = w + 4;
        const uint8_t *qh = w + 16;
        const uint8_t *qs = w + (has_qh ? 48 : 16);
        int8_t a[QK_K];
        for (int c = 0; c < 4; c++) { /* 64-element chunks: sub-blocks 2c (low), 2c+1 (high) */
            const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
            for (int l = 0; l < 32; l++) {
                a[64 * c + l] =
                    (int8_t)((qs[32 * c + l] & 0x0f) + (has_qh && (qh[l] & u1) ? 16 : 0));
                a[64 * c + 32 + l] =
                    (int8_t)((qs[32 * c + l] >> 4) + (has_qh && (qh[l] & u2) ? 16 : 0));
            }
        }
        int32_t sc8[8], mn8[8], scale16[16];
        for (int j = 0; j < 8; j++) {
            eng_k4_scale_min(j, scales, &sc8[j], &mn8[j]);
            scale16[2 * j] = scale16[2 * j + 1] = sc8[j];
        }
        int sumi = 0;
        for (int j = 0; j < QK_K / 16; j++)
            sumi += i16(eng_ld16(y + 4 + QK_K + 2 * j)) * mn8[j / 2];
        int32_t aux32[8] = {0};
        k_lanes(a, scale16, y + 4, aux32);
        const float dy = eng_ldf(y);
        const float d = ldh(w) * dy;
        for (int l = 0; l < 8; l++)
            sums[l] += d * (float)aux32[l];
        const float dmin = ldh(w + 2) * dy;
        sumf -= dmin * (float)sumi;
    }
    for (int l = 0; l < 8; l++)
        sumf += sums[l];
    return sumf;
}

static float dot_q6_k(const uint8_t *w, const uint8_t *y, int64_t nb)
{
    float sums[8] = {0};
    float sumf = 0.0f;
    for (int64_t i = 0; i < nb; i++, w += 210, y += Q8_K_BYTES) {
        const uint8_t *ql = w, *qh = w + 128;
        int8_t a[QK_K];
        for (int h = 0; h < 2; h++) { /* halves of 128 elements */
            int8_t *ah = a + 128 * h;
            const uint8_t *qlh = ql + 64 * h, *qhh = qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ah[l] = (int8_t)(((qlh[l] & 0x0f) | (qhh[l] & 3) << 4) - 32);
                ah[l + 32] = (int8_t)(((qlh[l + 32] & 0x0f) | (qhh[l] >> 2 & 3) << 4) - 32);
                ah[l + 64] = (int8_t)(((qlh[l] >> 4) | (qhh[l] >> 4 & 3) << 4) - 32);
                ah[l + 96] = (int8_t)(((qlh[l + 32] >> 4) | (qhh[l] >> 6) << 4) - 32);
            }
        }
        int scale16[16];
        for (int j = 0; j < 16; j++)
            scale16[j] = i8(w[192 + j]);
        int32_t aux32[8] = {0};
        k_lanes(a, scale16, y + 4, aux32);
        const float d = ldh(w + 208) * eng_ldf(y);
        for (int l = 0; l < 8; l++)
            sums[l] += d * (float)aux32[l];
    }
    for (int l = 0; l < 8; l++)
        sumf += sums[l];
    return sumf;
}

/* ---- public ------------------------------------------------------------------------------ */

uint32_t eng_vec_dot_type(uint32_t wtype)
{
    switch (wtype) {
    case ENG_TYPE_Q4_0:
    case ENG_TYPE_Q5_0:
    case ENG_TYPE_Q8_0: return ENG_TYPE_Q8_0;
    case ENG_TYPE_Q4_1:
    case ENG_TYPE_Q5_1: return ENG_TYPE_Q8_1;
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K:
    case ENG_TYPE_Q6_K: return ENG_TYPE_Q8_K;
    case ENG_TYPE_F32:
    case ENG_TYPE_F16:
    case ENG_TYPE_BF16: return ENG_TYPE_F32;
    default: return ENG_TYPE_COUNT;
    }
}

/* Elements and bytes per block of an activation type; 0 when it is not one. */
static int act_block(uint32_t act_type, int64_t *elems, size_t *bytes)
{
    switch (act_type) {
    case ENG_TYPE_F32: *elems = 1, *bytes = 4; return 1;
    case ENG_TYPE_Q8_0: *elems = QK, *bytes = Q8_0_BYTES; return 1;
    case ENG_TYPE_Q8_1: *elems = QK, *bytes = Q8_1_BYTES; return 1;
    case ENG_TYPE_Q8_K: *elems = QK_K, *bytes = Q8_K_BYTES; return 1;
    default: return 0;
    }
}

size_t eng_act_row_bytes(uint32_t act_type, int64_t n)
{
    int64_t bs;
    size_t bb;
    if (!act_block(act_type, &bs, &bb) || n < 0 || n % bs != 0) return 0;
    return (size_t)(n / bs) * bb;
}

int eng_quantize_row_ref(uint32_t act_type, const float *x, void *dst, int64_t n)
{
    int64_t bs;
    size_t bb;
    if (!act_block(act_type, &bs, &bb)) return ENG_ERR_UNSUPPORTED;
    if (n < 0 || n % bs != 0) return ENG_ERR_RANGE;
    uint8_t *p = dst;
    if (act_type == ENG_TYPE_F32) {
        if (n > 0) memcpy(p, x, (size_t)n * sizeof *x);
        return 0;
    }
    for (int64_t i = 0; i < n / bs; i++, x += bs, p += bb) {
        switch (act_type) {
        case ENG_TYPE_Q8_0: q8_0_block(x, p); break;
        case ENG_TYPE_Q8_1: q8_1_block(x, p); break;
        default: q8_k_block(x, p); break;
        }
    }
    return 0;
}

float eng_vec_dot_q8_ref(uint32_t wtype, const void *w, const void *xq, int64_t n)
{
    const uint32_t at = eng_vec_dot_type(wtype);
    if (at == ENG_TYPE_COUNT) return NAN;
    if (at == ENG_TYPE_F32) return eng_vec_dot_ref(wtype, w, xq, n);
    const int64_t bs = eng_type_block_size(wtype);
    if (n < 0 || n % bs != 0) return NAN;
    const int64_t nb = n / bs;
    const uint8_t *pw = w, *py = xq;
    switch (wtype) {
    case ENG_TYPE_Q4_0: return dot_q4_0(pw, py, nb);
    case ENG_TYPE_Q4_1: return dot_q4_1(pw, py, nb);
    case ENG_TYPE_Q5_0: return dot_q5_0(pw, py, nb);
    case ENG_TYPE_Q5_1: return dot_q5_1(pw, py, nb);
    case ENG_TYPE_Q8_0: return dot_q8_0(pw, py, nb);
    case ENG_TYPE_Q4_K: return dot_q45_k(pw, py, nb, 0);
    case ENG_TYPE_Q5_K: return dot_q45_k(pw, py, nb, 1);
    default: return dot_q6_k(pw, py, nb);
    }
}
