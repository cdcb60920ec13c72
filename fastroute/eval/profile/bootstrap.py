"""Bootstrap intervals for routing-profile curves: resample prompts with replacement (seeded), keep
each prompt's routed choice fixed (the routers are not retrained), recompute every point,
the individual models' points, the shared cost range, the zero router's hull and every
AIQ on the resample; 95% percentile intervals. "AIQ − zero" is paired: both AIQs come from
the same resample.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

from . import metrics as NM


def resample_weights(n: int, n_boot: int, seed: int = 0) -> np.ndarray:
    """float64 [n_boot, n]: how many times each prompt is drawn in each resample."""
    rng = np.random.default_rng(seed)
    W = np.zeros((n_boot, n))
    idx = rng.integers(0, n, (n_boot, n))
    np.add.at(W, (np.arange(n_boot)[:, None], idx), 1.0)
    return W


def _interval(values: list[float], level: float) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    if not np.isfinite(v).any():
        return (float("nan"), float("nan"))
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return float(np.nanpercentile(v, lo)), float(np.nanpercentile(v, hi))


def bootstrap_curves(
    quality: np.ndarray,
    cost: np.ndarray,
    curves: "Mapping[str, tuple[np.ndarray, np.ndarray]]",
    *,
    models: "list[str] | None" = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, dict[str, tuple[float, float]]]:
    """Intervals of AIQ, max quality and AIQ − zero for the individual models (named
    `models`, default their column index), the zero router and each curve in `curves`
    (name -> (realised quality [L, P], realised cost [L, P]))."""
    Q, C = np.asarray(quality, dtype=np.float64), np.asarray(cost, dtype=np.float64)
    n, m = Q.shape
    names = models if models is not None else [str(j) for j in range(m)]
    W = resample_weights(n, n_boot, seed)
    mq, mc = W @ Q / n, W @ C / n  # [B, M]
    means = {name: ((rq @ W.T) / n, (rc @ W.T) / n) for name, (rq, rc) in curves.items()}  # [L, B] each
    stats: dict[str, dict[str, list[float]]] = {}

    def add(name: str, key: str, value: float) -> None:
        stats.setdefault(name, {}).setdefault(key, []).append(value)

    for b in range(n_boot):
        c_min, c_max = float(mc[b].min()), float(mc[b].max())
        zero = NM.aiq_of_points(mc[b], mq[b], c_min, c_max)
        add("zero router", "AIQ", zero)
        add("zero router", "max quality", float(mq[b].max()))
        for j, name in enumerate(names):
            a = NM.aiq_of_points(mc[b, j : j + 1], mq[b, j : j + 1], c_min, c_max)
            add(name, "AIQ", a)
            add(name, "max quality", float(mq[b, j]))
            add(name, "AIQ - zero", a - zero)
        for name, (qb, cb) in means.items():
            a = NM.aiq_of_points(cb[:, b], qb[:, b], c_min, c_max)
            add(name, "AIQ", a)
            add(name, "max quality", float(qb[:, b].max()))
            add(name, "AIQ - zero", a - zero)
    return {name: {k: _interval(v, level) for k, v in d.items()} for name, d in stats.items()}
