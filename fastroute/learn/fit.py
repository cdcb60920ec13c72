"""Step 4 of `fastroute learn`: routers from the labelled training prompts, chosen on a
validation part of them, then scored once on the held-out prompts.

Candidates: sw_ranking (the default) and, when torch is installed, mf (ties counted as
half: with two models a tie is most of what a judge says); prompt length is a candidate too,
since on some traffic it is the best router there is. Each is trained on 80% of the training
prompts and scored on the other 20% (APGR); the best is retrained on all of them and saved.
The held-out prompts are touched only by the final evaluation: all candidates, random and
prompt length, with bootstrap intervals, against the oracle.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.battles import BattleTable
from ..eval.pair.benchmarks import EvalSet
from ..eval.pair.harness import EvalReport, evaluate

VALIDATION_FRACTION = 0.2


@dataclass
class FitResult:
    chosen: str  # the candidate shipped
    validation_apgr: dict[str, float]
    report: EvalReport  # on the held-out prompts
    bundle: "Path | None"  # None when prompt length won: nothing to save


def _train(kind: str, battles: BattleTable, strong: str, weak: str, emb, vectors: dict, calibrate: bool = False):
    prompts = list(dict.fromkeys(battles.prompt))
    E = np.stack([vectors[p] for p in prompts])
    if kind == "sw_ranking":
        from ..train.sw import build_sw

        router, _ = build_sw(battles, emb, strong_model=strong, weak_model=weak, prompt_embeddings=E)
    elif kind == "mf":
        from ..train.mf import MFTrainConfig, train_mf

        cfg = MFTrainConfig(ties="half")
        router = train_mf(
            battles, emb, strong_model=strong, weak_model=weak, prompt_embeddings=E, config=cfg, verbose=False
        )
        if calibrate:  # sw_ranking calibrates itself, on its weighting's cross-validation
            from ..train.calibration_fit import calibrated_mf

            router = calibrated_mf(router, battles, emb, vectors, config=cfg)
    else:
        raise ValueError(f"no candidate {kind!r}")
    router.record_training_prompts(prompts)
    return router


def candidates() -> list[str]:
    try:
        import torch  # noqa: F401
    except ImportError:
        return ["sw_ranking"]
    return ["sw_ranking", "mf"]


def _apgr(p: np.ndarray, sq: np.ndarray, wq: np.ndarray) -> float:
    from ..eval.pair import metrics as M

    curve = M.routing_curve(p, sq, wq, 10)
    return M.summarize(curve, float(np.mean(sq)), float(np.mean(wq)))["APGR"]


def fit(
    battles: BattleTable,
    heldout: EvalSet,
    strong: str,
    weak: str,
    output: Path,
    *,
    embedder_name: str = "static",
    seed: int = 0,
    n_boot: int = 1000,
    log: Callable[[str], None] = print,
) -> FitResult:
    from ..embedders import get_embedder
    from ..train.embed_prompts import embed

    emb = get_embedder(embedder_name)
    prompts = list(dict.fromkeys(battles.prompt))
    if len(prompts) < 10:
        raise ValueError(f"{len(prompts)} labelled training prompts: too few to learn from (label more)")
    if np.all(battles.labels == 0.5):
        raise ValueError(
            f"all {len(battles)} labelled training pairs are ties: the labels see no difference between "
            f"{strong} and {weak} on these prompts, so there is nothing to learn"
        )
    vectors = dict(zip(prompts, embed(prompts, emb)))
    rng = np.random.default_rng(seed)
    val_prompts = set(rng.choice(prompts, max(2, int(VALIDATION_FRACTION * len(prompts))), replace=False).tolist())
    is_val = np.array([p in val_prompts for p in battles.prompt])
    fit_part, val_part = battles.select(~is_val), battles.select(is_val)
    labels = val_part.labels  # P(model_a = strong wins)
    sq, wq = labels, 1.0 - labels
    scores: dict[str, float] = {"prompt length": _apgr(np.array([len(p) for p in val_part.prompt], float), sq, wq)}
    for kind in candidates():
        router = _train(kind, fit_part, strong, weak, emb, vectors)
        scores[kind] = _apgr(router.win_rates(val_part.prompt), sq, wq)
    log("validation APGR (20% of the training prompts): " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))
    chosen = max(scores, key=lambda k: (scores[k], k == "sw_ranking"))  # a tie goes to the default
    routers = {kind: _train(kind, battles, strong, weak, emb, vectors, calibrate=True) for kind in candidates()}
    report = evaluate(heldout, routers, strong, weak, n_boot=n_boot, seed=seed)
    bundle = None
    if chosen != "prompt length":
        bundle = routers[chosen].save(output)
    return FitResult(chosen, scores, report, bundle)
