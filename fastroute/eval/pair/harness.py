"""Runs routers over an evaluation set the way RouteLLM's evaluate.py does, plus the
baselines a learned router must beat: random (averaged over seeded runs) and prompt
length (a longer prompt goes to the strong model), and the optimal router's curve.

Prompts any evaluated bundle was trained on (its recorded hashes) are left out for
every router, so all are compared on the same prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np

from ...progress import track
from . import metrics as M
from .benchmarks import EvalSet
from .reliability import Reliability, reliability

RANDOM_RUNS = 10


@dataclass
class RouterResult:
    name: str
    curve: M.Curve
    metrics: dict[str, float]
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)
    kind: str = "router"  # router | baseline | optimal
    reliability: "Reliability | None" = None  # routers only: does the win rate mean what it says


@dataclass
class EvalReport:
    benchmark: str
    strong_model: str
    weak_model: str
    n_prompts: int
    strong_quality: float
    weak_quality: float
    scale: str
    results: list[RouterResult]
    notes: list[str]


def _mean_finite(values: list[float]) -> float:
    finite = [v for v in values if not np.isnan(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _win_rates_in_chunks(router, prompts: list[str], chunk: int = 4096) -> np.ndarray:
    return np.concatenate([router.win_rates(prompts[lo : lo + chunk]) for lo in range(0, len(prompts), chunk)])


def _result(
    name: str,
    p: np.ndarray,
    sq,
    wq,
    num_results: int,
    n_boot: int,
    seed: int,
    kind: str = "router",
    draw: "Callable[[np.random.Generator, int], np.ndarray] | None" = None,
) -> RouterResult:
    s, w = float(np.mean(sq)), float(np.mean(wq))
    curve = M.routing_curve(p, sq, wq, num_results)
    res = RouterResult(name, curve, M.summarize(curve, s, w), kind=kind)
    if n_boot:
        res.intervals = M.bootstrap(p, sq, wq, num_results, n_boot, seed, draw=draw)
    return res


def evaluate(
    evalset: EvalSet,
    routers: "Mapping[str, object]",
    strong_model: str,
    weak_model: str,
    *,
    num_results: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    baselines: bool = True,
    win_rates: "dict[str, np.ndarray] | None" = None,
) -> EvalReport:
    """`routers` maps a display name to a Router, or to the string "random" / "length".
    `win_rates` may supply precomputed win rates per name (e.g. from a cache)."""
    notes = list(evalset.notes)
    for name, r in routers.items():
        hashes = getattr(r, "train_prompt_hashes", None)
        if hashes is not None and len(hashes):
            before = len(evalset.prompts)
            evalset = evalset.without_hashes(hashes, f"prompts {name} was trained on")
            if len(evalset.prompts) < before:
                notes.append(f"{before - len(evalset.prompts)} prompts left out: {name} was trained on them")
    if not evalset.prompts:
        raise ValueError(f"{evalset.name}: no prompts left to evaluate on")
    if baselines:
        routers = {k: v for k, v in routers.items() if v not in ("random", "length")}
    sq, wq = evalset.quality(strong_model), evalset.quality(weak_model)
    n = len(evalset.prompts)
    results = []
    computed: dict[str, np.ndarray] = {}
    wanted = dict(routers)
    if baselines:
        wanted["random"] = "random"
        wanted["prompt length"] = "length"
    for name, r in track(wanted.items(), f"eval {evalset.name}: curves and intervals", unit="routers"):
        if r == "random":
            runs = [
                _result(name, np.random.default_rng(seed + i).random(n), sq, wq, num_results, 0, seed)
                for i in range(RANDOM_RUNS)
            ]
            curve = M.Curve(
                np.mean([x.curve.thresholds for x in runs], 0),
                np.mean([x.curve.strong_share for x in runs], 0),
                np.mean([x.curve.quality for x in runs], 0),
            )
            metrics = {k: _mean_finite([x.metrics[k] for x in runs]) for k in runs[0].metrics}
            res = RouterResult(name, curve, metrics, kind="baseline")
            if n_boot:
                res.intervals = M.bootstrap(
                    np.zeros(n), sq, wq, num_results, n_boot, seed, draw=lambda rng, size: rng.random(size)
                )
            results.append(res)
        elif r == "length":
            p = np.array([len(x) for x in evalset.prompts], dtype=np.float64)
            results.append(_result(name, p, sq, wq, num_results, n_boot, seed, kind="baseline"))
            computed[name] = p
        else:
            p = win_rates[name] if win_rates and name in win_rates else _win_rates_in_chunks(r, evalset.prompts)
            results.append(_result(name, np.asarray(p, float), sq, wq, num_results, n_boot, seed))
            results[-1].reliability = reliability(np.asarray(p, float), sq, wq)
            computed[name] = np.asarray(p, float)
    if n_boot and baselines:  # is a learned router worth more than the baselines? paired intervals
        for res in track(results, f"eval {evalset.name}: paired intervals", unit="routers"):
            if res.kind != "router":
                continue
            res.intervals["APGR - prompt length"] = M.paired_apgr_difference(
                computed[res.name], computed["prompt length"], sq, wq, num_results, n_boot, seed
            )
            res.intervals["APGR - random"] = M.paired_apgr_difference(
                computed[res.name], None, sq, wq, num_results, n_boot, seed, draw_b=lambda rng, size: rng.random(size)
            )
    shares = np.linspace(0.0, 1.0, num_results + 1)
    opt = M.Curve(shares, shares, np.array([M.optimal_quality(sq, wq, s) for s in shares]))
    results.append(
        RouterResult("optimal", opt, M.summarize(opt, float(np.mean(sq)), float(np.mean(wq))), kind="optimal")
    )
    return EvalReport(
        evalset.name, strong_model, weak_model, n, float(np.mean(sq)), float(np.mean(wq)), evalset.scale, results, notes
    )
