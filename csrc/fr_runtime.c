/* The library's runtime: SIMD level (detected once, or forced), OpenMP, the sanitizer
 * flag and the allocation-failure test hook. */
#include "fr_internal.h"

/* malloc that the test hook fr_debug_fail_allocs can make fail. */
static int64_t fr_allocs_left = -1;

void fr_debug_fail_allocs(int64_t after) { __atomic_store_n(&fr_allocs_left, after, __ATOMIC_SEQ_CST); }

void *fr_malloc(size_t n)
{
    if (__atomic_load_n(&fr_allocs_left, __ATOMIC_SEQ_CST) >= 0 &&
        __atomic_sub_fetch(&fr_allocs_left, 1, __ATOMIC_SEQ_CST) < 0)
        return NULL;
    return malloc(n);
}

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
