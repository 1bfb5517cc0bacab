/* kern_bench: matrix · vector speed of each kernel path (engine/kernels.c) per weight type.
 *
 * For every type of the kernel table and every path this CPU has, fills a ROWS x COLS weight
 * matrix with random blocks (valid scales, random quants), quantises one random activation row
 * with the path's quantize_act, then times out[r] = vec_dot[type](row r, xq) over all rows, one
 * thread, best of several runs. Prints GB/s of weight bytes read: the number that bounds decode
 * speed, where every weight is read once per token.
 *
 * Usage: kern_bench [rows [cols]]   (default 4096 x 4096; cols a multiple of 256)
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

int main(int argc, char **argv)
{
    const int64_t rows = argc > 1 ? atoll(argv[1]) : 4096;
    const int64_t cols = argc > 2 ? atoll(argv[2]) : 4096;
    if (rows <= 0 || cols <= 0 || cols % 256 != 0) {
        fprintf(stderr, "usage: kern_bench [rows [cols]] (cols a multiple of 256)\n");
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
        printf("\n");
        free(w);
    }
    free(x);
    free(out);
    free(xq);
    return 0;
}
