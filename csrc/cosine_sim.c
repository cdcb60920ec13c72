/* cosine_sim: fr_cosine_sim_f32 / _f16 (arena in float32 or binary16), and fr_half_to_float_rows,
 * the float16 widening of its BLAS path (fastroute/ops/c_backend.py). Reference:
 * fastroute/ops/reference.py:cosine_sim. */
#ifdef FR_LEVEL
/* ---- kernels, compiled once per SIMD level (fr_levels.h) ---- */

/* binary16 -> binary32 for one row of n values. */
static FR_ATTR void FR_FN(half_row)(const uint16_t *src, float *dst, int64_t n)
{
    int64_t k = 0;
#if FR_LEVEL == 2
    for (; k + 16 <= n; k += 16)
        _mm512_storeu_ps(dst + k, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(src + k))));
#endif
#if FR_LEVEL >= 1
    for (; k + 8 <= n; k += 8)
        _mm256_storeu_ps(dst + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + k))));
#endif
    for (; k < n; k++)
        dst[k] = fr_half_to_float(src[k]);
}

/* Vector type of the level's natural width; loads go through memcpy so they
 * may be unaligned. FR_LD16 widens FR_VW binary16 values to one vector. */
#if FR_LEVEL == 2
#define FR_VW 16
#elif FR_LEVEL == 1
#define FR_VW 8
#else
#define FR_VW 4
#endif
typedef float FR_FN(vf) __attribute__((vector_size(FR_VW * 4)));

static inline FR_ATTR FR_FN(vf) FR_FN(ld32)(const float *p)
{
    FR_FN(vf) v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline FR_ATTR FR_FN(vf) FR_FN(ld16)(const uint16_t *p)
{
#if FR_LEVEL == 2
    return (FR_FN(vf))_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
#elif FR_LEVEL == 1
    return (FR_FN(vf))_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
#else
    FR_FN(vf) v = {fr_half_to_float(p[0]), fr_half_to_float(p[1]), fr_half_to_float(p[2]),
                   fr_half_to_float(p[3])};
    return v;
#endif
}

static inline FR_ATTR float FR_FN(hsum)(FR_FN(vf) v)
{
    float s = 0.f;
    for (int l = 0; l < FR_VW; l++)
        s += v[l];
    return s;
}

/* Two rows x NQ queries (NQ <= 4): each arena element is loaded (and widened)
 * once and feeds 2 * NQ independent FMA chains; X streams from memory once. */
#define FR_ROWS2_KERNEL(SUFFIX, T, LD, CVT)                                                        \
    static inline __attribute__((always_inline)) FR_ATTR void FR_FN(rows2_##SUFFIX)(               \
        const float *Qn, const int64_t nq, int64_t d, const T *x0, const T *x1, float *o0,         \
        int64_t ld0, float *o1, int64_t ld1)                                                       \
    {                                                                                              \
        FR_FN(vf) a0[4] = {0}, a1[4] = {0};                                                        \
        const int64_t dv = d - d % FR_VW;                                                          \
        for (int64_t k = 0; k < dv; k += FR_VW) {                                                  \
            __builtin_prefetch((const char *)(x0 + k) + FR_PREFETCH);                              \
            __builtin_prefetch((const char *)(x1 + k) + FR_PREFETCH);                              \
            const FR_FN(vf) v0 = LD(x0 + k), v1 = LD(x1 + k);                                      \
            for (int64_t j = 0; j < nq; j++) {                                                     \
                const FR_FN(vf) qv = FR_FN(ld32)(Qn + j * d + k);                                  \
                a0[j] += v0 * qv;                                                                  \
                a1[j] += v1 * qv;                                                                  \
            }                                                                                      \
        }                                                                                          \
        for (int64_t j = 0; j < nq; j++) {                                                         \
            float s0 = FR_FN(hsum)(a0[j]), s1 = FR_FN(hsum)(a1[j]);                                \
            for (int64_t k = dv; k < d; k++) {                                                     \
                s0 += Qn[j * d + k] * CVT(x0[k]);                                                  \
                s1 += Qn[j * d + k] * CVT(x1[k]);                                                  \
            }                                                                                      \
            o0[j * ld0] = s0;                                                                      \
            o1[j * ld1] = s1;                                                                      \
        }                                                                                          \
    }

#define FR_IDENT(x) (x)
FR_ROWS2_KERNEL(f32, float, FR_FN(ld32), FR_IDENT)
FR_ROWS2_KERNEL(f16, uint16_t, FR_FN(ld16), fr_half_to_float)

/* out[b, i] for b < B, i < N. Rows go to threads in contiguous ranges so each
 * thread streams its part of X; queries are taken four at a time per row pair.
 * Meant for small B (memory-bound); large batches go through BLAS. */
#define FR_COSINE_KERNEL(SUFFIX, T)                                                                \
    static FR_ATTR void FR_FN(cosine_##SUFFIX)(const float *Qn, int64_t B, const T *X, int64_t N, \
                                               int64_t d, int64_t ldx, float *out, int64_t ldo,   \
                                               int nthreads)                                       \
    {                                                                                              \
        const int64_t npair = (N + 1) / 2;                                                         \
        _Pragma("omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && B * N * d > FR_PARALLEL_MIN)") \
        for (int64_t p = 0; p < npair; p++) {                                                      \
            const int64_t i = 2 * p;                                                               \
            const T *x0 = X + i * ldx;                                                             \
            const int two = i + 1 < N;                                                             \
            const T *x1 = two ? x0 + ldx : x0;                                                     \
            float tmp[4];                                                                          \
            for (int64_t b = 0; b < B; b += 4) {                                                   \
                const int64_t nq = B - b < 4 ? B - b : 4;                                          \
                float *o0 = out + b * ldo + i;                                                     \
                float *o1 = two ? o0 + 1 : tmp;                                                    \
                const int64_t ld1 = two ? ldo : 1;                                                 \
                const float *q = Qn + b * d;                                                       \
                switch (nq) { /* constant nq: the accumulators stay in registers */                \
                case 4: FR_FN(rows2_##SUFFIX)(q, 4, d, x0, x1, o0, ldo, o1, ld1); break;           \
                case 3: FR_FN(rows2_##SUFFIX)(q, 3, d, x0, x1, o0, ldo, o1, ld1); break;           \
                case 2: FR_FN(rows2_##SUFFIX)(q, 2, d, x0, x1, o0, ldo, o1, ld1); break;           \
                default: FR_FN(rows2_##SUFFIX)(q, 1, d, x0, x1, o0, ldo, o1, ld1); break;          \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

FR_COSINE_KERNEL(f32, float)
FR_COSINE_KERNEL(f16, uint16_t)

/* binary16 rows -> float32 rows (the BLAS path for large batches). */
static FR_ATTR void FR_FN(half_rows)(const uint16_t *X, int64_t N, int64_t d, int64_t ldx,
                                     float *out, int nthreads)
{
#pragma omp parallel for schedule(static) num_threads(nthreads) if (nthreads > 1 && N * d > FR_PARALLEL_MIN)
    for (int64_t i = 0; i < N; i++)
        FR_FN(half_row)(X + i * ldx, out + i * d, d);
}

#undef FR_VW
#undef FR_ROWS2_KERNEL
#undef FR_COSINE_KERNEL
#undef FR_IDENT

#else
/* ---- entry points ---- */
#include "fr_internal.h"
#define FR_OP_FILE "cosine_sim.c"
#include "fr_levels.h"

/* Unit-norm copies of the queries (double-precision norms) into Qn [B, d]; zero rows stay zero. */
static void fr_normalize_queries_into(const float *Q, int64_t B, int64_t ldq, int64_t d, float *Qn)
{
    for (int64_t b = 0; b < B; b++) {
        const float *q = Q + b * ldq;
        double nrm = 0.0;
        for (int64_t k = 0; k < d; k++)
            nrm += (double)q[k] * (double)q[k];
        const double inv = nrm > 0.0 ? 1.0 / sqrt(nrm) : 0.0;
        for (int64_t k = 0; k < d; k++)
            Qn[b * d + k] = (float)((double)q[k] * inv);
    }
}

static float *fr_normalized_queries(const float *Q, int64_t B, int64_t ldq, int64_t d)
{
    float *Qn = (float *)fr_malloc((size_t)(B * d > 0 ? B * d : 1) * sizeof(float));
    if (Qn)
        fr_normalize_queries_into(Q, B, ldq, d, Qn);
    return Qn;
}

static int fr_cosine_sim_args(const float *Q, int64_t B, int64_t ldq, const void *X, int64_t N, int64_t d,
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

/* The checks and the query normalisation both entry points share; `half` picks the arena's
 * storage (X is const float * or const uint16_t *). */
static int fr_cosine_sim_run(const float *Q, int64_t B, int64_t ldq, const void *X, int half, int64_t N, int64_t d,
                             int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    if (fr_cosine_sim_args(Q, B, ldq, X, N, d, ldx, out, ldo))
        return FR_EINVAL;
    if (B == 0 || N == 0)
        return FR_OK;
    float *Qn = fr_normalized_queries(Q, B, ldq, d);
    if (!Qn)
        return FR_ENOMEM;
    if (half)
        fr_cosine_f16_impl(Qn, B, (const uint16_t *)X, N, d, ldx, out, ldo, fr_threads(nthreads));
    else
        fr_cosine_f32_impl(Qn, B, (const float *)X, N, d, ldx, out, ldo, fr_threads(nthreads));
    free(Qn);
    return FR_OK;
}

int fr_cosine_sim_f32(const float *Q, int64_t B, int64_t ldq, const float *X, int64_t N, int64_t d,
                      int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    return fr_cosine_sim_run(Q, B, ldq, X, 0, N, d, ldx, out, ldo, nthreads);
}

int fr_cosine_sim_f16(const float *Q, int64_t B, int64_t ldq, const uint16_t *X, int64_t N, int64_t d,
                      int64_t ldx, float *out, int64_t ldo, int nthreads)
{
    return fr_cosine_sim_run(Q, B, ldq, X, 1, N, d, ldx, out, ldo, nthreads);
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

/* fr_cosine_sim_f32 on one thread, the normalised queries in the caller's `qn` [B, d]. */
int fr_cosine_sim_f32_ws(const float *Q, int64_t B, int64_t ldq, const float *X, int64_t N, int64_t d,
                         int64_t ldx, float *out, int64_t ldo, float *qn)
{
    if (fr_cosine_sim_args(Q, B, ldq, X, N, d, ldx, out, ldo) || (B > 0 && d > 0 && !qn))
        return FR_EINVAL;
    if (B == 0 || N == 0)
        return FR_OK;
    fr_normalize_queries_into(Q, B, ldq, d, qn);
    fr_cosine_f32_impl(qn, B, X, N, d, ldx, out, ldo, 1);
    return FR_OK;
}

/* fr_cosine_sim_f16 on one thread, the normalised queries in the caller's `qn` [B, d]. */
int fr_cosine_sim_f16_ws(const float *Q, int64_t B, int64_t ldq, const uint16_t *X, int64_t N, int64_t d,
                         int64_t ldx, float *out, int64_t ldo, float *qn)
{
    if (fr_cosine_sim_args(Q, B, ldq, X, N, d, ldx, out, ldo) || (B > 0 && d > 0 && !qn))
        return FR_EINVAL;
    if (B == 0 || N == 0)
        return FR_OK;
    fr_normalize_queries_into(Q, B, ldq, d, qn);
    fr_cosine_f16_impl(qn, B, X, N, d, ldx, out, ldo, 1);
    return FR_OK;
}
#endif
