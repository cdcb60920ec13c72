"""RouteLLM's routing metrics, computed as its evaluate.py does, without its defects.

A router's win rates on a benchmark are cut into `num_results` quantile bins
(11 thresholds for 10 bins: strong if p >= t, except > at the top so the last
point routes nothing to the strong model). Each threshold gives a point
(strong-call share, quality). From the curve:

* AUC: trapezoid rule over the strong-call share in [0, 1];
* APGR: (AUC - weak AUC) / (strong AUC - weak AUC), the weak/strong AUCs being
  their constant qualities integrated over the same shares;
* PGR at a point: (quality - weak) / (strong - weak);
* CPT(x): the smallest strong-call share at which the (piecewise linear) curve
  first reaches weak + x (strong - weak). RouteLLM uses np.interp over the
  qualities, which silently assumes quality rises with the share; a curve that
  dips gives it a wrong answer. Here the first crossing is found segment by
  segment, and a curve that never gets there gives NaN.

Unlike RouteLLM's pd.qcut, tied win rates (duplicate bin edges) are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def thresholds(win_rates: np.ndarray, num_results: int = 10) -> np.ndarray:
    """The num_results + 1 quantile edges of the win rates (linear interpolation, as pandas)."""
    p = np.asarray(win_rates, dtype=np.float64)
    if p.size == 0:
        raise ValueError("no win rates")
    return np.quantile(p, np.linspace(0.0, 1.0, num_results + 1))


def strong_mask(win_rates: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """[len(edges), n] routing decisions: p >= t for every edge but the last, p > t there."""
    p = np.asarray(win_rates, dtype=np.float64)[None, :]
    t = np.asarray(edges, dtype=np.float64)[:, None]
    mask = p >= t
    mask[-1] = p[0] > t[-1, 0]
    return mask


@dataclass(frozen=True)
class Curve:
    thresholds: np.ndarray  # [k]
    strong_share: np.ndarray  # [k] in [0, 1]
    quality: np.ndarray  # [k]


def routing_curve(
    win_rates: np.ndarray, strong_quality: np.ndarray, weak_quality: np.ndarray, num_results: int = 10
) -> Curve:
    """Quality of routing each prompt by threshold; qualities are per prompt (e.g. 0/1 correctness)."""
    sq, wq = np.asarray(strong_quality, float), np.asarray(weak_quality, float)
    edges = thresholds(win_rates, num_results)
    mask = strong_mask(win_rates, edges)
    quality = np.where(mask, sq[None, :], wq[None, :]).mean(axis=1)
    return Curve(edges, mask.mean(axis=1), quality)


def _sorted(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(curve.strong_share, kind="stable")
    return curve.strong_share[order], curve.quality[order]


def auc(curve: Curve) -> float:
    x, y = _sorted(curve)
    # np.trapz: numpy < 2, whose stubs mypy does not see when numpy 2 is installed
    return float(np.trapezoid(y, x)) if hasattr(np, "trapezoid") else float(np.trapz(y, x))  # type: ignore[attr-defined]


def apgr(curve: Curve, strong: float, weak: float) -> float:
    x, _ = _sorted(curve)
    span = x[-1] - x[0]
    if strong == weak or span == 0:
        return float("nan")
    return (auc(curve) - weak * span) / ((strong - weak) * span)


def pgr(quality: float, strong: float, weak: float) -> float:
    return (quality - weak) / (strong - weak) if strong != weak else float("nan")


def cpt(curve: Curve, fraction: float, strong: float, weak: float) -> float:
    """Strong-call share needed to recover `fraction` of the strong-weak gap (NaN if never)."""
    target = weak + fraction * (strong - weak)
    x, y = _sorted(curve)
    sign = 1.0 if strong >= weak else -1.0
    if sign * (y[0] - target) >= 0:
        return float(x[0])
    for i in range(1, len(x)):
        if sign * (y[i] - target) >= 0:
            if y[i] == y[i - 1]:
                return float(x[i])
            return float(x[i - 1] + (target - y[i - 1]) * (x[i] - x[i - 1]) / (y[i] - y[i - 1]))
    return float("nan")


def optimal_quality(strong_quality: np.ndarray, weak_quality: np.ndarray, share: float) -> float:
    """Best quality with at most `share` of the prompts sent to the strong model: send the
    prompts where the strong model gains most (RouteLLM's optimal router, graded scores too)."""
    sq, wq = np.asarray(strong_quality, float), np.asarray(weak_quality, float)
    gain = np.sort(sq - wq)[::-1]
    k = int(np.floor(share * sq.size + 1e-9))
    return float((wq.sum() + np.clip(gain[:k], 0, None).sum()) / sq.size)


def summarize(curve: Curve, strong: float, weak: float) -> dict[str, float]:
    return {
        "APGR": apgr(curve, strong, weak),
        "AUC": auc(curve),
        "CPT(20%)": cpt(curve, 0.2, strong, weak),
        "CPT(50%)": cpt(curve, 0.5, strong, weak),
        "CPT(80%)": cpt(curve, 0.8, strong, weak),
    }


def bootstrap(
    win_rates: np.ndarray,
    strong_quality: np.ndarray,
    weak_quality: np.ndarray,
    num_results: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    draw=None,
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of APGR and CPT(50%), resampling prompts with replacement (the
    thresholds, strong and weak qualities are recomputed on each resample). `draw(rng, n)`,
    if given, draws fresh win rates per resample (the random router)."""
    p = np.asarray(win_rates, float)
    sq, wq = np.asarray(strong_quality, float), np.asarray(weak_quality, float)
    rng = np.random.default_rng(seed)
    stats: dict[str, list[float]] = {"APGR": [], "CPT(50%)": []}
    for _ in range(n_boot):
        idx = rng.integers(0, sq.size, sq.size)
        pb = draw(rng, sq.size) if draw is not None else p[idx]
        c = routing_curve(pb, sq[idx], wq[idx], num_results)
        s, w = sq[idx].mean(), wq[idx].mean()
        stats["APGR"].append(apgr(c, s, w))
        stats["CPT(50%)"].append(cpt(c, 0.5, s, w))
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return {k: (float(np.nanpercentile(v, lo)), float(np.nanpercentile(v, hi))) for k, v in stats.items()}


def paired_apgr_difference(
    p_a: np.ndarray,
    p_b: "np.ndarray | None",
    strong_quality: np.ndarray,
    weak_quality: np.ndarray,
    num_results: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    draw_b=None,
) -> tuple[float, float]:
    """Percentile interval of APGR(a) - APGR(b) over the same prompt resamples (b may be
    drawn afresh per resample, for the random router)."""
    sq, wq = np.asarray(strong_quality, float), np.asarray(weak_quality, float)
    pa = np.asarray(p_a, float)
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(n_boot):
        idx = rng.integers(0, sq.size, sq.size)
        s, w = sq[idx].mean(), wq[idx].mean()
        pb = draw_b(rng, sq.size) if draw_b is not None else np.asarray(p_b, float)[idx]
        diffs.append(
            apgr(routing_curve(pa[idx], sq[idx], wq[idx], num_results), s, w)
            - apgr(routing_curve(pb, sq[idx], wq[idx], num_results), s, w)
        )
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    return float(np.nanpercentile(diffs, lo)), float(np.nanpercentile(diffs, hi))
