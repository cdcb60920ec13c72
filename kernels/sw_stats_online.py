"""sw_ranking's statistics for the exp weighting in ONE pass over the arena (issue 16).

For the weights w[b, n] = exp(g (s[b, n] - max_n s[b, n])), g > 0, the row maximum is not
needed before weighting (FlashAttention's online softmax): each program keeps a running row
maximum m and an accumulator relative to it; when a tile raises the maximum from m_old to
m_new, the accumulator is rescaled by exp(g (m_old - m_new)) = 2^(g log2(e) (m_old - m_new))
before the tile's weights (relative to m_new) are added. Q X^T is computed once instead of
twice (sw_stats.py's two passes remain for RouteLLM's 10 * 10^(s / max), which needs the
maximum first). Each split of the arena returns its maximum m_s and its accumulator relative
to m_s; `online_weighted_stats` combines them in float64: m = max_s m_s,
S = sum_s Spart_s * exp(g (m_s - m)), a split with no valid column (m_s = -inf) adding 0.

The clamp, and how far this can differ from the reference. The reference (and the two-pass
kernel) clamps every exponent below at EXP2_MIN = -113, so no battle weighs less than
2^-113 of the row's largest weight (which is exactly 1). Here a tile's exponents are clamped
relative to the maximum known when the tile is weighted, and a later, larger maximum scales
them down again (rescale factors, and a split's combination factor, are never clamped, and
may underflow to 0). For a battle that the reference does not clamp, (s - m_new) >= (s - m)
so it is not clamped here either, and only rounding differs. A battle that the reference
clamps gets a weight in [0, 2^-113] here instead of 2^-113. So, relative to a row whose
maximum weight is 1:

    |S[b, k] - S_ref[b, k]| <= 2^EXP2_MIN * sum_n |A[n, k]| <= N max|A| 2^-113 (~9.6e-35 N max|A|)

on top of float32 rounding (rtol ~1e-5, as for the two-pass kernel). Row maxima are those
of the two-pass kernel bit for bit (the same tiles, the same float32 max).
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from fastroute.ops.constants import EXP2_MIN, LOG2_E

from .config import autotune_configs, interpreting, on_device
from .tiles import tile_dot

__all__ = ["batch_class", "combine_splits", "online_parts", "online_weighted_stats"]

# The same numbers for @triton.jit code (fastroute/ops/constants.py is their one source).
_LOG2_E_C = tl.constexpr(LOG2_E)
_EXP2_MIN_C = tl.constexpr(EXP2_MIN)

# The first tile is the conservative one (sw_stats.py's two-pass first tile: it fits float32
# arenas' shared memory), what runs when autotuning is off; every BLOCK_N divides
# sw_stats.SPLIT_MULTIPLE. The 128-row tile reads the arena half as often per query.
_ONLINE_TILES = (
    [{"BLOCK_B": 16, "BLOCK_N": 16, "BLOCK_D": 16, "BLOCK_K": 16}]
    if interpreting()
    else [
        {"BLOCK_B": 64, "BLOCK_N": 64, "BLOCK_D": 64, "BLOCK_K": 128},
        {"BLOCK_B": 128, "BLOCK_N": 64, "BLOCK_D": 64, "BLOCK_K": 128},
        {"BLOCK_B": 16, "BLOCK_N": 128, "BLOCK_D": 64, "BLOCK_K": 128},
    ]
)


# Precision of the W A dot (weights in [2^-113, 1] times the float32 statistics). "ieee" (the
# two-pass kernel's) runs on CUDA cores, not tensor cores; "tf32x3" (three TF32 products,
# close to float32) is the candidate to time on a GPU. Not a tuning option: it changes results.
WA_DOT_PRECISION = "ieee"


@triton.autotune(configs=autotune_configs(_ONLINE_TILES, [4, 8], [2]), key=["B_CLASS", "N", "D", "K"])
@triton.jit
def _online_stats_kernel(
    Q,
    X,
    A,
    Mpart,
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
    WA_PRECISION: tl.constexpr,
    BLOCK_B: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    BLOCK_K: tl.constexpr,
):
    split = tl.program_id(1)
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rk = tl.program_id(2) * BLOCK_K + tl.arange(0, BLOCK_K)
    n_lo = split * n_per_split
    n_hi = n_lo + n_per_split
    scale = gamma * _LOG2_E_C  # as tile_weights: exp(g x) = 2^(g log2(e) x)
    m = tl.full([BLOCK_B], float("-inf"), dtype=tl.float32)
    acc = tl.zeros([BLOCK_B, BLOCK_K], dtype=tl.float32)
    for n0 in range(n_lo, n_hi, BLOCK_N):
        rn = n0 + tl.arange(0, BLOCK_N)
        s = tile_dot(Q, X, rb, rn, B, N, D, sq, sx, BLOCK_B, BLOCK_N, BLOCK_D, IEEE)
        # Padding columns (past N, or past this split) never raise the maximum nor weigh.
        valid = (rn[None, :] < N) & (rn[None, :] < n_hi)
        s = tl.where(valid, s, float("-inf"))
        m_new = tl.maximum(m, tl.max(s, axis=1))
        seen = m_new > float("-inf")  # false only while no valid column has been read
        m_at = tl.where(seen, m_new, 0.0)
        # exp2(-inf) = 0 rescales the empty start; 1 (not NaN) while nothing is seen.
        alpha = tl.where(seen, tl.exp2((m - m_at) * scale), 1.0)
        w = tl.where(valid, tl.exp2(tl.maximum((s - m_at[:, None]) * scale, _EXP2_MIN_C)), 0.0)
        a = tl.load(
            A + rn.to(tl.int64)[:, None] * sa + rk[None, :], mask=(rn[:, None] < N) & (rk[None, :] < K), other=0.0
        )
        acc = tl.dot(w, a, acc * alpha[:, None], input_precision=WA_PRECISION)
        m = m_new
    if tl.program_id(2) == 0:  # every column block has the same maxima
        tl.store(Mpart + split.to(tl.int64) * B + rb, m, mask=rb < B)
    tl.store(
        Spart + (split.to(tl.int64) * B + rb.to(tl.int64)[:, None]) * K + rk[None, :],
        acc,
        mask=(rb[:, None] < B) & (rk[None, :] < K),
    )


def batch_class(B: int) -> int:
    """Autotuning key for the batch: tuned once per size class, not per batch size."""
    return 0 if B <= 16 else 1 if B <= 256 else 2


def combine_splits(mpart: torch.Tensor, spart: torch.Tensor, sharpness: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(S [B, K] float64, m [B] float32) from each split's maximum mpart [splits, B] and its
    accumulator spart [splits, B, K] relative to that maximum; splits with max -inf add 0."""
    m = mpart.max(dim=0).values.contiguous()
    live = mpart > float("-inf")
    m64 = torch.where(live, m.to(torch.float64)[None, :], 0.0)
    expo = (torch.where(live, mpart.to(torch.float64), 0.0) - m64) * (sharpness * LOG2_E)
    parts = spart.to(torch.float64) * torch.exp2(expo)[:, :, None]
    return torch.where(live[:, :, None], parts, 0.0).sum(dim=0), m


def online_weighted_stats(
    Qn: torch.Tensor, Xc: torch.Tensor, Ac: torch.Tensor, sharpness: float, per: int, splits: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """(S [B, K] float64, row maxima [B] float32) for the weighting exp(g (s - max)), g =
    sharpness > 0, in one pass: Qn unit queries [B, D] in the arena's dtype (contiguous), Xc
    the arena [N, D] with unit stride along D, Ac [N, K] float32 contiguous; the arena is cut
    into `splits` runs of `per` columns (sw_stats.sw_weighted_stats chooses them; any per > 0
    works, and runs past N add nothing)."""
    return combine_splits(*online_parts(Qn, Xc, Ac, sharpness, per, splits), float(sharpness))


def online_parts(
    Qn: torch.Tensor, Xc: torch.Tensor, Ac: torch.Tensor, sharpness: float, per: int, splits: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each split's row maxima [splits, B] (-inf: no column) and its accumulator [splits, B, K]
    relative to them (0 for no column): the kernel's output, before combine_splits."""
    if not sharpness > 0:
        raise ValueError(f"the one-pass kernel needs a sharpness > 0, got {sharpness}")
    B, D = Qn.shape
    N, K = Xc.shape[0], Ac.shape[1]
    ieee = Xc.dtype == torch.float32  # full float32 products for float32 arenas (no TF32)
    mpart = torch.empty((splits, B), dtype=torch.float32, device=Qn.device)
    spart = torch.empty((splits, B, K), dtype=torch.float32, device=Qn.device)
    with on_device(Qn):
        _online_stats_kernel[lambda meta: (triton.cdiv(B, meta["BLOCK_B"]), splits, triton.cdiv(K, meta["BLOCK_K"]))](
            Qn,
            Xc,
            Ac,
            mpart,
            spart,
            B,
            N,
            D,
            K,
            Qn.stride(0),
            Xc.stride(0),
            Ac.stride(0),
            per,
            float(sharpness),
            batch_class(B),
            ieee,
            WA_DOT_PRECISION,
        )
    return mpart, spart
