/* embedding_bag_i8: fr_embedding_bag_i8, the static embedder's int8 bag of tokens. Reference:
 * fastroute/ops/reference.py:embedding_bag_i8. */
#ifdef FR_LEVEL
/* ---- kernels, compiled once per SIMD level (fr_levels.h) ---- */

/* offsets were checked by the caller (start at 0, never decrease, end at the ids' length). */
static FR_ATTR int FR_FN(embedding_bag_i8)(const int8_t *table, const float *scales, int64_t V,
                                           int64_t d, const int32_t *ids, const int64_t *offsets,
                                           int64_t B, float *out, int nthreads)
{
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 16) num_threads(nthreads) if (nthreads > 1 && offsets[B] * d > FR_PARALLEL_MIN / 4) reduction(| : bad)
    for (int64_t b = 0; b < B; b++) {
        float *o = out + b * d;
        for (int64_t k = 0; k < d; k++)
            o[k] = 0.f;
        int64_t count = 0;
        for (int64_t t = offsets[b]; t < offsets[b + 1]; t++) {
            const int32_t id = ids[t];
            if (id < 0 || id >= V) {
                bad = 1;
                continue;
            }
            const int8_t *row = table + (int64_t)id * d;
            const float sc = scales[id];
#pragma omp simd
            for (int64_t k = 0; k < d; k++)
                o[k] += sc * (float)row[k];
            count++;
        }
        /* The mean's 1/count cancels in the normalisation; only the norm matters. */
        double nrm = 0.0;
#pragma omp simd reduction(+ : nrm)
        for (int64_t k = 0; k < d; k++)
            nrm += (double)o[k] * (double)o[k];
        const float inv = (count > 0 && nrm > 0.0) ? (float)(1.0 / sqrt(nrm)) : 0.f;
#pragma omp simd
        for (int64_t k = 0; k < d; k++)
            o[k] *= inv;
    }
    return bad;
}

#else
/* ---- entry points ---- */
#include "fr_internal.h"
#define FR_OP_FILE "embedding_bag_i8.c"
#include "fr_levels.h"

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
#endif
