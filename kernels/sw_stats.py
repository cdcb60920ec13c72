"""sw_ranking's statistics on the GPU, never writing the [B, N] similarity matrix
(flash-attention style). `sw_weighted_stats` sends the exp weighting (sharpness g > 0) to
the one-pass, online-rescaled kernel of sw_stats_online.py; RouteLLM's weighting (None),
which needs each row's maximum first, runs in two fused passes:

1. `_rowmax_kernel`: the row maximum of Q X^T, tile by tile, per split of the arena;
2. `_weights_stats_kernel`: recomputes each tile of Q X^T, turns it into the battle
   weights (RouteLLM's 10 * 10^(s / max), or exp(g (s - max))) and accumulates W A^T
   into [B, K] with a second tl.dot, A being the dense [N, K] statistics matrix.

Splitting the arena across programs keeps the GPU busy for small batches; the splits'
partial results are combined in torch (max, then a sum in float64).

`stats_from_similarities` is the op itself (the backend's sw_stats, from precomputed
similarities, as the CPU backends take them), in torch.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fastroute.ops.constants import EXP2_MIN, LOG2_10, LOG2_E

from .config import autotune_configs, interpreting, on_device
from .cosine_sim import normalized_queries
from .sw_stats_online import batch_class as _batch_class
from .sw_stats_online import online_weighted_stats
from .tiles import tile_dot

__all__ = ["EXP2_MIN", "LOG2_10", "LOG2_E", "stats_from_similarities", "sw_weighted_stats", "tile_weights"]

# The same numbers for @triton.jit code (fastroute/ops/constants.py is their one source).
_LOG2_10_C = tl.constexpr(LOG2_10)
_LOG2_E_C = tl.constexpr(LOG2_E)
_EXP2_MIN_C = tl.constexpr(EXP2_MIN)


@triton.jit
def tile_weights(s, m, inv, gamma):
    """Battle weights of a [BLOCK_B, BLOCK_N] tile of similarities s, given the row maxima m
    and inv = 1 / m where m > 0, else 0. gamma > 0: exp(gamma (s - m)); else RouteLLM's
    10 * 10^(s / m) = 2^(log2(10) (s / m + 1)), uniform when m <= 0. Exponents clamped below."""
    if gamma > 0.0:
        e = (s - m[:, None]) * (gamma * _LOG2_E_C)
    else:
        e = _LOG2_10_C * (s * inv[:, None] + 1.0)
    return tl.exp2(tl.maximum(e, _EXP2_MIN_C))


# The first tile of each list is the conservative one (it fits float32 arenas' shared
# memory): it is what runs when autotuning is off (see config.autotune_configs).
_ROWMAX_TILES = (
    [{"BLOCK_B": 16, "BLOCK_N": 16, "BLOCK_D": 16}]
    if interpreting()
    else [
        {"BLOCK_B": 64, "BLOCK_N": 64, "BLOCK_D": 64},
        {"BLOCK_B": 64, "BLOCK_N": 128, "BLOCK_D": 64},
        {"BLOCK_B": 16, "BLOCK_N": 256, "BLOCK_D": 64},
    ]
)
_STATS_TILES = (
    [{"BLOCK_B": 16, "BLOCK_N": 16, "BLOCK_D": 16, "BLOCK_K": 16}]
    if interpreting()
    else [
        {"BLOCK_B": 64, "BLOCK_N": 64, "BLOCK_D": 64, "BLOCK_K": 128},
        {"BLOCK_B": 16, "BLOCK_N": 128, "BLOCK_D": 64, "BLOCK_K": 128},
    ]
)
# Arena splits are multiples of this, so every BLOCK_N above divides them.
SPLIT_MULTIPLE = 16 if interpreting() else 256


@triton.autotune(configs=autotune_configs(_ROWMAX_TILES, [4, 8], [2]), key=["B_CLASS", "N", "D"])
@triton.jit
def _rowmax_kernel(
    Q,
    X,
    Mpart,
    B,
    N,
    D,
    sq,
    sx,
    n_per_split,
    B_CLASS,
    IEEE: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
):
    split = tl.program_id(1)
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    n_lo = split * n_per_split
    m = tl.full([BLOCK_B], float("-inf"), dtype=tl.float32)
    for n0 in range(n_lo, n_lo + n_per_split, BLOCK_N):
        rn = n0 + tl.arange(0, BLOCK_N)
        s = tile_dot(Q, X, rb, rn, B, N, D, sq, sx, BLOCK_B, BLOCK_N, BLOCK_D, IEEE)
        valid = (rn[None, :] < N) & (rn[None, :] < n_lo + n_per_split)
        m = tl.maximum(m, tl.max(tl.where(valid, s, float("-inf")), axis=1))
    tl.store(Mpart + split.to(tl.int64) * B + rb, m, mask=rb < B)


@triton.autotune(configs=autotune_configs(_STATS_TILES, [4, 8], [2]), key=["B_CLASS", "N", "D", "K"])
@triton.jit
def _weights_stats_kernel(
    Q,
    X,
    A,
    M,
    Spart,
    B,
    N,
    D,
    K,
    sq,
    sx,
    sa,
    n_per_split,
    gamma,
    B_CLASS,
    IEEE: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    split = tl.program_id(1)
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rk = tl.program_id(2) * BLOCK_K + tl.arange(0, BLOCK_K)
    n_lo = split * n_per_split
    m = tl.load(M + rb, mask=rb < B, other=1.0)
    ok = m > 0.0
    inv = tl.where(ok, 1.0 / tl.where(ok, m, 1.0), 0.0)
    acc = tl.zeros([BLOCK_B, BLOCK_K], dtype=tl.float32)
    for n0 in range(n_lo, n_lo + n_per_split, BLOCK_N):
        rn = n0 + tl.arange(0, BLOCK_N)
        s = tile_dot(Q, X, rb, rn, B, N, D, sq, sx, BLOCK_B, BLOCK_N, BLOCK_D, IEEE)
        w = tile_weights(s, m, inv, gamma)
        valid = (rn[None, :] < N) & (rn[None, :] < n_lo + n_per_split)
        w = tl.where(valid, w, 0.0)
        a = tl.load(
            A + rn.to(tl.int64)[:, None] * sa + rk[None, :], mask=(rn[:, None] < N) & (rk[None, :] < K), other=0.0
        )
        acc += tl.dot(w, a, input_precision="ieee")
    tl.store(
        Spart + (split.to(tl.int64) * B + rb.to(tl.int64)[:, None]) * K + rk[None, :],
        acc,
        mask=(rb[:, None] < B) & (rk[None, :] < K),
    )


def _splits(B: int, N: int, device: "torch.device | None" = None) -> int:
    """Enough programs to fill the GPU the data is on (about 4 per SM) when the batch is small."""
    if interpreting():
        return max(1, min(4, triton.cdiv(N, SPLIT_MULTIPLE)))
    if device is not None and device.type == "cuda":
        sms = torch.cuda.get_device_properties(device).multi_processor_count
    else:
        sms = 132
    return max(1, min(triton.cdiv(N, SPLIT_MULTIPLE), triton.cdiv(4 * sms, triton.cdiv(B, 64))))


def sw_weighted_stats(
    Q: torch.Tensor, X: torch.Tensor, A: torch.Tensor, sharpness: "float | None" = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(S [B, K] float64, row maxima [B] float32) for queries Q [B, D], unit arena rows X [N, D]
    (fp32/fp16/bf16) and the dense statistics matrix A [N, K] (fp32). sharpness g > 0: one
    pass (sw_stats_online); None: RouteLLM's weighting, in two passes."""
    if Q.shape[1] != X.shape[1] or A.shape[0] != X.shape[0]:
        raise ValueError(f"shapes do not match: Q {tuple(Q.shape)}, X {tuple(X.shape)}, A {tuple(A.shape)}")
    if sharpness is not None and not sharpness > 0:
        raise ValueError(f"sharpness must be > 0, or None for RouteLLM's weighting; got {sharpness}")
    Xc = X if X.stride(1) == 1 else X.contiguous()
    Ac = A.to(torch.float32).contiguous()
    Qn = normalized_queries(Q, Xc.dtype)
    B, N, K = Qn.shape[0], Xc.shape[0], Ac.shape[1]
    if B == 0 or N == 0:
        return torch.zeros((B, K), dtype=torch.float64, device=Q.device), torch.full(
            (B,), float("-inf"), device=Q.device
        )
    splits = _splits(B, N, Q.device)
    per = triton.cdiv(triton.cdiv(N, splits), SPLIT_MULTIPLE) * SPLIT_MULTIPLE
    splits = triton.cdiv(N, per)
    if sharpness is not None:
        return online_weighted_stats(Qn, Xc, Ac, float(sharpness), per, splits)
    return two_pass_weighted_stats(Qn, Xc, Ac, None, per, splits)


def two_pass_weighted_stats(
    Qn: torch.Tensor, Xc: torch.Tensor, Ac: torch.Tensor, sharpness: "float | None", per: int, splits: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The two passes (row maxima, then weights and W A), for either weighting; arguments
    as sw_stats_online.online_weighted_stats takes them."""
    B, D = Qn.shape
    N, K = Xc.shape[0], Ac.shape[1]
    ieee = Xc.dtype == torch.float32  # full float32 products for float32 arenas (no TF32)
    mpart = torch.empty((splits, B), dtype=torch.float32, device=Qn.device)
    spart = torch.empty((splits, B, K), dtype=torch.float32, device=Qn.device)
    gamma = 0.0 if sharpness is None else float(sharpness)
    with on_device(Qn):
        _rowmax_kernel[lambda meta: (triton.cdiv(B, meta["BLOCK_B"]), splits)](
            Qn, Xc, mpart, B, N, D, Qn.stride(0), Xc.stride(0), per, _batch_class(B), ieee
        )
        m = mpart.max(dim=0).values.contiguous()
        _weights_stats_kernel[lambda meta: (triton.cdiv(B, meta["BLOCK_B"]), splits, triton.cdiv(K, meta["BLOCK_K"]))](
            Qn,
            Xc,
            Ac,
            m,
            spart,
            B,
            N,
            D,
            K,
            Qn.stride(0),
            Xc.stride(0),
            Ac.stride(0),
            per,
            gamma,
            _batch_class(B),
            ieee,
        )
    return spart.to(torch.float64).sum(dim=0), m


def stats_from_similarities(
    s: torch.Tensor, A: torch.Tensor, sharpness: "float | None" = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(S [B, K] float64, row maxima [B]) from float32 similarities s [B, N] and the dense
    statistics matrix A [N, K]: weights as tile_weights, then S = W A^T in float64.
    sharpness: None or > 0 (checked by the caller, fastroute.ops.check_sharpness)."""
    m = s.max(dim=1).values if s.shape[1] else torch.full((s.shape[0],), float("-inf"), device=s.device)
    if sharpness is not None:
        e = (s - m[:, None]) * (float(sharpness) * LOG2_E)
    else:
        ok = m > 0
        inv = torch.where(ok, 1.0 / torch.where(ok, m, torch.ones_like(m)), torch.zeros_like(m))
        e = LOG2_10 * (s * inv[:, None] + 1.0)
    w = torch.exp2(torch.clamp(e, min=EXP2_MIN)).to(torch.float64)
    return w @ A.to(torch.float64), m
