"""Rebuilds the default routers shipped in fastroute/defaults/ from the shared data.

    fastroute train defaults --data ../shared/data [--output fastroute/defaults]

Training data (the paper's recipe: preference data plus in-domain golden labels):
AlpacaEval LLM-judge battles (all four annotator files), RouterBench and LLMRouter
correctness tables (correct beats incorrect, equal is a tie), and golden labels
from the fixed training half of RouteLLM's MMLU prompts (sha256 rule), less any
subject a model scores significantly below chance on (a grading failure). The other
MMLU half and all of MT Bench are evaluation-only: every training prompt within
cosine 0.95 of one of them (or equal to one) is dropped first. Each bundle records
the sha256 of every source file, its training prompts' hashes, and the quantiles of
its win rates on them. The build is deterministic: rebuilding gives the same files.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.alpaca_eval import read_alpaca_eval
from ..data.battles import BattleTable
from ..data.correctness import correctness_battles, read_correctness_csv, read_llmrouter, read_mmlu_dir
from ..data.decontaminate import contaminated
from ..data.screening import MMLU_CHANCE, below_chance_groups
from ..data.splits import is_mmlu_train_prompt
from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from ..routers.base import Router
from .embed_prompts import embed, unique_prompts

DECONTAMINATION_THRESHOLD = 0.95
REBUILD_COMMAND = "fastroute train defaults --data ../shared/data"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class TrainingData:
    """The default recipe's battles and what went into them."""

    battles: BattleTable
    files: dict[str, str]  # source file -> sha256
    counts: dict[str, int]  # source -> battles
    screened_out: list[str]  # MMLU subjects dropped as grading failures, each with why


def training_battles(data_dir: "str | Path") -> TrainingData:
    """The default recipe's training battles from the shared data directory.

    MMLU subjects in which a model scores significantly below chance (see
    fastroute.data.screening) are left out of the golden labels."""
    root = Path(data_dir)
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    parts = []

    def add(table: BattleTable, name: str, *paths: Path) -> None:
        parts.append(table)
        counts[name] = counts.get(name, 0) + len(table)
        for p in paths:
            files[str(p.relative_to(root))] = _sha256(p)

    alpaca = sorted((root / "alpaca_eval").glob("*.jsonl.gz"))
    routerbench = sorted((root / "routerbench").glob("*.csv"))
    llmrouter = root / "llmrouter" / "dcrouter_train.json"
    mmlu_dir = root / "routellm" / "mmlu" / "responses"
    if not (alpaca and routerbench and llmrouter.is_file() and mmlu_dir.is_dir()):
        raise FileNotFoundError(
            f"{root}: expected alpaca_eval/, routerbench/, llmrouter/ and routellm/mmlu/ (see ../shared/data/README.md)"
        )
    for f in alpaca:
        table, dropped = read_alpaca_eval(f)
        add(table, "alpaca_eval", f)
        counts["alpaca_eval_invalid_dropped"] = counts.get("alpaca_eval_invalid_dropped", 0) + dropped
    for f in routerbench:
        add(correctness_battles(*read_correctness_csv(f), source=f"routerbench:{f.stem}"), "routerbench", f)
    add(correctness_battles(*read_llmrouter(llmrouter), source="llmrouter"), "llmrouter", llmrouter)
    prompts, scores, subjects = read_mmlu_dir(mmlu_dir)
    failures = below_chance_groups(scores, subjects, MMLU_CHANCE)
    bad_subjects = {f.group for f in failures}
    train = np.array([is_mmlu_train_prompt(p) and s not in bad_subjects for p, s in zip(prompts, subjects)])
    add(
        correctness_battles(
            [p for p, t in zip(prompts, train) if t],
            {m: v[train] for m, v in scores.items()},
            source="mmlu_golden_train_half",
        ),
        "mmlu_golden",
        *sorted(mmlu_dir.glob("mmlu_*.csv")),
    )
    return TrainingData(BattleTable.concat(parts), files, counts, [f.describe() for f in failures])


def evaluation_prompts(data_dir: "str | Path") -> list[str]:
    """Prompts that must never be trained on: the MMLU evaluation half and MT Bench (both turns)."""
    from ..data.mt_bench import read_questions

    root = Path(data_dir)
    prompts, _, _ = read_mmlu_dir(root / "routellm" / "mmlu" / "responses")
    held_out = [p for p in prompts if not is_mmlu_train_prompt(p)]
    for q in read_questions(root / "routellm" / "mt_bench" / "question.jsonl"):
        held_out.extend(q["turns"])
    return held_out


def train_recipe(
    kind: str,
    battles: BattleTable,
    emb,
    vectors: "dict[str, np.ndarray]",
    extra_meta: dict,
    log: Callable[[str], None] = print,
    *,
    calibrate: bool = True,
) -> "tuple[Router, list[str], dict[str, str]]":
    """One default router (`kind`: mf or sw_ranking) trained on `battles` as the shipped one is:
    (router, the prompts it was trained on, notes). `vectors` maps every prompt to its embedding.
    `calibrate=False` skips mf's cross-fitted calibration (5 more trainings), which changes no
    ranking of prompts: for evaluations that only rank."""
    if kind == "mf":
        from .calibration_fit import calibrated_mf
        from .mf import MFTrainConfig, train_mf

        prompts, _ = unique_prompts(battles)
        router = train_mf(
            battles,
            emb,
            strong_model=DEFAULT_STRONG,
            weak_model=DEFAULT_WEAK,
            config=MFTrainConfig(),
            prompt_embeddings=np.stack([vectors[p] for p in prompts]),
            extra_meta=extra_meta,
        )
        if calibrate:
            router = calibrated_mf(router, battles, emb, vectors, config=MFTrainConfig())
        return router, prompts, {}
    if kind == "sw_ranking":
        from .sw import build_sw, rateable_battles

        kept, dropped = rateable_battles(battles, DEFAULT_STRONG, DEFAULT_WEAK)
        kept_prompts, _ = unique_prompts(kept)
        router, rep = build_sw(
            kept,
            emb,
            strong_model=DEFAULT_STRONG,
            weak_model=DEFAULT_WEAK,
            prompt_embeddings=np.stack([vectors[p] for p in kept_prompts]),
            extra_meta={**extra_meta, **({"unrateable_models_dropped": dropped} if dropped else {})},
        )
        for line in rep.lines():
            log("  " + line)
        return router, kept_prompts, {"sw_weighting": rep.lines()[-1]}
    raise ValueError(f"no default recipe for router {kind!r}")


def build_defaults(
    data_dir: "str | Path",
    output: "str | Path",
    *,
    embedder_name: str = "static",
    routers: tuple[str, ...] = ("mf", "sw_ranking"),
    log: Callable[[str], None] = print,
) -> dict:
    """Trains the default bundles into `output`/<router>; returns a summary of what was built."""
    from ..embedders import get_embedder

    t0 = time.time()
    emb = get_embedder(embedder_name)
    data = training_battles(data_dir)
    battles, files, counts = data.battles, data.files, data.counts
    log(f"loaded {len(battles)} battles from {len(files)} files: {counts}")
    for line in data.screened_out:
        log(f"left out of the MMLU golden labels (grading failure): {line}")
    all_prompts, _ = unique_prompts(battles)
    E_all = embed(all_prompts, emb)  # once: for decontamination and for training
    vectors = dict(zip(all_prompts, E_all))
    bad, report = contaminated(
        battles.prompt, evaluation_prompts(data_dir), emb, DECONTAMINATION_THRESHOLD, train_embeddings=vectors
    )
    battles = battles.select(~bad)
    log(f"decontamination: {report.summary()}; {len(battles)} battles remain")
    provenance = {
        "data_files_sha256": files,
        "battle_counts": counts,
        "mmlu_subjects_screened_out": data.screened_out,
        "decontamination": {**asdict(report), "battles_dropped": int(bad.sum())},
        "recipe": "AlpacaEval + RouterBench + LLMRouter + MMLU golden labels (training half, "
        "less subjects screened out as grading failures)",
        "rebuild": REBUILD_COMMAND,
    }
    summary: dict = {
        "battles": len(battles),
        "prompts": len(dict.fromkeys(battles.prompt)),
        "decontamination": report.summary(),
    }
    out = Path(output)
    for kind in routers:
        t = time.time()
        router, trained_on, notes = train_recipe(kind, battles, emb, vectors, {"provenance": provenance}, log)
        if "sw_weighting" in notes:
            summary["sw_weighting"] = notes["sw_weighting"]
        router.record_training_prompts(trained_on)
        path = router.save(out / kind)
        size = sum(f.stat().st_size for f in path.iterdir())
        log(f"{kind}: {path} ({size / 2**20:.2f} MiB) in {time.time() - t:.0f} s")
        summary[kind] = {"bundle": kind, "bytes": size}
    log(f"done in {time.time() - t0:.0f} s")
    (out / "BUILD.json").write_text(json.dumps({k: v for k, v in summary.items()}, indent=2) + "\n")
    return summary
