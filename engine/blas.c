/* Batched matmul through OpenBLAS (eng_int.h, "batched matmul"): float weights, and any
 * dequantisable type when asked to (GLMTERM_GEMM=blas, to measure it against the int8 GEMM).
 *
 * Threads: the engine's compute pool already runs one thread per core and splits the rows of
 * a matmul between them, so every call here is one thread's share and OpenBLAS must not start
 * threads of its own: eng_blas_init sets its thread count to 1 once, and each pool thread calls
 * cblas_sgemm on its own rows (the pthreads build of OpenBLAS is safe to call from several
 * threads at once). With a free core per pool thread, nothing oversubscribes.
 *
 * Data: the rows of one call are handled ENG_BLAS_ROWS at a time: converted to f32 into the
 * caller's tile (F32 weights are used where they are mapped), then
 *     out[t][r0..] (n_tok x rows) = x (n_tok x n) · tile^T (n x rows)
 * as one row-major sgemm with leading dimensions x_stride and out_stride.
 */
#include "engine/model_int.h"

#include <cblas.h>
#include <pthread.h>

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_one_thread(void)
{
    openblas_set_num_threads(1);
}

void eng_blas_init(void)
{
    pthread_once(&blas_once, blas_one_thread);
}

void eng_blas_rows(const struct eng_kernels *k, const struct eng_tensor *w, int64_t r0, int64_t r1,
                   const float *x, int64_t x_stride, int32_t n_tok, float *out, int64_t out_stride,
                   float *tile)
{
    const int64_t n = w->ne[0];
    const size_t row_bytes = eng_tensor_row_bytes(w);
    for (int64_t r = r0; r < r1; r += ENG_BLAS_ROWS) {
        const int64_t rows = r1 - r < ENG_BLAS_ROWS ? r1 - r : ENG_BLAS_ROWS;
        const uint8_t *src = (const uint8_t *)w->data + (size_t)r * row_bytes;
        const float *b = tile;
        if (w->type == ENG_TYPE_F32) {
            b = (const float *)src;
        } else {
            for (int64_t i = 0; i < rows; i++) {
                if (k->to_f32[w->type])
                    k->to_f32[w->type](src + (size_t)i * row_bytes, tile + i * n, n);
                else
                    (void)eng_dequant_row_ref(w->type, src + (size_t)i * row_bytes, tile + i * n,
                                              n);
            }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)n_tok, (blasint)rows,
                    (blasint)n, 1.0f, x, (blasint)x_stride, b, (blasint)n, 0.0f, out + r,
                    (blasint)out_stride);
    }
}

void eng_blas_abt(int m, int n, int k, const float *a, int lda, const float *b, int ldb, float *c,
                  int ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c,
                ldc);
}

void eng_blas_ab_acc(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                     float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c,
                ldc);
}
