/* What the per-op C files (csrc/<op>.c) share: includes, tuning constants, the binary16
 * and exp2 helpers, the allocation hook, and the SIMD dispatch. Internal: not part of the
 * cffi interface (that is fastroute_ops.h). */
#ifndef FR_INTERNAL_H
#define FR_INTERNAL_H

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
#include "fr_constants.h"
#include "fr_workspace.h"

/* Work (multiply-adds or elements) below which a kernel runs on one thread: waking
 * OpenMP workers costs tens of microseconds, and milliseconds when the other cores are
 * busy (a server's event loop), far more than such small work takes alone. */
#define FR_PARALLEL_MIN (1LL << 23)
/* Bytes ahead of the current position that the row scan prefetches. */
#define FR_PREFETCH 2048

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

/* malloc that the test hook fr_debug_fail_allocs can make fail (fr_runtime.c). */
__attribute__((visibility("hidden"))) void *fr_malloc(size_t n);

static inline int fr_threads(int nthreads) { return nthreads > 0 ? nthreads : fr_default_threads(); }

/* Calls the kernel compiled for the SIMD level in use (see fr_levels.h). */
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

/* A [rows, cols] matrix with row stride ld: sizes >= 0, rows that exist do not overlap,
 * and the pointer is set whenever there is something to read or write. */
static inline int fr_bad_matrix(const void *p, int64_t rows, int64_t cols, int64_t ld)
{
    return rows < 0 || cols < 0 || (rows > 1 && ld < cols) || (rows > 0 && cols > 0 && !p);
}

#endif
