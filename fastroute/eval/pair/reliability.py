"""Does a win rate mean what it says? A router's win rate claims P(the strong model's answer
beats the weak one's). On an evaluation set with each model's quality per prompt, the prompts
where the two differ (decisive) are cut into quantile bins of the win rate; in each, the mean
win rate is set against how often the strong model did better (the reliability curve). The
expected calibration error is the prompt-weighted mean gap between the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Reliability:
    predicted: np.ndarray  # [k] mean win rate per bin
    observed: np.ndarray  # [k] share of decisive prompts the strong model won, per bin
    counts: np.ndarray  # [k] prompts per bin
    ece: float  # expected calibration error
    spread: float  # 90th minus 10th percentile of the win rates: how far apart prompts are put

    def to_json(self) -> dict:
        return {
            "predicted": self.predicted.tolist(),
            "observed": self.observed.tolist(),
            "counts": self.counts.tolist(),
            "ece": self.ece,
            "spread_p10_p90": self.spread,
        }


def reliability(
    win_rates: np.ndarray, strong_quality: np.ndarray, weak_quality: np.ndarray, bins: int = 10
) -> "Reliability | None":
    """The reliability curve on the decisive prompts; None when fewer than 2 per bin."""
    p = np.asarray(win_rates, np.float64)
    sq, wq = np.asarray(strong_quality, np.float64), np.asarray(weak_quality, np.float64)
    decisive = sq != wq
    if decisive.sum() < 2 * bins:
        return None
    p_d, won = p[decisive], (sq[decisive] > wq[decisive]).astype(np.float64)
    edges = np.quantile(p_d, np.linspace(0.0, 1.0, bins + 1))
    which = np.clip(np.searchsorted(edges, p_d, side="right") - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    used = counts > 0
    pred = np.bincount(which, p_d, minlength=bins)[used] / counts[used]
    obs = np.bincount(which, won, minlength=bins)[used] / counts[used]
    ece = float(np.sum(counts[used] * np.abs(pred - obs)) / counts.sum())
    spread = float(np.subtract(*np.percentile(p, [90, 10])))
    return Reliability(pred, obs, counts[used], ece, spread)


def plot_reliability(curves: "dict[str, Reliability]", title: str, path: "str | Path") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 5.5))
    lo = min(min(c.predicted.min(), c.observed.min()) for c in curves.values())
    ax.plot([lo, 1], [lo, 1], color="black", linestyle=":", linewidth=1, label="calibrated")
    for name, c in curves.items():
        ax.plot(c.predicted, c.observed, marker="o", label=f"{name} (ECE {c.ece:.3f}, spread {c.spread:.3f})")
    ax.set_xlabel("mean win rate in the bin")
    ax.set_ylabel("share of decisive prompts the strong model won")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
