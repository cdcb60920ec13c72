/* sw_stats: fr_sw_stats, similarity weights fused with the statistics S = A w. Reference:
 * fastroute/ops/reference.py:sw_stats (weights: sw_weights). */
#ifdef FR_LEVEL
/* ---- kernels, compiled once per SIMD level (fr_levels.h) ---- */

static FR_ATTR float FR_FN(row_max)(const float *s, int64_t n)
{
    float m = -INFINITY;
#pragma omp simd reduction(max : m)
    for (int64_t k = 0; k < n; k++)
        m = s[k] > m ? s[k] : m;
    return m;
}

/* gamma <= 0: w = 10 * 10^(s / m) = 2^(log2(10) * (s / m + 1));
 * gamma > 0:  w = exp(gamma (s - m)) = 2^(gamma log2(e) (s - m)); exponents clamped below. */
static FR_ATTR void FR_FN(sw_weights)(const float *s, int64_t n, float m, float gamma, float *w)
{
    if (gamma > 0.f) {
        const float c = (float)(FR_LOG2_E * (double)gamma);
        const float mm = m == -INFINITY ? 0.f : m;
#pragma omp simd
        for (int64_t k = 0; k < n; k++) {
            float e = (s[k] - mm) * c;
            e = e < FR_EXP2_MIN ? FR_EXP2_MIN : e;
            w[k] = fr_exp2f(e);
        }
        return;
    }
    if (!(m > 0.f)) {
        for (int64_t k = 0; k < n; k++)
            w[k] = FR_ROUTELLM_WEIGHT_BASE;
        return;
    }
    const float c = (float)(FR_LOG2_10 / (double)m);
    const float c0 = (float)FR_LOG2_10;
#pragma omp simd
    for (int64_t k = 0; k < n; k++) {
        float e = s[k] * c + c0;
        e = e < FR_EXP2_MIN ? FR_EXP2_MIN : e;
        w[k] = fr_exp2f(e);
    }
}

/* S[k] = sum over row k of the CSR matrix of value * w[column], in double. */
static FR_ATTR void FR_FN(csr_gemv)(const int64_t *indptr, const int32_t *indices,
                                    const float *values, int64_t k0, int64_t k1, const float *w,
                                    double *S)
{
    for (int64_t k = k0; k < k1; k++) {
        double acc = 0.0;
        const int64_t j1 = indptr[k + 1];
#pragma omp simd reduction(+ : acc)
        for (int64_t j = indptr[k]; j < j1; j++)
            acc += (double)values[j] * (double)w[indices[j]];
        S[k] = acc;
    }
}

/* One thread, the weights in the caller's buffer w [U] (the native engine's scratch). */
static FR_ATTR void FR_FN(sw_stats_ws)(const float *sims, int64_t B, int64_t U, int64_t lds,
                                       const int64_t *indptr, const int32_t *indices,
                                       const float *values, int64_t K, float gamma, double *S,
                                       float *smax, float *w)
{
    for (int64_t b = 0; b < B; b++) {
        const float *s = sims + b * lds;
        const float m = FR_FN(row_max)(s, U);
        FR_FN(sw_weights)(s, U, m, gamma, w);
        FR_FN(csr_gemv)(indptr, indices, values, 0, K, w, S + b * K);
        smax[b] = m;
    }
}

/* Returns FR_OK, or FR_ENOMEM when a weight buffer cannot be had (S is then incomplete). */
static FR_ATTR int FR_FN(sw_stats)(const float *sims, int64_t B, int64_t U, int64_t lds,
                                   const int64_t *indptr, const int32_t *indices,
                                   const float *values, int64_t K, float gamma, double *S,
                                   float *smax, int nthreads)
{
    if (B >= nthreads || nthreads <= 1 || U * 64 < FR_PARALLEL_MIN) {
        /* Many queries (or a small arena): one query per thread at a time, each with its own weights. */
        int oom = 0;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1 && B > 1 && B * U * 16 > FR_PARALLEL_MIN) reduction(| : oom)
        {
            float *w = (float *)fr_malloc((size_t)(U > 0 ? U : 1) * sizeof(float));
            oom |= !w;
#pragma omp for schedule(dynamic, 1)
            for (int64_t b = 0; b < B; b++) {
                if (!w)
                    continue;
                const float *s = sims + b * lds;
                const float m = FR_FN(row_max)(s, U);
                FR_FN(sw_weights)(s, U, m, gamma, w);
                FR_FN(csr_gemv)(indptr, indices, values, 0, K, w, S + b * K);
                smax[b] = m;
            }
            free(w);
        }
        return oom ? FR_ENOMEM : FR_OK;
    }
    /* Few queries: split each query's arena across the threads. */
    float *w = (float *)fr_malloc((size_t)(U > 0 ? U : 1) * sizeof(float));
    if (!w)
        return FR_ENOMEM;
    for (int64_t b = 0; b < B; b++) {
        const float *s = sims + b * lds;
        float m = -INFINITY;
#pragma omp parallel num_threads(nthreads)
        {
            const int64_t nt = fr_num_threads();
            const int64_t chunk = (U + nt - 1) / nt;
            const int64_t lo = (int64_t)fr_thread_num() * chunk;
            const int64_t hi = lo + chunk < U ? lo + chunk : U;
            const float mt = lo < hi ? FR_FN(row_max)(s + lo, hi - lo) : -INFINITY;
#pragma omp critical
            if (mt > m)
                m = mt;
#pragma omp barrier
            if (lo < hi)
                FR_FN(sw_weights)(s + lo, hi - lo, m, gamma, w + lo);
#pragma omp barrier
#pragma omp for schedule(dynamic, 4)
            for (int64_t k = 0; k < K; k++)
                FR_FN(csr_gemv)(indptr, indices, values, k, k + 1, w, S + b * K);
        }
        smax[b] = m;
    }
    free(w);
    return FR_OK;
}

#else
/* ---- entry points ---- */
#include "fr_internal.h"
#define FR_OP_FILE "sw_stats.c"
#include "fr_levels.h"

static int fr_sw_stats_impl(const float *sims, int64_t B, int64_t U, int64_t lds, const int64_t *indptr,
                            const int32_t *indices, const float *values, int64_t K, float gamma, double *S,
                            float *smax, int nthreads)
{
    FR_DISPATCH(sw_stats, sims, B, U, lds, indptr, indices, values, K, gamma, S, smax, nthreads)
}

static void fr_sw_stats_ws_impl(const float *sims, int64_t B, int64_t U, int64_t lds, const int64_t *indptr,
                                const int32_t *indices, const float *values, int64_t K, float gamma, double *S,
                                float *smax, float *w)
{
    FR_DISPATCH(sw_stats_ws, sims, B, U, lds, indptr, indices, values, K, gamma, S, smax, w)
}

/* fr_sw_stats on one thread with the weights in `w` [U]: the same arithmetic, no allocation.
 * The CSR matrix is the caller's, checked once when it was made (fr_csr_ok). */
int fr_sw_stats_ws(const float *sims, int64_t B, int64_t U, int64_t lds, const int64_t *indptr,
                   const int32_t *indices, const float *values, int64_t K, float gamma, double *S,
                   float *smax, float *w)
{
    if (fr_bad_matrix(sims, B, U, lds) || K < 0 || !indptr || (B > 0 && (!S || !smax || !w)))
        return FR_EINVAL;
    if (indptr[K] > 0 && (!indices || !values))
        return FR_EINVAL;
    fr_sw_stats_ws_impl(sims, B, U, lds, indptr, indices, values, K, gamma, S, smax, w);
    return FR_OK;
}

int fr_sw_stats(const float *sims, int64_t B, int64_t U, int64_t lds, const int64_t *indptr,
                const int32_t *indices, const float *values, int64_t K, float gamma, double *S,
                float *smax, int nthreads)
{
    if (fr_bad_matrix(sims, B, U, lds) || K < 0 || !indptr || (B > 0 && (!S || !smax)))
        return FR_EINVAL;
    if (indptr[0] != 0)
        return FR_EINVAL;
    for (int64_t k = 0; k < K; k++)
        if (indptr[k + 1] < indptr[k])
            return FR_EINVAL;
    if (indptr[K] > 0 && (!indices || !values))
        return FR_EINVAL;
    return fr_sw_stats_impl(sims, B, U, lds, indptr, indices, values, K, gamma, S, smax, fr_threads(nthreads));
}
#endif
