/* The int8 GEMM's portable half: activation preparation, the tile packer and the reference
 * GEMM that defines, bit for bit, what the SIMD GEMM (gemm_avx512.c) computes. The layout and
 * the arithmetic are described in eng_int.h ("batched matmul").
 *
 * Tile block layouts (one block of 32 or 256 elements of the 16 rows of a tile; blocks follow
 * each other, every block a multiple of 64 bytes):
 *   B32: qs[8][16][4] u8 (512) | d[16] f32 | m[16] f32                                  640 B
 *   K4:  qs[64][16][4] u8 (4096) | sc[8][16] i32 | mp[4][16] (2 x i16) | d[16] | dmin[16] 4992 B
 *   K6:  qs[64][16][4] u8 (4096) | sc[16][16] i32 | d[16] f32                            5184 B
 * qs[k/4][i][k%4] is element k of row i as an unsigned integer: Q4_0/Q4_1 0..15, Q5_0/Q5_1
 * 0..31, Q8_0 q + 128, Q4_K 0..15, Q5_K 0..31, Q6_K 0..63. mp[i][row] holds the mins of
 * sub-blocks 2i (low 16 bits) and 2i+1 (high). Padding rows (past ne[1]) are all zero.
 *
 * Pure functions, no allocation, any thread.
 */
#include "engine/model_int.h"

#include <math.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#define QK   32
#define QK_K 256

enum family { FAM_NONE, FAM_B32, FAM_K4, FAM_K6 };

static enum family family_of(uint32_t wtype)
{
    switch (wtype) {
    case ENG_TYPE_Q4_0:
    case ENG_TYPE_Q4_1:
    case ENG_TYPE_Q5_0:
    case ENG_TYPE_Q5_1:
    case ENG_TYPE_Q8_0: return FAM_B32;
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K: return FAM_K4;
    case ENG_TYPE_Q6_K: return FAM_K6;
    default: return FAM_NONE;
    }
}

size_t eng_gemm_tile_block_bytes(uint32_t wtype)
{
    switch (family_of(wtype)) {
    case FAM_B32: return 640;
    case FAM_K4: return 4992;
    case FAM_K6: return 5184;
    default: return 0;
    }
}

size_t eng_gemm_scratch_bytes(uint32_t wtype, int64_t n)
{
    const enum family f = family_of(wtype);
    if (f == FAM_NONE || n <= 0) return 0;
    const int64_t bs = f == FAM_B32 ? QK : QK_K;
    return (size_t)((n + bs - 1) / bs) * eng_gemm_tile_block_bytes(wtype);
}

void eng_gemm_act_sizes(uint32_t wtype, int64_t n, int64_t *bs, int64_t *nb, int64_t *cpb)
{
    const enum family f = family_of(wtype);
    *bs = f == FAM_B32 ? QK : QK_K;
    *nb = f == FAM_NONE ? 0 : n / *bs;
    *cpb = f == FAM_K4 ? 4 : f == FAM_K6 ? 16 : 1;
}

/* ---- activations ------------------------------------------------------------------------- */

void eng_gemm_prep(uint32_t wtype, const uint8_t *xq, int64_t n, int32_t t, int32_t n_tok,
                   int8_t *q, float *d, float *s, int32_t *c)
{
    switch (wtype) {
    case ENG_TYPE_Q4_0:
    case ENG_TYPE_Q5_0:
    case ENG_TYPE_Q8_0: {
        const int32_t off = wtype == ENG_TYPE_Q4_0 ? 8 : wtype == ENG_TYPE_Q5_0 ? 16 : 128;
        for (int64_t b = 0; b < n / QK; b++, xq += 34) {
            const int64_t at = b * n_tok + t;
            int32_t sum = 0;
            for (int j = 0; j < QK; j++)
                sum += (int8_t)xq[2 + j];
            memcpy(q + at * QK, xq + 2, QK);
            d[at] = eng_f16_to_f32(eng_ld16(xq));
            c[at] = -off * sum;
        }
        break;
    }
    case ENG_TYPE_Q4_1:
    case ENG_TYPE_Q5_1:
        for (int64_t b = 0; b < n / QK; b++, xq += 36) {
            const int64_t at = b * n_tok + t;
            memcpy(q + at * QK, xq + 4, QK);
            d[at] = eng_f16_to_f32(eng_ld16(xq));
            s[at] = eng_f16_to_f32(eng_ld16(xq + 2));
            c[at] = 0;
        }
        break;
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K:
    case ENG_TYPE_Q6_K:
        for (int64_t sb = 0; sb < n / QK_K; sb++, xq += 292) {
            const int64_t at = sb * n_tok + t;
            int32_t bs[16];
            for (int j = 0; j < 16; j++)
                bs[j] = (int16_t)eng_ld16(xq + 4 + QK_K + 2 * j);
            memcpy(q + at * QK_K, xq + 4, QK_K);
            d[at] = eng_ldf(xq);
            if (wtype == ENG_TYPE_Q6_K) {
                for (int j = 0; j < 16; j++)
                    c[16 * at + j] = -32 * bs[j];
            } else {
                for (int i = 0; i < 4; i++) { /* |sum of 32 int8| <= 4096 fits int16 */
                    const uint32_t lo = (uint16_t)(int16_t)(bs[4 * i] + bs[4 * i + 1]);
                    const uint32_t hi = (uint16_t)(int16_t)(bs[4 * i + 2] + bs[4 * i + 3]);
                    c[4 * at + i] = (int32_t)(lo | hi << 16);
                }
            }
        }
        break;
    default: break;
    }
}

/* ---- packing ----------------------------------------------------------------------------- */

void eng_gemm_pack_scales(uint32_t wtype, const uint8_t *const rows[ENG_GEMM_ROWS], int64_t b,
                          uint8_t *tb)
{
    const size_t bb = eng_type_block_bytes(wtype);
    float d[ENG_GEMM_ROWS] = {0}, m[ENG_GEMM_ROWS] = {0};
    switch (family_of(wtype)) {
    case FAM_B32:
        for (int i = 0; i < ENG_GEMM_ROWS; i++) {
            if (!rows[i]) continue;
            const uint8_t *w = rows[i] + (size_t)b * bb;
            d[i] = eng_f16_to_f32(eng_ld16(w));
            if (wtype == ENG_TYPE_Q4_1 || wtype == ENG_TYPE_Q5_1)
                m[i] = eng_f16_to_f32(eng_ld16(w + 2));
        }
        memcpy(tb + 512, d, sizeof d);
        memcpy(tb + 576, m, sizeof m);
        break;
    case FAM_K4: {
        int32_t sc[8][ENG_GEMM_ROWS] = {{0}}, mp[4][ENG_GEMM_ROWS] = {{0}};
        for (int i = 0; i < ENG_GEMM_ROWS; i++) {
            if (!rows[i]) continue;
            const uint8_t *w = rows[i] + (size_t)b * bb;
            d[i] = eng_f16_to_f32(eng_ld16(w));
            m[i] = eng_f16_to_f32(eng_ld16(w + 2));
            int32_t mn[8];
            for (int j = 0; j < 8; j++)
                eng_k4_scale_min(j, w + 4, &sc[j][i], &mn[j]);
            for (int p = 0; p < 4; p++)
                mp[p][i] = (int32_t)((uint32_t)mn[2 * p] | (uint32_t)mn[2 * p + 1] << 16);
        }
        memcpy(tb + 4096, sc, sizeof sc);
        memcpy(tb + 4608, mp, sizeof mp);
        memcpy(tb + 4864, d, sizeof d);
        memcpy(tb + 4928, m, sizeof m);
        break;
    }
    case FAM_K6: {
        int32_t sc[16][ENG_GEMM_ROWS] = {{0}};
        for (int i = 0; i < ENG_GEMM_ROWS; i++) {
            if (!rows[i]) continue;
            const uint8_t *w = rows[i] + (size_t)b * bb;
            d[i] = eng_f16_to_f32(eng_ld16(w + 208));
            for (int j = 0; j < 16; j++)
                sc[j][i] = (int8_t)w[192 + j];
        }
        memcpy(tb + 4096, sc, sizeof sc);
        memcpy(tb + 5120, d, sizeof d);
        break;
    }
    default: break;
    }
}

/* The unsigned integers of one block of one row, in element order (32 or 256 of them). */
static void block_ints(uint32_t wtype, const uint8_t *w, uint8_t *q)
{
    switch (wtype) {
    case ENG_TYPE_Q4_0:
    case ENG_TYPE_Q4_1: {
        const uint8_t *qs = w + (wtype == ENG_TYPE_Q4_0 ? 2 : 4);
        for (int j = 0; j < QK / 2; j++) {
            q[j] = qs[j] & 0x0f;
            q[j + QK / 2] = qs[j] >> 4;
        }
        break;
    }
    case ENG_TYPE_Q5_0:
    case ENG_TYPE_Q5_1: {
        const int o = wtype == ENG_TYPE_Q5_0 ? 2 : 4;
        const uint32_t qh = eng_ld32(w + o);
        const uint8_t *qs = w + o + 4;
        for (int j = 0; j < QK / 2; j++) {
            q[j] = (uint8_t)((qs[j] & 0x0f) | ((qh >> j) & 1u) << 4);
            q[j + QK / 2] = (uint8_t)((qs[j] >> 4) | ((qh >> (j + QK / 2)) & 1u) << 4);
        }
        break;
    }
    case ENG_TYPE_Q8_0:
        for (int j = 0; j < QK; j++)
            q[j] = (uint8_t)(w[2 + j] ^ 0x80); /* int8 + 128 */
        break;
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K: {
        const bool has_qh = wtype == ENG_TYPE_Q5_K;
        const uint8_t *qh = w + 16, *qs = w + (has_qh ? 48 : 16);
        for (int c = 0; c < 4; c++) {
            const uint8_t u1 = (uint8_t)(1u << (2 * c)), u2 = (uint8_t)(2u << (2 * c));
            for (int l = 0; l < 32; l++) {
                q[64 * c + l] =
                    (uint8_t)((qs[32 * c + l] & 0x0f) + (has_qh && (qh[l] & u1) ? 16 : 0));
                q[64 * c + 32 + l] =
                    (uint8_t)((qs[32 * c + l] >> 4) + (has_qh && (qh[l] & u2) ? 16 : 0));
            }
        }
        break;
    }
    case ENG_TYPE_Q6_K: {
        const uint8_t *ql = w, *qh = w + 128;
        for (int h = 0; h < 2; h++) {
            uint8_t *qq = q + 128 * h;
            const uint8_t *l8 = ql + 64 * h, *h8 = qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                qq[l] = (uint8_t)((l8[l] & 0x0f) | (h8[l] & 3) << 4);
                qq[l + 32] = (uint8_t)((l8[l + 32] & 0x0f) | (h8[l] >> 2 & 3) << 4);
                qq[l + 64] = (uint8_t)((l8[l] >> 4) | (h8[l] >> 4 & 3) << 4);
                qq[l + 96] = (uint8_t)((l8[l + 32] >> 4) | (h8[l] >> 6) << 4);
            }
        }
        break;
    }
    default: break;
    }
}

void eng_gemm_pack_ref(const struct eng_tensor *w, int64_t r0, void *tile)
{
    const enum family f = family_of(w->type);
    const int64_t bs = f == FAM_B32 ? QK : QK_K, nb = w->ne[0] / bs;
    const size_t row_bytes = eng_tensor_row_bytes(w), bb = eng_type_block_bytes(w->type);
    const size_t tbb = eng_gemm_tile_block_bytes(w->type);
    const uint8_t *rows[ENG_GEMM_ROWS];
    for (int i = 0; i < ENG_GEMM_ROWS; i++)
        rows[i] =
            r0 + i < w->ne[1] ? (const uint8_t *)w->data + (size_t)(r0 + i) * row_bytes : NULL;
    uint8_t q[QK_K];
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *tb = (uint8_t *)tile + (size_t)b * tbb;
        for (int i = 0; i < ENG_GEMM_ROWS; i++) {
            if (rows[i])
                block_ints(w->type, rows[i] + (size_t)b * bb, q);
            else
                memset(q, 0, sizeof q);
            for (int k = 0; k < bs; k++)
                tb[(k / 4) * 64 + i * 4 + k % 4] = q[k];
        }
        eng_gemm_pack_scales(w->type, rows, b, tb);
    }
}

/* ---- the reference GEMM ------------------------------------------------------------------ */

/* sum over k in [k0, k0+len) of tile element (k, row i) * activation byte k */
static int32_t dot_ints(const uint8_t *tb, int i, int k0, int len, const int8_t *x)
{
    int32_t sum = 0;
    for (int k = k0; k < k0 + len; k++)
        sum += (int32_t)tb[(k / 4) * 64 + i * 4 + k % 4] * x[k];
    return sum;
}

static float row_b32(uint32_t wtype, const uint8_t *tile, int i, const struct eng_gemm_act *a,
                     int32_t t)
{
    const bool has_min = wtype == ENG_TYPE_Q4_1 || wtype == ENG_TYPE_Q5_1;
    float f = 0.0f;
    for (int64_t b = 0; b < a->nb; b++) {
        const uint8_t *tb = tile + (size_t)b * 640;
        const int64_t at = b * a->n_tok + t;
        float dw, mw;
        memcpy(&dw, tb + 512 + 4 * i, sizeof dw);
        memcpy(&mw, tb + 576 + 4 * i, sizeof mw);
        const int32_t acc = a->c[at] + dot_ints(tb, i, 0, QK, a->q + at * QK);
        f = fmaf((float)acc, dw * a->d[at], f);
        if (has_min) f = fmaf(mw, a->s[at], f);
    }
    return f;
}

static float row_k4(const uint8_t *tile, int i, const struct eng_gemm_act *a, int32_t t)
{
    float f = 0.0f;
    for (int64_t sb = 0; sb < a->nb; sb++) {
        const uint8_t *tb = tile + (size_t)sb * 4992;
        const int64_t at = sb * a->n_tok + t;
        const int8_t *xs = a->q + at * QK_K;
        int32_t isb = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
            int32_t sc;
            memcpy(&sc, tb + 4096 + 64 * j + 4 * i, sizeof sc);
            isb += sc * dot_ints(tb, i, 32 * j, 32, xs);
        }
        for (int p = 0; p < 4; p++) {
            uint32_t mp;
            memcpy(&mp, tb + 4608 + 64 * p + 4 * i, sizeof mp);
            const uint32_t cp = (uint32_t)a->c[4 * at + p];
            msum += (int16_t)(mp & 0xffff) * (int16_t)(cp & 0xffff) +
                    (int16_t)(mp >> 16) * (int16_t)(cp >> 16);
        }
        float dw, dmin;
        memcpy(&dw, tb + 4864 + 4 * i, sizeof dw);
        memcpy(&dmin, tb + 4928 + 4 * i, sizeof dmin);
        f = fmaf((float)isb, dw * a->d[at], f);
        f = fmaf(-(float)msum, dmin * a->d[at], f);
    }
    return f;
}

static float row_k6(const uint8_t *tile, int i, const struct eng_gemm_act *a, int32_t t)
{
    float f = 0.0f;
    for (int64_t sb = 0; sb < a->nb; sb++) {
        const uint8_t *tb = tile + (size_t)sb * 5184;
        const int64_t at = sb * a->n_tok + t;
        const int8_t *xs = a->q + at * QK_K;
        int32_t isb = 0;
        for (int j = 0; j < 16; j++) {
            int32_t sc;
            memcpy(&sc, tb + 4096 + 64 * j + 4 * i, sizeof sc);
            isb += sc * (a->c[16 * at + j] + dot_ints(tb, i, 16 * j, 16, xs));
        }
        float dw;
        memcpy(&dw, tb + 5120 + 4 * i, sizeof dw);
        f = fmaf((float)isb, dw * a->d[at], f);
    }
    return f;
}

void eng_gemm_ref(const struct eng_tensor *w, int64_t r0, int64_t r1, const struct eng_gemm_act *a,
                  float *out, int64_t out_stride, void *scratch)
{
    const enum family fam = family_of(w->type);
    for (int64_t r = r0; r < r1; r += ENG_GEMM_ROWS) {
        eng_gemm_pack_ref(w, r, scratch);
        const int rows = r1 - r < ENG_GEMM_ROWS ? (int)(r1 - r) : ENG_GEMM_ROWS;
        for (int32_t t = 0; t < a->n_tok; t++) {
            for (int i = 0; i < rows; i++) {
                float v = fam == FAM_B32  ? row_b32(w->type, scratch, i, a, t)
                          : fam == FAM_K4 ? row_k4(scratch, i, a, t)
                                          : row_k6(scratch, i, a, t);
                out[t * out_stride + r + i] = v;
            }
        }
    }
}

/* ---- decode GEMV ------------------------------------------------------------------------- */

size_t eng_gemv_act_bytes(uint32_t wtype, int64_t n)
{
    if (wtype != ENG_TYPE_Q4_0 || n <= 0) return 0;
    const int64_t nb = n / QK;
    return (size_t)((nb + ENG_GEMV_GROUP - 1) / ENG_GEMV_GROUP) * ENG_GEMV_GROUP_BYTES;
}

void eng_gemv_prep(uint32_t wtype, const uint8_t *xq, int64_t n, void *xp)
{
    (void)wtype; /* Q4_0 only */
    const int64_t nb = n / QK;
    uint8_t *out = xp;
    memset(out, 0, eng_gemv_act_bytes(ENG_TYPE_Q4_0, n));
    for (int64_t b = 0; b < nb; b++, xq += 34) {
        uint8_t *grp = out + (size_t)(b / ENG_GEMV_GROUP) * ENG_GEMV_GROUP_BYTES;
        const int i = (int)(b % ENG_GEMV_GROUP);
        int32_t sum = 0;
        for (int k = 0; k < QK; k++) {
            grp[(k / 4) * 64 + i * 4 + k % 4] = xq[2 + k];
            sum += (int8_t)xq[2 + k];
        }
        const int32_t c = -8 * sum;
        const float d = eng_f16_to_f32(eng_ld16(xq));
        memcpy(grp + 512 + 4 * i, &c, sizeof c);
        memcpy(grp + 576 + 4 * i, &d, sizeof d);
    }
}

float eng_gemv_ref(uint32_t wtype, const void *vw, const void *xp, int64_t n)
{
    (void)wtype; /* Q4_0 only */
    const int64_t nb = n / QK;
    const uint8_t *w = vw, *x = xp;
    float f[ENG_GEMV_GROUP] = {0};
    for (int64_t g0 = 0; g0 < nb; g0 += ENG_GEMV_GROUP, x += ENG_GEMV_GROUP_BYTES) {
        for (int i = 0; i < ENG_GEMV_GROUP; i++) {
            uint8_t q[QK] = {0};
            float dw = 0.0f;
            if (g0 + i < nb) {
                const uint8_t *blk = w + (size_t)(g0 + i) * 18;
                block_ints(ENG_TYPE_Q4_0, blk, q);
                dw = eng_f16_to_f32(eng_ld16(blk));
            }
            int32_t acc, sum = 0;
            float dx;
            memcpy(&acc, x + 512 + 4 * i, sizeof acc);
            memcpy(&dx, x + 576 + 4 * i, sizeof dx);
            for (int k = 0; k < QK; k++)
                sum += (int32_t)q[k] * (int8_t)x[(k / 4) * 64 + i * 4 + k % 4];
            f[i] = fmaf((float)(acc + sum), dw * dx, f[i]);
        }
    }
    for (int h = ENG_GEMV_GROUP / 2; h >= 1; h /= 2)
        for (int i = 0; i < h; i++)
            f[i] = f[i] + f[i + h];
    return f[0];
}
