/* Model quantisation: a GGUF file or a Hugging Face directory in, a quantised GGUF v3 file out,
 * tensor for tensor what llama.cpp's llama-quantize (without an importance matrix) writes.
 *
 * Three layers:
 *  - row quantisers (`q_*`): ggml's reference quantize_row_*_ref (ggml/src/ggml-quants.c,
 *    ggml-org/llama.cpp) re-derived here, keeping ggml's float operations and their order,
 *    because llama-quantize uses exactly these when no imatrix is given (quantize_q4_0() etc.
 *    fall back to the _ref rows). Contraction is off (ISO C mode; the pragma covers clang), so
 *    every product is rounded before it is added, as in a build of ggml without FMA contraction.
 *  - the type policy (`pick_type`): llama_tensor_get_type of src/llama-quant.cpp as of the
 *    llama.cpp that made the fixtures (attn_qkv gets Q5_K in Q4_K_M, Q6_K in Q5_K_M; attn_v and
 *    ffn_down get Q6_K on use_more_bits layers; output.weight Q6_K, or Q8_0 when its rows are not
 *    whole blocks of the ftype's type; fallbacks Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, then F16),
 *    with tensors visited in llama-quantize's order (non-layer tensors by name, then layer by
 *    layer, by name within a layer: llama_model_loader's weight_name_comparer).
 *  - the driver: builds the list of input tensors (`struct qtensor`: up to three row ranges, so
 *    -hf split q/k/v can be written as one fused attn_qkv), the keys, and streams the output
 *    through eng_gguf_writer_write_cb one tensor at a time (rows spread over threads; each row
 *    is independent, so the bytes do not depend on the thread count).
 */
#include "engine/eng_int.h"

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK            32     /* ggml-common.h QK4_0 = QK4_1 = QK5_0 = QK5_1 = QK8_0 */
#define QK_K          256    /* ggml-common.h QK_K */
#define GROUP_MAX_EPS 1e-15f /* ggml-quants.c */
#define QNT_VERSION   2      /* ggml.h GGML_QNT_VERSION */
#define MAX_THREADS   64
#define NAME_MAX_LEN  96

/* ==== ftypes ================================================================================ */

static const struct {
    int ftype;
    const char *name;
    uint32_t type; /* llama_ftype_get_default_type */
} FTYPES[] = {
    {ENG_FTYPE_Q8_0, "Q8_0", ENG_TYPE_Q8_0},     {ENG_FTYPE_Q4_0, "Q4_0", ENG_TYPE_Q4_0},
    {ENG_FTYPE_Q4_1, "Q4_1", ENG_TYPE_Q4_1},     {ENG_FTYPE_Q5_0, "Q5_0", ENG_TYPE_Q5_0},
    {ENG_FTYPE_Q5_1, "Q5_1", ENG_TYPE_Q5_1},     {ENG_FTYPE_Q4_K_M, "Q4_K_M", ENG_TYPE_Q4_K},
    {ENG_FTYPE_Q5_K_M, "Q5_K_M", ENG_TYPE_Q5_K}, {ENG_FTYPE_Q6_K, "Q6_K", ENG_TYPE_Q6_K},
    {ENG_FTYPE_F16, "F16", ENG_TYPE_F16},        {ENG_FTYPE_BF16, "BF16", ENG_TYPE_BF16},
};
#define N_FTYPES (sizeof FTYPES / sizeof FTYPES[0])

int eng_ftype_parse(const char *name)
{
    for (size_t i = 0; name && i < N_FTYPES; i++)
        if (strcasecmp(name, FTYPES[i].name) == 0) return FTYPES[i].ftype;
    return -1;
}

const char *eng_ftype_name(int ftype)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (FTYPES[i].ftype == ftype) return FTYPES[i].name;
    return NULL;
}

static uint32_t ftype_default_type(int ftype)
{
    for (size_t i = 0; i < N_FTYPES; i++)
        if (FTYPES[i].ftype == ftype) return FTYPES[i].type;
    return ENG_TYPE_COUNT;
}

/* ==== row quantisers ======================================================================== */

static inline float f16_round(float f) /* GGML_FP16_TO_FP32(GGML_FP32_TO_FP16(f)) */
{
    return eng_f16_to_f32(eng_f32_to_f16(f));
}

/* ggml-quants.c nearest_int: round to nearest, ties to even, through the float adder
 * (valid for |f| <= 4194303, which ggml asserts). */
static inline int nearest_int(float fval)
{
    float val = fval + 12582912.f;
    int32_t i;
    memcpy(&i, &val, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static inline int imin(int a, int b)
{
    return a < b ? a : b;
}

static inline int imax(int a, int b)
{
    return a > b ? a : b;
}

/* Q4_0: 18 bytes per 32: f16 d | qs[16]; d = max / -8 where max is the signed value of largest
 * magnitude (the first one found on ties). */
static void q_q4_0(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK, y += 18) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -8;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        eng_st16(y, eng_f32_to_f16(d));
        for (int j = 0; j < QK / 2; j++) {
            const float x0 = x[j] * id;
            const float x1 = x[QK / 2 + j] * id;
            /* ggml: MIN(15, (int8_t)(x0 + 8.5f)); the sum is in [0.5, 16.5] */
            const int xi0 = imin(15, (int)(x0 + 8.5f));
            const int xi1 = imin(15, (int)(x1 + 8.5f));
            y[2 + j] = (uint8_t)(xi0 | xi1 << 4);
        }
    }
}

static void q_q4_1(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK, y += 20) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / ((1 << 4) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        eng_st16(y, eng_f32_to_f16(d));
        eng_st16(y + 2, eng_f32_to_f16(min));
        for (int j = 0; j < QK / 2; j++) {
            const float x0 = (x[j] - min) * id;
            const float x1 = (x[QK / 2 + j] - min) * id;
            const int xi0 = imin(15, (int)(x0 + 0.5f));
            const int xi1 = imin(15, (int)(x1 + 0.5f));
            y[4 + j] = (uint8_t)(xi0 | xi1 << 4);
        }
    }
}

static void q_q5_0(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK, y += 22) {
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK; j++) {
            if (amax < fabsf(x[j])) {
                amax = fabsf(x[j]);
                max = x[j];
            }
        }
        const float d = max / -16;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        eng_st16(y, eng_f32_to_f16(d));
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            const float x0 = x[j] * id;
            const float x1 = x[QK / 2 + j] * id;
            const int xi0 = imin(31, (int)(x0 + 16.5f));
            const int xi1 = imin(31, (int)(x1 + 16.5f));
            y[6 + j] = (uint8_t)((xi0 & 0x0f) | (xi1 & 0x0f) << 4);
            qh |= (uint32_t)((xi0 & 0x10) >> 4) << j;
            qh |= (uint32_t)((xi1 & 0x10) >> 4) << (j + QK / 2);
        }
        for (int b = 0; b < 4; b++)
            y[2 + b] = (uint8_t)(qh >> (8 * b));
    }
}

static void q_q5_1(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK, y += 24) {
        float min = FLT_MAX, max = -FLT_MAX;
        for (int j = 0; j < QK; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / ((1 << 5) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        eng_st16(y, eng_f32_to_f16(d));
        eng_st16(y + 2, eng_f32_to_f16(min));
        uint32_t qh = 0;
        for (int j = 0; j < QK / 2; j++) {
            const float x0 = (x[j] - min) * id;
            const float x1 = (x[QK / 2 + j] - min) * id;
            const int xi0 = (uint8_t)(int)(x0 + 0.5f); /* ggml: (uint8_t)(x0 + 0.5f), no clamp */
            const int xi1 = (uint8_t)(int)(x1 + 0.5f);
            y[8 + j] = (uint8_t)((xi0 & 0x0f) | (xi1 & 0x0f) << 4);
            qh |= (uint32_t)((xi0 & 0x10) >> 4) << j;
            qh |= (uint32_t)((xi1 & 0x10) >> 4) << (j + QK / 2);
        }
        for (int b = 0; b < 4; b++)
            y[4 + b] = (uint8_t)(qh >> (8 * b));
    }
}

static void q_q8_0(const float *x, uint8_t *y, int64_t nb)
{
    for (int64_t i = 0; i < nb; i++, x += QK, y += 34) {
        float amax = 0.0f;
        for (int j = 0; j < QK; j++)
            amax = amax > fabsf(x[j]) ? amax : fabsf(x[j]); /* ggml MAX(amax, fabsf(v)) */
        const float d = amax / ((1 << 7) - 1);
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        eng_st16(y, eng_f32_to_f16(d));
        for (int j = 0; j < QK; j++)
            y[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id); /* half away from zero */
    }
}

/* ggml-quants.c make_qkx2_quants: scale and min of one sub-block for the asymmetric K-types. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep,
                              bool use_mad)
{
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; ++i) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        float w = weights[i];
        sum_w += w;
        sum_x += w * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        *the_min = -min;
        return 0.f;
    }
    float iscale = nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)imax(0, imin(nmax, l));
        float diff = scale * L[i] + min - x[i];
        diff = use_mad ? fabsf(diff) : diff * diff;
        float w = weights[i];
        best_error += w * diff;
    }
    if (nstep < 1) {
        *the_min = -min;
        return scale;
    }
    for (int is = 0; is <= nstep; ++is) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * (x[i] - min));
            l = imax(0, imin(nmax, l));
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            sum_l += w * l;
            sum_l2 += w * l * l;
            sum_xl += w * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D > 0) {
            float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
            float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; ++i) {
                float diff = this_scale * Laux[i] + this_min - x[i];
                diff = use_mad ? fabsf(diff) : diff * diff;
                float w = weights[i];
                cur_error += w * diff;
            }
            if (cur_error < best_error) {
                for (int i = 0; i < n; ++i)
                    L[i] = Laux[i];
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

/* ggml-quants.c make_qx_quants with rmse_type 1 and no weights (the only use: Q6_K). */
static float make_qx_quants(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; ++i) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        for (int i = 0; i < n; ++i)
            L[i] = 0;
        return 0.f;
    }
    float iscale = -nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; ++i) {
        int l = nearest_int(iscale * x[i]);
        l = imax(-nmax, imin(nmax - 1, l));
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; ++is) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; ++i) {
            int l = nearest_int(iscale * x[i]);
            l = imax(-nmax, imin(nmax - 1, l));
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; ++i) {
                int l = nearest_int(iscale * x[i]);
                L[i] = (int8_t)(nmax + imax(-nmax, imin(nmax - 1, l)));
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* Packs the 6-bit scales and mins of 8 sub-blocks into 12 bytes (the inverse of
 * get_scale_min_k4, quant.c). */
static void pack_scales_k4(uint8_t *s, const uint8_t *ls, const uint8_t *lm)
{
    memset(s, 0, 12);
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            s[j] = ls[j];
            s[j + 4] = lm[j];
        } else {
            s[j + 4] = (uint8_t)((ls[j] & 0xf) | (lm[j] & 0xf) << 4);
            s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
            s[j] |= (uint8_t)((lm[j] >> 4) << 6);
        }
    }
}

/* Q4_K (nbits 4) and Q5_K (nbits 5): quantize_row_q4_K_ref / quantize_row_q5_K_ref. */
static void q_qk_asym(const float *x, uint8_t *y, int64_t nb, int nbits)
{
    const int nmax = (1 << nbits) - 1;
    const size_t bb = nbits == 4 ? 144 : 176;
    uint8_t L[QK_K], Laux[32], ls[8], lm[8];
    float mins[8], scales[8], weights[32];

    for (int64_t i = 0; i < nb; i++, x += QK_K, y += bb) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < QK_K / 32; ++j) {
            const float *xs = x + 32 * j;
            float sum_x2 = 0;
            for (int l = 0; l < 32; ++l)
                sum_x2 += xs[l] * xs[l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; ++l)
                weights[l] = av_x + fabsf(xs[l]);
            /* ggml: Q4_K searches rmin -1 in 20 steps, Q5_K rmin -0.5 in 15 */
            if (nbits == 4)
                scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux,
                                             -1.f, 0.1f, 20, false);
            else
                scales[j] = make_qkx2_quants(32, nmax, xs, weights, L + 32 * j, &mins[j], Laux,
                                             -0.5f, 0.1f, 15, false);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        for (int j = 0; j < QK_K / 32; ++j) {
            uint8_t a = (uint8_t)nearest_int(inv_scale * scales[j]);
            uint8_t b = (uint8_t)nearest_int(inv_min * mins[j]);
            ls[j] = a < 63 ? a : 63;
            lm[j] = b < 63 ? b : 63;
        }
        uint8_t *sc = y + 4;
        pack_scales_k4(sc, ls, lm);
        const uint16_t dh = eng_f32_to_f16(max_scale / 63.f);
        const uint16_t mh = eng_f32_to_f16(max_min / 63.f);
        eng_st16(y, dh);
        eng_st16(y + 2, mh);
        for (int j = 0; j < QK_K / 32; ++j) {
            int32_t s, m;
            eng_k4_scale_min(j, sc, &s, &m);
            const float d = eng_f16_to_f32(dh) * s;
            if (d == 0.0f) continue;
            const float dm = eng_f16_to_f32(mh) * m;
            for (int ii = 0; ii < 32; ++ii) {
                int l = nearest_int((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (uint8_t)imax(0, imin(nmax, l));
            }
        }
        if (nbits == 4) {
            uint8_t *q = y + 16;
            for (int j = 0; j < QK_K; j += 64) {
                for (int l = 0; l < 32; ++l)
                    q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
                q += 32;
            }
        } else {
            uint8_t *qh = y + 16, *ql = y + 48;
            memset(qh, 0, QK_K / 8);
            uint8_t m1 = 1, m2 = 2;
            for (int n = 0; n < QK_K; n += 64) {
                for (int j = 0; j < 32; ++j) {
                    int l1 = L[n + j];
                    if (l1 > 15) {
                        l1 -= 16;
                        qh[j] |= m1;
                    }
                    int l2 = L[n + j + 32];
                    if (l2 > 15) {
                        l2 -= 16;
                        qh[j] |= m2;
                    }
                    ql[j] = (uint8_t)(l1 | (l2 << 4));
                }
                m1 = (uint8_t)(m1 << 2);
                m2 = (uint8_t)(m2 << 2);
                ql += 32;
            }
        }
    }
}

/* Q6_K, 210 bytes per 256: ql[128] | qh[64] | int8 scales[16] | f16 d. */
static void q_q6_k(const float *x, uint8_t *y, int64_t nb)
{
    int8_t L[QK_K];
    float scales[QK_K / 16];
    for (int64_t i = 0; i < nb; i++, x += QK_K, y += 210) {
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < QK_K / 16; ++ib) {
            const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            scales[ib] = scale;
            const float abs_scale = fabsf(scale);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scale;
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(y, 0, 210);
            continue;
        }
        int8_t *sc = (int8_t *)(y + 192);
        float iscale = -128.f / max_scale;
        const uint16_t dh = eng_f32_to_f16(1 / iscale);
        eng_st16(y + 208, dh);
        for (int ib = 0; ib < QK_K / 16; ++ib)
            sc[ib] = (int8_t)imin(127, nearest_int(iscale * scales[ib]));
        for (int j = 0; j < QK_K / 16; ++j) {
            float d = eng_f16_to_f32(dh) * sc[j];
            if (d == 0.0f) continue;
            for (int ii = 0; ii < 16; ++ii) {
                int l = nearest_int(x[16 * j + ii] / d);
                l = imax(-32, imin(31, l));
                L[16 * j + ii] = (int8_t)(l + 32);
            }
        }
        uint8_t *ql = y, *qh = y + 128;
        for (int j = 0; j < QK_K; j += 128) {
            for (int l = 0; l < 32; ++l) {
                const uint8_t q1 = L[j + l + 0] & 0xf;
                const uint8_t q2 = L[j + l + 32] & 0xf;
                const uint8_t q3 = L[j + l + 64] & 0xf;
                const uint8_t q4 = L[j + l + 96] & 0xf;
                ql[l + 0] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) |
                                  ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
            }
            ql += 64;
            qh += 32;
        }
    }
}

/* ggml's ggml_compute_fp32_to_bf16: NaN -> quiet NaN with the sign and upper payload kept,
 * otherwise round to nearest even on the upper 16 bits (overflow goes to infinity). */
static uint16_t f32_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 64);
    return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

int eng_quantize_weight_row_ref(uint32_t type, const float *x, void *dst, int64_t n)
{
    const uint32_t bs = eng_type_block_size(type);
    if (!bs) return ENG_ERR_UNSUPPORTED;
    if (n < 0 || n % bs != 0) return ENG_ERR_RANGE;
    uint8_t *y = dst;
    const int64_t nb = n / bs;
    switch (type) {
    case ENG_TYPE_F32: memcpy(dst, x, (size_t)n * sizeof *x); return 0;
    case ENG_TYPE_F16:
        for (int64_t i = 0; i < n; i++)
            eng_st16(y + 2 * i, eng_f32_to_f16(x[i]));
        return 0;
    case ENG_TYPE_BF16:
        for (int64_t i = 0; i < n; i++)
            eng_st16(y + 2 * i, f32_to_bf16(x[i]));
        return 0;
    case ENG_TYPE_Q4_0: q_q4_0(x, y, nb); return 0;
    case ENG_TYPE_Q4_1: q_q4_1(x, y, nb); return 0;
    case ENG_TYPE_Q5_0: q_q5_0(x, y, nb); return 0;
    case ENG_TYPE_Q5_1: q_q5_1(x, y, nb); return 0;
    case ENG_TYPE_Q8_0: q_q8_0(x, y, nb); return 0;
    case ENG_TYPE_Q4_K: q_qk_asym(x, y, nb, 4); return 0;
    case ENG_TYPE_Q5_K: q_qk_asym(x, y, nb, 5); return 0;
    case ENG_TYPE_Q6_K: q_q6_k(x, y, nb); return 0;
    default: return ENG_ERR_UNSUPPORTED;
    }
}

/* ==== input tensors ========================================================================= */

struct qpart {
    const uint8_t *data;
    int64_t rows; /* rows of ne[0] elements; for a 1-D tensor, elements */
};

/* One output tensor and where its rows come from. */
struct qtensor {
    char name[NAME_MAX_LEN];
    uint32_t type; /* in the input */
    uint32_t out;  /* in the output */
    uint32_t n_dims;
    int64_t ne[4];
    struct qpart part[3]; /* rows, in order (three for a fused q/k/v) */
    int n_parts;
    int layer; /* "blk.N." -> N, else -1 */
};

static int64_t qt_rows(const struct qtensor *t)
{
    return t->ne[1] * t->ne[2] * t->ne[3];
}

static size_t row_bytes(uint32_t type, int64_t n)
{
    return (size_t)(n / eng_type_block_size(type)) * eng_type_block_bytes(type);
}

static const uint8_t *qt_row(const struct qtensor *t, int64_t r)
{
    const size_t rb = row_bytes(t->type, t->ne[0]);
    for (int p = 0; p < t->n_parts; p++) {
        if (r < t->part[p].rows) return t->part[p].data + (size_t)r * rb;
        r -= t->part[p].rows;
    }
    return NULL; /* not reached: rows are checked when the tensor is built */
}

static int parse_layer(const char *name)
{
    if (strncmp(name, "blk.", 4) != 0) return -1;
    const char *p = name + 4;
    long v = 0;
    int digits = 0;
    while (*p >= '0' && *p <= '9' && digits < 7) {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    return digits > 0 && *p == '.' ? (int)v : -1;
}

/* llama_model_loader's weight_name_comparer: by layer (none = -1 first), then by name. */
static int qt_cmp(const void *a, const void *b)
{
    const struct qtensor *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* ==== type policy (llama-quant.cpp) ========================================================= */

struct qstate {
    int n_attention_wv, i_attention_wv;
    int n_ffn_down, i_ffn_down;
    bool has_output;
};

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

/* tensor_allows_quantization, for the tensors a GLM-4 file can hold. */
static bool allows_quantization(const struct qtensor *t)
{
    int n_dims = 1; /* ggml_n_dims: trailing dimensions of 1 do not count */
    for (int d = 1; d < 4; d++)
        if (t->ne[d] > 1) n_dims = d + 1;
    if (n_dims < 2) return false;
    if (!ends_with(t->name, "weight")) return false;
    if (strstr(t->name, "_norm.weight")) return false;
    if (strstr(t->name, "ffn_gate_inp.weight")) return false;
    if (strcmp(t->name, "position_embd.weight") == 0) return false;
    if (strcmp(t->name, "token_types.weight") == 0) return false;
    return true;
}

static bool use_more_bits(int i_layer, int n_layers)
{
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 ||
           (i_layer - n_layers / 8) % 3 == 2;
}

static bool type_quantized(uint32_t type)
{
    return eng_type_block_size(type) > 1;
}

/* llama_tensor_get_type for ftypes Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K_M, Q5_K_M, Q6_K (no
 * imatrix, no overrides, not "pure"), including the row-size fallback. */
static uint32_t pick_type(struct qstate *qs, const struct qtensor *t, int ftype, uint32_t def)
{
    const char *name = t->name;
    uint32_t nt = def;
    if (strcmp(name, "output.weight") == 0 ||
        (!qs->has_output && strcmp(name, "token_embd.weight") == 0)) {
        if (t->ne[0] % eng_type_block_size(nt) != 0)
            nt = ENG_TYPE_Q8_0;
        else if (nt != ENG_TYPE_Q8_0)
            nt = ENG_TYPE_Q6_K;
    } else if (strcmp(name, "token_embd.weight") == 0) {
        /* the ftypes here leave the embedding at the default type */
    } else if (strstr(name, "attn_v.weight")) {
        if ((ftype == ENG_FTYPE_Q4_K_M || ftype == ENG_FTYPE_Q5_K_M) &&
            use_more_bits(qs->i_attention_wv, qs->n_attention_wv))
            nt = ENG_TYPE_Q6_K;
        ++qs->i_attention_wv;
    } else if (strstr(name, "ffn_down")) {
        /* i_ffn_down counts ffn_down tensors in visiting order, which is layer order */
        int i_layer = qs->i_ffn_down, n_layer = qs->n_ffn_down;
        if ((ftype == ENG_FTYPE_Q4_K_M || ftype == ENG_FTYPE_Q5_K_M) &&
            use_more_bits(i_layer, n_layer))
            nt = ENG_TYPE_Q6_K;
        ++qs->i_ffn_down;
    } else if (strstr(name, "attn_qkv.weight")) {
        if (ftype == ENG_FTYPE_Q4_K_M)
            nt = ENG_TYPE_Q5_K;
        else if (ftype == ENG_FTYPE_Q5_K_M)
            nt = ENG_TYPE_Q6_K;
    }
    if (t->ne[0] % eng_type_block_size(nt) != 0) { /* "convert_incompatible_tensor" */
        switch (nt) {
        case ENG_TYPE_Q4_K: nt = ENG_TYPE_Q5_0; break;
        case ENG_TYPE_Q5_K: nt = ENG_TYPE_Q5_1; break;
        case ENG_TYPE_Q6_K: nt = ENG_TYPE_Q8_0; break;
        default: break; /* 32-element types: only F16 is left */
        }
        if (t->ne[0] % eng_type_block_size(nt) != 0) nt = ENG_TYPE_F16;
    }
    return nt;
}

/* Chooses every tensor's output type; `t` is in visiting order. */
static void assign_types(struct qtensor *t, size_t n, int ftype, int32_t n_layer, bool from_hf)
{
    const uint32_t def = ftype_default_type(ftype);
    struct qstate qs = {.n_ffn_down = n_layer};
    for (size_t i = 0; i < n; i++) {
        if (strstr(t[i].name, "attn_v.weight") || strstr(t[i].name, "attn_qkv.weight") ||
            strstr(t[i].name, "attn_kv_b.weight"))
            qs.n_attention_wv++;
        if (strcmp(t[i].name, "output.weight") == 0) qs.has_output = true;
    }
    for (size_t i = 0; i < n; i++) {
        if (!allows_quantization(&t[i]))
            /* llama-quantize keeps such tensors as they are; from HF they become F32, as
             * convert_hf_to_gguf.py stores norms and biases */
            t[i].out = from_hf ? ENG_TYPE_F32 : t[i].type;
        else if (type_quantized(def))
            t[i].out = pick_type(&qs, &t[i], ftype, def);
        else
            t[i].out = def;
    }
}

/* ==== conversion ============================================================================ */

struct qjob {
    const char *out_path;
    struct qtensor *t;
    size_t n;
    const struct eng_quantize_opts *o;
    uint8_t *buf; /* the current tensor's output bytes */
    size_t cap;
    int n_threads;
};

struct qwork {
    const struct qtensor *t;
    uint8_t *dst;
    int64_t r0, r1;
    int err;
    pthread_t tid;
};

static void *qwork_main(void *arg)
{
    struct qwork *w = arg;
    const struct qtensor *t = w->t;
    const int64_t n = t->ne[0];
    const size_t ob = row_bytes(t->out, n);
    float *row = malloc((size_t)n * sizeof *row);
    if (!row) {
        w->err = ENG_ERR_NOMEM;
        return NULL;
    }
    for (int64_t r = w->r0; r < w->r1 && !w->err; r++) {
        w->err = eng_dequant_row_ref(t->type, qt_row(t, r), row, n);
        if (!w->err) w->err = eng_quantize_weight_row_ref(t->out, row, w->dst + (size_t)r * ob, n);
    }
    free(row);
    return NULL;
}

/* A 1-D tensor fused from several parts (part rows count elements): dequantised part by part
 * into one f32 row, then converted. */
static int convert_1d(struct qjob *j, const struct qtensor *t, char **why)
{
    int64_t off = 0;
    if (t->type == t->out) {
        for (int p = 0; p < t->n_parts; p++) {
            const size_t nb = row_bytes(t->type, t->part[p].rows);
            memcpy(j->buf + off, t->part[p].data, nb);
            off += (int64_t)nb;
        }
        return 0;
    }
    float *row = malloc((size_t)t->ne[0] * sizeof *row);
    if (!row) return eng_fail(why, ENG_ERR_NOMEM, "%s: out of memory", j->out_path);
    int err = 0;
    for (int p = 0; p < t->n_parts && !err; p++) {
        err = eng_dequant_row_ref(t->type, t->part[p].data, row + off, t->part[p].rows);
        off += t->part[p].rows;
    }
    if (!err) err = eng_quantize_weight_row_ref(t->out, row, j->buf, t->ne[0]);
    free(row);
    if (err)
        return eng_fail(why, err, "%s: %s: cannot convert %s to %s", j->out_path, t->name,
                        eng_type_name(t->type), eng_type_name(t->out));
    return 0;
}

static int convert_tensor(struct qjob *j, const struct qtensor *t, char **why)
{
    const int64_t rows = qt_rows(t);
    const size_t ib = row_bytes(t->type, t->ne[0]);
    if (t->n_dims == 1) return convert_1d(j, t, why);
    if (t->type == t->out) { /* same type: the bytes as they are */
        size_t off = 0;
        for (int p = 0; p < t->n_parts; p++) {
            memcpy(j->buf + off, t->part[p].data, (size_t)t->part[p].rows * ib);
            off += (size_t)t->part[p].rows * ib;
        }
        return 0;
    }
    /* Threads only pay off for real work: about 64k elements per thread at least. */
    int64_t nt = (int64_t)j->n_threads;
    int64_t by_size = rows * t->ne[0] / 65536;
    if (nt > by_size) nt = by_size;
    if (nt > rows) nt = rows;
    if (nt < 1) nt = 1;
    struct qwork w[MAX_THREADS];
    bool running[MAX_THREADS] = {false};
    for (int64_t k = 0; k < nt; k++) {
        w[k] =
            (struct qwork){.t = t, .dst = j->buf, .r0 = rows * k / nt, .r1 = rows * (k + 1) / nt};
        if (k > 0) running[k] = pthread_create(&w[k].tid, NULL, qwork_main, &w[k]) == 0;
    }
    for (int64_t k = 0; k < nt; k++)
        if (!running[k]) qwork_main(&w[k]); /* the first share, and any thread that did not start */
    int err = 0;
    for (int64_t k = 0; k < nt; k++) {
        if (running[k]) pthread_join(w[k].tid, NULL);
        if (w[k].err && !err) err = w[k].err;
    }
    if (err)
        return eng_fail(why, err, "%s: %s: cannot convert %s to %s (%s)", j->out_path, t->name,
                        eng_type_name(t->type), eng_type_name(t->out), eng_err_str(err));
    return 0;
}

static int data_cb(void *user, size_t index, const void **data, char **why)
{
    struct qjob *j = user;
    const struct qtensor *t = &j->t[index];
    const size_t need = (size_t)qt_rows(t) * row_bytes(t->out, t->ne[0]);
    if (need > j->cap) {
        uint8_t *b = realloc(j->buf, need);
        if (!b) return eng_fail(why, ENG_ERR_NOMEM, "%s: %s: out of memory", j->out_path, t->name);
        j->buf = b;
        j->cap = need;
    }
    if (j->o->progress) {
        struct eng_quantize_event ev = {.index = (int64_t)index + 1,
                                        .count = (int64_t)j->n,
                                        .name = t->name,
                                        .from = t->type,
                                        .to = t->out,
                                        .n_dims = t->n_dims};
        memcpy(ev.ne, t->ne, sizeof ev.ne);
        if (j->o->progress(&ev, j->o->user))
            return eng_fail(why, ENG_ERR_RANGE, "%s: cancelled", j->out_path);
    }
    int rc = convert_tensor(j, t, why);
    *data = j->buf;
    return rc;
}

/* ==== sources =============================================================================== */

struct qlist {
    struct qtensor *t;
    size_t n, cap;
};

static struct qtensor *qlist_add(struct qlist *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        struct qtensor *t = realloc(l->t, cap * sizeof *t);
        if (!t) return NULL;
        l->t = t;
        l->cap = cap;
    }
    struct qtensor *t = &l->t[l->n++];
    memset(t, 0, sizeof *t);
    return t;
}

static int from_gguf(const struct eng_gguf *g, const char *in, struct qlist *l, char **why)
{
    for (int64_t i = 0; i < eng_gguf_tensor_count(g); i++) {
        const struct eng_gguf_tensor *s = eng_gguf_tensor_at(g, i);
        if (strlen(s->name) >= NAME_MAX_LEN)
            return eng_fail(why, ENG_ERR_UNSUPPORTED, "%s: tensor name too long: %.40s...", in,
                            s->name);
        if (!eng_type_supported(s->type))
            return eng_fail(why, ENG_ERR_UNSUPPORTED, "%s: %s: tensor type %s is not supported", in,
                            s->name, eng_type_name(s->type));
        struct qtensor *t = qlist_add(l);
        if (!t) return eng_fail(why, ENG_ERR_NOMEM, "%s: out of memory", in);
        snprintf(t->name, sizeof t->name, "%s", s->name);
        t->type = s->type;
        t->n_dims = s->n_dims;
        memcpy(t->ne, s->ne, sizeof t->ne);
        /* rows; for a 1-D tensor, elements (see convert_1d) */
        t->part[0] =
            (struct qpart){s->data, s->n_dims == 1 ? s->ne[0] : s->ne[1] * s->ne[2] * s->ne[3]};
        t->n_parts = 1;
        t->layer = parse_layer(t->name);
    }
    return 0;
}

/* Adds GGUF tensor `name` from the HF directory, its rows taken from `parts` (1..3 GGUF names
 * concatenated along the rows). Returns 1 when added, 0 when the first part is absent. */
static int hf_add(const struct eng_hf *hf, const char *in, struct qlist *l, const char *name,
                  const char *const *parts, int n_parts, char **why)
{
    struct eng_tensor s[3];
    for (int p = 0; p < n_parts; p++) {
        if (eng_hf_tensor(hf, parts[p], &s[p]) != 0) {
            if (p == 0) return 0;
            return eng_fail(why, ENG_ERR_FORMAT, "%s: %s exists but %s does not", in, parts[0],
                            parts[p]);
        }
        if (!eng_type_supported(s[p].type) || s[p].n_dims < 1 || s[p].n_dims > 2 ||
            s[p].type != s[0].type || s[p].n_dims != s[0].n_dims ||
            (s[p].n_dims == 2 && s[p].ne[0] != s[0].ne[0]))
            return eng_fail(why, ENG_ERR_UNSUPPORTED, "%s: %s: unsupported type or shape", in,
                            parts[p]);
    }
    struct qtensor *t = qlist_add(l);
    if (!t) return eng_fail(why, ENG_ERR_NOMEM, "%s: out of memory", in);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->type = s[0].type;
    t->n_dims = (uint32_t)s[0].n_dims;
    t->ne[0] = s[0].ne[0];
    t->ne[1] = 0;
    t->ne[2] = t->ne[3] = 1;
    for (int p = 0; p < n_parts; p++) {
        /* a 1-D part (a bias) is one row of ne[0] elements; fused biases are concatenated */
        int64_t rows = s[p].n_dims == 1 ? 1 : s[p].ne[1];
        t->part[p] = (struct qpart){s[p].data, rows};
        t->ne[1] += rows;
    }
    t->n_parts = n_parts;
    if (t->n_dims == 1) { /* a bias: one row; fused biases are concatenated (convert_1d) */
        t->ne[0] = 0;
        for (int p = 0; p < n_parts; p++) {
            t->part[p].rows = s[p].ne[0]; /* for 1-D tensors: elements */
            t->ne[0] += s[p].ne[0];
        }
        t->ne[1] = 1;
    }
    t->layer = parse_layer(name);
    return 1;
}

static int from_hf(const struct eng_hf *hf, const char *in, struct qlist *l, char **why)
{
    const struct eng_hparams *hp = eng_hf_hparams(hf);
    const bool glm4 = hp->arch == ENG_ARCH_GLM4;
    int rc;
#define ADD1(NAME)                                                                                 \
    do {                                                                                           \
        const char *one_[1] = {(NAME)};                                                            \
        if ((rc = hf_add(hf, in, l, (NAME), one_, 1, why)) < 0) return rc;                         \
    } while (0)
    ADD1("token_embd.weight");
    if (l->n == 0) return eng_fail(why, ENG_ERR_FORMAT, "%s: no token embedding", in);
    ADD1("output_norm.weight");
    struct eng_tensor emb, out;
    if (eng_hf_tensor(hf, "output.weight", &out) == 0 &&
        eng_hf_tensor(hf, "token_embd.weight", &emb) == 0 && out.data != emb.data)
        ADD1("output.weight"); /* else tied: llama.cpp reuses token_embd */
    static const char *const per_layer[] = {
        "attn_norm.weight", "attn_output.weight", "attn_output.bias", "post_attention_norm.weight",
        "ffn_norm.weight",  "ffn_up.weight",      "ffn_down.weight",  "post_ffw_norm.weight",
    };
    for (int32_t L = 0; L < hp->n_layer; L++) {
        char name[NAME_MAX_LEN], q[NAME_MAX_LEN], k[NAME_MAX_LEN], v[NAME_MAX_LEN];
        for (size_t i = 0; i < sizeof per_layer / sizeof per_layer[0]; i++) {
            snprintf(name, sizeof name, "blk.%d.%s", (int)L, per_layer[i]);
            ADD1(name);
        }
        static const char *const sfx[] = {"weight", "bias"};
        for (int si = 0; si < 2; si++) {
            snprintf(name, sizeof name, "blk.%d.attn_qkv.%s", (int)L, sfx[si]);
            snprintf(q, sizeof q, "blk.%d.attn_q.%s", (int)L, sfx[si]);
            snprintf(k, sizeof k, "blk.%d.attn_k.%s", (int)L, sfx[si]);
            snprintf(v, sizeof v, "blk.%d.attn_v.%s", (int)L, sfx[si]);
            const char *fused[1] = {name}, *split[3] = {q, k, v};
            if ((rc = hf_add(hf, in, l, name, fused, 1, why)) < 0) return rc;
            if (rc == 1) continue;
            if (glm4) { /* GGUF arch glm4 keeps q, k, v apart */
                for (int p = 0; p < 3; p++) {
                    const char *one[1] = {split[p]};
                    if ((rc = hf_add(hf, in, l, split[p], one, 1, why)) < 0) return rc;
                }
            } else if ((rc = hf_add(hf, in, l, name, split, 3, why)) < 0) { /* chatglm: fuse */
                return rc;
            }
        }
    }
#undef ADD1
    return 0;
}

/* Keys of an HF model: the architecture's (spec/glm4-model.md §2, as llama.cpp's
 * convert_hf_to_gguf.py writes them). */
static void hf_keys(struct eng_gguf_writer *w, const struct eng_hparams *hp, const char *in)
{
    const char *arch = hp->arch == ENG_ARCH_GLM4 ? "glm4" : "chatglm";
    char key[96], name[256];
    size_t len = strlen(in);
    while (len > 1 && in[len - 1] == '/') /* "dir/" names dir */
        len--;
    snprintf(name, sizeof name, "%.*s", (int)len, in);
    const char *base = strrchr(name, '/');
    eng_gguf_writer_str(w, "general.architecture", arch);
    eng_gguf_writer_str(w, "general.type", "model");
    eng_gguf_writer_str(w, "general.name", base ? base + 1 : name);
#define KEY(SUFFIX) (snprintf(key, sizeof key, "%s.%s", arch, SUFFIX), key)
    eng_gguf_writer_u32(w, KEY("context_length"), (uint32_t)hp->n_ctx_train);
    eng_gguf_writer_u32(w, KEY("embedding_length"), (uint32_t)hp->d_model);
    eng_gguf_writer_u32(w, KEY("feed_forward_length"), (uint32_t)hp->d_ffn);
    eng_gguf_writer_u32(w, KEY("block_count"), (uint32_t)hp->n_layer);
    eng_gguf_writer_u32(w, KEY("attention.head_count"), (uint32_t)hp->n_head);
    eng_gguf_writer_u32(w, KEY("attention.head_count_kv"), (uint32_t)hp->n_head_kv);
    eng_gguf_writer_f32(w, KEY("attention.layer_norm_rms_epsilon"), hp->norm_eps);
    eng_gguf_writer_u32(w, KEY("rope.dimension_count"), (uint32_t)hp->rope_dim);
    eng_gguf_writer_f32(w, KEY("rope.freq_base"), hp->rope_base);
    if (hp->arch == ENG_ARCH_GLM4 || hp->head_dim * hp->n_head != hp->d_model) {
        eng_gguf_writer_u32(w, KEY("attention.key_length"), (uint32_t)hp->head_dim);
        eng_gguf_writer_u32(w, KEY("attention.value_length"), (uint32_t)hp->head_dim);
    }
#undef KEY
}

/* Copies the keys of a GGUF input, less the ones llama-quantize sets or drops. */
static int gguf_keys(struct eng_gguf_writer *w, const struct eng_gguf *g)
{
    for (int64_t k = 0; k < eng_gguf_kv_count(g); k++) {
        const char *name = eng_gguf_key_name(g, k);
        if (strcmp(name, "general.quantization_version") == 0 ||
            strcmp(name, "general.file_type") == 0 ||
            strcmp(name, "general.alignment") == 0 || /* the writer aligns to 32 */
            strncmp(name, "split.", 6) == 0)
            continue;
        uint32_t type;
        const void *v;
        uint64_t len;
        if (eng_gguf_kv_raw(g, k, &type, &v, &len) != 0) return ENG_ERR_RANGE;
        eng_gguf_writer_raw(w, name, type, v, len);
    }
    return 0;
}

static int gguf_n_layer(const struct eng_gguf *g, int32_t *n_layer)
{
    const char *arch;
    size_t len;
    char key[96];
    uint32_t v;
    if (eng_gguf_get_str(g, "general.architecture", &arch, &len) != 0 || len > 64) return -1;
    snprintf(key, sizeof key, "%.*s.block_count", (int)len, arch);
    if (eng_gguf_get_u32(g, key, &v) != 0 || v > INT32_MAX) return -1;
    *n_layer = (int32_t)v;
    return 0;
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int eng_quantize_file(const char *in, const char *out, const struct eng_quantize_opts *o,
                      char **why)
{
    if (!eng_ftype_name(o->ftype))
        return eng_fail(why, ENG_ERR_UNSUPPORTED, "file type %d is not supported", o->ftype);
    struct eng_gguf *g = NULL;
    struct eng_hf *hf = NULL;
    struct eng_gguf_writer *w = eng_gguf_writer_new();
    struct qlist l = {0};
    struct qjob j = {.out_path = out, .o = o};
    int32_t n_layer = 0;
    int rc;
    if (!w) return eng_fail(why, ENG_ERR_NOMEM, "out of memory");

    if (is_dir(in)) {
        hf = eng_hf_open(in, why);
        if (!hf) {
            rc = ENG_ERR_FORMAT;
            goto out;
        }
        n_layer = eng_hf_hparams(hf)->n_layer;
        hf_keys(w, eng_hf_hparams(hf), in);
        eng_gguf_writer_u32(w, "general.file_type", (uint32_t)o->ftype);
        if (o->kvs) eng_gguf_writer_append(w, o->kvs);
        eng_gguf_writer_u32(w, "general.quantization_version", QNT_VERSION);
        rc = from_hf(hf, in, &l, why);
    } else {
        g = eng_gguf_open(in, why);
        if (!g) {
            rc = ENG_ERR_FORMAT;
            goto out;
        }
        if (gguf_n_layer(g, &n_layer) != 0) {
            rc = eng_fail(why, ENG_ERR_FORMAT, "%s: missing general.architecture or block_count",
                          in);
            goto out;
        }
        if ((rc = gguf_keys(w, g)) != 0) {
            rc = eng_fail(why, rc, "%s: cannot copy the keys", in);
            goto out;
        }
        eng_gguf_writer_u32(w, "general.quantization_version", QNT_VERSION);
        eng_gguf_writer_u32(w, "general.file_type", (uint32_t)o->ftype);
        rc = from_gguf(g, in, &l, why);
    }
    if (rc < 0) goto out;

    qsort(l.t, l.n, sizeof *l.t, qt_cmp);
    assign_types(l.t, l.n, o->ftype, n_layer, hf != NULL);
    for (size_t i = 0; i < l.n; i++) {
        if ((rc = eng_gguf_writer_tensor(w, l.t[i].name, l.t[i].out, l.t[i].n_dims, l.t[i].ne,
                                         NULL)) != 0) {
            rc = eng_fail(why, rc, "%s: %s: cannot add the tensor", out, l.t[i].name);
            goto out;
        }
    }
    j.t = l.t;
    j.n = l.n;
    j.n_threads = o->n_threads > 0 ? o->n_threads : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (j.n_threads < 1) j.n_threads = 1;
    if (j.n_threads > MAX_THREADS) j.n_threads = MAX_THREADS;
    rc = eng_gguf_writer_write_cb(w, out, data_cb, &j, why);
out:
    free(j.buf);
    free(l.t);
    eng_gguf_writer_free(w);
    eng_gguf_close(g);
    eng_hf_close(hf);
    return rc;
}
