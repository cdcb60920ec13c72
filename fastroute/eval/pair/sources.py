"""Leave-one-source-out: each public training source in turn is the evaluation set, and the
default recipe is retrained on all the others, so a router is scored on a kind of traffic it
never saw, as a user's own traffic will be. In-domain cross-validation flatters a router:
what it learned from one source's neighbours there is what it will not have on new traffic.

Each fold's evaluation set is the left-out source's own labels for the default pair
(GPT-4 1106 against Mixtral 8x7B) where it has them; LLMRouter has neither model, so its
fold scores a stand-in pair of its own (its best model against Mistral 7B). MT Bench is in
no training source: its row is the recipe trained on everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ...data.aliases import canonical_model
from ...routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from .benchmarks import EvalSet

ALPACA_PAIR_FILES = ("alpaca_eval_gpt4_turbo_fn", "alpaca_eval_cot_gpt4_turbo_fn")  # GPT-4 1106 vs Mixtral, 2 judges
LLMROUTER_PAIR = ("llama-3.1-nemotron-51b-instruct", "mistral-7b-instruct-v0.3")


@dataclass(frozen=True)
class Fold:
    name: str
    left_out: tuple[str, ...]  # battle sources (prefixes of BattleTable.source) not trained on
    load: Callable[[Path], EvalSet]
    strong_model: str = DEFAULT_STRONG
    weak_model: str = DEFAULT_WEAK


def alpaca_pair_set(root: Path) -> EvalSet:
    """AlpacaEval's 805 instructions, quality P(answer judged better), averaged over the two
    judges that compared GPT-4 1106 with Mixtral 8x7B (a tie is half)."""
    from ...data.tables import read_records

    judged: dict[str, list[float]] = {}
    for name in ALPACA_PAIR_FILES:
        for r in read_records(root / "alpaca_eval" / f"{name}.jsonl.gz"):
            pair = (canonical_model(r["generator_1"]), canonical_model(r["generator_2"]))
            pref = r.get("preference")
            if set(pair) != {DEFAULT_STRONG, DEFAULT_WEAK} or pref is None or not 1.0 <= float(pref) <= 2.0:
                continue
            p_second = float(pref) - 1.0  # P(generator_2 better)
            judged.setdefault(r["instruction"], []).append(p_second if pair[1] == DEFAULT_STRONG else 1.0 - p_second)
    prompts = list(judged)
    q = np.array([np.mean(judged[p]) for p in prompts])
    return EvalSet(
        "alpaca_eval",
        prompts,
        {DEFAULT_STRONG: q, DEFAULT_WEAK: 1.0 - q},
        scale="P(judged better), 2 GPT-4 Turbo judges",
    )


def routerbench_set(table: str) -> Callable[[Path], EvalSet]:
    def load(root: Path) -> EvalSet:
        from .benchmarks import load_table

        es = load_table(root / "routerbench" / f"{table}.csv", name=table, models=[DEFAULT_STRONG, DEFAULT_WEAK])
        keep = ~(np.isnan(es.quality(DEFAULT_STRONG)) | np.isnan(es.quality(DEFAULT_WEAK)))
        return es.select(keep, f"dropped {int((~keep).sum())} prompts without both models' scores")

    return load


def llmrouter_set(root: Path) -> EvalSet:
    from ...data.correctness import read_llmrouter

    prompts, scores = read_llmrouter(root / "llmrouter" / "dcrouter_train.json")
    keep = ~(np.isnan(scores[LLMROUTER_PAIR[0]]) | np.isnan(scores[LLMROUTER_PAIR[1]]))
    return EvalSet("llmrouter", prompts, {m: scores[m] for m in LLMROUTER_PAIR}).select(keep)


def mmlu_set(root: Path) -> EvalSet:
    from .benchmarks import load_mmlu

    return load_mmlu(root / "routellm" / "mmlu", split="eval")


def mt_bench_set(root: Path) -> EvalSet:
    from .benchmarks import load_mt_bench

    return load_mt_bench(root / "routellm" / "mt_bench")


FOLDS = (
    Fold("AlpacaEval", ("alpaca_eval:",), alpaca_pair_set),
    Fold("RouterBench ARC", ("routerbench:arc_challenge",), routerbench_set("arc_challenge_train")),
    Fold("RouterBench MBPP", ("routerbench:mbpp",), routerbench_set("mbpp_train")),
    Fold("RouterBench Winogrande", ("routerbench:winograde",), routerbench_set("winograde_train")),
    Fold("LLMRouter", ("llmrouter",), llmrouter_set, *LLMROUTER_PAIR),
    Fold("MMLU", ("mmlu_golden",), mmlu_set),
    Fold("MT Bench", (), mt_bench_set),
)


def fold_named(name: str) -> Fold:
    for f in FOLDS:
        if f.name.lower().replace(" ", "-") == name.lower().replace(" ", "-"):
            return f
    raise ValueError(f"no fold {name!r}; folds: {[f.name for f in FOLDS]}")


def left_out_mask(sources: "list[str]", fold: Fold) -> np.ndarray:
    """True for every battle of a source the fold leaves out."""
    if not fold.left_out:
        return np.zeros(len(sources), dtype=bool)
    return np.fromiter((s.startswith(fold.left_out) for s in sources), dtype=bool, count=len(sources))
