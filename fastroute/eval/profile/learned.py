"""The learned profile routers for evaluation: sw_ranking and mf trained per fold on the
fold's correctness table, with RouteLLM's pairwise conversion (on each prompt, a correct
model beats an incorrect one; equal scores tie: fastroute.data.correctness).

Predicted quality is what the served routing profile uses: each model's field win rate
among the M models (fastroute.profile.policy.field_win_rates) from the router's strengths. sw_ranking
gets one tier per model (num_tiers = M), so every model keeps its own strength; mf trains
RouteLLM's matrix factorisation on the same battles (needs torch); mf_direct fits the same
model directly to each model's correctness (P(correct) per model, fastroute.train.mf_direct).
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from ...data.correctness import correctness_battles
from ...embedders import get_embedder
from ...embedders.base import EmbedderSpec
from ...profile.policy import field_win_rates
from .routers import register


class StrengthPredictor:
    """predict(texts) -> [B, M] field win rates of `models` from a router's strengths."""

    def __init__(self, router: Any, models: Sequence[str]) -> None:
        self.router, self._cols = router, np.array([router.models.index(m) for m in models])

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return field_win_rates(self.router.strengths(list(texts))[:, self._cols])


class _Learned:
    """Shared by the factories: battles from the fold's table, embeddings cached across folds."""

    def __init__(self, embedder: str = "static") -> None:
        self.embedder = get_embedder(embedder)
        self._cache: dict[str, np.ndarray] = {}

    def _embed(self, texts: list[str]) -> np.ndarray:
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            self._cache.update(zip(new, np.asarray(self.embedder.encode(new), np.float32)))
        return np.stack([self._cache[t] for t in texts])

    def _battles(self, prompts: list[str], quality: np.ndarray, models: list[str]):
        Q = np.asarray(quality, dtype=np.float64)
        if Q.shape != (len(prompts), len(models)) or len(models) < 2:
            raise ValueError(f"train_quality {Q.shape} must be [{len(prompts)}, {len(models)} >= 2]")
        return correctness_battles(prompts, {m: Q[:, j] for j, m in enumerate(models)}, "train")


class SWRankingFactory(_Learned):
    def __init__(self, embedder: str = "static", sharpness: "float | None" = None) -> None:
        super().__init__(embedder)
        self.sharpness = sharpness

    def __call__(self, prompts: list[str], quality: np.ndarray, cost: np.ndarray, models: list[str]) -> Any:
        from ...routers.sw_ranking import SWRankingRouter

        battles = self._battles(prompts, quality, models)
        with warnings.catch_warnings():  # two models may share a tier: the pair is not used here
            warnings.simplefilter("ignore", RuntimeWarning)
            router = SWRankingRouter.from_battles(
                {"model_a": battles.model_a, "model_b": battles.model_b, "winner": battles.winner},
                self._embed(battles.prompt),
                strong_model=models[0],
                weak_model=models[1],
                num_tiers=len(models),
                embedder=EmbedderSpec.of(self.embedder),
                sharpness=self.sharpness,
            )
        return StrengthPredictor(router, models)


class MFFactory(_Learned):
    def __call__(self, prompts: list[str], quality: np.ndarray, cost: np.ndarray, models: list[str]) -> Any:
        from ...train.mf import train_mf

        battles = self._battles(prompts, quality, models)
        uniq = list(dict.fromkeys(battles.prompt))
        router = train_mf(
            battles,
            self.embedder,
            strong_model=models[0],
            weak_model=models[1],
            prompt_embeddings=self._embed(uniq),
            verbose=False,
        )
        return StrengthPredictor(router, models)


class DirectMFPredictor:
    def __init__(self, model: Any, embed: Any) -> None:
        self.model, self.embed = model, embed

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.probability(self.embed(list(texts))).astype(np.float64)


class DirectMFFactory(_Learned):
    """mf with the direct per-model objective (fastroute.train.mf_direct): predicted quality is
    P(the model is correct), no pairwise conversion."""

    def __call__(self, prompts: list[str], quality: np.ndarray, cost: np.ndarray, models: list[str]) -> Any:
        from ...train.mf_direct import train_mf_direct

        return DirectMFPredictor(train_mf_direct(self._embed(list(prompts)), quality), self._embed)


register("sw_ranking", SWRankingFactory)
register("mf", MFFactory)
register("mf_direct", DirectMFFactory)
