/* linear_scores: fr_linear_scores_f32, out = E W^T accumulated in double (mf's logits of
 * every model: a small GEMM, M rows of W). Reference: fastroute/ops/reference.py:linear_scores. */
#ifdef FR_LEVEL
/* ---- kernels, compiled once per SIMD level (fr_levels.h) ---- */

static FR_ATTR void FR_FN(linear_scores)(const float *E, int64_t B, int64_t d, int64_t lde, const float *W,
                                         int64_t M, int64_t ldw, float *out, int64_t ldo, int nthreads)
{
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && B * M * d > FR_PARALLEL_MIN / 4)
    for (int64_t b = 0; b < B; b++) {
        const float *e = E + b * lde;
        for (int64_t m = 0; m < M; m++) {
            const float *w = W + m * ldw;
            double acc = 0.0;
#pragma omp simd reduction(+ : acc)
            for (int64_t k = 0; k < d; k++)
                acc += (double)e[k] * (double)w[k];
            out[b * ldo + m] = (float)acc;
        }
    }
}

#else
/* ---- entry points ---- */
#include "fr_internal.h"
#define FR_OP_FILE "linear_scores.c"
#include "fr_levels.h"

static void fr_linear_scores_impl(const float *E, int64_t B, int64_t d, int64_t lde, const float *W, int64_t M,
                                  int64_t ldw, float *out, int64_t ldo, int nthreads)
{
    FR_DISPATCH(linear_scores, E, B, d, lde, W, M, ldw, out, ldo, nthreads)
}

int fr_linear_scores_f32(const float *E, int64_t B, int64_t d, int64_t lde, const float *W, int64_t M,
                         int64_t ldw, float *out, int64_t ldo, int nthreads)
{
    if (fr_bad_matrix(E, B, d, lde) || fr_bad_matrix(W, M, d, ldw) || fr_bad_matrix(out, B, M, ldo))
        return FR_EINVAL;
    if (B == 0 || M == 0)
        return FR_OK;
    fr_linear_scores_impl(E, B, d, lde, W, M, ldw, out, ldo, fr_threads(nthreads));
    return FR_OK;
}
#endif
