/* fastroute CPU kernels: runtime SIMD dispatch over fr_kernels.inc.
 *
 * The kernel source is compiled three times (portable, AVX2+FMA+F16C, AVX-512)
 * with per-function target attributes, and the best level the CPU supports is
 * picked once at first use. gcc's target_clones takes one feature name per clone,
 * which cannot say "AVX2 and FMA and F16C", so the dispatch is explicit here.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define FR_X86 1
#include <immintrin.h>
#else
#define FR_X86 0
#endif

#ifdef _OPENMP
#include <omp.h>
static inline int fr_thread_num(void) { return omp_get_thread_num(); }
static inline int fr_num_threads(void) { return omp_get_num_threads(); }
#else
static inline int fr_thread_num(void) { return 0; }
static inline int fr_num_threads(void) { return 1; }
#endif

#include "fastroute_ops.h"

/* Work (multiply-adds or elements) below which a kernel runs on one thread: waking
 * OpenMP workers costs tens of microseconds, and milliseconds when the other cores are
 * busy (a server's event loop), far more than such small work takes alone. */
#define FR_PARALLEL_MIN (1LL << 23)
/* Bytes ahead of the current position that the row scan prefetches. */
#define FR_PREFETCH 2048
#define FR_LOG2_10 3.32192809488736234787
#define FR_LOG2_E 1.44269504088896340736
/* 2^-113 ~ 1e-34: the smallest weight kept, so no battle's weight is ever 0. */
#define FR_EXP2_MIN (-113.0f)

static inline float fr_half_to_float(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            int e = -1;
            do {
                e++;
                mant <<= 1;
            } while (!(mant & 0x400u));
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* 2^x: x = n + f with n = round(x), |f| <= 1/2, and a degree-7 Taylor polynomial
 * for 2^f (relative error < 1e-8 before rounding), times 2^n built from its biased
 * exponent. x is clamped to [-126, 126] first, so n + 127 lies in [1, 253] and no
 * shift touches a negative value (undefined in ISO C); NaN comes back as NaN.
 * Branch-free so that `omp simd` loops vectorise it. */
static inline float fr_exp2f(float x)
{
    const float xc = x > -126.0f ? (x < 126.0f ? x : 126.0f) : -126.0f;
    const float n = __builtin_rintf(xc);
    const float f = (xc - n) * 0.693147180559945309f;
    float p = 1.98412698412698413e-4f;
    p = p * f + 1.38888888888888889e-3f;
    p = p * f + 8.33333333333333333e-3f;
    p = p * f + 4.16666666666666667e-2f;
    p = p * f + 1.66666666666666667e-1f;
    p = p * f + 0.5f;
    p = p * f + 1.0f;
    p = p * f + 1.0f;
    const uint32_t sbits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &sbits, sizeof scale);
    return x == x ? p * scale : x;
}

/* malloc that the test hook fr_debug_fail_allocs can make fail. */
static int64_t fr_allocs_left = -1;

void fr_debug_fail_allocs(int64_t after) { __atomic_store_n(&fr_allocs_left, after, __ATOMIC_SEQ_CST); }

static void *fr_malloc(size_t n)
{
    if (__atomic_load_n(&fr_allocs_left, __ATOMIC_SEQ_CST) >= 0 &&
        __atomic_sub_fetch(&fr_allocs_left, 1, __ATOMIC_SEQ_CST) < 0)
        return NULL;
    return malloc(n);
}

#define FR_FN(name) fr_##name##_scalar
#define FR_LEVEL 0
#include "fr_kernels.inc"
#undef FR_FN
#undef FR_LEVEL

#if FR_X86
#define FR_FN(name) fr_##name##_avx2
#define FR_LEVEL 1
#include "fr_kernels.inc"
#undef FR_FN
#undef FR_LEVEL

#define FR_FN(name) fr_##name##_avx512
#define FR_LEVEL 2
#include "fr_kernels.inc"
#undef FR_FN
#undef FR_LEVEL
#endif

static int fr_supported = -1;
static int fr_level = -1;

int fr_simd_level_supported(void)
{
    if (fr_supported < 0) {
        int level = 0;
#if FR_X86
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
            __builtin_cpu_supports("f16c"))
            level = 1;
        if (level == 1 && __builtin_cpu_supports("avx512f") &&
            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
            __builtin_cpu_supports("avx512dq"))
            level = 2;
#endif
        fr_supported = level;
    }
    return fr_supported;
}

int fr_set_simd_level(int level)
{
    const int top = fr_simd_level_supported();
    fr_level = level < 0 ? 0 : (level > top ? top : level);
    return fr_level;
}

int fr_simd_level(void)
{
    if (fr_level < 0)
        fr_set_simd_level(fr_simd_level_supported());
    return fr_level;
}

int fr_sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__)
    return 1;
#else
    return 0;
#endif
}

int fr_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fr_default_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

static inline int fr_threads(int nthreads) { return nthreads > 0 ? nthreads : fr_default_threads(); }

#if FR_X86
#define FR_DISPATCH(name, ...)                                                                     \
    switch (fr_simd_level()) {                                                                     \
    case 2:                                                                                        \
        return fr_##name##_avx512(__VA_ARGS__);                                                    \
    case 1:                                                                                        \
        return fr_##name##_avx2(__VA_ARGS__);                                                      \
    default:                                                                                       \
        return fr_##name##_scalar(__VA_ARGS__);                                                    \
    }
#else
#define FR_DISPATCH(name, ...) return fr_##name##_scalar(__VA_ARGS__);
#endif

/* Unit-norm copies of the queries (double-precision norms); zero rows stay zero. */
static float *fr_normalized_queries(const float *Q, int64_t B, int64_t ldq, int64_t d)
{
    float *Qn = (float *)fr_malloc((size_t)(B * d > 0 ? B * d : 1) * sizeof(float));
    if (!Qn)
        return NULL;
    for (int64_t b = 0; b < B; b++) {
        const float *q = Q + b * ldq;
        double nrm = 0.0;
        for (int64_t k = 0; k < d; k++)
            nrm += (double)q[k] * (double)q[k];
        const double inv = nrm > 0.0 ? 1.0 / sqrt(nrm) : 0.0;
        for (int64_t k = 0; k < d; k++)
            Qn[b * d + k] = (float)((double)q[k] * inv);
    }
    return Qn;
}

/* A [rows, cols] matrix with row stride ld: sizes >= 0, rows that exist do not overlap,
 * and the pointer is set whenever there is something to read or write. */
static int fr_bad_matrix(const void *p, int64_t rows, int64_t cols, int64_t ld)
{
    return rows < 0 || cols < 0 || (rows > 1 && ld < cols) || (rows > 0 && cols > 0 && !p);
}

static int fr_cosine_args(const float *Q, int64_t B, int64_t ldq, const void *X, int64_t N, int64_t d,
                          int64_t ldx, const float *out, int64_t ldo)
{
    return fr_bad_matrix(Q, B, d, ldq) || fr_bad_matrix(X, N, d, ldx) || fr_bad_matrix(out, B, N, ldo);
}

static void fr_cosine_f32_impl(const float *Qn, int64_t B, const float *X, int64_t N, int64_t d,
                               int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    FR_DISPATCH(cosine_f32, Qn, B, X, N, d, ldx, out, ldo, nthreads)
}

static void fr_cosine_f16_impl(const float *Qn, int64_t B, const uint16_t *X, int64_t N,
                               int64_t d, int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    FR_DISPATCH(cosine_f16, Qn, B, X, N, d, ldx, out, ldo, nthreads)
}

int fr_cosine_f32(const float *Q, int64_t B, int64_t ldq, const float *X, int64_t N, int64_t d,
                  int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    if (fr_cosine_args(Q, B, ldq, X, N, d, ldx, out, ldo))
        return FR_EINVAL;
    if (B == 0 || N == 0)
        return FR_OK;
    float *Qn = fr_normalized_queries(Q, B, ldq, d);
    if (!Qn)
        return FR_ENOMEM;
    fr_cosine_f32_impl(Qn, B, X, N, d, ldx, out, ldo, fr_threads(nthreads));
    free(Qn);
    return FR_OK;
}

int fr_cosine_f16(const float *Q, int64_t B, int64_t ldq, const uint16_t *X, int64_t N, int64_t d,
                  int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    if (fr_cosine_args(Q, B, ldq, X, N, d, ldx, out, ldo))
        return FR_EINVAL;
    if (B == 0 || N == 0)
        return FR_OK;
    float *Qn = fr_normalized_queries(Q, B, ldq, d);
    if (!Qn)
        return FR_ENOMEM;
    fr_cosine_f16_impl(Qn, B, X, N, d, ldx, out, ldo, fr_threads(nthreads));
    free(Qn);
    return FR_OK;
}

static void fr_half_rows_impl(const uint16_t *X, int64_t N, int64_t d, int64_t ldx, float *out, int nthreads)
{
    FR_DISPATCH(half_rows, X, N, d, ldx, out, nthreads)
}

int fr_half_to_float_rows(const uint16_t *X, int64_t N, int64_t d, int64_t ldx, float *out, int nthreads)
{
    if (fr_bad_matrix(X, N, d, ldx) || fr_bad_matrix(out, N, d, d))
        return FR_EINVAL;
    fr_half_rows_impl(X, N, d, ldx, out, fr_threads(nthreads));
    return FR_OK;
}

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

static int fr_sw_stats_impl(const float *sims, int64_t B, int64_t U, int64_t lds, const int64_t *indptr,
                            const int32_t *indices, const float *values, int64_t K, float gamma, double *S,
                            float *smax, int nthreads)
{
    FR_DISPATCH(sw_stats, sims, B, U, lds, indptr, indices, values, K, gamma, S, smax, nthreads)
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

static int fr_embedding_bag_i8_impl(const int8_t *table, const float *scales, int64_t V, int64_t d,
                                    const int32_t *ids, const int64_t *offsets, int64_t B, float *out,
                                    int nthreads)
{
    FR_DISPATCH(embedding_bag_i8, table, scales, V, d, ids, offsets, B, out, nthreads)
}

int fr_embedding_bag_i8(const int8_t *table, const float *scales, int64_t V, int64_t d, const int32_t *ids,
                        int64_t n_ids, const int64_t *offsets, int64_t B, float *out, int nthreads)
{
    if (V < 0 || d < 0 || B < 0 || n_ids < 0 || !offsets || (B > 0 && d > 0 && !out) ||
        (n_ids > 0 && !ids) || (V > 0 && d > 0 && (!table || !scales)))
        return FR_EINVAL;
    /* Offsets first: every id the kernel reads lies in ids[0 .. n_ids). */
    if (offsets[0] != 0 || offsets[B] != n_ids)
        return FR_EINVAL;
    for (int64_t b = 0; b < B; b++)
        if (offsets[b + 1] < offsets[b])
            return FR_EINVAL;
    const int bad = fr_embedding_bag_i8_impl(table, scales, V, d, ids, offsets, B, out, fr_threads(nthreads));
    return bad ? FR_ERANGE : FR_OK;
}

/* ---- Bradley-Terry Newton solve (scalar: T is small; one query per thread) ---- */

#define FR_LN10 2.30258509299404568402

static inline double fr_log_sigmoid(double x)
{
    return x > 0 ? -log1p(exp(-x)) : x - log1p(exp(x));
}

static inline double fr_sigmoid(double x)
{
    if (x >= 0) {
        const double e = exp(-x);
        return 1.0 / (1.0 + e);
    }
    const double e = exp(x);
    return e / (1.0 + e);
}

static double fr_bt_objective(const double *b, const double *C, const double *Dp, const double *Dm,
                              int64_t T, double lam)
{
    double obj = 0.0;
    for (int64_t i = 0; i < T; i++) {
        for (int64_t j = 0; j < T; j++)
            if (i != j && C[i * T + j] != 0.0)
                obj += C[i * T + j] * fr_log_sigmoid(FR_LN10 * (b[i] - b[j]));
        const double kb = FR_LN10 * b[i];
        if (Dp[i] != 0.0)
            obj += Dp[i] * fr_log_sigmoid(-kb);
        if (Dm[i] != 0.0)
            obj += Dm[i] * fr_log_sigmoid(kb);
        obj -= 0.5 * lam * b[i] * b[i];
    }
    return obj;
}

/* Solves F x = g for symmetric positive definite F (T x T, overwritten) by Cholesky. */
static int fr_cholesky_solve(double *F, double *g, int64_t T)
{
    for (int64_t j = 0; j < T; j++) {
        double d = F[j * T + j];
        for (int64_t k = 0; k < j; k++)
            d -= F[j * T + k] * F[j * T + k];
        if (!(d > 0.0))
            return -1;
        d = sqrt(d);
        F[j * T + j] = d;
        for (int64_t i = j + 1; i < T; i++) {
            double s = F[i * T + j];
            for (int64_t k = 0; k < j; k++)
                s -= F[i * T + k] * F[j * T + k];
            F[i * T + j] = s / d;
        }
    }
    for (int64_t i = 0; i < T; i++) { /* L y = g */
        double s = g[i];
        for (int64_t k = 0; k < i; k++)
            s -= F[i * T + k] * g[k];
        g[i] = s / F[i * T + i];
    }
    for (int64_t i = T - 1; i >= 0; i--) { /* L^T x = y */
        double s = g[i];
        for (int64_t k = i + 1; k < T; k++)
            s -= F[k * T + i] * g[k];
        g[i] = s / F[i * T + i];
    }
    return 0;
}

static int fr_bt_fit_one(const double *S, int64_t T, double ridge, double tol, int max_iter, double *b,
                         double *work)
{
    const int64_t TT = T * T;
    double *C = work, *N = work + TT, *F = work + 2 * TT, *Dp = work + 3 * TT, *Dm = Dp + T, *g = Dm + T,
           *step = g + T, *nb = step + T;
    double total = 0.0, sdp = 0.0, sdm = 0.0;
    for (int64_t k = 0; k < TT + 2 * T; k++)
        total += S[k];
    for (int64_t i = 0; i < T; i++) {
        sdp += S[TT + i];
        sdm += S[TT + T + i];
    }
    const int pinned = sdp > 0.0 && sdm > 0.0;
    for (int64_t i = 0; i < T; i++) {
        for (int64_t j = 0; j < T; j++)
            C[i * T + j] = i == j ? 0.0 : S[i * T + j];
        Dp[i] = pinned ? S[TT + i] : 0.0;
        Dm[i] = pinned ? S[TT + T + i] : 0.0;
        b[i] = 0.0;
    }
    for (int64_t i = 0; i < T; i++)
        for (int64_t j = 0; j < T; j++)
            N[i * T + j] = C[i * T + j] + C[j * T + i];
    const double lam = ridge * total, k2 = FR_LN10 * FR_LN10;
    double obj = fr_bt_objective(b, C, Dp, Dm, T, lam);
    for (int it = 0; it < max_iter; it++) {
        double diag_mean = 0.0;
        for (int64_t i = 0; i < T; i++) {
            double gi = 0.0, fii = 0.0;
            for (int64_t j = 0; j < T; j++) {
                if (i == j)
                    continue;
                const double p = fr_sigmoid(FR_LN10 * (b[i] - b[j]));
                gi += C[i * T + j] - N[i * T + j] * p;
                const double w = k2 * N[i * T + j] * p * (1.0 - p);
                F[i * T + j] = -w;
                fii += w;
            }
            const double sb = fr_sigmoid(FR_LN10 * b[i]);
            g[i] = FR_LN10 * (gi + Dm[i] - (Dp[i] + Dm[i]) * sb) - lam * b[i];
            F[i * T + i] = fii + k2 * (Dp[i] + Dm[i]) * sb * (1.0 - sb) + lam;
            diag_mean += F[i * T + i];
        }
        if (!pinned) { /* the level is free: F's null space is 1; keep sum(b) = 0 */
            diag_mean /= (double)T;
            for (int64_t k = 0; k < TT; k++)
                F[k] += diag_mean / (double)T;
        }
        for (int64_t i = 0; i < T; i++)
            step[i] = g[i];
        if (fr_cholesky_solve(F, step, T) != 0)
            return 1;
        double t = 1.0, new_obj = 0.0;
        for (int h = 0; h <= 60; h++) {
            for (int64_t i = 0; i < T; i++)
                nb[i] = b[i] + t * step[i];
            new_obj = fr_bt_objective(nb, C, Dp, Dm, T, lam);
            if (!(new_obj < obj - 1e-12 * fabs(obj)))
                break;
            t *= 0.5;
        }
        double biggest = 0.0;
        for (int64_t i = 0; i < T; i++) {
            const double s = fabs(FR_LN10 * t * step[i]);
            biggest = s > biggest ? s : biggest;
            b[i] = nb[i];
        }
        obj = new_obj;
        if (biggest < tol)
            return 0;
    }
    return 1;
}

int fr_bt_fit(const double *S, int64_t B, int64_t T, double ridge, double tol, int max_iter, double *beta,
              int nthreads)
{
    if (T < 1 || B < 0 || (B > 0 && (!S || !beta)))
        return FR_EINVAL;
    const int64_t K = T * T + 2 * T;
    const int nt = fr_threads(nthreads);
    int failed = 0, oom = 0;
#pragma omp parallel num_threads(nt) if (nt > 1 && B * T * T * T > FR_PARALLEL_MIN / 8) reduction(+ : failed) reduction(| : oom)
    {
        double *work = (double *)fr_malloc((size_t)(3 * T * T + 6 * T) * sizeof(double));
        oom |= !work;
#pragma omp for schedule(static)
        for (int64_t q = 0; q < B; q++) {
            if (!work)
                continue;
            const int bad = fr_bt_fit_one(S + q * K, T, ridge, tol, max_iter, beta + q * T, work);
            if (bad)
                for (int64_t i = 0; i < T; i++)
                    beta[q * T + i] = NAN; /* marks the row for the caller's fallback */
            failed += bad;
        }
        free(work);
    }
    return oom ? FR_ENOMEM : failed;
}
