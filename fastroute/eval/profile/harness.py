"""RouterBench-style evaluation of routing profiles: cost-quality curves as λ sweeps, under
K-fold cross-validation by prompt, beside the baselines.

* every individual model (one point each);
* the zero router: the non-decreasing convex hull of the individual models (random mixing);
* the oracle: per prompt, argmax(true quality − λ·true cost) as λ sweeps; at λ = 0 it is
  the cheapest correct model (the cheapest model when none is correct);
* kNN (routers.KNNFactory), and any router factory given.

Metrics (metrics.py, whose docstring defines AIQ and the shared cost range): AIQ, max
quality, quality at fixed costs, the cost at which each curve first matches the best single
model's quality; 95% percentile bootstrap intervals over prompts (bootstrap.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

from . import metrics as NM
from . import sweep as P
from .bootstrap import bootstrap_curves
from .cv import cross_val_predict, folds_by_prompt, pooled_choices
from .data import ProfileEvalSet
from .routers import Factory, KNNFactory

RANGE_FRACTIONS = (0.05, 0.1, 0.25, 0.5)


@dataclass
class CurveResult:
    name: str
    kind: str  # model | zero | oracle | baseline | router
    cost: np.ndarray  # [L] average cost per point
    quality: np.ndarray  # [L] average quality per point
    lambdas: "np.ndarray | None" = None
    metrics: dict[str, float] = field(default_factory=dict)
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    share: "dict[str, list[float]] | None" = None  # per model: share of prompts at each λ

    @property
    def hull(self) -> tuple[np.ndarray, np.ndarray]:
        return NM.nondecreasing_hull(self.cost, self.quality)


@dataclass
class ProfileReport:
    benchmark: str
    n_prompts: int
    models: list[str]
    folds: int
    c_min: float
    c_max: float
    at_costs: list[float]
    results: list[CurveResult]
    notes: list[str]
    n_boot: int = 0
    seed: int = 0

    def get(self, name: str) -> CurveResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)


def _shares(choices: np.ndarray, m: int) -> list[list[float]]:
    counts = np.stack([(choices == j).mean(axis=1) for j in range(m)], axis=1)  # [L, M]
    return counts.T.tolist()


def evaluate_profiles(
    es: ProfileEvalSet,
    routers: "Mapping[str, Factory] | None" = None,
    *,
    k_folds: int = 5,
    seed: int = 0,
    n_boot: int = 1000,
    n_lambdas: int = 100,
    knn: "Factory | None" = None,
    at_costs: "Sequence[float] | None" = None,
    level: float = 0.95,
) -> ProfileReport:
    """Cross-validated curves and metrics for the baselines and each router in `routers`
    (name -> factory). `knn` overrides the kNN baseline's factory (default k = 10, static)."""
    Q, C = es.quality, es.cost
    n, m = Q.shape
    folds = folds_by_prompt(es.prompts, es.groups, k_folds, seed)
    model_cost, model_q = C.mean(axis=0), Q.mean(axis=0)
    c_min, c_max = float(model_cost.min()), float(model_cost.max())
    at = list(at_costs) if at_costs is not None else [c_min + f * (c_max - c_min) for f in RANGE_FRACTIONS]
    reach = {"best model": float(model_q.max())}
    rows = np.arange(n)

    # name -> (kind, realised quality [L, P], realised cost [L, P], lambdas, choices)
    curves: dict[str, tuple] = {}
    for j, name in enumerate(es.models):
        curves[name] = ("model", Q[None, :, j], C[None, :, j], None, None)
    lam_o = P.lambda_grid(Q, C, n_lambdas)
    ch_o = P.sweep(Q, C, lam_o)
    curves["oracle"] = ("oracle", Q[rows, ch_o], C[rows, ch_o], lam_o, ch_o)
    factories: dict[str, tuple[str, Factory]] = {"knn": ("baseline", knn or KNNFactory())}
    for name, fac in (routers or {}).items():
        if name not in factories:
            factories[name] = ("router", fac)
    for name, (kind, fac) in factories.items():
        cv = cross_val_predict(es, fac, folds)
        lam = P.lambda_grid(cv.pred, cv.expected_cost, n_lambdas)
        ch = pooled_choices(cv, lam)
        curves[name] = (kind, Q[rows, ch], C[rows, ch], lam, ch)

    results = []
    for name, (kind, rq, rc, lam, ch) in curves.items():
        r = CurveResult(name, kind, rc.mean(axis=1), rq.mean(axis=1), lam)
        r.metrics = NM.summarize(r.cost, r.quality, c_min, c_max, at, reach)
        if ch is not None:
            r.share = dict(zip(es.models, _shares(ch, m)))
        results.append(r)
    zero = CurveResult("zero router", "zero", model_cost, model_q)
    zero.metrics = NM.summarize(zero.cost, zero.quality, c_min, c_max, at, reach)
    results.insert(m, zero)

    notes = list(es.notes)
    notes.append(
        f"{k_folds}-fold cross-validation by prompt (seed {seed}); AIQ over the models' cost range "
        f"[{c_min:.4g}, {c_max:.4g}]"
    )
    if n_boot:
        named = {name: (rq, rc) for name, (_, rq, rc, _, _) in curves.items() if name not in es.models}
        intervals = bootstrap_curves(Q, C, named, models=list(es.models), n_boot=n_boot, seed=seed, level=level)
        for r in results:
            r.intervals = intervals.get(r.name, {})
    return ProfileReport(es.name, n, list(es.models), k_folds, c_min, c_max, at, results, notes, n_boot, seed)


def best_single_model(report: ProfileReport) -> CurveResult:
    """The individual model with the highest AIQ (its point's hull over the shared range)."""
    models = [r for r in report.results if r.kind == "model"]
    return max(models, key=lambda r: r.metrics["AIQ"])
