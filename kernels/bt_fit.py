"""The Bradley-Terry Newton solve batched on the GPU, float64: the same algorithm as
fastroute/ops/reference_bt.bt_fit (its numpy reference), one T x T system per query.

`bt_fit` takes the fused kernel (kernels/bt_fit_fused.py: every iteration in one launch)
for up to FUSED_MAX_T players, and `bt_fit_torch` (torch ops, a few launches per
iteration, any T) beyond.
"""

from __future__ import annotations

import torch

from fastroute.ops.constants import BT_DESCENT_RTOL, BT_MAX_HALVINGS, BT_MAX_ITER, BT_RIDGE, BT_TOL, LN10

from .bt_fit_fused import FUSED_MAX_T, bt_fit_fused, checked_counts

__all__ = ["FUSED_MAX_T", "bt_fit", "bt_fit_fused", "bt_fit_torch"]


def bt_fit(
    S: torch.Tensor, T: int, ridge: float = BT_RIDGE, tol: float = BT_TOL, max_iter: int = BT_MAX_ITER
) -> tuple[torch.Tensor, torch.Tensor]:
    """(beta [B, T], converged [B] bool). A row that does not reach |ln10 * step| < tol within
    max_iter iterations, or whose Newton system is singular or not finite, is reported as not
    converged and set to NaN, so the caller can solve it another way (the CPU reference)."""
    if 1 <= T <= FUSED_MAX_T:
        return bt_fit_fused(S, T, ridge, tol, max_iter)
    return bt_fit_torch(S, T, ridge, tol, max_iter)


def _objective_torch(beta, C, Dp, Dm, lam):
    z = LN10 * (beta[:, :, None] - beta[:, None, :])
    kb = LN10 * beta
    ls = torch.nn.functional.logsigmoid
    return (C * ls(z)).sum(dim=(1, 2)) + (Dp * ls(-kb) + Dm * ls(kb)).sum(1) - 0.5 * lam * (beta * beta).sum(1)


def bt_fit_torch(
    S: torch.Tensor, T: int, ridge: float = BT_RIDGE, tol: float = BT_TOL, max_iter: int = BT_MAX_ITER
) -> tuple[torch.Tensor, torch.Tensor]:
    """bt_fit with torch ops (a few launches per iteration and torch.linalg.solve_ex): any T."""
    S = checked_counts(S, T)
    B = S.shape[0]
    eye = torch.arange(T, device=S.device)
    C = S[:, : T * T].reshape(B, T, T).clone()
    C[:, eye, eye] = 0.0
    Dp, Dm = S[:, T * T : T * T + T], S[:, T * T + T :]
    pinned = (Dp.sum(1) > 0) & (Dm.sum(1) > 0)
    Dp = torch.where(pinned[:, None], Dp, 0.0)
    Dm = torch.where(pinned[:, None], Dm, 0.0)
    N = C + C.transpose(1, 2)
    lam = ridge * S.sum(1)
    beta = torch.zeros((B, T), dtype=torch.float64, device=S.device)
    obj = _objective_torch(beta, C, Dp, Dm, lam)
    todo = torch.ones(B, dtype=torch.bool, device=S.device)
    failed = torch.zeros(B, dtype=torch.bool, device=S.device)
    k2 = LN10 * LN10
    for _ in range(max_iter):
        idx = torch.nonzero(todo).flatten()
        if idx.numel() == 0:
            break
        b, c, n, dp, dm, lm = beta[idx], C[idx], N[idx], Dp[idx], Dm[idx], lam[idx]
        p = torch.sigmoid(LN10 * (b[:, :, None] - b[:, None, :]))
        sb = torch.sigmoid(LN10 * b)
        grad = LN10 * ((c - n * p).sum(2) + dm - (dp + dm) * sb) - lm[:, None] * b
        w = k2 * n * p * (1.0 - p)
        F = -w
        F[:, eye, eye] = w.sum(2) + k2 * (dp + dm) * sb * (1.0 - sb) + lm[:, None]
        free = ~pinned[idx]
        if free.any():
            scale = F[free][:, eye, eye].mean(1)
            F[free] += scale[:, None, None] / T
        sol, info = torch.linalg.solve_ex(F, grad.unsqueeze(-1))
        step = sol.squeeze(-1)
        broken = (info != 0) | ~torch.isfinite(step).all(1)
        if bool(broken.any()):  # singular system: give the row up, keep solving the others
            failed[idx[broken]] = True
            todo[idx[broken]] = False
            step = torch.where(broken[:, None], 0.0, step)
        t = torch.ones(idx.numel(), dtype=torch.float64, device=S.device)
        new = b + step
        new_obj = _objective_torch(new, c, dp, dm, lm)
        for _ in range(BT_MAX_HALVINGS):
            worse = new_obj < obj[idx] - BT_DESCENT_RTOL * obj[idx].abs()
            if not bool(worse.any()):
                break
            t = torch.where(worse, t * 0.5, t)
            new = b + t[:, None] * step
            new_obj = _objective_torch(new, c, dp, dm, lm)
        beta[idx] = new
        obj[idx] = new_obj
        done = ((LN10 * t[:, None] * step).abs().amax(1) < tol) & ~broken
        todo[idx[done]] = False
    converged = ~(todo | failed)
    beta[~converged] = float("nan")
    return beta, converged
