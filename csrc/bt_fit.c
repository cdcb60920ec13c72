/* bt_fit: fr_bt_fit, the weighted Bradley-Terry Newton solve. Reference:
 * fastroute/ops/reference_bt.py:bt_fit. Scalar C (T is small), one query per thread. */
#include "fr_internal.h"

/* ---- Bradley-Terry Newton solve (scalar: T is small; one query per thread) ---- */

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
        for (int h = 0; h <= FR_BT_MAX_HALVINGS; h++) {
            for (int64_t i = 0; i < T; i++)
                nb[i] = b[i] + t * step[i];
            new_obj = fr_bt_objective(nb, C, Dp, Dm, T, lam);
            if (!(new_obj < obj - FR_BT_DESCENT_RTOL * fabs(obj)))
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

/* fr_bt_fit on one thread with the caller's workspace `work` (FR_BT_WORK(T) doubles). */
int fr_bt_fit_ws(const double *S, int64_t B, int64_t T, double ridge, double tol, int max_iter, double *beta,
                 double *work)
{
    if (T < 1 || B < 0 || (B > 0 && (!S || !beta || !work)))
        return FR_EINVAL;
    const int64_t K = T * T + 2 * T;
    int failed = 0;
    for (int64_t q = 0; q < B; q++) {
        const int bad = fr_bt_fit_one(S + q * K, T, ridge, tol, max_iter, beta + q * T, work);
        if (bad)
            for (int64_t i = 0; i < T; i++)
                beta[q * T + i] = NAN;
        failed += bad;
    }
    return failed;
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
