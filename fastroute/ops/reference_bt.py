"""numpy reference of the `bt_fit` op: the weighted Bradley-Terry Newton solve.

The model (what the counts S mean, the degenerate cases) is documented in
fastroute/sw/bradley_terry.py, which builds S; this is the solver every backend's
bt_fit is tested against (C: csrc/bt_fit.c, GPU: kernels/bt_fit.py).
"""

from __future__ import annotations

import numpy as np

from .constants import BT_DESCENT_RTOL, BT_MAX_HALVINGS, BT_MAX_ITER, BT_RIDGE, BT_TOL, LN10


def n_stats(T: int) -> int:
    """Counts per query for T players: C [T, T], then Dp [T] and Dm [T]."""
    return T * T + 2 * T


def split_counts(S: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(C [B, T, T] with a zero diagonal, Dp [B, T], Dm [B, T]) from counts S [B, n_stats(T)]."""
    B = S.shape[0]
    C = S[:, : T * T].reshape(B, T, T).copy()
    C[:, np.arange(T), np.arange(T)] = 0.0
    return C, S[:, T * T : T * T + T], S[:, T * T + T :]


def log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def bt_objective(beta, C, Dp, Dm, lam):
    """The ridge-penalised log-likelihood of coefficients beta [B, T]."""
    z = LN10 * (beta[:, :, None] - beta[:, None, :])
    kb = LN10 * beta
    return (
        (C * log_sigmoid(z)).sum(axis=(1, 2))
        + (Dp * log_sigmoid(-kb) + Dm * log_sigmoid(kb)).sum(1)
        - 0.5 * lam * (beta * beta).sum(1)
    )


def bt_fit(S: np.ndarray, T: int, *, tol: float = BT_TOL, max_iter: int = BT_MAX_ITER) -> np.ndarray:
    """[B, T] maximum-likelihood Bradley-Terry coefficients of each row of counts S [B, K]."""
    S = np.atleast_2d(np.asarray(S, dtype=np.float64))
    if S.shape[1] != n_stats(T):
        raise ValueError(f"expected {n_stats(T)} statistics for {T} players, got {S.shape[1]}")
    C, Dp, Dm = split_counts(S, T)
    pinned = (Dp.sum(1) > 0) & (Dm.sum(1) > 0)
    Dp = np.where(pinned[:, None], Dp, 0.0)
    Dm = np.where(pinned[:, None], Dm, 0.0)
    N = C + C.transpose(0, 2, 1)
    B = S.shape[0]
    lam = BT_RIDGE * S.sum(1)
    beta = np.zeros((B, T))
    obj = bt_objective(beta, C, Dp, Dm, lam)
    eye = np.arange(T)
    todo = np.ones(B, dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(todo)
        if idx.size == 0:
            break
        b, c, n, dp, dm, lm = beta[idx], C[idx], N[idx], Dp[idx], Dm[idx], lam[idx]
        p = sigmoid(LN10 * (b[:, :, None] - b[:, None, :]))
        sb = sigmoid(LN10 * b)
        grad = LN10 * ((c - n * p).sum(2) + dm - (dp + dm) * sb) - lm[:, None] * b
        w = (LN10 * LN10) * n * p * (1.0 - p)
        F = -w
        F[:, eye, eye] = w.sum(2) + (LN10 * LN10) * (dp + dm) * sb * (1.0 - sb) + lm[:, None]
        free = ~pinned[idx]
        if free.any():  # the level is free: fix it with sum(b) = 0 (F's null space is 1)
            scale = F[free][:, eye, eye].mean(1)
            F[free] += scale[:, None, None] / T
        step = np.linalg.solve(F, grad[:, :, None])[:, :, 0]
        # Newton on a concave objective, halving the step until it does not go down.
        t = np.ones(idx.size)
        new = b + step
        new_obj = bt_objective(new, c, dp, dm, lm)
        for _ in range(BT_MAX_HALVINGS):
            worse = new_obj < obj[idx] - BT_DESCENT_RTOL * np.abs(obj[idx])
            if not worse.any():
                break
            t[worse] *= 0.5
            new[worse] = b[worse] + t[worse, None] * step[worse]
            new_obj[worse] = bt_objective(new[worse], c[worse], dp[worse], dm[worse], lm[worse])
        beta[idx] = new
        obj[idx] = new_obj
        done = np.abs(LN10 * t[:, None] * step).max(1) < tol
        todo[idx[done]] = False
    return beta
