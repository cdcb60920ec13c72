/* gemv_sigmoid: fr_gemv_sigmoid_f32, sigmoid(E u + bias). Reference:
 * fastroute/ops/reference.py:gemv_sigmoid. */
#ifdef FR_LEVEL
/* ---- kernels, compiled once per SIMD level (fr_levels.h) ---- */

static FR_ATTR void FR_FN(gemv_sigmoid)(const float *E, int64_t B, int64_t d, int64_t lde,
                                        const float *u, double bias, float *out, int nthreads)
{
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && B * d > FR_PARALLEL_MIN / 4)
    for (int64_t b = 0; b < B; b++) {
        const float *e = E + b * lde;
        double acc = 0.0;
#pragma omp simd reduction(+ : acc)
        for (int64_t k = 0; k < d; k++)
            acc += (double)e[k] * (double)u[k];
        out[b] = (float)(1.0 / (1.0 + exp(-(acc + bias))));
    }
}

#else
/* ---- entry points ---- */
#include "fr_internal.h"
#define FR_OP_FILE "gemv_sigmoid.c"
#include "fr_levels.h"

static void fr_gemv_sigmoid_impl(const float *E, int64_t B, int64_t d, int64_t lde, const float *u, double bias,
                                 float *out, int nthreads)
{
    FR_DISPATCH(gemv_sigmoid, E, B, d, lde, u, bias, out, nthreads)
}

int fr_gemv_sigmoid_f32(const float *E, int64_t B, int64_t d, int64_t lde, const float *u, double bias,
                        float *out, int nthreads)
{
    if (fr_bad_matrix(E, B, d, lde) || (d > 0 && !u) || (B > 0 && !out))
        return FR_EINVAL;
    fr_gemv_sigmoid_impl(E, B, d, lde, u, bias, out, fr_threads(nthreads));
    return FR_OK;
}
#endif
