"""K-fold cross-validation by prompt for profile routers.

Folds are made of distinct prompt texts: every copy of a text is in the same fold, so a
router never trains on the prompt it is tested on. Texts are dealt to folds within each
group (eval_name) after a seeded shuffle, so each fold holds about 1/K of every group.
Each router is trained on the other K − 1 folds and predicts its fold; the per-prompt
choices of all folds are pooled into one curve (one point per λ over all prompts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import sweep as P
from .data import ProfileEvalSet
from .routers import Factory


def folds_by_prompt(prompts: list[str], groups: "list[str] | None" = None, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold index per prompt, int64 [P] in [0, k): identical texts share a fold; stratified by group."""
    if k < 2:
        raise ValueError(f"need at least 2 folds, got {k}")
    first: dict[str, int] = {}
    for i, t in enumerate(prompts):
        first.setdefault(t, i)
    if len(first) < k:
        raise ValueError(f"{len(first)} distinct prompts cannot fill {k} folds")
    g = groups if groups is not None else [""] * len(prompts)
    strata: dict[str, list[str]] = {}
    for t, i in first.items():
        strata.setdefault(g[i], []).append(t)
    rng = np.random.default_rng(seed)
    fold_of: dict[str, int] = {}
    offset = 0
    for name in sorted(strata):
        texts = strata[name]
        for j, idx in enumerate(rng.permutation(len(texts))):
            fold_of[texts[idx]] = (offset + j) % k
        offset += len(texts)  # continue the deal where the last group stopped: folds stay balanced
    return np.array([fold_of[t] for t in prompts], dtype=np.int64)


@dataclass
class CVPredictions:
    pred: np.ndarray  # float64 [P, M]: each prompt predicted by the router of its fold
    expected_cost: np.ndarray  # float64 [K, M]: mean training cost per model, per fold
    folds: np.ndarray  # int64 [P]


def cross_val_predict(es: ProfileEvalSet, factory: Factory, folds: np.ndarray) -> CVPredictions:
    """Trains `factory` on all folds but one, K times; predictions for every prompt."""
    folds = np.asarray(folds)
    k = int(folds.max()) + 1
    pred = np.full(es.quality.shape, np.nan)
    exp_cost = np.zeros((k, len(es.models)))
    for f in range(k):
        test, train = np.flatnonzero(folds == f), np.flatnonzero(folds != f)
        if not test.size:
            continue
        predictor = factory(
            [es.prompts[i] for i in train], es.quality[train].copy(), es.cost[train].copy(), list(es.models)
        )
        p = np.asarray(predictor.predict([es.prompts[i] for i in test]), dtype=np.float64)
        if p.shape != (test.size, len(es.models)):
            raise ValueError(f"predictor returned {p.shape}, expected [{test.size}, {len(es.models)}]")
        if not np.isfinite(p).all():
            raise ValueError("predictor returned non-finite predicted quality")
        pred[test] = p
        exp_cost[f] = es.cost[train].mean(axis=0)
    return CVPredictions(pred, exp_cost, folds)


def pooled_choices(cv: CVPredictions, lambdas: np.ndarray) -> np.ndarray:
    """Model chosen per λ and prompt, int64 [L, P]: each fold with its own expected costs."""
    out = np.zeros((len(lambdas), cv.pred.shape[0]), dtype=np.int64)
    for f in range(cv.expected_cost.shape[0]):
        idx = np.flatnonzero(cv.folds == f)
        if idx.size:
            out[:, idx] = P.sweep(cv.pred[idx], cv.expected_cost[f], lambdas)
    return out
