/* The numbers the C kernels share with the other languages. Their one Python source is
 * fastroute/ops/constants.py; tests/test_op_constants.py checks every value below against
 * it (each #define here is FR_ + the Python name). Plain #defines only. */
#ifndef FR_CONSTANTS_H
#define FR_CONSTANTS_H

/* Similarity weights: RouteLLM's 10 * 10^(s / m) = 2^(log2(10) (s / m + 1)), or
 * exp(g (s - m)) = 2^(g log2(e) (s - m)); exponents below 2^-113 (~1e-34) are clamped, so
 * no battle's weight is ever 0. */
#define FR_ROUTELLM_WEIGHT_BASE 10.0f
#define FR_LOG2_10 3.32192809488736234787
#define FR_LOG2_E 1.44269504088896340736
#define FR_EXP2_MIN (-113.0f)

/* Bradley-Terry Newton solve (ridge, tol and iterations are also bt_fit's arguments). */
#define FR_LN10 2.30258509299404568402
#define FR_BT_RIDGE 1e-9
#define FR_BT_TOL 1e-11
#define FR_BT_MAX_ITER 100
#define FR_BT_MAX_HALVINGS 60
#define FR_BT_DESCENT_RTOL 1e-12

#endif
