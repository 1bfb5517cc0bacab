/* Tests of the weight quantisers (engine/quantize.c) and of eng_quantize_file.
 *
 * Evidence:
 *   - shared/fixtures/quant/: ggml's blocks (<TYPE>.bin, from llama-quantize files) and their
 *     dequantisation (<TYPE>.f32). ggml's reference quantiser is deterministic and (nearly)
 *     idempotent: quantising its own dequantised output reproduces the blocks it came from. So
 *     quantising each .f32 row must give the .bin bytes exactly; this pins scales, rounding and
 *     bit packing of Q4_0, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K, and F16/BF16 (where .f32 -> .bin is
 *     the conversion itself). Where the fixed point is not reached (NOT_FIXED below: 4 of 144) the
 *     dequantised values are compared instead;
 *   - random rows of every type round-trip through eng_dequant_row_ref within the format's
 *     error (a fraction of the block's scale), and zero rows stay zero;
 *   - F16 / BF16 rounding: ties to even, overflow, NaN stays NaN (BF16 quiet, ggml's rule);
 *   - file level: the F16 fixture GGUF quantised to Q4_0 equals llama-quantize's Q4_0 fixture
 *     tensor for tensor (type, shape and bytes), in the same order, with the same keys; the HF
 *     directories give the F16 fixture (chatglm, BF16 -> F16) and the 0414 Q4_0 fixture (glm4,
 *     split q/k/v, BF16 -> Q4_0) tensor for tensor;
 *   - type policy: a synthetic 8-layer model with 256-wide rows and d_ffn 160 gets, for each
 *     K-mix and plain ftype, the types llama_tensor_get_type gives (worked by hand: use_more_bits
 *     layers, attn_qkv / attn_v bumps, output Q6_K, fallbacks for the 160-wide ffn_down), and its
 *     data is the row quantiser's output; quantisation uses 3 threads (rows are independent).
 */
#include "engine/eng_int.h"
#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_ROW 4096

/* The rows of fixtures/quant (index.json, fixed with the fixtures). */
static const struct {
    const char *name;
    uint32_t type;
    int64_t row_length, rows;
} FIX[] = {
    {"Q6_K", ENG_TYPE_Q6_K, 256, 16}, {"Q4_K", ENG_TYPE_Q4_K, 256, 16},
    {"Q5_K", ENG_TYPE_Q5_K, 256, 16}, {"Q4_0", ENG_TYPE_Q4_0, 256, 16},
    {"Q8_0", ENG_TYPE_Q8_0, 256, 16}, {"Q5_0", ENG_TYPE_Q5_0, 128, 16},
    {"Q5_1", ENG_TYPE_Q5_1, 128, 16}, {"BF16", ENG_TYPE_BF16, 128, 16},
    {"F16", ENG_TYPE_F16, 64, 16},
};

/* Rows of the fixtures where quantising ggml's dequantised values does not give ggml's blocks
 * back, measured (the same with and without FMA contraction of the quantiser): the reference
 * quantisers are searches (make_qx_quants for Q6_K, make_qkx2_quants + 6-bit scale rounding for
 * Q5_K), and a search started from dequantised data may settle elsewhere. Q6_K row 10 is
 * another encoding of exactly the same values (error 0); the Q5_K rows pick a neighbouring
 * 6-bit sub-block scale. Q4_K, which runs the same code with other constants, reproduces all
 * 16 rows. max_rel_sq bounds sum (x - y)^2 / sum x^2 for these rows. */
static const struct {
    const char *name;
    int64_t row;
    double max_rel_sq;
} NOT_FIXED[] = {
    {"Q6_K", 10, 0.0},
    {"Q5_K", 3, 1e-3},
    {"Q5_K", 4, 1e-3},
    {"Q5_K", 14, 1e-3},
};

static size_t row_bytes(uint32_t type, int64_t n)
{
    return (size_t)(n / eng_type_block_size(type)) * eng_type_block_bytes(type);
}

static void *read_fixture(const char *name, const char *ext, size_t want)
{
    char rel[128];
    snprintf(rel, sizeof rel, "fixtures/quant/%s.%s", name, ext);
    size_t len;
    char *p = tu_read_file(tu_shared(rel), &len);
    assert_int_equal(len, want);
    return p;
}

/* Re-quantising ggml's dequantised rows gives ggml's blocks back, byte for byte. */
static void test_requantize_fixtures(void **state)
{
    (void)state;
    for (size_t f = 0; f < sizeof FIX / sizeof FIX[0]; f++) {
        const int64_t n = FIX[f].row_length;
        const size_t rb = row_bytes(FIX[f].type, n);
        uint8_t *bin = read_fixture(FIX[f].name, "bin", rb * (size_t)FIX[f].rows);
        float *x = read_fixture(FIX[f].name, "f32", (size_t)(n * FIX[f].rows) * sizeof(float));
        uint8_t out[MAX_ROW];
        float y[MAX_ROW];
        for (int64_t r = 0; r < FIX[f].rows; r++) {
            const float *xr = x + r * n;
            assert_int_equal(eng_quantize_weight_row_ref(FIX[f].type, xr, out, n), 0);
            if (memcmp(out, bin + (size_t)r * rb, rb) == 0) continue;
            /* Not ggml's bytes: only allowed for the listed rows, and then the values must
             * be as close as NOT_FIXED says. */
            size_t k = 0;
            while (k < sizeof NOT_FIXED / sizeof NOT_FIXED[0] &&
                   !(strcmp(NOT_FIXED[k].name, FIX[f].name) == 0 && NOT_FIXED[k].row == r))
                k++;
            if (k == sizeof NOT_FIXED / sizeof NOT_FIXED[0])
                fail_msg("%s row %lld: blocks differ from ggml's", FIX[f].name, (long long)r);
            assert_int_equal(eng_dequant_row_ref(FIX[f].type, out, y, n), 0);
            double sq = 0, ref = 0;
            for (int64_t i = 0; i < n; i++) {
                sq += ((double)xr[i] - y[i]) * ((double)xr[i] - y[i]);
                ref += (double)xr[i] * xr[i];
            }
            if (!(sq <= NOT_FIXED[k].max_rel_sq * ref))
                fail_msg("%s row %lld: relative squared error %g", FIX[f].name, (long long)r,
                         sq / ref);
        }
        free(bin);
        free(x);
    }
}

/* Random rows (normal-ish, with outliers and exact zeros) round-trip within the format's
 * error: per block, |x - dq(q(x))| <= TOL * max|x| of the block. */
static void test_roundtrip_random(void **state)
{
    (void)state;
    static const struct {
        uint32_t type;
        float tol; /* half a step of the coarsest grid, as a fraction of the block's max |x| */
    } T[] = {
        {ENG_TYPE_Q4_0, 1.0f / 8},   {ENG_TYPE_Q4_1, 0.55f / 15}, {ENG_TYPE_Q5_0, 1.0f / 16},
        {ENG_TYPE_Q5_1, 0.55f / 31}, {ENG_TYPE_Q8_0, 1.0f / 127}, {ENG_TYPE_Q4_K, 0.25f},
        {ENG_TYPE_Q5_K, 0.125f},     {ENG_TYPE_Q6_K, 0.0625f},    {ENG_TYPE_F16, 1e-3f},
        {ENG_TYPE_BF16, 8e-3f},      {ENG_TYPE_F32, 0.0f},
    };
    enum { N = 1024 };
    static float x[N], y[N];
    static uint8_t q[N * 4];
    uint64_t seed = 0x9e3779b97f4a7c15u;
    for (size_t k = 0; k < sizeof T / sizeof T[0]; k++) {
        for (int rep = 0; rep < 20; rep++) {
            for (int i = 0; i < N; i++) {
                double u = (double)(tu_rand(&seed) >> 11) / 9007199254740992.0;
                double v = (double)(tu_rand(&seed) >> 11) / 9007199254740992.0;
                float g = (float)(sqrt(-2 * log(u + 1e-12)) * cos(6.283185307179586 * v));
                if (tu_rand(&seed) % 97 == 0) g *= 8; /* outliers */
                if (tu_rand(&seed) % 53 == 0) g = 0;
                x[i] = g * 0.02f;
            }
            if (rep == 0) memset(x, 0, sizeof x); /* all zero */
            assert_int_equal(eng_quantize_weight_row_ref(T[k].type, x, q, N), 0);
            assert_int_equal(eng_dequant_row_ref(T[k].type, q, y, N), 0);
            const int bs =
                T[k].type == ENG_TYPE_F32 || T[k].type == ENG_TYPE_F16 || T[k].type == ENG_TYPE_BF16
                    ? 32
                    : (int)eng_type_block_size(T[k].type);
            for (int b = 0; b < N; b += bs) {
                float amax = 0;
                for (int i = b; i < b + bs; i++)
                    amax = fmaxf(amax, fabsf(x[i]));
                /* asymmetric types: the step is (max - min) / levels <= 2 amax / levels */
                if (T[k].type == ENG_TYPE_Q4_1 || T[k].type == ENG_TYPE_Q5_1) amax *= 2;
                for (int i = b; i < b + bs; i++) {
                    float err = fabsf(x[i] - y[i]);
                    float lim = T[k].tol * amax + 1e-7f * amax;
                    if (T[k].type == ENG_TYPE_F16 || T[k].type == ENG_TYPE_BF16)
                        lim = T[k].tol * fabsf(x[i]) + 1e-7f;
                    if (!(err <= lim))
                        fail_msg("%s rep %d elem %d: x %g -> %g (limit %g)",
                                 eng_type_name(T[k].type), rep, i, x[i], y[i], lim);
                }
            }
            if (rep == 0)
                for (int i = 0; i < N; i++)
                    assert_true(y[i] == 0.0f);
        }
    }
}

static uint16_t ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* F16 and BF16 rounding as ggml does it. */
static void test_half_rounding(void **state)
{
    (void)state;
    const float in[] = {1.0f,
                        bits_f32(0x3f801000u), /* halfway between halves: ties to even (down) */
                        bits_f32(0x3f803000u), /* halfway, odd below: up */
                        65520.0f,              /* f16 overflow at the tie */
                        bits_f32(0x3f808000u), /* bf16 tie, even: down */
                        bits_f32(0x3f818000u), /* bf16 tie, odd: up */
                        bits_f32(0x7f800001u), /* signalling NaN */
                        -0.0f};
    const uint16_t f16[] = {0x3c00, 0x3c00, 0x3c02, 0x7c00, 0x3c04, 0x3c0c, 0x7e00, 0x8000};
    const uint16_t bf16[] = {0x3f80, 0x3f80, 0x3f80, 0x4780, 0x3f80, 0x3f82, 0x7fc0, 0x8000};
    const size_t n = sizeof in / sizeof in[0];
    uint8_t h[2 * 8], b[2 * 8];
    assert_int_equal(eng_quantize_weight_row_ref(ENG_TYPE_F16, in, h, (int64_t)n), 0);
    assert_int_equal(eng_quantize_weight_row_ref(ENG_TYPE_BF16, in, b, (int64_t)n), 0);
    for (size_t i = 0; i < n; i++) {
        if (ld16(h + 2 * i) != f16[i]) fail_msg("f16[%zu] = %04x", i, ld16(h + 2 * i));
        if (ld16(b + 2 * i) != bf16[i]) fail_msg("bf16[%zu] = %04x", i, ld16(b + 2 * i));
    }
}

static void test_refuses(void **state)
{
    (void)state;
    float x[64] = {0};
    uint8_t q[256];
    assert_int_equal(eng_quantize_weight_row_ref(ENG_TYPE_Q4_0, x, q, 48), ENG_ERR_RANGE);
    assert_int_equal(eng_quantize_weight_row_ref(ENG_TYPE_Q4_K, x, q, 64), ENG_ERR_RANGE);
    assert_int_equal(eng_quantize_weight_row_ref(ENG_TYPE_IQ2_XS, x, q, 256), ENG_ERR_UNSUPPORTED);
    assert_int_equal(eng_quantize_weight_row_ref(999, x, q, 32), ENG_ERR_UNSUPPORTED);
    assert_int_equal(eng_ftype_parse("q4_k_m"), ENG_FTYPE_Q4_K_M);
    assert_int_equal(eng_ftype_parse("BF16"), ENG_FTYPE_BF16);
    assert_int_equal(eng_ftype_parse("Q3_K_M"), -1);
    assert_string_equal(eng_ftype_name(ENG_FTYPE_Q8_0), "Q8_0");
    assert_null(eng_ftype_name(4));
}

/* Quantises `in` to `ftype` (3 threads) into a temporary file; returns its path (static). */
static const char *quantize_tmp(const char *in, int ftype)
{
    static char out[64];
    snprintf(out, sizeof out, "/tmp/glmterm-test-quantize-XXXXXX");
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    char *why = NULL;
    struct eng_quantize_opts o = {.ftype = ftype, .n_threads = 3};
    if (eng_quantize_file(in, out, &o, &why) != 0) fail_msg("%s", why ? why : "quantize failed");
    return out;
}

/* Every tensor of `ref` is in `path` with the same type, shape and bytes (order and keys may
 * differ). */
static void assert_same_tensors(const char *path, const char *ref)
{
    char *why = NULL;
    struct eng_gguf *a = eng_gguf_open(path, &why), *b = eng_gguf_open(ref, &why);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(eng_gguf_tensor_count(a), eng_gguf_tensor_count(b));
    for (int64_t i = 0; i < eng_gguf_tensor_count(b); i++) {
        const struct eng_gguf_tensor *tb = eng_gguf_tensor_at(b, i);
        const struct eng_gguf_tensor *ta = eng_gguf_tensor_find(a, tb->name);
        if (!ta) fail_msg("%s missing", tb->name);
        if (ta->type != tb->type)
            fail_msg("%s: %s, llama.cpp %s", tb->name, eng_type_name(ta->type),
                     eng_type_name(tb->type));
        assert_memory_equal(ta->ne, tb->ne, sizeof ta->ne);
        assert_int_equal(ta->nbytes, tb->nbytes);
        if (memcmp(ta->data, tb->data, tb->nbytes) != 0) fail_msg("%s: bytes differ", tb->name);
    }
    eng_gguf_close(a);
    eng_gguf_close(b);
}

/* The F16 fixture quantised to Q4_0 is llama-quantize's Q4_0 fixture, tensor for tensor, in
 * the same order, with the same keys. */
static void test_file_q4_0(void **state)
{
    (void)state;
    char ref[4096];
    snprintf(ref, sizeof ref, "%s", tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-Q4_0.gguf"));
    const char *out =
        quantize_tmp(tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"), ENG_FTYPE_Q4_0);
    assert_same_tensors(out, ref);
    char *why = NULL;
    struct eng_gguf *a = eng_gguf_open(out, &why), *b = eng_gguf_open(ref, &why);
    for (int64_t i = 0; i < eng_gguf_tensor_count(b); i++)
        assert_string_equal(eng_gguf_tensor_at(a, i)->name, eng_gguf_tensor_at(b, i)->name);
    assert_int_equal(eng_gguf_kv_count(a), eng_gguf_kv_count(b));
    for (int64_t k = 0; k < eng_gguf_kv_count(b); k++) {
        uint32_t ta, tb;
        const void *va, *vb;
        uint64_t la, lb;
        assert_string_equal(eng_gguf_key_name(a, k), eng_gguf_key_name(b, k));
        assert_int_equal(eng_gguf_kv_raw(a, k, &ta, &va, &la), 0);
        assert_int_equal(eng_gguf_kv_raw(b, k, &tb, &vb, &lb), 0);
        assert_int_equal(ta, tb);
        assert_int_equal(la, lb);
        assert_memory_equal(va, vb, la);
    }
    uint32_t ft = 0, qv = 0;
    assert_int_equal(eng_gguf_get_u32(a, "general.file_type", &ft), 0);
    assert_int_equal(eng_gguf_get_u32(a, "general.quantization_version", &qv), 0);
    assert_int_equal(ft, 2);
    assert_int_equal(qv, 2);
    eng_gguf_close(a);
    eng_gguf_close(b);
    unlink(out);
}

/* From HF directories: chatglm BF16 -> F16 equals the F16 fixture convert_hf_to_gguf.py made
 * (norms and biases F32, q/k/v fused as in the original checkpoint); glm4 (0414, split q/k/v)
 * -> Q4_0 equals llama-quantize's Q4_0 fixture. */
static void test_file_from_hf(void **state)
{
    (void)state;
    char ref[4096];
    snprintf(ref, sizeof ref, "%s", tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"));
    const char *out = quantize_tmp(tu_shared("fixtures/models/glm4-tiny64/hf"), ENG_FTYPE_F16);
    assert_same_tensors(out, ref);
    unlink(out);
    snprintf(ref, sizeof ref, "%s",
             tu_shared("fixtures/models/glm4-0414-tiny64/glm4-0414-tiny64-Q4_0.gguf"));
    out = quantize_tmp(tu_shared("fixtures/models/glm4-0414-tiny64/hf"), ENG_FTYPE_Q4_0);
    assert_same_tensors(out, ref);
    unlink(out);
}

static int cancel_at_3(const struct eng_quantize_event *ev, void *user)
{
    int *seen = user;
    assert_int_equal(ev->index, *seen + 1); /* 1-based, in file order */
    assert_int_equal(ev->count, 17);
    *seen = (int)ev->index;
    return ev->index == 3;
}

/* Progress reports each tensor once, in order; cancelling leaves no file behind. Bad inputs
 * fail with a reason. */
static void test_cancel_and_errors(void **state)
{
    (void)state;
    char out[] = "/tmp/glmterm-test-cancel-XXXXXX";
    int fd = mkstemp(out);
    assert_true(fd >= 0);
    close(fd);
    unlink(out);
    int seen = 0;
    char *why = NULL;
    struct eng_quantize_opts o = {.ftype = ENG_FTYPE_Q8_0, .progress = cancel_at_3, .user = &seen};
    int rc = eng_quantize_file(tu_shared("fixtures/models/glm4-tiny64/glm4-tiny64-F16.gguf"), out,
                               &o, &why);
    assert_int_equal(rc, ENG_ERR_RANGE);
    assert_non_null(why);
    assert_non_null(strstr(why, "cancelled"));
    free(why);
    why = NULL;
    assert_int_equal(seen, 3);
    assert_int_equal(access(out, F_OK), -1);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    assert_int_equal(access(tmp, F_OK), -1);

    o = (struct eng_quantize_opts){.ftype = ENG_FTYPE_Q4_0};
    assert_true(eng_quantize_file("/nonexistent/model.gguf", out, &o, &why) < 0);
    assert_non_null(why);
    free(why);
    why = NULL;
    o.ftype = 4; /* a retired llama ftype */
    assert_int_equal(eng_quantize_file("/nonexistent/model.gguf", out, &o, &why),
                     ENG_ERR_UNSUPPORTED);
    free(why);
}

/* ---- type policy on a synthetic model (8 layers, rows of 256, d_ffn 160) ------------------ */

enum { P_LAYERS = 8, P_D = 256, P_FFN = 160, P_VOCAB = 64 };

/* Writes a random F16 GGUF of arch `arch` (chatglm: fused attn_qkv; glm4: split q/k/v). */
static void write_policy_model(const char *path, const char *arch)
{
    struct eng_gguf_writer *w = eng_gguf_writer_new();
    char key[64];
    eng_gguf_writer_str(w, "general.architecture", arch);
    snprintf(key, sizeof key, "%s.block_count", arch);
    eng_gguf_writer_u32(w, key, P_LAYERS);
    static uint16_t data[P_D * 4 * P_D]; /* the largest tensor, shared by all (content is moot) */
    uint64_t seed = 7;
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++)
        data[i] = 0x2000 | (uint16_t)(tu_rand(&seed) & 0x83ff); /* small f16 values */
    static float ones[4 * P_D];
    for (int i = 0; i < 4 * P_D; i++)
        ones[i] = 1.0f;
    int64_t ne[2];
#define T2(NAME, N0, N1)                                                                           \
    (ne[0] = (N0), ne[1] = (N1), eng_gguf_writer_tensor(w, NAME, ENG_TYPE_F16, 2, ne, data))
#define T1(NAME, N0) (ne[0] = (N0), eng_gguf_writer_tensor(w, NAME, ENG_TYPE_F32, 1, ne, ones))
    T2("token_embd.weight", P_D, P_VOCAB);
    T1("output_norm.weight", P_D);
    T2("output.weight", P_D, P_VOCAB);
    for (int l = 0; l < P_LAYERS; l++) {
        char n[64];
#define NM(S) (snprintf(n, sizeof n, "blk.%d.%s", l, S), n)
        T1(NM("attn_norm.weight"), P_D);
        if (strcmp(arch, "chatglm") == 0) {
            T2(NM("attn_qkv.weight"), P_D, P_D + 64);
            T1(NM("attn_qkv.bias"), P_D + 64);
        } else {
            T2(NM("attn_q.weight"), P_D, P_D);
            T2(NM("attn_k.weight"), P_D, 32);
            T2(NM("attn_v.weight"), P_D, 32);
        }
        T2(NM("attn_output.weight"), P_D, P_D);
        T1(NM("ffn_norm.weight"), P_D);
        T2(NM("ffn_up.weight"), P_D, 2 * P_FFN);
        T2(NM("ffn_down.weight"), P_FFN, P_D);
#undef NM
    }
#undef T1
#undef T2
    char *why = NULL;
    if (eng_gguf_writer_write(w, path, &why) != 0) fail_msg("%s", why);
    eng_gguf_writer_free(w);
}

static uint32_t type_of(const struct eng_gguf *g, const char *name)
{
    const struct eng_gguf_tensor *t = eng_gguf_tensor_find(g, name);
    if (!t) fail_msg("%s missing", name);
    return t->type;
}

/* llama_tensor_get_type (llama.cpp src/llama-quant.cpp) worked by hand for this model:
 * use_more_bits(i, 8) holds for layers 0, 3, 6, 7; ffn_down rows (160) are not whole blocks of
 * 256, so Q4_K falls back to Q5_0, Q5_K to Q5_1, Q6_K to Q8_0. */
static void test_policy(void **state)
{
    (void)state;
    char in[] = "/tmp/glmterm-test-policy-XXXXXX";
    int fd = mkstemp(in);
    assert_true(fd >= 0);
    close(fd);
    static const int ftypes[] = {ENG_FTYPE_Q4_K_M, ENG_FTYPE_Q5_K_M, ENG_FTYPE_Q6_K,
                                 ENG_FTYPE_Q8_0,   ENG_FTYPE_Q4_1,   ENG_FTYPE_BF16};
    for (int arch = 0; arch < 2; arch++) {
        write_policy_model(in, arch ? "glm4" : "chatglm");
        for (size_t f = 0; f < sizeof ftypes / sizeof ftypes[0]; f++) {
            const int ft = ftypes[f];
            const char *out = quantize_tmp(in, ft);
            char *why = NULL;
            struct eng_gguf *g = eng_gguf_open(out, &why);
            assert_non_null(g);
            const uint32_t base = ft == ENG_FTYPE_Q4_K_M   ? ENG_TYPE_Q4_K
                                  : ft == ENG_FTYPE_Q5_K_M ? ENG_TYPE_Q5_K
                                  : ft == ENG_FTYPE_Q6_K   ? ENG_TYPE_Q6_K
                                  : ft == ENG_FTYPE_Q8_0   ? ENG_TYPE_Q8_0
                                  : ft == ENG_FTYPE_Q4_1   ? ENG_TYPE_Q4_1
                                                           : ENG_TYPE_BF16;
            const bool kq = ft == ENG_FTYPE_Q4_K_M || ft == ENG_FTYPE_Q5_K_M;
            const uint32_t out_t = ft == ENG_FTYPE_Q8_0   ? ENG_TYPE_Q8_0
                                   : ft == ENG_FTYPE_BF16 ? ENG_TYPE_BF16
                                                          : ENG_TYPE_Q6_K;
            assert_int_equal(type_of(g, "output.weight"), out_t);
            assert_int_equal(type_of(g, "token_embd.weight"), base);
            assert_int_equal(type_of(g, "output_norm.weight"), ENG_TYPE_F32);
            for (int l = 0; l < P_LAYERS; l++) {
                char n[64];
                const bool more = l == 0 || l == 3 || l == 6 || l == 7;
                uint32_t down = kq && more ? ENG_TYPE_Q6_K : base;
                if (down == ENG_TYPE_Q4_K) down = ENG_TYPE_Q5_0;
                if (down == ENG_TYPE_Q5_K) down = ENG_TYPE_Q5_1;
                if (down == ENG_TYPE_Q6_K) down = ENG_TYPE_Q8_0;
                snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l);
                if (type_of(g, n) != down)
                    fail_msg("%s %s: %s", eng_ftype_name(ft), n, eng_type_name(type_of(g, n)));
                snprintf(n, sizeof n, "blk.%d.ffn_up.weight", l);
                assert_int_equal(type_of(g, n), base);
                snprintf(n, sizeof n, "blk.%d.attn_norm.weight", l);
                assert_int_equal(type_of(g, n), ENG_TYPE_F32);
                if (arch == 0) {
                    const uint32_t qkv = ft == ENG_FTYPE_Q4_K_M   ? ENG_TYPE_Q5_K
                                         : ft == ENG_FTYPE_Q5_K_M ? ENG_TYPE_Q6_K
                                                                  : base;
                    snprintf(n, sizeof n, "blk.%d.attn_qkv.weight", l);
                    assert_int_equal(type_of(g, n), qkv);
                    snprintf(n, sizeof n, "blk.%d.attn_qkv.bias", l);
                    assert_int_equal(type_of(g, n), ENG_TYPE_F32);
                } else {
                    snprintf(n, sizeof n, "blk.%d.attn_v.weight", l);
                    if (type_of(g, n) != (kq && more ? ENG_TYPE_Q6_K : base))
                        fail_msg("%s %s: %s", eng_ftype_name(ft), n, eng_type_name(type_of(g, n)));
                    snprintf(n, sizeof n, "blk.%d.attn_k.weight", l);
                    assert_int_equal(type_of(g, n), base);
                }
            }
            /* The data is the row quantiser's output on the dequantised input. */
            struct eng_gguf *src = eng_gguf_open(in, &why);
            const struct eng_gguf_tensor *a = eng_gguf_tensor_find(src, "blk.3.ffn_down.weight");
            const struct eng_gguf_tensor *b = eng_gguf_tensor_find(g, "blk.3.ffn_down.weight");
            static float row[P_FFN];
            static uint8_t q[P_FFN * 4];
            const size_t rb = row_bytes(b->type, P_FFN);
            for (int64_t r = 0; r < a->ne[1]; r++) {
                eng_dequant_row_ref(a->type, (const uint8_t *)a->data + r * P_FFN * 2, row, P_FFN);
                eng_quantize_weight_row_ref(b->type, row, q, P_FFN);
                assert_memory_equal(q, (const uint8_t *)b->data + (size_t)r * rb, rb);
            }
            eng_gguf_close(src);
            eng_gguf_close(g);
            unlink(out);
        }
    }
    unlink(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requantize_fixtures),
        cmocka_unit_test(test_roundtrip_random),
        cmocka_unit_test(test_half_rounding),
        cmocka_unit_test(test_refuses),
        cmocka_unit_test(test_file_q4_0),
        cmocka_unit_test(test_file_from_hf),
        cmocka_unit_test(test_policy),
        cmocka_unit_test(test_cancel_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
