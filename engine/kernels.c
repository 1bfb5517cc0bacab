/* The kernel table: one `struct eng_kernels` per instruction set, and the start-up choice
 * between them.
 *
 * Data model: three static tables built once (pthread_once). "ref" wraps the portable kernels
 * of quant.c / quant_q8.c and the plain loops below; "avx2" is a copy of "ref" with the
 * entries of kernels_avx2.c written over it; "avx512" is a copy of "avx2" with the entries of
 * kernels_avx512.c over that, so a type without an AVX-512 kernel runs its AVX2 one. A table
 * exists only when CPUID (and the OS, through XCR0) allows its instructions (avx2: AVX2, FMA,
 * F16C; avx512: AVX-512 F, BW, VL, DQ and VNNI); the SIMD files are
 * compiled with those instructions enabled, so nothing in them runs before that check.
 *
 * The choice (eng_kernels) is the best available table unless GLMTERM_KERNELS names another:
 * "ref", "avx2" or "avx512"; an unknown value gives "ref" (the safe one), a path the CPU lacks
 * gives the best available. Library code never prints, so neither case is reported.
 */
#include "engine/eng_int.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#endif

#if defined(GLMTERM_X86_KERNELS) && defined(__x86_64__)
#include <cpuid.h>
#define HAVE_X86 1
#else
#define HAVE_X86 0
#endif

/* ---- ref entries ------------------------------------------------------------------------- */

#define REF_DOT(T)                                                                                 \
    static float dot_##T##_ref(const void *w, const void *x, int64_t n)                            \
    {                                                                                              \
        return eng_vec_dot_q8_ref(ENG_TYPE_##T, w, x, n);                                          \
    }
REF_DOT(F32)
REF_DOT(F16)
REF_DOT(BF16)
REF_DOT(Q4_0)
REF_DOT(Q4_1)
REF_DOT(Q5_0)
REF_DOT(Q5_1)
REF_DOT(Q8_0)
REF_DOT(Q4_K)
REF_DOT(Q5_K)
REF_DOT(Q6_K)

#define REF_QUANT(T)                                                                               \
    static void quant_##T##_ref(const float *x, void *dst, int64_t n)                              \
    {                                                                                              \
        (void)eng_quantize_row_ref(ENG_TYPE_##T, x, dst, n);                                       \
    }
REF_QUANT(F32)
REF_QUANT(Q8_0)
REF_QUANT(Q8_1)
REF_QUANT(Q8_K)

#define REF_TO_F32(T)                                                                              \
    static void to_f32_##T##_ref(const void *src, float *dst, int64_t n)                           \
    {                                                                                              \
        (void)eng_dequant_row_ref(ENG_TYPE_##T, src, dst, n);                                      \
    }
REF_TO_F32(F32)
REF_TO_F32(F16)
REF_TO_F32(BF16)

static void silu_mul_ref(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

static float exp_sum_ref(float *v, float shift, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        v[i] = expf(v[i] - shift);
        sum += v[i];
    }
    return sum;
}

/* Sums in element order from 0, as forward.c's attention always has. */
static float dot_f32_ref(const float *a, const float *b, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

static float dot_f32_f16_ref(const float *a, const uint16_t *b, int64_t n)
{
    float sum = 0.0f;
    for (int64_t i = 0; i < n; i++)
        sum += a[i] * eng_f16_to_f32(b[i]);
    return sum;
}

static void axpy_f32_ref(float a, const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void axpy_f16_ref(float a, const uint16_t *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * eng_f16_to_f32(x[i]);
}

static void fill_ref(struct eng_kernels *k)
{
    memset(k, 0, sizeof *k);
    k->name = "ref";
    k->vec_dot[ENG_TYPE_F32] = dot_F32_ref;
    k->vec_dot[ENG_TYPE_F16] = dot_F16_ref;
    k->vec_dot[ENG_TYPE_BF16] = dot_BF16_ref;
    k->vec_dot[ENG_TYPE_Q4_0] = dot_Q4_0_ref;
    k->vec_dot[ENG_TYPE_Q4_1] = dot_Q4_1_ref;
    k->vec_dot[ENG_TYPE_Q5_0] = dot_Q5_0_ref;
    k->vec_dot[ENG_TYPE_Q5_1] = dot_Q5_1_ref;
    k->vec_dot[ENG_TYPE_Q8_0] = dot_Q8_0_ref;
    k->vec_dot[ENG_TYPE_Q4_K] = dot_Q4_K_ref;
    k->vec_dot[ENG_TYPE_Q5_K] = dot_Q5_K_ref;
    k->vec_dot[ENG_TYPE_Q6_K] = dot_Q6_K_ref;
    k->quantize_act[ENG_TYPE_F32] = quant_F32_ref;
    k->quantize_act[ENG_TYPE_Q8_0] = quant_Q8_0_ref;
    k->quantize_act[ENG_TYPE_Q8_1] = quant_Q8_1_ref;
    k->quantize_act[ENG_TYPE_Q8_K] = quant_Q8_K_ref;
    k->dot_f32 = dot_f32_ref;
    k->dot_f32_f16 = dot_f32_f16_ref;
    k->axpy_f32 = axpy_f32_ref;
    k->axpy_f16 = axpy_f16_ref;
    k->silu_mul = silu_mul_ref;
    k->exp_sum = exp_sum_ref;
    k->to_f32[ENG_TYPE_F32] = to_f32_F32_ref;
    k->to_f32[ENG_TYPE_F16] = to_f32_F16_ref;
    k->to_f32[ENG_TYPE_BF16] = to_f32_BF16_ref;
}

/* ---- CPU features ------------------------------------------------------------------------ */

struct cpu_features {
    bool avx2;   /* AVX2 + FMA + F16C, YMM state enabled by the OS */
    bool avx512; /* AVX-512 F/BW/VL/DQ + VNNI, ZMM and opmask state enabled by the OS */
};

#if HAVE_X86
static uint64_t xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}
#endif

static struct cpu_features probe(void)
{
    struct cpu_features f = {0};
#if HAVE_X86
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool fma = c >> 12 & 1, osxsave = c >> 27 & 1, avx = c >> 28 & 1, f16c = c >> 29 & 1;
    if (!osxsave || !avx) return f;
    const uint64_t xcr = xcr0();
    if ((xcr & 0x6) != 0x6) return f; /* XMM and YMM state (Intel SDM vol. 1, 13.3) */
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7) return f;
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = (b >> 5 & 1) && fma && f16c;
    const bool zmm_os = (xcr & 0xe6) == 0xe6; /* + opmask, ZMM_Hi256, Hi16_ZMM */
    const bool a512f = b >> 16 & 1, a512dq = b >> 17 & 1, a512bw = b >> 30 & 1,
               a512vl = b >> 31 & 1;
    const bool vnni = c >> 11 & 1;
    /* VNNI is required, not optional: kernels_avx512.c is compiled with -mavx512vnni, so the
     * compiler may use it anywhere in that file. The CPUs this excludes (Skylake-SP/X) run the
     * AVX2 table. */
    f.avx512 = f.avx2 && zmm_os && a512f && a512dq && a512bw && a512vl && vnni;
#endif
    return f;
}

/* ---- the tables -------------------------------------------------------------------------- */

static struct eng_kernels tab_ref, tab_avx2, tab_avx512;
static bool have_avx2, have_avx512;
static const struct eng_kernels *chosen;
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;
static pthread_once_t choice_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    fill_ref(&tab_ref);
#if HAVE_X86
    const struct cpu_features f = probe();
    if (f.avx2) {
        tab_avx2 = tab_ref;
        tab_avx2.name = "avx2";
        eng_kernels_fill_avx2(&tab_avx2);
        eng_gemm_fill_avx2(&tab_avx2);
        have_avx2 = true;
    }
    if (f.avx512) {
        tab_avx512 = tab_avx2;
        tab_avx512.name = "avx512";
        eng_kernels_fill_avx512(&tab_avx512);
        eng_gemm_fill_avx512(&tab_avx512); /* over the avx2 GEMM entries */
        have_avx512 = true;
    }
#else
    (void)probe;
#endif
}

const struct eng_kernels *eng_kernels_get(const char *name)
{
    pthread_once(&tables_once, build_tables);
    if (!name) return NULL;
    if (strcmp(name, "ref") == 0) return &tab_ref;
    if (strcmp(name, "avx2") == 0) return have_avx2 ? &tab_avx2 : NULL;
    if (strcmp(name, "avx512") == 0) return have_avx512 ? &tab_avx512 : NULL;
    return NULL;
}

const struct eng_kernels *eng_kernels_select(const char *force)
{
    pthread_once(&tables_once, build_tables);
    const struct eng_kernels *best = have_avx512 ? &tab_avx512 : have_avx2 ? &tab_avx2 : &tab_ref;
    if (!force || !*force) return best;
    if (strcmp(force, "ref") == 0) return &tab_ref;
    if (strcmp(force, "avx2") == 0) return have_avx2 ? &tab_avx2 : best;
    if (strcmp(force, "avx512") == 0) return have_avx512 ? &tab_avx512 : best;
    return &tab_ref; /* unknown name: the portable path */
}

static void choose(void)
{
    chosen = eng_kernels_select(getenv("GLMTERM_KERNELS"));
}

const struct eng_kernels *eng_kernels(void)
{
    pthread_once(&choice_once, choose);
    return chosen;
}
