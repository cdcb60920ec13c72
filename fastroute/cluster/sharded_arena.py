"""An sw_ranking arena sharded across Ray actors, exact: `ShardedSWRanking`.

The arena's rows are cut into contiguous shards; each shard is one actor holding its rows
and its columns of the statistics matrix A, put into the object store once (not per
request). For a batch of queries, embedded on the driver with the router's embedder, each
shard computes its similarities with the router's kernel backend and its part of the
statistics S in float64; the driver combines the parts (shard_stats: one round for the exp
weighting, rescaled as in an online softmax; a max-reduce round and then a statistics round
for RouteLLM's weighting) and runs the router's Newton solve and win-rate formula.

    router = load_router("sw_ranking", backend="numpy")
    with ShardedSWRanking(router, shards=4) as sharded:
        sharded.win_rates(["Prove that sqrt(2) is irrational."])

Given the same similarities, the win rates are the single-process router's to float64
rounding (the statistics' summation order differs). The float32 similarities themselves come
from BLAS, whose last bit depends on how the matrix is cut and on the thread count, so against
the router's own call they differ by that rounding's effect: up to 3.4e-7 on real prompts with
the shipped router, as much as the single-process router differs from itself run with 1 and 2
BLAS threads (see tests/cluster/test_sharded_arena.py).
"""

from __future__ import annotations

import copy
import itertools
from collections import OrderedDict
from typing import Any, Sequence

import numpy as np

from ..embedders.base import as_text_batch
from ..errors import EmbeddingMismatchError
from ..ops import get_backend
from ..ops.csr import CSRMatrix
from ..routers.inputs import check_threshold, nonfinite_rows
from ..routers.sw_ranking import SWRankingRouter
from ..sw.arena import tier_statistics
from ..sw.engine import check_scoring
from . import shard_stats

try:
    import ray
except ImportError as exc:  # pragma: no cover - the ray extra is missing
    raise ImportError(f"fastroute.cluster needs the 'ray' extra: pip install 'fastroute[ray]' ({exc})") from exc

SIM_BLOCK_BYTES = 256 << 20  # a round's similarities per shard ([B, rows] float32) stay under this
FEW_QUERIES = 16  # as the engine: up to this many queries scan the stored arena, more the widened one
WIDEN_BYTES = 256 << 20  # float16 shards up to this size (as float32) are also kept widened
KEPT_ROUNDS = 8  # similarities a shard keeps between RouteLLM's two rounds (per pending request)


class ArenaShard:
    """One shard: rows [lo, hi) of the arena and A's matching columns (Ray actor)."""

    def __init__(self, arena: np.ndarray, A: CSRMatrix, backend: "str | None") -> None:
        self.arena, self.A = arena, A
        widen = arena.dtype == np.float16 and arena.size * 4 <= WIDEN_BYTES
        self.scan = arena.astype(np.float32) if widen else arena
        self.ops = get_backend(backend, "cpu")
        self.kept: OrderedDict[int, np.ndarray] = OrderedDict()

    def rows(self) -> int:
        return int(self.arena.shape[0])

    def similarities(self, Q: np.ndarray) -> np.ndarray:
        X = self.arena if Q.shape[0] <= FEW_QUERIES else self.scan
        return self.ops.cosine_sim(Q, X)

    def local_stats(self, Q: np.ndarray, sharpness: float) -> tuple[np.ndarray, np.ndarray]:
        """Exp weighting, one round: (A_s w_s(m_s) [B, K], m_s [B]) against this shard's maxima."""
        sims = self.similarities(Q)
        m = shard_stats.row_max(sims)
        return shard_stats.partial_stats(sims, self.A, sharpness, m), m

    def row_max(self, Q: np.ndarray, key: int) -> np.ndarray:
        """RouteLLM's first round: the maxima [B]; the similarities are kept for the second."""
        sims = self.similarities(Q)
        self.kept[key] = sims
        while len(self.kept) > KEPT_ROUNDS:  # a driver that never came back: forget the oldest
            self.kept.popitem(last=False)
        return shard_stats.row_max(sims)

    def stats_at(self, Q: np.ndarray, m: np.ndarray, key: int) -> np.ndarray:
        """RouteLLM's second round: A_s w_s(m) [B, K] against the global maxima m."""
        sims = self.kept.pop(key, None)
        return shard_stats.partial_stats(self.similarities(Q) if sims is None else sims, self.A, None, m)


class ShardedSWRanking:
    """`router`'s exact scoring with its arena cut into `shards` (a count, or a sequence of
    shard sizes) contiguous parts, one Ray actor each. `actor_options` go to the actors'
    `.options()` (default: no CPU reserved, spread over the nodes). The caller must have
    connected to Ray (`ray.init`). `close()` (or leaving a `with` block) ends the actors;
    variants made by `with_sharpness` / `with_pair` share them."""

    def __init__(
        self, router: SWRankingRouter, shards: "int | Sequence[int]", *, actor_options: "dict | None" = None
    ) -> None:
        if not isinstance(router, SWRankingRouter):
            raise TypeError(f"a sharded arena needs an sw_ranking router, got {type(router).__name__}")
        if router.nprobe is not None:
            raise ValueError("the sharded arena is exact: pass router.exact(), not an IVF (approximate) router")
        if not ray.is_initialized():
            raise RuntimeError("connect to a Ray cluster first (ray.init(address=...))")
        arena = router.arena
        self.bounds = shard_stats.shard_bounds(arena.shape[0], shards)
        # the router's own statistics matrix, rebuilt from its battles (the same function, the same A)
        A = tier_statistics(router.battles, router.model_tiers, arena.shape[0], router.balance).A
        options = {"num_cpus": 0, "scheduling_strategy": "SPREAD", **(actor_options or {})}
        remote = ray.remote(ArenaShard).options(**options)
        self._refs: list[Any] = []  # the shards' rows in the object store, put once
        self._actors: list[Any] = []
        for lo, hi in itertools.pairwise(self.bounds.tolist()):
            refs = (ray.put(np.ascontiguousarray(arena[lo:hi])), ray.put(shard_stats.csr_columns(A, lo, hi)))
            self._refs.append(refs)
            self._actors.append(remote.remote(*refs, router.backend))
        rows = ray.get([a.rows.remote() for a in self._actors])
        if rows != np.diff(self.bounds).tolist():  # pragma: no cover - a broken object store
            raise RuntimeError(f"shards hold {rows} rows, expected {np.diff(self.bounds).tolist()}")
        self.router = router
        self.sharpness = router.sharpness
        self._solve = get_backend(router.backend, "cpu").bt_fit
        self._rounds = itertools.count()

    shards = property(lambda self: len(self._actors), doc="The number of shards (actors).")

    def with_sharpness(self, sharpness: "float | None") -> "ShardedSWRanking":
        """The same shards weighted by exp(g (s - max s)) (None: RouteLLM's weights)."""
        check_scoring(int(self.bounds[-1]), None, None, sharpness)
        other = copy.copy(self)
        other.router, other.sharpness = self.router.with_sharpness(sharpness), sharpness
        return other

    def with_pair(self, strong_model: str, weak_model: str) -> "ShardedSWRanking":
        other = copy.copy(self)
        other.router = self.router.with_pair(strong_model, weak_model)
        return other

    # -- scoring ----------------------------------------------------------------------
    def embeddings(self, texts: "str | Sequence[str] | None" = None, *, embeddings: Any = None) -> np.ndarray:
        """float32 [B, d] queries, checked as the router checks them (texts embedded here, on the driver)."""
        if (texts is None) == (embeddings is None):
            raise TypeError("pass exactly one of texts or embeddings=")
        if texts is not None:
            batch = as_text_batch(texts)
            E: Any = self.router.embedder.encode(batch) if batch else np.zeros((0, self.router.embedder_spec.dim))
        else:
            E = self.router.check_embeddings(embeddings)
        E = np.asarray(E.detach().cpu().numpy() if hasattr(E, "detach") else E, dtype=np.float32)
        bad = nonfinite_rows(E)
        if bad:
            raise EmbeddingMismatchError(f"embeddings for prompts {bad[:10]} contain NaN or infinity")
        return E

    def statistics(self, E: np.ndarray) -> np.ndarray:
        """S [B, K] float64, combined from the shards (queries in blocks that bound a shard's memory)."""
        K = self.router.T * self.router.T + 2 * self.router.T
        block = max(1, SIM_BLOCK_BYTES // (4 * int(np.diff(self.bounds).max())))
        parts = [self._block_statistics(E[lo : lo + block]) for lo in range(0, E.shape[0], block)]
        return np.concatenate(parts) if parts else np.zeros((0, K))

    def _block_statistics(self, Q: np.ndarray) -> np.ndarray:
        if not self._actors:
            raise RuntimeError("this sharded arena was closed")
        q = ray.put(Q)  # once per round, for every shard
        if self.sharpness is not None:
            got = ray.get([a.local_stats.remote(q, self.sharpness) for a in self._actors])
            return shard_stats.combine_exp([s for s, _ in got], [m for _, m in got], self.sharpness)
        key = next(self._rounds)
        m = np.max(ray.get([a.row_max.remote(q, key) for a in self._actors]), axis=0)
        return np.sum(ray.get([a.stats_at.remote(q, m, key) for a in self._actors]), axis=0)

    def similarities(self, texts: "str | Sequence[str] | None" = None, *, embeddings: Any = None) -> np.ndarray:
        """[B, N] float32 similarities as the shards compute them, gathered (for checks, not speed)."""
        E = self.embeddings(texts, embeddings=embeddings)
        q = ray.put(E)
        return np.concatenate(ray.get([a.similarities.remote(q) for a in self._actors]), axis=1)

    def tier_betas(self, E: np.ndarray) -> np.ndarray:
        """[B, T] Bradley-Terry coefficients of the used tiers, the router's Newton solve."""
        return np.asarray(self._solve(self.statistics(E), self.router.T))

    def win_rates(self, texts: "str | Sequence[str] | None" = None, *, embeddings: Any = None) -> np.ndarray:
        """P(strong model beats weak model) per prompt, float64 [B], as router.win_rates."""
        E = self.embeddings(texts, embeddings=embeddings)
        if E.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        return np.asarray(self.router.pair_win_rates(self.tier_betas(E)), dtype=np.float64)

    def route(
        self, texts: "str | Sequence[str] | None" = None, threshold: float = 0.5, *, embeddings: Any = None
    ) -> list[str]:
        """Target name per prompt, as router.route: the strong target where the win rate >= threshold."""
        check_threshold(threshold)
        return self.router.decide(self.win_rates(texts, embeddings=embeddings), threshold)

    # -- lifetime ---------------------------------------------------------------------
    def close(self) -> None:
        """Ends the shards' actors (and so every variant's); the object store frees their rows."""
        for actor in self._actors:
            ray.kill(actor)
        self._actors.clear()  # in place: the variants share the list
        self._refs.clear()

    def __enter__(self) -> "ShardedSWRanking":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
