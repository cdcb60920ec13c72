"""The sw_ranking scoring engine: per-query Bradley-Terry tier coefficients from an arena.

Per query q, every battle is weighted by its prompt's similarity to q (RouteLLM's
10 * 10^(s / max s), or exp(g (s - max s)) with a sharpness g), the weighted counts
S = A w are gathered, and a T-dimensional Newton solve gives the tier coefficients. Three
ways to the same S: an exact blocked scan (similarities, then the statistics kernel), an
IVF scan of the nearest clusters, or a backend's fused device kernel, which keeps nothing
[B, N] in memory.

Degenerate cases (documented behaviour):
* max similarity <= 0 (e.g. an all-zero query embedding): uniform weights, i.e. the
  global tier ratings; RouteLLM would divide by zero or invert the weighting;
* a pair of tiers without battles: nothing to count, the fit goes through the other tiers.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import numpy as np

from ..ops import FUSED_SW_STATS
from ..ops.checks import check_sharpness
from .arena import TierStatistics
from .ivf import IVFIndex, approximate_similarities

# Similarities are computed for blocks of queries at a time, into one buffer of at
# most this many bytes: large blocks amortise BLAS's packing of the arena (at
# N=165k, d=1536: 4.1 ms/query in blocks of 101, 2.4 ms/query in blocks of 512).
_SIM_BLOCK_BYTES = 256 << 20
# float16 arenas up to this size (as float32) are also kept widened in memory, for
# batches of more than _FEW_QUERIES queries (BLAS); fewer queries stream the float16 copy.
_WIDEN_BYTES = 256 << 20
_FEW_QUERIES = 16


def check_scoring(
    n_rows: int, ivf: "IVFIndex | None", nprobe: "int | None", sharpness: "float | None"
) -> "tuple[int | None, float | None]":
    """(nprobe, sharpness) checked for an arena of `n_rows`: the IVF index covers it, nprobe
    is a whole number >= 1 and needs the index, sharpness is > 0 or None."""
    if ivf is not None and int(ivf.offsets[-1]) != n_rows:
        raise ValueError("IVF index does not cover the arena")
    if nprobe is not None and (
        ivf is None or isinstance(nprobe, bool) or not isinstance(nprobe, (int, np.integer)) or nprobe < 1
    ):
        raise ValueError(f"nprobe needs an IVF index and must be a whole number >= 1; got {nprobe!r}")
    return (None if nprobe is None else int(nprobe)), check_sharpness(sharpness)


class ArenaScorer:
    """Scores queries against one arena (float32 or float16 unit rows, checked by the router);
    `variant` gives the same arena with another weighting sharpness or IVF probe count,
    sharing its memory and device copies."""

    def __init__(
        self,
        arena: np.ndarray,
        stats: TierStatistics,
        *,
        ivf: "IVFIndex | None" = None,
        nprobe: "int | None" = None,
        sharpness: "float | None" = None,
    ) -> None:
        nprobe, sharpness = check_scoring(arena.shape[0], ivf, nprobe, sharpness)
        self.arena = np.ascontiguousarray(arena)
        # What the kernels scan: a float16 arena small enough is widened once here, since
        # batched scoring then goes straight to BLAS instead of widening it on every call.
        self._scan = (
            self.arena.astype(np.float32)
            if self.arena.dtype == np.float16 and self.arena.size * 4 <= _WIDEN_BYTES
            else self.arena
        )
        self.stats = stats
        self.ivf = ivf
        self.nprobe, self.sharpness = nprobe, sharpness
        self._device: dict[Any, tuple[Any, Any]] = {}  # device -> (arena, dense A), shared by variants
        self._lock = threading.Lock()

    def variant(self, *, nprobe: "int | None", sharpness: "float | None") -> "ArenaScorer":
        other = copy.copy(self)
        other.nprobe, other.sharpness = check_scoring(self.arena.shape[0], self.ivf, nprobe, sharpness)
        return other

    def _device_operands(self, ops: Any, device: Any) -> tuple[Any, Any]:
        """The arena and the dense statistics matrix on the queries' device, made once per
        device (not per request): queries on cuda:1 must not meet an arena on cuda:0."""
        with self._lock:
            if device not in self._device:
                arena = ops.to_device(self.arena).to(device)
                self._device[device] = (arena, ops.dense_stats_matrix(self.stats.A, arena.device))
        return self._device[device]

    def fuses(self, ops: Any) -> bool:
        """Whether `ops` computes the statistics in one fused device kernel (exact scans only)."""
        return FUSED_SW_STATS in ops.capabilities and self.nprobe is None

    def fused_tier_betas(self, E: Any, ops: Any) -> np.ndarray:
        """tier_betas through a backend's fused kernel: nothing [B, N] is kept in memory."""
        Et = ops.to_device(E)
        arena, A = self._device_operands(ops, Et.device)
        S, _ = ops.sw_weighted_stats(Et, arena, A, self.sharpness)
        return ops.bt_fit(S, self.stats.T).cpu().numpy()

    def tier_betas(self, E: np.ndarray, ops: Any) -> np.ndarray:
        """[B, T] Bradley-Terry coefficients of the used tiers for each query of E [B, d]."""
        B, U = E.shape[0], self.arena.shape[0]
        S = np.empty((B, self.stats.A.shape[0]))
        block = max(1, min(B, _SIM_BLOCK_BYTES // (4 * max(U, 1))))
        buf = np.empty((block, U), dtype=np.float32) if self.nprobe is None else None
        for lo in range(0, B, block):
            Q = E[lo : lo + block]
            if buf is None:
                # buf is None only when nprobe is set, and nprobe is set only with an IVF index
                sims = approximate_similarities(Q, self._scan, self.ivf, self.nprobe, ops)  # type: ignore[arg-type]
            else:  # a few queries stream the (smaller) stored arena; batches go to BLAS on the widened one
                X = self.arena if Q.shape[0] <= _FEW_QUERIES else self._scan
                sims = ops.cosine_sim(Q, X, out=buf[: Q.shape[0]])
            S[lo : lo + block], _ = ops.sw_stats(sims, self.stats.A, self.sharpness)
        return ops.bt_fit(S, self.stats.T)
