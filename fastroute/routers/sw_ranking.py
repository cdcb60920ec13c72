"""RouteLLM's similarity-weighted ranking router, exact and thousands of times faster.

Per query q, RouteLLM weights every arena battle by w_i = 10 * 10^(s_i / max s) (s = cosine
similarity of q to the battle's prompt), refits a Bradley-Terry model over model tiers with
those weights, and returns the strong tier's win probability over the weak tier. Here the
fit reads only a few weighted counts (S = A w, see fastroute.sw.bradley_terry) followed by a
T-dimensional Newton solve: one similarity scan plus a sparse product per query.
fastroute.sw.arena builds the arena, fastroute.sw.engine scores it (and documents its
degenerate cases), this module picks the pair; sw_ranking_bundle reads and writes bundles.
Strong and weak model in one tier: a warning, and 0.5 for every prompt.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Sequence

import numpy as np

from ..embedders.base import EmbedderSpec
from ..errors import UnknownModelError
from ..ops import get_backend
from ..ops.constants import LN10
from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from ..sw import bradley_terry as bt
from ..sw.arena import BALANCES, build_arena, reordered, tier_statistics
from ..sw.coded_battles import CodedBattles
from ..sw.engine import ArenaScorer, check_scoring
from ..sw.ivf import IVFIndex, build_ivf, default_nlist
from .base import Router
from .calibration import META_KEY, LogitCalibration, scale_and_offset
from .inputs import is_torch
from .strengths import ScoresStrengths
from .sw_ranking_bundle import sw_from_bundle, sw_payload


class SWRankingRouter(ScoresStrengths, Router):
    kind = "sw_ranking"
    embedder_spec: EmbedderSpec  # never None here (Router allows None for the random router)

    def __init__(
        self,
        *,
        battles: CodedBattles,
        arena: np.ndarray,
        model_tiers: np.ndarray,
        model_ratings: np.ndarray,
        num_tiers: int,
        embedder: EmbedderSpec,
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        ivf: "IVFIndex | None" = None,
        nprobe: "int | None" = None,
        sharpness: "float | None" = None,
        balance: str = "battle",
        backend: "str | None" = None,
        extra_meta: "dict | None" = None,
    ) -> None:
        super().__init__(
            strong_model=strong_model, weak_model=weak_model, models=battles.models, embedder=embedder, backend=backend
        )
        if arena.ndim != 2 or arena.shape[1] != embedder.dim:
            raise ValueError(f"arena embeddings have shape {arena.shape}, expected [*, {embedder.dim}]")
        if arena.dtype not in (np.float32, np.float16):
            raise ValueError(f"arena storage must be float32 or float16, got {arena.dtype}")
        if battles.prompt.size and (battles.prompt.min() < 0 or battles.prompt.max() >= arena.shape[0]):
            raise ValueError("battle prompt index outside the arena")
        model_tiers = np.asarray(model_tiers, dtype=np.int64)
        if model_tiers.shape != (len(self.models),):
            raise ValueError(f"{model_tiers.size} tiers for {len(self.models)} models")
        check_scoring(arena.shape[0], ivf, nprobe, sharpness)  # the arguments first, then the work
        if balance not in BALANCES:
            raise ValueError(f"balance must be one of {BALANCES}, got {balance!r}")
        stats = tier_statistics(battles, model_tiers, arena.shape[0], balance)
        self._engine = ArenaScorer(arena, stats, ivf=ivf, nprobe=nprobe, sharpness=sharpness)
        self.balance = balance
        self.battles = battles
        self.num_tiers = int(num_tiers)
        self.model_ratings = np.asarray(model_ratings, dtype=np.float64)
        self.model_tiers = model_tiers
        self.extra_meta = dict(extra_meta or {})
        self._ops = get_backend(backend, "cpu")
        self._set_pair_indices()

    # The arena and its scoring settings live in the engine; variants swap engines.
    arena = property(lambda self: self._engine.arena)
    ivf = property(lambda self: self._engine.ivf)
    nprobe = property(lambda self: self._engine.nprobe)
    sharpness = property(lambda self: self._engine.sharpness)
    T = property(lambda self: self._engine.stats.T)
    tier_of_model = property(lambda self: self._engine.stats.tier_of_model, doc="[M] index of each model's tier")

    def _set_pair_indices(self) -> None:
        self._strong_tier = int(self.tier_of_model[self.models.index(self.strong_model)])
        self._weak_tier = int(self.tier_of_model[self.models.index(self.weak_model)])
        if self._strong_tier == self._weak_tier:
            warnings.warn(
                f"{self.strong_model!r} and {self.weak_model!r} fall in the same tier: "
                "sw_ranking will give a win rate of 0.5 to every prompt",
                RuntimeWarning,
                stacklevel=3,
            )

    @property
    def tiers(self) -> dict[str, int]:
        """RouteLLM's model -> tier id (0 = best)."""
        return {m: int(t) for m, t in zip(self.models, self.model_tiers)}

    # -- construction -------------------------------------------------------
    @classmethod
    def from_battles(
        cls,
        battles: Any,
        embeddings: np.ndarray,
        *,
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        num_tiers: "int | None" = None,
        embedder: "EmbedderSpec | str" = "static",
        storage: str = "float32",
        ivf_nlist: "int | None" = None,
        nprobe: "int | None" = None,
        seed: int = 0,
        sharpness: "float | None" = None,
        balance: str = "battle",
        backend: "str | None" = None,
        extra_meta: "dict | None" = None,
    ) -> "SWRankingRouter":
        """Builds the router from RouteLLM's preprocessed battles (model_a, model_b, winner,
        optionally soft_label = P(model_a wins)) and their prompt embeddings [N, d], row-aligned.
        `num_tiers` None: RouteLLM's 10, or one tier per model when the battles have fewer.

        sharpness None keeps RouteLLM's weights 10 * 10^(s / max s); a value g > 0 uses
        exp(g (s - max s)) instead (see fastroute.train.sw for choosing g). Raw Chatbot
        Arena files go through fastroute.data.arena.sw_ranking_from_arena."""
        built = build_arena(battles, embeddings, embedder=embedder, num_tiers=num_tiers, storage=storage)
        router = cls(
            battles=built.battles,
            arena=built.arena,
            model_tiers=built.model_tiers,
            model_ratings=built.model_ratings,
            num_tiers=built.num_tiers,
            embedder=built.embedder,
            strong_model=strong_model,
            weak_model=weak_model,
            sharpness=sharpness,
            balance=balance,
            backend=backend,
            extra_meta=extra_meta,
        )
        if ivf_nlist is not None or nprobe is not None:
            router = router.with_ivf(nlist=ivf_nlist, nprobe=nprobe or 32, seed=seed)
        return router

    def _rebuilt(self, **changes: Any) -> "SWRankingRouter":
        kwargs: dict[str, Any] = dict(
            battles=self.battles,
            arena=self.arena,
            model_tiers=self.model_tiers,
            model_ratings=self.model_ratings,
            num_tiers=self.num_tiers,
            embedder=self.embedder_spec,
            strong_model=self.strong_model,
            weak_model=self.weak_model,
            ivf=self.ivf,
            nprobe=self.nprobe,
            sharpness=self.sharpness,
            balance=self.balance,
            backend=self.backend,
            extra_meta=self.extra_meta,
        )
        return type(self)(**(kwargs | changes))

    def with_pair(self, strong_model: str, weak_model: str) -> "SWRankingRouter":
        for name in (strong_model, weak_model):
            if name not in self.models:
                raise UnknownModelError(name, self.models)
        if strong_model == weak_model:
            raise ValueError(f"strong and weak model are both {strong_model!r}")
        other = copy.copy(self)
        other.strong_model, other.weak_model = strong_model, weak_model
        other._set_pair_indices()
        return other

    def _with_engine(self, *, nprobe: "int | None", sharpness: "float | None") -> "SWRankingRouter":
        other = copy.copy(self)
        other._engine = self._engine.variant(nprobe=nprobe, sharpness=sharpness)
        return other

    def with_ivf(self, *, nlist: "int | None" = None, nprobe: int = 32, seed: int = 0) -> "SWRankingRouter":
        """The approximate (IVF) version of this router; the index is built unless one with `nlist` exists."""
        if self.ivf is not None and (nlist is None or nlist == self.ivf.nlist):
            return self._with_engine(nprobe=int(nprobe), sharpness=self.sharpness)
        nlist = nlist or default_nlist(self.arena.shape[0])
        ivf, order = build_ivf(self.arena.astype(np.float32), nlist, seed=seed)
        battles, arena = reordered(self.battles, self.arena, order)
        return self._rebuilt(battles=battles, arena=arena, ivf=ivf, nprobe=int(nprobe))

    def with_weighting(self, *, sharpness: "float | None", balance: str) -> "SWRankingRouter":
        """The same arena and tiers with another battle weighting (statistics rebuilt)."""
        return self._rebuilt(sharpness=sharpness, balance=balance)

    def with_sharpness(self, sharpness: "float | None") -> "SWRankingRouter":
        """The same arena weighted by exp(g (s - max s)) (None: RouteLLM's weights)."""
        return self._with_engine(nprobe=self.nprobe, sharpness=sharpness)

    def exact(self) -> "SWRankingRouter":
        """The exact version of this router (every battle scored)."""
        return self._with_engine(nprobe=None, sharpness=self.sharpness)

    # -- scoring ------------------------------------------------------------
    def tier_betas(self, E: Any) -> np.ndarray:  # E: numpy, or a torch tensor
        """[B, T] Bradley-Terry coefficients of the used tiers for each query."""
        ops = self._kernels_for(E)
        if self._engine.fuses(ops):
            return self._engine.fused_tier_betas(E, ops)
        if is_torch(E):
            E = E.detach().cpu().numpy()
        return self._engine.tier_betas(E, self._ops)

    def _strengths(self, E: Any, cols: np.ndarray) -> np.ndarray:
        """[B, len(cols)] Bradley-Terry strength of models `cols` (their tiers') in natural-log
        odds: P(m beats k) = sigmoid(s_m - s_k)."""
        return LN10 * self.tier_betas(E)[:, self.tier_of_model[cols]]

    def _win_rates(self, E: Any) -> Any:
        return self.pair_win_rates(self.tier_betas(E))

    def pair_win_rates(self, beta: np.ndarray) -> np.ndarray:
        """The scored pair's win rates from [B, T] tier coefficients: sigmoid(ln 10 (b_s - b_w)),
        calibrated when the bundle stores a calibration for this pair."""
        scale, offset = scale_and_offset(self.extra_meta, self.strong_model, self.weak_model)
        if scale == 1.0 and offset == 0.0:
            return bt.win_probability(beta[:, self._strong_tier], beta[:, self._weak_tier])
        z = LN10 * (beta[:, self._strong_tier] - beta[:, self._weak_tier])  # as win_probability, then calibrated
        return bt.sigmoid(scale * z + offset)

    def with_calibration(self, cal: "LogitCalibration | None") -> "SWRankingRouter":
        """This router with `cal` stored (None: none), its win rates calibrated for cal's pair."""
        other = copy.copy(self)
        other.extra_meta = {k: v for k, v in self.extra_meta.items() if k != META_KEY} | (
            {META_KEY: cal.to_meta()} if cal else {}
        )
        return other

    def ratings(
        self, texts: "str | Sequence[str] | None" = None, *, embeddings: "np.ndarray | None" = None
    ) -> np.ndarray:
        """[B, T] per-query Elo ratings (400 b + 1000) of the tiers in use, ordered by tier id."""
        E = self._prepare(texts, embeddings)
        return bt.ratings(self.tier_betas(E)) if E.shape[0] else np.zeros((0, self.T))

    # -- bundles ------------------------------------------------------------
    def _bundle_payload(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return sw_payload(self)

    @classmethod
    def _from_bundle(
        cls, meta: dict[str, Any], tensors: dict[str, np.ndarray], *, where: str, backend: "str | None" = None
    ) -> "SWRankingRouter":
        return sw_from_bundle(cls, meta, tensors, where=where, backend=backend)
