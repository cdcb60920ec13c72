/* Kernel entry points for callers that own their memory (the native engine, csrc/engine/):
 * the same arithmetic as the fastroute_ops.h entry points of the same name, on one thread,
 * with every buffer the caller's, so a call allocates nothing. Internal: not in the cffi
 * interface. */
#ifndef FR_WORKSPACE_H
#define FR_WORKSPACE_H

#include <stdint.h>

/* Doubles of workspace fr_bt_fit_ws needs for T players. */
#define FR_BT_WORK(T) (3 * (T) * (T) + 6 * (T))

int fr_cosine_sim_f32_ws(const float *Q, int64_t B, int64_t ldq, const float *X, int64_t N, int64_t d,
                         int64_t ldx, float *out, int64_t ldo, float *qn);
int fr_cosine_sim_f16_ws(const float *Q, int64_t B, int64_t ldq, const uint16_t *X, int64_t N, int64_t d,
                         int64_t ldx, float *out, int64_t ldo, float *qn);
int fr_sw_stats_ws(const float *sims, int64_t B, int64_t U, int64_t lds, const int64_t *indptr,
                   const int32_t *indices, const float *values, int64_t K, float gamma, double *S,
                   float *smax, float *w);
int fr_field_win_rates_ws(const double *S, int64_t B, int64_t K, int64_t lds, double *out, int64_t ldo,
                          float *scratch);
int fr_bt_fit_ws(const double *S, int64_t B, int64_t T, double ridge, double tol, int max_iter, double *beta,
                 double *work);

#endif
