/* kern_bench: speed of the engine's kernels per weight type, one thread.
 *
 * Table 1, matrix · vector (decode): for every type and every path this CPU has, fills a
 * ROWS x COLS weight matrix with random blocks (valid scales, random quants), quantises one
 * random activation row with the path's quantize_act, then times out[r] = vec_dot[type](row r,
 * xq) over all rows, best of several runs; where the path has a decode GEMV for the type
 * (packed activations, engine/gemm.c) it is timed too. GB/s of weight bytes read: the number
 * that bounds decode speed, where every weight is read once per token.
 *
 * Table 2, matrix · matrix (prompt batches), default path: the same matrix times TOKENS
 * activation rows three ways, in 10^9 multiply-adds per second: the int8 GEMM (packing the
 * weight tiles included), OpenBLAS sgemm on the rows converted to f32 (conversion included,
 * as the engine's blas path runs it) and the row-by-row dots the engine would use without a
 * GEMM. This is the measurement behind the engine's choice (forward.c, mm_path).
 *
 * Usage: kern_bench [rows [cols [tokens]]]   (default 4096 x 4096, 256 tokens; cols a
 * multiple of 256)
 */
#include "engine/eng_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static float frand(void) /* [-1, 1) */
{
    return (float)((double)(next() >> 11) / (double)(1ull << 53) * 2.0 - 1.0);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8);
}

/* Random bytes, then each block's f16 fields set to small finite values (the layout of each
 * type from quant.c); float types get random finite values. */
static void fill_weights(uint32_t type, uint8_t *w, int64_t n_el)
{
    const int64_t bs = eng_type_block_size(type), bb = eng_type_block_bytes(type);
    const int64_t nb = n_el / bs;
    if (type == ENG_TYPE_F32) {
        for (int64_t i = 0; i < n_el; i++) {
            float f = frand();
            memcpy(w + 4 * i, &f, 4);
        }
        return;
    }
    if (type == ENG_TYPE_F16 || type == ENG_TYPE_BF16) {
        for (int64_t i = 0; i < n_el; i++) {
            float f = frand();
            uint32_t u;
            memcpy(&u, &f, 4);
            put16(w + 2 * i, type == ENG_TYPE_F16 ? eng_f32_to_f16(f) : (uint16_t)(u >> 16));
        }
        return;
    }
    for (int64_t i = 0; i < nb * bb; i++)
        w[i] = (uint8_t)next();
    for (int64_t b = 0; b < nb; b++) {
        uint8_t *p = w + b * bb;
        const uint16_t d = eng_f32_to_f16(0.01f * (1.0f + frand()));
        switch (type) {
        case ENG_TYPE_Q4_1:
        case ENG_TYPE_Q5_1:
        case ENG_TYPE_Q4_K:
        case ENG_TYPE_Q5_K: put16(p, d), put16(p + 2, d); break;
        case ENG_TYPE_Q6_K: put16(p + 208, d); break;
        case ENG_TYPE_Q8_0:
            put16(p, d);
            for (int j = 0; j < 32; j++)
                if (p[2 + j] == 0x80) p[2 + j] = 0x81; /* ggml's range: -127..127 */
            break;
        default: put16(p, d); break;
        }
    }
}

/* Table 2: int8 GEMM vs OpenBLAS vs row-by-row dots, default path, one thread. */
static void gemm_table(int64_t rows, int64_t cols, int32_t tokens, const uint32_t *types,
                       size_t n_types)
{
    const struct eng_kernels *k = eng_kernels();
    eng_blas_init();
    const int32_t dot_tokens = tokens < 16 ? tokens : 16; /* the dot loop is per token anyway */
    float *x = malloc((size_t)tokens * (size_t)cols * sizeof *x);
    float *out = malloc((size_t)tokens * (size_t)rows * sizeof *out);
    float *tile = malloc((size_t)ENG_BLAS_ROWS * (size_t)cols * sizeof *tile);
    uint8_t *xq = malloc((size_t)tokens * eng_act_row_bytes(ENG_TYPE_F32, cols));
    int8_t *gq = malloc((size_t)tokens * (size_t)cols);
    float *gd = malloc((size_t)tokens * (size_t)(cols / 32) * sizeof *gd);
    float *gs = malloc((size_t)tokens * (size_t)(cols / 32) * sizeof *gs);
    int32_t *gc = malloc((size_t)tokens * (size_t)(cols / 16) * sizeof *gc);
    if (!x || !out || !tile || !xq || !gq || !gd || !gs || !gc) exit(1);
    for (int64_t i = 0; i < (int64_t)tokens * cols; i++)
        x[i] = frand();
    const double macs = (double)rows * (double)cols * (double)tokens;
    printf("\nkern_bench: %lld x %lld matrix x %d tokens, 1 thread, path %s, 10^9 multiply-adds "
           "per second (best of runs)\n",
           (long long)rows, (long long)cols, (int)tokens, k->name);
    printf("%-6s %10s %10s %10s %12s\n", "type", "int8 GEMM", "OpenBLAS", "dots", "best/dots");
    for (size_t t = 0; t < n_types; t++) {
        const uint32_t type = types[t];
        const size_t row_bytes =
            (size_t)(cols / eng_type_block_size(type)) * eng_type_block_bytes(type);
        uint8_t *w = malloc(row_bytes * (size_t)rows);
        if (!w) exit(1);
        fill_weights(type, w, rows * cols);
        const struct eng_tensor wt = {.type = type,
                                      .n_dims = 2,
                                      .ne = {cols, rows, 1, 1},
                                      .data = w,
                                      .nbytes = row_bytes * (size_t)rows};
        const uint32_t act = eng_vec_dot_type(type);
        const size_t xs = eng_act_row_bytes(act, cols);
        for (int32_t i = 0; i < tokens; i++)
            k->quantize_act[act](x + (size_t)i * (size_t)cols, xq + (size_t)i * xs, cols);
        double g_int8 = 0, g_blas = 0, g_dot = 0;
        if (k->gemm[type]) {
            int64_t bs, nb, cpb;
            eng_gemm_act_sizes(type, cols, &bs, &nb, &cpb);
            for (int32_t i = 0; i < tokens; i++)
                eng_gemm_prep(type, xq + (size_t)i * xs, cols, i, tokens, gq, gd, gs, gc);
            const struct eng_gemm_act a = {
                .q = gq, .d = gd, .s = gs, .c = gc, .nb = nb, .n_tok = tokens};
            void *scratch = aligned_alloc(64, (eng_gemm_scratch_bytes(type, cols) + 63) / 64 * 64);
            if (!scratch) exit(1);
            double best = 1e30;
            for (int r = 0; r < 3; r++) {
                const double t0 = now();
                k->gemm[type](&wt, 0, rows, &a, out, rows, scratch);
                if (now() - t0 < best) best = now() - t0;
            }
            g_int8 = macs / best / 1e9;
            free(scratch);
        }
        {
            double best = 1e30;
            for (int r = 0; r < 2; r++) {
                const double t0 = now();
                eng_blas_rows(k, &wt, 0, rows, x, cols, tokens, out, rows, tile);
                if (now() - t0 < best) best = now() - t0;
            }
            g_blas = macs / best / 1e9;
        }
        {
            const uint8_t *xr = act == ENG_TYPE_F32 ? (const uint8_t *)x : xq;
            const size_t xstride = act == ENG_TYPE_F32 ? (size_t)cols * sizeof(float) : xs;
            const double t0 = now();
            for (int64_t r = 0; r < rows; r++)
                for (int32_t i = 0; i < dot_tokens; i++)
                    out[r] =
                        k->vec_dot[type](w + (size_t)r * row_bytes, xr + (size_t)i * xstride, cols);
            g_dot = (double)rows * (double)cols * dot_tokens / (now() - t0) / 1e9;
        }
        const double best = g_int8 > g_blas ? g_int8 : g_blas;
        if (k->gemm[type])
            printf("%-6s %10.1f %10.1f %10.1f %11.1fx\n", eng_type_name(type), g_int8, g_blas,
                   g_dot, best / g_dot);
        else
            printf("%-6s %10s %10.1f %10.1f %11.1fx\n", eng_type_name(type), "-", g_blas, g_dot,
                   best / g_dot);
        fflush(stdout);
        free(w);
    }
    free(x);
    free(out);
    free(tile);
    free(xq);
    free(gq);
    free(gd);
    free(gs);
    free(gc);
}

int main(int argc, char **argv)
{
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 4096;
    const int64_t cols = argc > 2 ? atoll(argv[2]) : 4096;
    const int32_t tokens = argc > 3 ? atoi(argv[3]) : 256;
    if (rows <= 0 || cols <= 0 || cols % 256 != 0 || tokens <= 0 || tokens > 4096) {
        fprintf(stderr, "usage: kern_bench [rows [cols [tokens]]] (cols a multiple of 256, "
                        "tokens 1..4096)\n");
        return 2;
    }
    static const uint32_t types[] = {ENG_TYPE_Q4_0, ENG_TYPE_Q8_0, ENG_TYPE_Q4_K, ENG_TYPE_Q6_K,
                                     ENG_TYPE_Q5_K, ENG_TYPE_Q5_0, ENG_TYPE_Q4_1, ENG_TYPE_Q5_1,
                                     ENG_TYPE_F16,  ENG_TYPE_BF16, ENG_TYPE_F32};
    static const char *const paths[] = {"ref", "avx2", "avx512"};
    const struct eng_kernels *ks[3];
    for (int p = 0; p < 3; p++)
        ks[p] = eng_kernels_get(paths[p]);

    float *x = malloc((size_t)cols * sizeof *x);
    float *out = malloc((size_t)rows * sizeof *out);
    uint8_t *xq = malloc(eng_act_row_bytes(ENG_TYPE_F32, cols));
    if (!x || !out || !xq) return 1;
    for (int64_t i = 0; i < cols; i++)
        x[i] = frand();

    printf("kern_bench: %lld x %lld matrix · vector, 1 thread, GB/s of weight bytes "
           "(best of runs); default path: %s\n",
           (long long)rows, (long long)cols, eng_kernels()->name);
    printf("%-6s %9s", "type", "MiB");
    for (int p = 0; p < 3; p++)
        printf(" %9s", paths[p]);
    printf("\n");

    for (size_t t = 0; t < sizeof types / sizeof *types; t++) {
        const uint32_t type = types[t];
        const size_t row_bytes =
            (size_t)(cols / eng_type_block_size(type)) * eng_type_block_bytes(type);
        const size_t bytes = row_bytes * (size_t)rows;
        uint8_t *w = malloc(bytes);
        if (!w) return 1;
        fill_weights(type, w, rows * cols);
        const uint32_t act = eng_vec_dot_type(type);
        printf("%-6s %9.1f", eng_type_name(type), (double)bytes / (1024.0 * 1024.0));
        for (int p = 0; p < 3; p++) {
            if (!ks[p]) {
                printf(" %9s", "-");
                continue;
            }
            ks[p]->quantize_act[act](x, xq, cols);
            const int runs = p == 0 ? 2 : 8;
            double best = 1e30;
            volatile float sink = 0.0f;
            for (int r = 0; r < runs; r++) {
                const double t0 = now();
                for (int64_t i = 0; i < rows; i++)
                    out[i] = ks[p]->vec_dot[type](w + (size_t)i * row_bytes, xq, cols);
                const double dt = now() - t0;
                sink += out[rows - 1];
                if (dt < best) best = dt;
            }
            (void)sink;
            printf(" %9.2f", (double)bytes / best / 1e9);
            fflush(stdout);
        }
        for (int p = 0; p < 3; p++) { /* decode GEMV where a path has one */
            if (!ks[p] || !ks[p]->gemv[type]) continue;
            ks[p]->quantize_act[act](x, xq, cols);
            uint8_t *xp = aligned_alloc(64, (eng_gemv_act_bytes(type, cols) + 63) / 64 * 64);
            if (!xp) return 1;
            eng_gemv_prep(type, xq, cols, xp);
            double best = 1e30;
            for (int r = 0; r < 8; r++) {
                const double t0 = now();
                for (int64_t i = 0; i < rows; i++)
                    out[i] = ks[p]->gemv[type](w + (size_t)i * row_bytes, xp, cols);
                const double dt = now() - t0;
                if (dt < best) best = dt;
            }
            printf("   %s gemv %.2f", paths[p], (double)bytes / best / 1e9);
            free(xp);
        }
        printf("\n");
        free(w);
    }
    gemm_table(rows, cols, tokens, types, sizeof types / sizeof *types);
    free(x);
    free(out);
    free(xq);
    return 0;
}
