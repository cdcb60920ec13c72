"""Routing-profile evaluation outputs: a results dict (JSON), a Markdown table, a terminal table and a
PNG plot of the cost-quality curves with their hulls, the zero router and the oracle."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .. import tables
from .harness import ProfileReport, best_single_model

ORDER = {"oracle": 0, "router": 1, "baseline": 2, "zero": 3, "model": 4}


def _num(v: float, digits: int = 4) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _ci(iv: "dict[str, tuple[float, float]]", key: str, sign: bool = False) -> str:
    if key not in iv or any(math.isnan(x) for x in iv[key]):
        return ""
    lo, hi = iv[key]
    return f"[{lo:+.4f}, {hi:+.4f}]" if sign else f"[{lo:.4f}, {hi:.4f}]"


def table(report: ProfileReport) -> list[list[str]]:
    best = best_single_model(report).name
    q_keys = [f"q@{c:.3g}" for c in report.at_costs]
    head = ["router", "kind", "AIQ", "AIQ 95% CI", "AIQ − zero 95% CI", "max quality", "cost at max"]
    head += q_keys + ["cost to best model"]
    rows = [head]
    ordered = sorted(report.results, key=lambda r: (ORDER.get(r.kind, 9), -r.metrics["AIQ"]))
    for r in ordered:
        m = r.metrics
        name = f"{r.name} (best single model)" if r.name == best else r.name
        row = [name, r.kind, _num(m["AIQ"]), _ci(r.intervals, "AIQ"), _ci(r.intervals, "AIQ - zero", True)]
        row += [_num(m["max quality"]), f"{m['cost at max']:.3g}"]
        row += [_num(m[k]) for k in q_keys] + [_fmt_cost(m["cost to best model"])]
        rows.append(row)
    return rows


def _fmt_cost(v: float) -> str:
    return "never" if math.isnan(v) else f"{v:.3g}"


def header(report: ProfileReport) -> list[str]:
    lines = [
        f"{report.benchmark}: {report.n_prompts} prompts, {len(report.models)} models, "
        f"{report.folds}-fold cross-validation by prompt",
        f"AIQ: area under the non-decreasing convex hull of each curve over the models' cost range "
        f"[{report.c_min:.4g}, {report.c_max:.4g}] (cost per prompt), divided by its width",
        "q@c: the hull's quality at average cost c per prompt; cost to best model: least cost at which "
        "the hull reaches the highest quality of any single model (AIQ ranks the single models)",
    ]
    if report.n_boot:
        lines.append(f"95% percentile bootstrap over prompts ({report.n_boot} resamples, seed {report.seed})")
    return lines + [f"note: {n}" for n in report.notes]


def text_table(report: ProfileReport) -> str:
    return tables.text_table(list(header(report)), table(report))


def markdown(report: ProfileReport) -> str:
    return tables.markdown_table(f"{report.benchmark} (N models)", list(header(report)), table(report))


def to_json(report: ProfileReport) -> dict:
    def clean(v):
        return None if isinstance(v, float) and not math.isfinite(v) else v

    return {
        "benchmark": report.benchmark,
        "n_prompts": report.n_prompts,
        "models": report.models,
        "folds": report.folds,
        "cost_range": [report.c_min, report.c_max],
        "at_costs": report.at_costs,
        "n_boot": report.n_boot,
        "seed": report.seed,
        "best_single_model": best_single_model(report).name,
        "notes": report.notes,
        "results": [
            {
                "router": r.name,
                "kind": r.kind,
                "metrics": {k: clean(v) for k, v in r.metrics.items()},
                "intervals_95": {k: [clean(x) for x in v] for k, v in r.intervals.items()},
                "curve": {
                    "lambda": None if r.lambdas is None else [clean(float(x)) for x in r.lambdas],
                    "cost": r.cost.tolist(),
                    "quality": r.quality.tolist(),
                },
                "hull": {"cost": r.hull[0].tolist(), "quality": r.hull[1].tolist()},
                "model_share": r.share,
            }
            for r in report.results
        ],
    }


def plot(report: ProfileReport, path: "str | Path") -> Path:
    """Cost (log axis) against quality: each model's point, the zero router's hull, each
    router's λ points and hull, the oracle."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'fastroute[plot]' (or use --no-plot)") from exc
    fig, ax = plt.subplots(figsize=(10, 6))
    routers = iter(["tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:cyan"] * 9)
    for r in report.results:
        hx, hy = r.hull
        if hx[-1] < report.c_max:  # the hull stays flat to the end of the range
            hx, hy = np.append(hx, report.c_max), np.append(hy, hy[-1])
        if hx.size > 1:  # dense: segments linear in cost are curves on the log axis
            xs = np.unique(np.concatenate([hx, np.geomspace(hx[0], hx[-1], 200)]))
            hx, hy = xs, np.interp(xs, hx, hy)
        label = f"{r.name} (AIQ {r.metrics['AIQ']:.3f})"
        if r.kind == "model":
            ax.plot(r.cost, r.quality, "s", color="grey", markersize=5)
            ax.annotate(
                r.name, (float(r.cost[0]), float(r.quality[0])), fontsize=7, xytext=(3, 3), textcoords="offset points"
            )
        elif r.kind == "zero":
            ax.plot(hx, hy, "--", color="black", linewidth=1.2, label=label)
        else:
            color = {"oracle": "gold", "baseline": "tab:blue"}.get(r.kind) or next(routers)  # one colour a curve
            (line,) = ax.plot(hx, hy, "-", linewidth=1.5, label=label, color=color)
            ax.plot(r.cost, r.quality, ".", markersize=3, color=line.get_color(), alpha=0.5)
    ax.axvspan(report.c_min, report.c_max, color="grey", alpha=0.06, label="AIQ cost range")
    ax.set_xscale("log")
    ax.set_xlabel("average cost per prompt (USD, log scale)")
    ax.set_ylabel("average quality")
    ax.set_title(f"{report.benchmark}: cost-quality, {report.folds}-fold CV by prompt ({report.n_prompts} prompts)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_all(report: ProfileReport, output: "str | Path", with_plot: bool = True) -> list[Path]:
    written = tables.write_results(output, to_json(report), markdown(report))
    if with_plot:
        written.append(plot(report, Path(output) / f"{report.benchmark}.png"))
    return written
