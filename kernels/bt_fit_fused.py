"""The Bradley-Terry Newton solve of a batch of queries in ONE Triton launch (float64).

Each program takes BLOCK_B queries and runs all their Newton iterations in registers: C
(directed counts), N = C + C^T and the Newton matrix F as [BLOCK_B, TP, TP] tiles, TP the
next power of two >= T (padding players have no counts, an identity row in F and stay 0).
Per iteration: gradient and F exactly as fastroute/ops/reference_bt.bt_fit, Gaussian
elimination without pivoting (F is symmetric positive definite; a pivot <= 0 or not finite
marks the row broken), then the reference's step-halving line search. Only elementwise ops,
tl.where and reductions: no tl.dot on float64, no explicit libdevice call (the interpreter
runs it too: CPU tests).
The torch loop it replaces (kernels/bt_fit.py's bt_fit_torch) paid dozens of small launches
per iteration, ~4 ms on an H200 whatever the batch.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fastroute.ops.constants import BT_DESCENT_RTOL, BT_MAX_HALVINGS, BT_MAX_ITER, BT_RIDGE, BT_TOL, LN10

from .config import interpreting, on_device

FUSED_MAX_T = 32  # the most players whose tiles fit in registers; kernels/bt_fit.py takes more with torch
# The constants as tl.constexpr globals; written tensor * constant in the kernel (constant * tensor
# gives a constexpr under the interpreter).
_LN10_C = tl.constexpr(LN10)
_K2_C = tl.constexpr(LN10 * LN10)
_RTOL_C = tl.constexpr(BT_DESCENT_RTOL)
_HALVINGS_C = tl.constexpr(BT_MAX_HALVINGS)


@triton.jit
def _sigmoids(x):
    """(s(x), 1 - s(x)), each without cancellation (1 - s(x) is not computed as a difference)."""
    e = tl.exp(-tl.abs(x))
    big = 1.0 / (1.0 + e)
    small = e * big
    return tl.where(x >= 0, big, small), tl.where(x >= 0, small, big)


@triton.jit
def _log_sigmoid(x):
    """min(x, 0) - log1p(exp(-|x|)), log1p by Goldberg's trick (no log1p under the interpreter)."""
    e = tl.exp(-tl.abs(x))
    u = 1.0 + e
    one = u == 1.0
    return tl.minimum(x, 0.0) - tl.where(one, e, tl.log(u) * (e / tl.where(one, 1.0, u - 1.0)))


@triton.jit
def _objective(b, C, Dp, Dm, lam, pair):
    """Ridge-penalised log-likelihood of beta [BB, TP] per row (reference_bt.bt_objective)."""
    z = (b[:, :, None] - b[:, None, :]) * _LN10_C
    kb = b * _LN10_C
    pairs = tl.sum(tl.sum(tl.where(pair, C * _log_sigmoid(z), 0.0), axis=2), axis=1)
    return pairs + tl.sum(Dp * _log_sigmoid(-kb) + Dm * _log_sigmoid(kb), axis=1) - 0.5 * lam * tl.sum(b * b, axis=1)


@triton.jit
def _newton_kernel(
    S, Beta, Conv, B, T, stride, ridge: tl.float64, tol: tl.float64, max_iter, TP: tl.constexpr, BLOCK_B: tl.constexpr
):
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    i1 = tl.arange(0, TP)
    rows = rb < B
    real = rows[:, None] & (i1[None, :] < T)  # [BB, TP]: a player, not padding
    ii = i1[None, :, None]  # row index of a [BB, TP, TP] tile
    jj = i1[None, None, :]  # column index
    eye = ii == jj
    pair = real[:, :, None] & real[:, None, :] & ~eye
    row = S + rb.to(tl.int64)[:, None] * stride  # [BB, 1]
    Craw = tl.load(row[:, :, None] + ii * T + jj, mask=real[:, :, None] & real[:, None, :], other=0.0)
    Dp = tl.load(row + T * T + i1[None, :], mask=real, other=0.0)
    Dm = tl.load(row + T * T + T + i1[None, :], mask=real, other=0.0)
    lam = ridge * (tl.sum(tl.sum(Craw, axis=2), axis=1) + tl.sum(Dp + Dm, axis=1))
    pinned = (tl.sum(Dp, axis=1) > 0) & (tl.sum(Dm, axis=1) > 0)
    Dp = tl.where(pinned[:, None], Dp, 0.0)
    Dm = tl.where(pinned[:, None], Dm, 0.0)
    C = tl.where(eye, 0.0, Craw)
    Nn = C + tl.trans(C, 0, 2, 1)
    b = tl.zeros([BLOCK_B, TP], dtype=tl.float64)
    obj = _objective(b, C, Dp, Dm, lam, pair)
    todo = rows
    failed = rb < 0
    it = 0
    while (it < max_iter) & (tl.max(todo.to(tl.int32), axis=0) > 0):
        # Gradient and Newton matrix F (negated Hessian plus ridge), as the reference.
        p, q = _sigmoids((b[:, :, None] - b[:, None, :]) * _LN10_C)
        sb, sq = _sigmoids(b * _LN10_C)
        grad = (tl.sum(C - Nn * p, axis=2) + Dm - (Dp + Dm) * sb) * _LN10_C - lam[:, None] * b
        w = Nn * p * q * _K2_C
        diag = tl.sum(w, axis=2) + (Dp + Dm) * sb * sq * _K2_C + lam[:, None]
        F = tl.where(eye, diag[:, :, None], -w)
        scale = tl.sum(tl.where(real, diag, 0.0), axis=1) / T / T  # free rows: mean(diag) / T
        F += tl.where(~pinned[:, None, None] & real[:, :, None] & real[:, None, :], scale[:, None, None], 0.0)
        F = tl.where(real[:, :, None] & real[:, None, :], F, tl.where(eye, 1.0, 0.0))  # padding: identity
        x = tl.where(real, grad, 0.0)
        # Gaussian elimination without pivoting (F is symmetric positive definite): column k
        # below the pivot is row k by symmetry; row k of U, divided by the pivot, replaces it.
        broken = rb < 0
        for k in range(0, T):
            rowk = tl.sum(tl.where(ii == k, F, 0.0), axis=1)  # [BB, TP]
            piv = tl.sum(tl.where(i1[None, :] == k, rowk, 0.0), axis=1)
            ok = (piv > 0) & (piv < float("inf"))
            broken |= ~ok
            inv = 1.0 / tl.where(ok, piv, 1.0)
            u = rowk * inv[:, None]
            xk = tl.sum(tl.where(i1[None, :] == k, x, 0.0), axis=1) * inv
            below = tl.where(i1[None, :] > k, rowk, 0.0)
            F = tl.where(ii == k, u[:, None, :], F - below[:, :, None] * u[:, None, :])
            x = tl.where(i1[None, :] == k, xk[:, None], x - below * xk[:, None])
        for kk in range(0, T):  # back substitution (unit diagonal), last row first
            k = T - 1 - kk
            uk = tl.sum(tl.where(ii == k, F, 0.0), axis=1)
            rest = tl.sum(tl.where(i1[None, :] > k, uk * x, 0.0), axis=1)
            x = tl.where(i1[None, :] == k, x - rest[:, None], x)
        broken |= tl.max(tl.where(tl.abs(x) < float("inf"), 0, 1), axis=1) > 0
        broken &= todo
        failed |= broken
        todo &= ~broken
        step = tl.where(todo[:, None], x, 0.0)
        # Halve the step while the objective goes down (per row; the loop ends when no row does).
        t = tl.full([BLOCK_B], 1.0, dtype=tl.float64)
        new = b + step
        new_obj = _objective(new, C, Dp, Dm, lam, pair)
        worse = todo & (new_obj < obj - tl.abs(obj) * _RTOL_C)
        h = 0
        while (h < _HALVINGS_C) & (tl.max(worse.to(tl.int32), axis=0) > 0):
            t = tl.where(worse, t * 0.5, t)
            new = tl.where(worse[:, None], b + t[:, None] * step, new)
            new_obj = tl.where(worse, _objective(new, C, Dp, Dm, lam, pair), new_obj)
            worse = todo & (new_obj < obj - tl.abs(obj) * _RTOL_C)
            h += 1
        b = tl.where(todo[:, None], new, b)
        obj = tl.where(todo, new_obj, obj)
        todo &= ~(tl.max(tl.abs(t[:, None] * step * _LN10_C), axis=1) < tol)
        it += 1
    converged = rows & ~todo & ~failed
    out = rb.to(tl.int64)[:, None] * T + i1[None, :]
    tl.store(Beta + out, tl.where(converged[:, None], b, float("nan")), mask=real)
    tl.store(Conv + rb, converged.to(tl.int8), mask=rows)


def _launch_shape(B: int, TP: int) -> tuple[int, int]:
    """(BLOCK_B, num_warps). About 2 float64 tile elements per thread: ptxas then fits the
    kernel in <= ~160 registers without spilling (TP=16: 1 row on 4 warps, 2 rows on 8);
    4 rows per program under the interpreter, whose cost grows with the number of programs."""
    cap = 4 if interpreting() else max(1, 512 // (TP * TP))
    block = min(triton.next_power_of_2(max(B, 1)), cap)
    return block, max(1, min(8, block * TP * TP // 64))


def bt_fit_fused(
    S: torch.Tensor,
    T: int,
    ridge: float = BT_RIDGE,
    tol: float = BT_TOL,
    max_iter: int = BT_MAX_ITER,
    launch: "tuple[int, int] | None" = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """bt_fit in one launch (T <= FUSED_MAX_T): each program holds C, N and F of BLOCK_B
    queries as [BLOCK_B, TP, TP] float64 register tiles and iterates to convergence.
    launch: (BLOCK_B, num_warps) instead of _launch_shape's, for tuning on a GPU."""
    if not 1 <= T <= FUSED_MAX_T:
        raise ValueError(f"the fused Newton kernel takes 1..{FUSED_MAX_T} players, got {T}")
    S = checked_counts(S, T).contiguous()
    B = S.shape[0]
    beta = torch.empty((B, T), dtype=torch.float64, device=S.device)
    conv = torch.empty((B,), dtype=torch.int8, device=S.device)
    if B:
        TP = max(2, triton.next_power_of_2(T))
        block, warps = launch or _launch_shape(B, TP)
        with on_device(S):
            _newton_kernel[(triton.cdiv(B, block),)](
                S, beta, conv, B, T, S.stride(0), float(ridge), float(tol), int(max_iter), TP, block, num_warps=warps
            )
    return beta, conv.bool()


def checked_counts(S: torch.Tensor, T: int) -> torch.Tensor:
    """S as float64 [B, T * T + 2 * T], or a ValueError naming the expected width."""
    S = S.to(torch.float64)
    if S.shape[1] != T * T + 2 * T:
        raise ValueError(f"expected {T * T + 2 * T} statistics for {T} players, got {S.shape[1]}")
    return S
