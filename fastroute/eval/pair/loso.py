"""Runs the leave-one-source-out folds (eval.pair.sources): per fold, the default recipe
retrained without the fold's source (and without any prompt within cosine 0.95 of the
fold's evaluation prompts), then RouteLLM's metrics against random and prompt length."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .harness import EvalReport, evaluate
from .sources import FOLDS, Fold, left_out_mask


def run_folds(
    data_dir: "str | Path",
    kinds: Sequence[str] = ("mf", "sw_ranking"),
    *,
    folds: Sequence[Fold] = FOLDS,
    n_boot: int = 1000,
    seed: int = 0,
    num_results: int = 10,
    embedder_name: str = "static",
    log: Callable[[str], None] = print,
) -> list[tuple[Fold, EvalReport]]:
    from ...data.decontaminate import contaminated
    from ...embedders import get_embedder
    from ...train.defaults import DECONTAMINATION_THRESHOLD, evaluation_prompts, train_recipe, training_battles
    from ...train.embed_prompts import embed, unique_prompts

    root = Path(data_dir)
    emb = get_embedder(embedder_name)
    battles = training_battles(root).battles
    prompts, _ = unique_prompts(battles)
    vectors = dict(zip(prompts, embed(prompts, emb)))
    always_held_out = evaluation_prompts(root)
    out = []
    for fold in folds:
        t0 = time.time()
        es = fold.load(root)
        train = battles.select(~left_out_mask(battles.source, fold))
        held_out = always_held_out + es.prompts + list(es.extra_prompts)
        bad, report = contaminated(train.prompt, held_out, emb, DECONTAMINATION_THRESHOLD, train_embeddings=vectors)
        train = train.select(~bad)
        log(f"{fold.name}: {len(train)} battles ({report.summary()})")
        routers = {}
        for kind in kinds:
            router, trained_on, _ = train_recipe(kind, train, emb, vectors, {}, log=lambda _: None, calibrate=False)
            router.record_training_prompts(trained_on)
            routers[kind] = router
        rep = evaluate(
            es, routers, fold.strong_model, fold.weak_model, num_results=num_results, n_boot=n_boot, seed=seed
        )
        log(f"{fold.name}: " + ", ".join(f"{r.name} {r.metrics['APGR']:.3f}" for r in rep.results))
        log(f"{fold.name}: {time.time() - t0:.0f} s")
        out.append((fold, rep))
    return out


def table(results: "list[tuple[Fold, EvalReport]]") -> list[list[str]]:
    """Rows: routers and baselines; columns: folds; cells: APGR [95% CI]; and the mean over folds."""
    names = [r.name for r in results[0][1].results if r.kind != "optimal"]
    head = ["router"] + [f"{f.name} ({rep.n_prompts})" for f, rep in results] + ["mean"]
    rows = [head]
    for name in names:
        cells, values = [], []
        for _, rep in results:
            r = next(x for x in rep.results if x.name == name)
            v = r.metrics["APGR"]
            values.append(v)
            ci = r.intervals.get("APGR")
            cells.append(f"{v:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{v:.3f}")
        rows.append([name] + cells + [f"{np.nanmean(values):.3f}"])
    return rows


def markdown(results: "list[tuple[Fold, EvalReport]]") -> str:
    rows = table(results)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines) + "\n"


def to_json(results: "list[tuple[Fold, EvalReport]]") -> list[dict]:
    from .report import to_json as report_json

    return [{"fold": f.name, "left_out": list(f.left_out), "report": report_json(rep)} for f, rep in results]
