"""Step 4's outputs: the chosen router, and one report of what it buys on the held-out part of
the user's own prompts: APGR and CPT(50%) with intervals, against prompt length and random,
and the share of strong calls (and the cost per 1,000 requests) at the user's target quality.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.battles import BattleTable
from .workdir import WorkDir, read_jsonl


def _usd(x: float) -> str:
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


def fit_step(wd: WorkDir, *, embedder: str, seed: int, n_boot: int, target: float, log: Callable[[str], None]) -> dict:
    from ..eval.pair import metrics as M
    from ..eval.pair.benchmarks import load_table
    from ..eval.pair.report import header, table, write_all
    from .fit import fit

    if not 0.0 < target <= 1.0:
        raise ValueError(f"--target-quality must be in (0, 1], got {target}")
    models = wd.read_models()
    strong, weak = models["strong"], models["weak"]
    battles = BattleTable.from_records(read_jsonl(wd.need(wd.battles, "label")), where=str(wd.battles))
    heldout = load_table(wd.need(wd.heldout, "label"), name="held-out", models=[strong, weak])
    scale = f"grade by {models['grader']}" if models.get("grader") else f"P(judged better) by {models.get('judge')}"
    heldout = replace(heldout, scale=scale)
    if len(heldout.prompts) < 10:
        raise ValueError(f"{wd.heldout}: {len(heldout.prompts)} labelled held-out prompts: too few to evaluate on")
    if float(np.mean(heldout.quality(strong))) == float(np.mean(heldout.quality(weak))):
        raise ValueError(
            f"{wd.heldout}: {strong} and {weak} are equally good on the held-out prompts: routing between them "
            "changes nothing, and APGR is undefined"
        )
    res = fit(battles, heldout, strong, weak, wd.router, embedder_name=embedder, seed=seed, n_boot=n_boot, log=log)
    rep = res.report
    written = write_all(rep, wd.report)
    chosen = next(r for r in rep.results if r.name == res.chosen)
    share = M.cpt(chosen.curve, target, rep.strong_quality, rep.weak_quality)
    cost = models.get("mean_answer_cost_usd", {})
    cs, cw = cost.get("strong", 0.0), cost.get("weak", 0.0)
    routed_1k = None if math.isnan(share) else 1000 * (share * cs + (1 - share) * cw)
    summary: dict = {
        "chosen": res.chosen,
        "bundle": str(res.bundle) if res.bundle else None,
        "validation_apgr": res.validation_apgr,
        "heldout_prompts": rep.n_prompts,
        "target_quality": target,
        "strong_share_at_target": None if math.isnan(share) else share,
        "cost_per_1k_usd": {"always strong": 1000 * cs, "routed at target": routed_1k},
        "metrics": {r.name: r.metrics for r in rep.results},
    }
    if res.bundle and not math.isnan(share):
        from ..loader import load_router

        router = load_router(str(res.bundle))
        summary["threshold_at_target"] = router.threshold_for(share)
        summary["model_string"] = f"router-{Path(res.bundle).name}-{100 * share:.0f}%"
    lines = [
        f"# fastroute learn: {strong} vs {weak}",
        "",
        f"Chosen router: **{res.chosen}** (validation APGR on 20% of the training prompts: "
        + ", ".join(f"{k} {v:.3f}" for k, v in res.validation_apgr.items())
        + ")"
        + (f", saved to `{res.bundle}`." if res.bundle else "; prompt length needs no bundle."),
        "",
        "Held out (never trained on, never used to choose):",
        "",
    ]
    lines += header(rep) + [""]
    rows = table(rep)
    lines += ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])] + [
        "| " + " | ".join(r) + " |" for r in rows[1:]
    ]
    lines.append("")
    if math.isnan(share):
        lines.append(f"{res.chosen} does not reach {target:.0%} of the strong model's quality gain on these prompts.")
    else:
        lines.append(
            f"To keep {target:.0%} of the quality gain from the weak to the strong model, {res.chosen} sends "
            f"{share:.0%} of requests to {strong}: {_usd(routed_1k or 0.0)} per 1,000 "
            f"requests against {_usd(1000 * cs)} always calling {strong} (mean cost of the answers labelled here)."
        )
        if "model_string" in summary:
            lines.append(
                f"Serve it with `fastroute serve --routers {res.bundle} ...` and the model "
                f"`{summary['model_string']}` (threshold {summary['threshold_at_target']:.5f} on its training prompts)."
            )
    (wd.report / "report.md").write_text("\n".join(lines) + "\n")
    (wd.report / "report.json").write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
    log("\n".join(lines))
    for p in written + [wd.report / "report.md", wd.report / "report.json"]:
        log(f"wrote {p}")
    return summary


def _json_default(x: object) -> object:
    if isinstance(x, (np.floating, np.integer)):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    raise TypeError(f"{type(x).__name__} is not JSON")
