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

#define FR_PARALLEL_MIN (1LL << 17)
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

/* 2^x for x in [-126, 126]: x = n + f with n = round(x), |f| <= 1/2, and a
 * degree-7 Taylor polynomial for 2^f (relative error < 1e-8 before rounding).
 * Branch-free so that `omp simd` loops vectorise it. */
static inline float fr_exp2f(float x)
{
    const float n = __builtin_rintf(x);
    const float f = (x - n) * 0.693147180559945309f;
    float p = 1.98412698412698413e-4f;
    p = p * f + 1.38888888888888889e-3f;
    p = p * f + 8.33333333333333333e-3f;
    p = p * f + 4.16666666666666667e-2f;
    p = p * f + 1.66666666666666667e-1f;
    p = p * f + 0.5f;
    p = p * f + 1.0f;
    p = p * f + 1.0f;
    int32_t bits;
    memcpy(&bits, &p, sizeof bits);
    bits += (int32_t)n << 23;
    memcpy(&p, &bits, sizeof p);
    return p;
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
    float *Qn = (float *)malloc((size_t)(B * d > 0 ? B * d : 1) * sizeof(float));
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

void fr_cosine_f32(const float *Q, int64_t B, int64_t ldq, const float *X, int64_t N, int64_t d,
                   int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    float *Qn = fr_normalized_queries(Q, B, ldq, d);
    if (!Qn)
        return;
    fr_cosine_f32_impl(Qn, B, X, N, d, ldx, out, ldo, fr_threads(nthreads));
    free(Qn);
}

void fr_cosine_f16(const float *Q, int64_t B, int64_t ldq, const uint16_t *X, int64_t N,
                   int64_t d, int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    float *Qn = fr_normalized_queries(Q, B, ldq, d);
    if (!Qn)
        return;
    fr_cosine_f16_impl(Qn, B, X, N, d, ldx, out, ldo, fr_threads(nthreads));
    free(Qn);
}

void fr_half_to_float_rows(const uint16_t *X, int64_t N, int64_t d, int64_t ldx, float *out,
                           int nthreads)
{
    FR_DISPATCH(half_rows, X, N, d, ldx, out, fr_threads(nthreads))
}

void fr_gemv_sigmoid_f32(const float *E, int64_t B, int64_t d, int64_t lde, const float *u,
                         double bias, float *out, int nthreads)
{
    FR_DISPATCH(gemv_sigmoid, E, B, d, lde, u, bias, out, fr_threads(nthreads))
}

void fr_sw_stats(const float *sims, int64_t B, int64_t U, int64_t lds, const int64_t *indptr,
                 const int32_t *indices, const float *values, int64_t K, float gamma, double *S,
                 float *smax, int nthreads)
{
    FR_DISPATCH(sw_stats, sims, B, U, lds, indptr, indices, values, K, gamma, S, smax,
                fr_threads(nthreads))
}

int fr_embedding_bag_i8(const int8_t *table, const float *scales, int64_t V, int64_t d,
                        const int32_t *ids, const int64_t *offsets, int64_t B, float *out,
                        int nthreads)
{
    FR_DISPATCH(embedding_bag_i8, table, scales, V, d, ids, offsets, B, out, fr_threads(nthreads))
}
