"""Evaluation outputs: a terminal table, results.json, results.md and a PNG plot."""

from __future__ import annotations

import math
from pathlib import Path

from .. import tables
from .harness import EvalReport


def _fmt(v: float, pct: bool) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{100 * v:.1f}%" if pct else f"{v:.3f}"


def table(report: EvalReport) -> list[list[str]]:
    head = ["router", "APGR", "APGR 95% CI", "CPT(20%)", "CPT(50%)", "CPT(50%) 95% CI", "CPT(80%)", "AUC"]
    rows = [head]
    for r in report.results:
        ci = r.intervals
        apgr_ci = f"[{ci['APGR'][0]:.3f}, {ci['APGR'][1]:.3f}]" if "APGR" in ci else ""
        cpt_ci = f"[{100 * ci['CPT(50%)'][0]:.1f}%, {100 * ci['CPT(50%)'][1]:.1f}%]" if "CPT(50%)" in ci else ""
        m = r.metrics
        rows.append(
            [
                r.name,
                _fmt(m["APGR"], False),
                apgr_ci,
                _fmt(m["CPT(20%)"], True),
                _fmt(m["CPT(50%)"], True),
                cpt_ci,
                _fmt(m["CPT(80%)"], True),
                _fmt(m["AUC"], False),
            ]
        )
    return rows


def header(report: EvalReport) -> list[str]:
    lines = [
        f"{report.benchmark}: {report.n_prompts} prompts; strong {report.strong_model} = {report.strong_quality:.4f}, "
        f"weak {report.weak_model} = {report.weak_quality:.4f} ({report.scale})"
    ]
    lines += [f"note: {n}" for n in report.notes]
    for r in report.results:
        for k, (lo, hi) in r.intervals.items():
            if k.startswith("APGR -"):
                lines.append(f"{r.name}: {k} = [{lo:+.3f}, {hi:+.3f}] (paired bootstrap 95% CI)")
    for r in report.results:
        if r.reliability is not None:
            c = r.reliability
            lines.append(
                f"{r.name}: win rates' calibration error {c.ece:.3f} on {int(c.counts.sum())} decisive prompts; "
                f"10th-90th percentile spread {c.spread:.3f}"
            )
    return lines


def text_table(report: EvalReport) -> str:
    return tables.text_table(list(header(report)), table(report))


def markdown(report: EvalReport) -> str:
    return tables.markdown_table(report.benchmark, list(header(report)), table(report))


def to_json(report: EvalReport) -> dict:
    def clean(v):
        return None if isinstance(v, float) and math.isnan(v) else v

    return {
        "benchmark": report.benchmark,
        "strong_model": report.strong_model,
        "weak_model": report.weak_model,
        "n_prompts": report.n_prompts,
        "strong_quality": report.strong_quality,
        "weak_quality": report.weak_quality,
        "scale": report.scale,
        "notes": report.notes,
        "results": [
            {
                "router": r.name,
                "kind": r.kind,
                "metrics": {k: clean(v) for k, v in r.metrics.items()},
                "intervals_95": {k: list(v) for k, v in r.intervals.items()},
                "reliability": r.reliability.to_json() if r.reliability is not None else None,
                "curve": {
                    "thresholds": r.curve.thresholds.tolist(),
                    "strong_share": r.curve.strong_share.tolist(),
                    "quality": r.curve.quality.tolist(),
                },
            }
            for r in report.results
        ],
    }


def plot(report: EvalReport, path: "str | Path") -> Path:
    """Quality against strong-model share for every router, with the strong, weak and optimal lines."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("plots need matplotlib: pip install 'fastroute[plot]'") from exc
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for r in report.results:
        order = r.curve.strong_share.argsort()
        style = {
            "optimal": dict(linestyle=":", marker="x", color="black"),
            "baseline": dict(linestyle="--", marker="."),
        }.get(r.kind, dict(linestyle="-", marker="o"))
        ax.plot(
            100 * r.curve.strong_share[order],
            r.curve.quality[order],
            label=f"{r.name} (APGR {r.metrics['APGR']:.3f})",
            **style,
        )
    ax.axhline(report.strong_quality, color="red", linestyle="--", linewidth=1, label=f"{report.strong_model} (strong)")
    ax.axhline(report.weak_quality, color="grey", linestyle="--", linewidth=1, label=f"{report.weak_model} (weak)")
    ax.set_xlabel("strong-model calls (%)")
    ax.set_ylabel(f"quality ({report.scale})")
    ax.set_title(f"{report.benchmark}: quality vs. strong-model share ({report.n_prompts} prompts)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def write_all(report: EvalReport, output: "str | Path", with_plot: bool = True) -> list[Path]:
    written = tables.write_results(output, to_json(report), markdown(report))
    if with_plot:
        written.append(plot(report, Path(output) / f"{report.benchmark}.png"))
        curves = {r.name: r.reliability for r in report.results if r.reliability is not None}
        if curves:
            from .reliability import plot_reliability

            title = f"{report.benchmark}: reliability of the win rates ({report.strong_model} vs {report.weak_model})"
            written.append(plot_reliability(curves, title, Path(output) / f"{report.benchmark}_reliability.png"))
    return written
