"""The numpy half of the sharded sw_ranking arena (no ray here): where the arena is cut, the
statistics matrix's columns of one shard, a shard's partial statistics in float64, and the
driver's exact combination of them.

The single-process router computes, per query, S = A w with w_i = f(s_i, m) and m the
query's maximum similarity over the whole arena (fastroute.ops.reference.sw_weights; the
shards use its weights_given_max and weighted_sums). S is a
sum over arena rows, so with the rows cut into contiguous shards S = sum_s A_s w_s, provided
every shard weighs its rows against the same global m:

* RouteLLM's weighting (sharpness None), 10 * 10^(s / m): a max-reduce round gives m, then
  each shard returns A_s w_s(m) (`partial_stats` with the global m): the same weights, bit
  for bit, summed in another order (float64 rounding, ~1e-16 relative).
* the exp weighting (sharpness g > 0), exp(g (s - m)): one round. Each shard returns its own
  maximum m_s and A_s w_s(m_s); since exp(g (s - m)) = exp(g (s - m_s)) exp(g (m_s - m)), the
  driver rescales each part by exp(g (m_s - m)) and sums (an online softmax). The exponent is
  clamped at EXP2_MIN (weights >= 2^-113) relative to m in the reference and relative to m_s
  here, so the two can differ only for weights below 2^-113: per weight by at most 2^-113,
  per statistic by at most 2^-113 * sum_i |A_ki| (`clamp_bound`). Cosine similarities of unit
  rows lie in [-1, 1] (within 1.01 with float16 storage's rounding), so s - m >= -SIM_SPAN and
  the clamp never acts while SIM_SPAN g log2(e) <= 113 (g <= 38.8; the shipped g is 10): there
  the two formulas are the same.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..ops.constants import EXP2_MIN, LOG2_E
from ..ops.csr import CSRMatrix
from ..ops.reference import weighted_sums, weights_given_max

SIM_SPAN = 2.02  # the widest s - m of unit rows (|s| <= 1, float16 rounding of the rows included)


def shard_bounds(n_rows: int, shards: "int | Sequence[int]") -> np.ndarray:
    """[S + 1] cut points of `n_rows` arena rows into contiguous shards: `shards` equal parts
    (sizes differ by at most one, the larger first), or the given shard sizes (each >= 1)."""
    if isinstance(shards, (int, np.integer)) and not isinstance(shards, bool):
        count = int(shards)
        if not 1 <= count <= n_rows:
            raise ValueError(f"shard count must be between 1 and the arena's {n_rows} rows, got {count}")
        q, r = divmod(n_rows, count)
        sizes = np.array([q + 1] * r + [q] * (count - r), dtype=np.int64)
    else:
        try:
            sizes = np.asarray([int(s) for s in shards], dtype=np.int64)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise ValueError(f"shards must be a count or a sequence of shard sizes, got {shards!r}") from None
        if sizes.size == 0 or (sizes < 1).any() or int(sizes.sum()) != n_rows:
            raise ValueError(f"shard sizes must be >= 1 and add up to the arena's {n_rows} rows, got {sizes.tolist()}")
    bounds = np.zeros(sizes.size + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    return bounds


def csr_columns(A: CSRMatrix, lo: int, hi: int) -> CSRMatrix:
    """The columns [lo, hi) of A as their own matrix (columns renumbered from 0), every row kept."""
    keep = (A.indices >= lo) & (A.indices < hi)
    kept_before = np.zeros(keep.size + 1, dtype=np.int64)
    np.cumsum(keep, out=kept_before[1:])
    indptr = np.ascontiguousarray(kept_before[A.indptr])  # kept entries keep their order
    indices = (A.indices[keep] - lo).astype(np.int32)
    return CSRMatrix(indptr, indices, np.ascontiguousarray(A.values[keep]), (A.shape[0], hi - lo))


def row_max(sims: np.ndarray) -> np.ndarray:
    """[B] float64 maximum similarity of each row (-inf for a shard without rows)."""
    s = np.asarray(sims)
    return s.max(axis=1).astype(np.float64) if s.shape[1] else np.full(s.shape[0], -np.inf)


def partial_stats(sims: np.ndarray, A: CSRMatrix, sharpness: "float | None", m: np.ndarray) -> np.ndarray:
    """A shard's part of S: its rows' weights against the maxima m, summed through its columns of A."""
    return weighted_sums(weights_given_max(sims, m, sharpness), A)


def combine_exp(parts: Sequence[np.ndarray], maxima: Sequence[np.ndarray], sharpness: float) -> np.ndarray:
    """S of the exp weighting from each shard's (A_s w_s(m_s), m_s): rescaled to the global
    maximum by exp(g (m_s - m)) and summed (the weights' online-softmax combination)."""
    M = np.stack([np.asarray(mx, dtype=np.float64) for mx in maxima])  # [S, B]
    m = M.max(axis=0)
    S = np.zeros_like(np.asarray(parts[0], dtype=np.float64))
    for part, m_s in zip(parts, M):
        S += part * np.exp2(sharpness * LOG2_E * (m_s - m))[:, None]
    return S


def clamp_bound(A: CSRMatrix, sharpness: "float | None") -> float:
    """The largest difference, per statistic, between the sharded and the single-process S
    that the EXP2_MIN clamp can make: 0 for RouteLLM's weighting and for g <= 113 / (SIM_SPAN
    log2 e) (unit rows' similarities never reach the clamp), else 2^EXP2_MIN times A's largest row sum."""
    if sharpness is None or SIM_SPAN * sharpness * LOG2_E <= -EXP2_MIN:
        return 0.0
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    row_l1 = np.bincount(rows, weights=np.abs(A.values.astype(np.float64)), minlength=A.shape[0])
    return float(2.0**EXP2_MIN * row_l1.max(initial=0.0))
