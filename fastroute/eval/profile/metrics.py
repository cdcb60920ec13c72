"""RouterBench's metrics on the cost-quality plane (Hu et al. 2024, "RouterBench: A Benchmark
for Multi-LLM Routing System", arXiv 2403.12031, section 3 and its evaluation/AIQ.py).

A router gives a set of points (average cost, average quality), one per setting of its
cost knob (λ here). Its **non-decreasing convex hull** R̃ is the least concave,
non-decreasing function above every point: the upper convex hull of the points, cut at
its highest point and continued flat to the right. It is what the router reaches when one
is allowed to mix two of its settings at random per prompt (a mix of two points lies on
the segment between them), and spending more is never forced to lose quality.

The **zero router** is the non-decreasing convex hull of the individual models' points:
what random mixing between models reaches with no routing at all.

**AIQ** (average improvement in quality), as used here::

    AIQ = 1 / (c_max - c_min) * integral from c_min to c_max of R̃(c) dc

with [c_min, c_max] one cost range shared by every router compared: by default the range
of the individual models' average costs (cheapest model to most expensive model) on the
same prompts. Below a router's cheapest point R̃ is 0 (the router cannot run that cheaply;
RouterBench's code integrates each hull only from its own first point, which is the same
thing), above its last point R̃ keeps its last (highest) quality (RouterBench's code
appends (max cost, last quality)). Parts of a hull outside [c_min, c_max] (the oracle can
be cheaper than the cheapest model) are ignored. RouterBench's code takes c_min = 0 and
c_max = the largest cost of any router compared; the paper's formula has a general
[c_min, c_max]. AIQ is in the units of quality (e.g. accuracy) and linear in cost, so the
expensive end of the range weighs most, as in RouterBench.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def nondecreasing_hull(costs: np.ndarray, qualities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (x ascending, y non-decreasing) of the non-decreasing convex hull of the points."""
    x = np.asarray(costs, dtype=np.float64).ravel()
    y = np.asarray(qualities, dtype=np.float64).ravel()
    if x.size == 0 or x.shape != y.shape:
        raise ValueError(f"need matching non-empty costs and qualities, got {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        raise ValueError("no finite cost-quality points")
    x, y = x[ok], y[ok]
    order = np.lexsort((-y, x))  # by cost, the best quality first at equal cost
    hx: list[float] = []
    hy: list[float] = []
    for xi, yi in zip(x[order].tolist(), y[order].tolist()):
        if hx and xi == hx[-1]:
            continue  # a worse point at the same cost
        if hy and yi <= hy[-1]:
            continue  # dominated: costs more, no better (the hull is flat there)
        # Upper hull: drop the last vertex while it lies on or below the chord to the new point.
        while len(hx) >= 2 and (hy[-1] - hy[-2]) * (xi - hx[-2]) <= (yi - hy[-2]) * (hx[-1] - hx[-2]):
            hx.pop()
            hy.pop()
        hx.append(xi)
        hy.append(yi)
    return np.array(hx), np.array(hy)


def hull_value(hull: tuple[np.ndarray, np.ndarray], at: "float | np.ndarray") -> np.ndarray:
    """R̃ at the given costs: 0 below the first vertex, flat after the last."""
    hx, hy = hull
    c = np.asarray(at, dtype=np.float64)
    return np.where(c < hx[0], 0.0, np.interp(c, hx, hy))


def hull_area(hull: tuple[np.ndarray, np.ndarray], c_min: float, c_max: float) -> float:
    """Exact integral of R̃ over [c_min, c_max] (R̃ is piecewise linear)."""
    hx, hy = hull
    lo = max(c_min, float(hx[0]))
    if c_max <= lo:
        return 0.0
    inner = hx[(hx > lo) & (hx < c_max)]
    xs = np.concatenate([[lo], inner, [c_max]])
    ys = np.interp(xs, hx, hy)
    return float(np.sum((xs[1:] - xs[:-1]) * (ys[1:] + ys[:-1]) / 2))


def aiq(hull: tuple[np.ndarray, np.ndarray], c_min: float, c_max: float) -> float:
    """RouterBench's AIQ of a hull over the shared cost range (NaN for an empty range)."""
    if not c_max > c_min:
        return float("nan")
    return hull_area(hull, c_min, c_max) / (c_max - c_min)


def aiq_of_points(costs: np.ndarray, qualities: np.ndarray, c_min: float, c_max: float) -> float:
    return aiq(nondecreasing_hull(costs, qualities), c_min, c_max)


def cost_to_reach(hull: tuple[np.ndarray, np.ndarray], target: float) -> float:
    """The least cost at which R̃ reaches `target` (NaN if it never does)."""
    hx, hy = hull
    if target > hy[-1]:
        return float("nan")
    if target <= hy[0]:
        return float(hx[0])
    i = int(np.searchsorted(hy, target))  # hy[i-1] < target <= hy[i]
    return float(hx[i - 1] + (target - hy[i - 1]) * (hx[i] - hx[i - 1]) / (hy[i] - hy[i - 1]))


def summarize(
    costs: np.ndarray,
    qualities: np.ndarray,
    c_min: float,
    c_max: float,
    at_costs: Sequence[float] = (),
    reach: "dict[str, float] | None" = None,
) -> dict[str, float]:
    """AIQ, the max quality reached, R̃ at fixed costs ("q@<cost>") and the least cost that
    reaches each named target quality ("cost to <name>")."""
    hull = nondecreasing_hull(costs, qualities)
    out = {"AIQ": aiq(hull, c_min, c_max), "max quality": float(hull[1][-1]), "cost at max": float(hull[0][-1])}
    for c in at_costs:
        out[f"q@{c:.3g}"] = float(hull_value(hull, c))
    for name, target in (reach or {}).items():
        out[f"cost to {name}"] = cost_to_reach(hull, target)
    return out
