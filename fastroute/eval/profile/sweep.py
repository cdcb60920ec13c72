"""The λ sweep of the routing profiles' policy evaluated here: fastroute.profile.policy.max_value,
the policy the router serves (argmax_m q[m] − λ·c[m], RouterBench's willingness to pay;
λ = 0 the best predicted quality, λ = ∞ the cheapest model, ties to the cheaper model). For a learned router c
is the mean training cost per model (a vector [M]: no test leakage); the oracle uses the
true per-prompt costs ([P, M]).

`lambda_grid` covers everything between: 0, a geometric grid from `lo` to `hi`, and ∞,
where hi = (predicted-quality span) / (smallest gap between two distinct model costs)
makes the cheapest model win everywhere, and lo = 1e-3·span / (largest cost gap) is where
cost starts to matter only for differences in quality below 0.1% of the span.
"""

from __future__ import annotations

import numpy as np

from ...profile.policy import max_value


def lambda_grid(pred: np.ndarray, costs: np.ndarray, n: int = 100) -> np.ndarray:
    """[n + 2] λ values: 0, a geometric grid on the range of quality/cost ratios, and ∞.

    pred: every predicted quality the sweep will see (any shape); costs: every model cost
    vector it will use ([M], [K, M] for K folds, or [P, M])."""
    q = np.asarray(pred, dtype=np.float64)
    span = float(np.nanmax(q) - np.nanmin(q)) if q.size else 0.0
    c = np.asarray(costs, dtype=np.float64)
    c = c.reshape(-1, c.shape[-1])
    gaps = np.abs(c[:, :, None] - c[:, None, :])
    positive = gaps[gaps > 0]
    if span <= 0 or positive.size == 0:
        return np.array([0.0, np.inf])
    hi = span / float(positive.min())
    lo = 1e-3 * span / float(positive.max())
    return np.concatenate([[0.0], np.geomspace(lo, hi, n), [np.inf]])


def sweep(pred: np.ndarray, cost: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """Choices for every λ: int64 [L, B]."""
    return np.stack([max_value(pred, cost, float(lam)) for lam in lambdas])


def realised(choices: np.ndarray, quality: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-prompt true quality and cost of the chosen models: two float64 [L, P] arrays."""
    ch = np.asarray(choices)
    rows = np.arange(ch.shape[-1])
    q, c = np.asarray(quality, dtype=np.float64), np.asarray(cost, dtype=np.float64)
    return q[rows, ch], c[rows, ch]


def curve(choices: np.ndarray, quality: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(average cost [L], average quality [L]) of each λ's choices on the prompts."""
    rq, rc = realised(choices, quality, cost)
    return rc.mean(axis=-1), rq.mean(axis=-1)
