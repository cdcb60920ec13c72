/* field_win_rates: fr_field_win_rates, out[b, k] = mean over j != k of
 * sigmoid(S[b, k] - S[b, j]): each candidate's mean P(beats another) from Bradley-Terry
 * strengths (natural-log odds). K x K sigmoids a row, in float through fr_exp2f so the inner
 * loop vectorises; sums in double. Reference: fastroute/ops/reference.py:field_win_rates. */
#ifdef FR_LEVEL
/* ---- kernels, compiled once per SIMD level (fr_levels.h) ---- */

static FR_ATTR void FR_FN(field_win_rates)(const double *S, int64_t B, int64_t K, int64_t lds, double *out,
                                           int64_t ldo, float *scratch, int nthreads)
{
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && B * K * K > FR_PARALLEL_MIN / 8)
    for (int64_t b = 0; b < B; b++) {
        const double *s = S + b * lds;
#ifdef _OPENMP
        float *t = scratch + (int64_t)omp_get_thread_num() * K;
#else
        float *t = scratch;
#endif
        for (int64_t j = 0; j < K; j++)
            t[j] = (float)(s[j] * FR_LOG2_E);
        for (int64_t k = 0; k < K; k++) {
            const float tk = t[k];
            double acc = 0.0;
#pragma omp simd reduction(+ : acc)
            for (int64_t j = 0; j < K; j++)
                acc += (double)(1.0f / (1.0f + fr_exp2f(t[j] - tk))); /* sigmoid(s_k - s_j) */
            out[b * ldo + k] = (acc - 0.5) / (double)(K - 1);        /* less its 1/2 against itself */
        }
    }
}

#else
/* ---- entry points ---- */
#include "fr_internal.h"
#define FR_OP_FILE "field_win_rates.c"
#include "fr_levels.h"

static void fr_field_win_rates_impl(const double *S, int64_t B, int64_t K, int64_t lds, double *out, int64_t ldo,
                                    float *scratch, int nthreads)
{
    FR_DISPATCH(field_win_rates, S, B, K, lds, out, ldo, scratch, nthreads)
}

int fr_field_win_rates(const double *S, int64_t B, int64_t K, int64_t lds, double *out, int64_t ldo, int nthreads)
{
    if (fr_bad_matrix(S, B, K, lds) || fr_bad_matrix(out, B, K, ldo) || (B > 0 && K < 2))
        return FR_EINVAL;
    if (B == 0)
        return FR_OK;
    const int nt = fr_threads(nthreads);
    float *scratch = fr_malloc(sizeof(float) * (size_t)K * (size_t)(nt > 0 ? nt : 1));
    if (!scratch)
        return FR_ENOMEM;
    fr_field_win_rates_impl(S, B, K, lds, out, ldo, scratch, nt);
    free(scratch);
    return FR_OK;
}

/* fr_field_win_rates on one thread, with the caller's scratch [K] floats. */
int fr_field_win_rates_ws(const double *S, int64_t B, int64_t K, int64_t lds, double *out, int64_t ldo,
                          float *scratch)
{
    if (fr_bad_matrix(S, B, K, lds) || fr_bad_matrix(out, B, K, ldo) || (B > 0 && (K < 2 || !scratch)))
        return FR_EINVAL;
    if (B > 0)
        fr_field_win_rates_impl(S, B, K, lds, out, ldo, scratch, 1);
    return FR_OK;
}
#endif
