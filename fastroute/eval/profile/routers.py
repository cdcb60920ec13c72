"""Routers for evaluating routing profiles: what one must provide, and a registry of factories.

The contract (other profile routers, e.g. "mf" and "sw_ranking", register the same way)::

    factory(train_prompts: list[str],
            train_quality: np.ndarray,   # float64 [N, M]: quality of model m on prompt n (0/1 correctness)
            train_cost: np.ndarray,      # float64 [N, M]: cost of model m on prompt n (USD, or the caller's prices)
            models: list[str],           # the M model names, in column order
            ) -> predictor

    predictor.predict(texts: list[str]) -> np.ndarray   # float64 [B, M]: predicted quality, same columns

A factory is called once per cross-validation fold with that fold's training prompts only,
and must not look at anything else (no test prompts, no data files with the same prompts).
`predict` may be called several times, on any batch size. Predicted quality need not be
calibrated: the policy (sweep.py) sweeps λ in argmax(pred − λ·expected cost), with the
expected cost of a model = its mean training cost, so only the scale of `pred` relative to
cost matters and the sweep covers every trade-off. A factory may be any callable: a function
or an object whose `__call__` is the fit (one that caches embeddings across folds, say).

`register("name", factory)` adds one; `get_factory("name", **options)` builds it (options go
to a factory *maker*, e.g. `k` for kNN); `PROFILE_ROUTERS` lists the names.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence

import numpy as np


class Predictor(Protocol):
    def predict(self, texts: Sequence[str]) -> np.ndarray: ...


Factory = Callable[[list[str], np.ndarray, np.ndarray, list[str]], Predictor]

# name -> maker(**options) -> factory
PROFILE_ROUTERS: dict[str, Callable[..., Factory]] = {}


def register(name: str, maker: Callable[..., Factory]) -> None:
    """Adds a profile router: `maker(**options)` returns a factory with the signature above."""
    PROFILE_ROUTERS[name] = maker


def get_factory(name: str, **options: Any) -> Factory:
    if name not in PROFILE_ROUTERS:
        raise ValueError(f"unknown profile router {name!r}; known: {', '.join(sorted(PROFILE_ROUTERS))}")
    return PROFILE_ROUTERS[name](**options)


class _EmbeddingCache:
    """Unit-norm embeddings per text, computed once across folds."""

    def __init__(self, embedder: str) -> None:
        self.embedder_name = embedder
        self._embedder: Any = None
        self._rows: dict[str, np.ndarray] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if new:
            if self._embedder is None:
                from ...embedders import get_embedder

                self._embedder = get_embedder(self.embedder_name)
            raw = np.asarray(self._embedder.encode(new), dtype=np.float32)
            norms = np.linalg.norm(raw, axis=1, keepdims=True)
            self._rows.update(zip(new, (raw / np.where(norms > 0, norms, 1.0)).astype(np.float32)))
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._rows[t] for t in texts])


class KNNPredictor:
    """Predicted quality = mean quality of the k most cosine-similar training prompts."""

    def __init__(self, embed: Callable[[Sequence[str]], np.ndarray], E: np.ndarray, Q: np.ndarray, k: int) -> None:
        self.embed, self.E, self.Q, self.k = embed, E, Q, min(k, len(E))

    def predict(self, texts: Sequence[str], chunk: int = 2048) -> np.ndarray:
        texts = list(texts)
        out = np.empty((len(texts), self.Q.shape[1]), dtype=np.float64)
        for lo in range(0, len(texts), chunk):
            X = self.embed(texts[lo : lo + chunk])
            S = X @ self.E.T  # [b, N] cosine similarities
            top = np.argpartition(-S, self.k - 1, axis=1)[:, : self.k]
            out[lo : lo + len(X)] = self.Q[top].mean(axis=1)
        return out


K_GRID = (5, 10, 20, 40, 80, 160, 320)


def loo_best_k(E: np.ndarray, Q: np.ndarray, grid: Sequence[int] = K_GRID, chunk: int = 2048) -> int:
    """The k of `grid` whose leave-one-out kNN predictions on the training prompts have the
    lowest Brier score (mean squared error against the observed quality)."""
    ks = [k for k in grid if k < len(E)] or [max(1, len(E) - 1)]
    kmax = max(ks)
    err = np.zeros(len(ks))
    for lo in range(0, len(E), chunk):
        S = E[lo : lo + chunk] @ E.T
        S[np.arange(len(S)), np.arange(lo, lo + len(S))] = -np.inf  # leave the prompt itself out
        top = np.argpartition(-S, kmax - 1, axis=1)[:, :kmax]
        order = np.take_along_axis(S, top, axis=1).argsort(axis=1)[:, ::-1]
        top = np.take_along_axis(top, order, axis=1)  # nearest first
        csum = np.cumsum(Q[top], axis=1)  # [b, kmax, M]
        for i, k in enumerate(ks):
            err[i] += np.sum((csum[:, k - 1] / k - Q[lo : lo + len(S)]) ** 2)
    return ks[int(err.argmin())]


class KNNFactory:
    """kNN baseline (RouterBench's KNN router): cosine kNN on embeddings of the default
    embedder (`static`). k = "auto" (the default) picks k per fold from K_GRID by
    leave-one-out Brier score on that fold's training prompts only; an int fixes it."""

    def __init__(self, k: "int | str" = "auto", embedder: str = "static") -> None:
        if k != "auto" and (not isinstance(k, int) or k < 1):
            raise ValueError(f"k must be 'auto' or an int >= 1, got {k!r}")
        self.k = k
        self.chosen_k: list[int] = []  # the k of each fit, in order
        self.embed = _EmbeddingCache(embedder)

    def __call__(
        self, train_prompts: list[str], train_quality: np.ndarray, train_cost: np.ndarray, models: list[str]
    ) -> KNNPredictor:
        Q = np.asarray(train_quality, dtype=np.float64)
        if Q.shape != (len(train_prompts), len(models)) or not len(train_prompts):
            raise ValueError(f"train_quality {Q.shape} must be [{len(train_prompts)} > 0, {len(models)}]")
        E = self.embed(train_prompts)
        k = loo_best_k(E, Q) if self.k == "auto" else int(self.k)
        self.chosen_k.append(k)
        return KNNPredictor(self.embed, E, Q, k)


register("knn", KNNFactory)
