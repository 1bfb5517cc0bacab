/* The int8 GEMM with AVX2 (no VNNI): the same tiles and the same arithmetic as gemm_avx512.c
 * (eng_int.h, "batched matmul"), each 16-row tile handled as two 256-bit halves of 8 rows.
 *
 * Without dpbusd, unsigned weight x signed activation bytes go through _mm256_maddubs_epi16
 * (pairs summed into int16, saturating) and _mm256_madd_epi16 (int16 pairs into int32). Every
 * int16 partial is kept below 2^15, so nothing saturates and the integer sums are exact:
 *   Q4 weights (0..15): a pair is at most 2 * 15 * 128 = 3840, 8 groups of 4 elements (one
 *     32-element block or sub-block) add up to 30720 in int16;
 *   Q5 (0..31): 7936 per pair, 4 groups at a time;  Q6_K (0..63): 16128, 2 groups at a time;
 *   Q8_0 (q + 128, 0..255): split into 16 * hi + lo with hi, lo in 0..15, each summed as Q4,
 *     then hi's int32 sum times 16; c removes the 128 as in the reference.
 * Sub-block scales multiply the int16 sums in the same _mm256_madd_epi16 (each row's scale in
 * both halves of its dword). The float terms are the reference's: fma((float)acc, dw * dx, f)
 * per block, in block order; so results are bit-identical to eng_gemm_ref.
 *
 * Tiles are packed as gemm_avx512.c packs them, 8 rows per 256-bit transpose (tr8); the
 * scales through the shared eng_gemm_pack_scales; a partial tile by eng_gemm_pack_ref.
 *
 * Compiled with -mavx2 -mfma -mf16c (CMakeLists.txt); reached through the avx2 table only.
 */
#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)

#include "engine/model_int.h"

#include <immintrin.h>
#include <string.h>

#define QK   32
#define QK_K 256
#define NT   4 /* tokens per micro-kernel call */

static inline __m256i bcast32(const uint8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm256_set1_epi32(v);
}

static inline __m256i ld(const uint8_t *tb, int g, int half)
{
    return _mm256_load_si256((const __m256i *)(tb + 64 * g + 32 * half));
}

/* sum over groups g0..g0+n-1 of the products of the tile's half `half` with the activation
 * bytes x + 4g, in int16 pairs (the caller keeps n small enough not to saturate) */
static inline __m256i sum16(const uint8_t *tb, int half, const uint8_t *x, int g0, int n)
{
    __m256i s = _mm256_maddubs_epi16(ld(tb, g0, half), bcast32(x + 4 * g0));
    for (int g = g0 + 1; g < g0 + n; g++)
        s = _mm256_add_epi16(s, _mm256_maddubs_epi16(ld(tb, g, half), bcast32(x + 4 * g)));
    return s;
}

/* The integer block sum of 8 rows for one B32 block and token: c + sum q*x (Q8_0: sum q*x). */
static inline __m256i block_b32(uint32_t type, const uint8_t *tb, int half, const uint8_t *x,
                                int32_t c)
{
    const __m256i ones = _mm256_set1_epi16(1);
    if (type == ENG_TYPE_Q8_0) { /* q + 128 = 16 hi + lo, both 0..15: two Q4-sized products */
        const __m256i m4 = _mm256_set1_epi8(0x0f);
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        for (int g = 0; g < 8; g++) {
            const __m256i xv = bcast32(x + 4 * g), w = ld(tb, g, half);
            lo = _mm256_add_epi16(lo, _mm256_maddubs_epi16(_mm256_and_si256(w, m4), xv));
            hi = _mm256_add_epi16(
                hi, _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(w, 4), m4), xv));
        }
        const __m256i acc = _mm256_add_epi32(_mm256_set1_epi32(c), _mm256_madd_epi16(lo, ones));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(hi, _mm256_set1_epi16(16)));
    }
    __m256i acc = _mm256_set1_epi32(c);
    if (type == ENG_TYPE_Q4_0 || type == ENG_TYPE_Q4_1)
        return _mm256_add_epi32(acc, _mm256_madd_epi16(sum16(tb, half, x, 0, 8), ones));
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(sum16(tb, half, x, 0, 4), ones));
    return _mm256_add_epi32(acc, _mm256_madd_epi16(sum16(tb, half, x, 4, 4), ones));
}

/* ---- packing ------------------------------------------------------------------------------ */

static inline __m128i loadu128(const void *p)
{
    return _mm_loadu_si128((const __m128i *)p);
}

/* o[g] = dword g (bytes 4g..4g+3) of the 16 bytes at p[8h + i] + off, row 8h + i in lane i:
 * the tile's rows 8h..8h+7 of groups 0..3 (gemm_avx512.c's tr16 on 256 bits). */
static inline void tr8(const uint8_t *const p[ENG_GEMM_ROWS], int h, size_t off, __m256i o[4])
{
    __m256i r[4];
    for (int q = 0; q < 4; q++)
        r[q] = _mm256_inserti128_si256(_mm256_castsi128_si256(loadu128(p[8 * h + q] + off)),
                                       loadu128(p[8 * h + q + 4] + off), 1);
    const __m256i t0 = _mm256_unpacklo_epi32(r[0], r[1]), t1 = _mm256_unpackhi_epi32(r[0], r[1]);
    const __m256i t2 = _mm256_unpacklo_epi32(r[2], r[3]), t3 = _mm256_unpackhi_epi32(r[2], r[3]);
    o[0] = _mm256_unpacklo_epi64(t0, t2);
    o[1] = _mm256_unpackhi_epi64(t0, t2);
    o[2] = _mm256_unpacklo_epi64(t1, t3);
    o[3] = _mm256_unpackhi_epi64(t1, t3);
}

static inline void st(uint8_t *tb, int g, int h, __m256i v)
{
    _mm256_store_si256((__m256i *)(tb + 64 * g + 32 * h), v);
}

/* Bit i (0..3) of each lane's (qh >> shift) to bit 4 of byte i: Q5's fifth bits. */
static inline __m256i hbits(__m256i qh, int shift)
{
    const __m256i b = _mm256_and_si256(_mm256_srli_epi32(qh, shift), _mm256_set1_epi32(15));
    const __m256i spread = _mm256_mullo_epi32(b, _mm256_set1_epi32(0x00204081));
    return _mm256_slli_epi32(_mm256_and_si256(spread, _mm256_set1_epi32(0x01010101)), 4);
}

/* Rows r0..r0+15 (all present) of w into tile, byte-identical to eng_gemm_pack_ref. */
static void pack(const struct eng_tensor *w, int64_t r0, uint8_t *tile)
{
    const uint32_t type = w->type;
    const size_t row_bytes = eng_tensor_row_bytes(w), bb = eng_type_block_bytes(type);
    const size_t tbb = eng_gemm_tile_block_bytes(type);
    const bool k_type = type == ENG_TYPE_Q4_K || type == ENG_TYPE_Q5_K || type == ENG_TYPE_Q6_K;
    const int64_t nb = w->ne[0] / (k_type ? QK_K : QK);
    const uint8_t *rows[ENG_GEMM_ROWS];
    for (int i = 0; i < ENG_GEMM_ROWS; i++)
        rows[i] = (const uint8_t *)w->data + (size_t)(r0 + i) * row_bytes;
    const __m256i m4 = _mm256_set1_epi8(0x0f), one = _mm256_set1_epi8(1);
    const __m256i three = _mm256_set1_epi8(3);
    __m256i o[4], hq[8], l[16];
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *tb = tile + (size_t)b * tbb;
        const size_t at = (size_t)b * bb;
        for (int h = 0; h < 2; h++) {
            switch (type) {
            case ENG_TYPE_Q4_0:
            case ENG_TYPE_Q4_1:
                tr8(rows, h, at + (type == ENG_TYPE_Q4_0 ? 2 : 4), o);
                for (int g = 0; g < 4; g++) {
                    st(tb, g, h, _mm256_and_si256(o[g], m4));
                    st(tb, g + 4, h, _mm256_and_si256(_mm256_srli_epi32(o[g], 4), m4));
                }
                break;
            case ENG_TYPE_Q5_0:
            case ENG_TYPE_Q5_1: {
                const size_t qo = type == ENG_TYPE_Q5_0 ? 2 : 4;
                int32_t qh[8];
                for (int i = 0; i < 8; i++)
                    memcpy(&qh[i], rows[8 * h + i] + at + qo, 4);
                const __m256i qhv = _mm256_loadu_si256((const __m256i *)qh);
                tr8(rows, h, at + qo + 4, o);
                for (int g = 0; g < 4; g++) {
                    st(tb, g, h, _mm256_or_si256(_mm256_and_si256(o[g], m4), hbits(qhv, 4 * g)));
                    st(tb, g + 4, h,
                       _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(o[g], 4), m4),
                                       hbits(qhv, 16 + 4 * g)));
                }
                break;
            }
            case ENG_TYPE_Q8_0: {
                const __m256i bias = _mm256_set1_epi8((char)0x80);
                for (int half = 0; half < 2; half++) {
                    tr8(rows, h, at + 2 + 16 * (size_t)half, o);
                    for (int g = 0; g < 4; g++)
                        st(tb, 4 * half + g, h, _mm256_xor_si256(o[g], bias));
                }
                break;
            }
            case ENG_TYPE_Q4_K:
            case ENG_TYPE_Q5_K: {
                const bool q5 = type == ENG_TYPE_Q5_K;
                const size_t qs = at + (q5 ? 48 : 16);
                if (q5) {
                    tr8(rows, h, at + 16, hq);
                    tr8(rows, h, at + 32, hq + 4);
                }
                for (int c = 0; c < 4; c++) {
                    for (int half = 0; half < 2; half++) {
                        tr8(rows, h, qs + 32 * (size_t)c + 16 * (size_t)half, o);
                        for (int g = 0; g < 4; g++) {
                            const int gl = 16 * c + 4 * half + g;
                            __m256i lo = _mm256_and_si256(o[g], m4);
                            __m256i hi = _mm256_and_si256(_mm256_srli_epi32(o[g], 4), m4);
                            if (q5) {
                                const __m256i hv = hq[4 * half + g];
                                lo = _mm256_or_si256(
                                    lo,
                                    _mm256_slli_epi32(
                                        _mm256_and_si256(_mm256_srli_epi32(hv, 2 * c), one), 4));
                                hi = _mm256_or_si256(
                                    hi, _mm256_slli_epi32(
                                            _mm256_and_si256(_mm256_srli_epi32(hv, 2 * c + 1), one),
                                            4));
                            }
                            st(tb, gl, h, lo);
                            st(tb, gl + 8, h, hi);
                        }
                    }
                }
                break;
            }
            case ENG_TYPE_Q6_K:
                for (int hf = 0; hf < 2; hf++) {
                    for (int q = 0; q < 4; q++)
                        tr8(rows, h, at + 64 * (size_t)hf + 16 * (size_t)q, l + 4 * q);
                    tr8(rows, h, at + 128 + 32 * (size_t)hf, hq);
                    tr8(rows, h, at + 144 + 32 * (size_t)hf, hq + 4);
                    for (int g = 0; g < 8; g++) {
                        const __m256i lo = l[g], hi = l[g + 8], qh = hq[g];
                        const int base = 32 * hf;
                        st(tb, base + g, h,
                           _mm256_or_si256(_mm256_and_si256(lo, m4),
                                           _mm256_slli_epi32(_mm256_and_si256(qh, three), 4)));
                        st(tb, base + 8 + g, h,
                           _mm256_or_si256(
                               _mm256_and_si256(hi, m4),
                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(qh, 2), three),
                                                 4)));
                        st(tb, base + 16 + g, h,
                           _mm256_or_si256(
                               _mm256_and_si256(_mm256_srli_epi32(lo, 4), m4),
                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(qh, 4), three),
                                                 4)));
                        st(tb, base + 24 + g, h,
                           _mm256_or_si256(
                               _mm256_and_si256(_mm256_srli_epi32(hi, 4), m4),
                               _mm256_slli_epi32(_mm256_and_si256(_mm256_srli_epi32(qh, 6), three),
                                                 4)));
                    }
                }
                break;
            default: break;
            }
        }
        eng_gemm_pack_scales(type, rows, b, tb);
    }
}

/* The first `rows` of the 16 row results of nt tokens, token t at out + t * out_stride. */
static void store_rows(__m256 f[NT][2], int nt, float *out, int64_t out_stride, int rows)
{
    for (int t = 0; t < nt; t++) {
        float v[16];
        _mm256_storeu_ps(v, f[t][0]);
        _mm256_storeu_ps(v + 8, f[t][1]);
        memcpy(out + t * out_stride, v, (size_t)rows * sizeof(float));
    }
}

/* Each lane's int32 scale in both int16 halves of its dword (scales are at most 128). */
static inline __m256i scale16(const uint8_t *p)
{
    const __m256i s = _mm256_load_si256((const __m256i *)p);
    return _mm256_or_si256(_mm256_and_si256(s, _mm256_set1_epi32(0xffff)),
                           _mm256_slli_epi32(s, 16));
}

/* f plus block tb's terms for rows 8h..8h+7 and the token whose figures sit at index `at` of
 * the activations (block * n_tok + token): eng_gemm_ref's arithmetic, 8 rows at a time. */
static inline __attribute__((always_inline)) __m256 add_block(uint32_t type, const uint8_t *tb,
                                                              int h, const struct eng_gemm_act *a,
                                                              int64_t at, __m256 f)
{
    const __m256 dx = _mm256_set1_ps(a->d[at]);
    switch (type) {
    case ENG_TYPE_Q4_K:
    case ENG_TYPE_Q5_K: {
        const uint8_t *x = (const uint8_t *)a->q + (size_t)at * QK_K;
        __m256i isb = _mm256_setzero_si256(), msum = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            const uint8_t *tj = tb + 64 * 8 * j, *xj = x + 32 * j;
            const __m256i sc = scale16(tb + 4096 + 64 * j + 32 * h);
            if (type == ENG_TYPE_Q5_K) {
                isb = _mm256_add_epi32(isb, _mm256_madd_epi16(sum16(tj, h, xj, 0, 4), sc));
                isb = _mm256_add_epi32(isb, _mm256_madd_epi16(sum16(tj, h, xj, 4, 4), sc));
            } else {
                isb = _mm256_add_epi32(isb, _mm256_madd_epi16(sum16(tj, h, xj, 0, 8), sc));
            }
        }
        for (int p = 0; p < 4; p++)
            msum = _mm256_add_epi32(
                msum,
                _mm256_madd_epi16(_mm256_load_si256((const __m256i *)(tb + 4608 + 64 * p + 32 * h)),
                                  _mm256_set1_epi32(a->c[4 * at + p])));
        const __m256 dv = _mm256_load_ps((const float *)(tb + 4864 + 32 * h));
        const __m256 mv = _mm256_load_ps((const float *)(tb + 4928 + 32 * h));
        f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isb), _mm256_mul_ps(dv, dx), f);
        return _mm256_fnmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(mv, dx), f);
    }
    case ENG_TYPE_Q6_K: {
        const uint8_t *x = (const uint8_t *)a->q + (size_t)at * QK_K;
        __m256i isb = _mm256_setzero_si256();
        for (int j = 0; j < 16; j++) {
            const uint8_t *tj = tb + 64 * 4 * j, *xj = x + 16 * j;
            const __m256i s32 = _mm256_load_si256((const __m256i *)(tb + 4096 + 64 * j + 32 * h));
            const __m256i s16 = scale16(tb + 4096 + 64 * j + 32 * h);
            __m256i acc = _mm256_mullo_epi32(s32, _mm256_set1_epi32(a->c[16 * at + j]));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(sum16(tj, h, xj, 0, 2), s16));
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(sum16(tj, h, xj, 2, 2), s16));
            isb = _mm256_add_epi32(isb, acc);
        }
        const __m256 dv = _mm256_load_ps((const float *)(tb + 5120 + 32 * h));
        return _mm256_fmadd_ps(_mm256_cvtepi32_ps(isb), _mm256_mul_ps(dv, dx), f);
    }
    default: { /* B32 */
        const uint8_t *x = (const uint8_t *)a->q + (size_t)at * QK;
        const __m256i acc = block_b32(type, tb, h, x, a->c[at]);
        const __m256 dv = _mm256_load_ps((const float *)(tb + 512 + 32 * h));
        f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), _mm256_mul_ps(dv, dx), f);
        if (type == ENG_TYPE_Q4_1 || type == ENG_TYPE_Q5_1)
            f = _mm256_fmadd_ps(_mm256_load_ps((const float *)(tb + 576 + 32 * h)),
                                _mm256_set1_ps(a->s[at]), f);
        return f;
    }
    }
}

/* One packed tile against all tokens, NT at a time; per token and row half the block terms are
 * added in block order. */
static inline __attribute__((always_inline)) void tile_run(uint32_t type, const uint8_t *tile,
                                                           const struct eng_gemm_act *a, float *out,
                                                           int64_t out_stride, int rows)
{
    const size_t tbb = eng_gemm_tile_block_bytes(type);
    for (int32_t t0 = 0; t0 < a->n_tok; t0 += NT) {
        const int nt = a->n_tok - t0 < NT ? (int)(a->n_tok - t0) : NT;
        __m256 f[NT][2];
        for (int t = 0; t < nt; t++)
            f[t][0] = f[t][1] = _mm256_setzero_ps();
        for (int64_t b = 0; b < a->nb; b++) {
            const uint8_t *tb = tile + (size_t)b * tbb;
            for (int t = 0; t < nt; t++)
                for (int h = 0; h < 2; h++)
                    f[t][h] = add_block(type, tb, h, a, b * a->n_tok + t0 + t, f[t][h]);
        }
        store_rows(f, nt, out + t0 * out_stride, out_stride, rows);
    }
}

static void gemm_avx2(const struct eng_tensor *w, int64_t r0, int64_t r1,
                      const struct eng_gemm_act *a, float *out, int64_t out_stride, void *scratch)
{
    for (int64_t r = r0; r < r1; r += ENG_GEMM_ROWS) {
        const int rows = r1 - r < ENG_GEMM_ROWS ? (int)(r1 - r) : ENG_GEMM_ROWS;
        if (r + ENG_GEMM_ROWS <= w->ne[1])
            pack(w, r, scratch);
        else
            eng_gemm_pack_ref(w, r, scratch);
        switch (w->type) { /* a constant type each: tile_run is specialised per type */
#define RUN(T)                                                                                     \
    case T: tile_run(T, scratch, a, out + r, out_stride, rows); break
            RUN(ENG_TYPE_Q4_0);
            RUN(ENG_TYPE_Q4_1);
            RUN(ENG_TYPE_Q5_0);
            RUN(ENG_TYPE_Q5_1);
            RUN(ENG_TYPE_Q8_0);
            RUN(ENG_TYPE_Q4_K);
            RUN(ENG_TYPE_Q5_K);
            RUN(ENG_TYPE_Q6_K);
#undef RUN
        default: break;
        }
    }
}

void eng_gemm_fill_avx2(struct eng_kernels *k);
void eng_gemm_fill_avx2(struct eng_kernels *k)
{
    static const uint32_t types[] = {ENG_TYPE_Q4_0, ENG_TYPE_Q4_1, ENG_TYPE_Q5_0, ENG_TYPE_Q5_1,
                                     ENG_TYPE_Q8_0, ENG_TYPE_Q4_K, ENG_TYPE_Q5_K, ENG_TYPE_Q6_K};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        k->gemm[types[i]] = gemm_avx2;
    k->gemm_min_tok = 8; /* bench/kernels: from 8 tokens on the GEMM at least ties the dots */
}

#else
typedef int eng_gemm_avx2_unused; /* not an x86 build */
#endif
