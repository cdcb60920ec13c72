"""Evaluation sets in RouteLLM's formats, as prompts with the quality each model would get.

* MMLU (RouteLLM's `responses/mmlu_*.csv`): correctness 0/1; by default only the fixed
  evaluation half (sha256 rule, see fastroute.data.splits) minus RouteLLM's contaminated list.
* MT Bench (`question.jsonl`, `judgements.jsonl`): routed on the first turn, scored as the mean
  of both turns' GPT-4 grades (1-10) of the routed model; contaminated questions dropped.
* GSM8K: the MMLU CSV schema (plus `<model>_response` columns), one file.
* Any JSONL/CSV of `prompt` plus one score column per model.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ...data.aliases import canonical_model
from ...data.splits import is_mmlu_train_prompt
from ...data.tables import read_records
from ...prompt_hash import prompt_hashes


@dataclass(frozen=True)
class EvalSet:
    name: str
    prompts: list[str]
    scores: dict[str, np.ndarray]  # canonical model -> quality per prompt
    extra_prompts: list[str] = field(default_factory=list)  # also compared for contamination (MT Bench turn 2)
    scale: str = "accuracy"
    notes: list[str] = field(default_factory=list)

    def quality(self, model: str) -> np.ndarray:
        key = canonical_model(model)
        if key not in self.scores:
            from ...errors import UnknownModelError

            raise UnknownModelError(model, list(self.scores), what=f"model in {self.name}")
        return self.scores[key]

    def select(self, keep: np.ndarray, note: str = "") -> "EvalSet":
        keep = np.asarray(keep, dtype=bool)
        return replace(
            self,
            prompts=[p for p, k in zip(self.prompts, keep) if k],
            scores={m: v[keep] for m, v in self.scores.items()},
            notes=self.notes + ([note] if note else []),
        )

    def without_hashes(self, hashes: np.ndarray, what: str = "training prompts") -> "EvalSet":
        """Drops prompts whose 64-bit hash is in `hashes` (e.g. a bundle's training prompts)."""
        if hashes is None or len(hashes) == 0 or not self.prompts:
            return self
        keep = ~np.isin(prompt_hashes(self.prompts), np.asarray(hashes, dtype=np.uint64))
        return self.select(keep, f"left out {int((~keep).sum())} {what}") if (~keep).any() else self


def _contaminated(path: Path) -> set[str]:
    return {r["eval_prompt"] for r in read_records(path)} if path.is_file() else set()


def load_mmlu(data_dir: "str | Path", split: str = "eval") -> EvalSet:
    """RouteLLM's MMLU responses; split "eval" (default), "train" or "all"."""
    from ...data.correctness import read_mmlu_dir
    from ...data.screening import MMLU_CHANCE, below_chance_groups

    root = Path(data_dir)
    responses = root / "responses" if (root / "responses").is_dir() else root
    prompts, scores, subjects = read_mmlu_dir(responses)
    # Kept, as RouteLLM keeps them, so results stay comparable; said so in the report.
    suspect = [f"suspect grading, kept: {f.describe()}" for f in below_chance_groups(scores, subjects, MMLU_CHANCE)]
    es = EvalSet("mmlu", prompts, scores, notes=suspect)
    if split != "all":
        if split not in ("eval", "train"):
            raise ValueError(f"split must be 'eval', 'train' or 'all', got {split!r}")
        train = np.array([is_mmlu_train_prompt(p) for p in prompts])
        es = es.select(train if split == "train" else ~train, f"{split} half of MMLU (sha256 rule)")
    bad = _contaminated(responses.parent / "contaminated_prompts.jsonl") | _contaminated(
        root / "contaminated_prompts.jsonl"
    )
    keep = np.array([p not in bad for p in es.prompts])
    return es.select(keep, f"dropped {int((~keep).sum())} contaminated prompts") if (~keep).any() else es


def load_mt_bench(data_dir: "str | Path") -> EvalSet:
    from ...data.mt_bench import read_judgments, read_questions

    root = Path(data_dir)
    questions = read_questions(root / "question.jsonl")
    judgments = read_judgments(root / "judgements.jsonl")
    bad = _contaminated(root / "contaminated_prompts.jsonl")
    kept = [q for q in questions if not (set(q["turns"][:2]) & bad)]
    models = sorted({m for (_, m, _) in judgments})
    scores = {}
    for m in models:
        rows = []
        for q in kept:
            judged = [judgments.get((int(q["question_id"]), m, t)) for t in (1, 2)]
            turns = [s for s in judged if s is not None and s >= 0]  # -1: judge failed
            rows.append(np.mean(turns) if turns else np.nan)
        scores[m] = np.array(rows)
    complete = np.all([~np.isnan(v) for v in scores.values()], axis=0)
    es = EvalSet(
        "mt-bench",
        [q["turns"][0] for q in kept],
        scores,
        extra_prompts=[t for q in kept for t in q["turns"][1:]],
        scale="mean GPT-4 grade (1-10)",
        notes=[f"dropped {len(questions) - len(kept)} contaminated questions"],
    )
    return es.select(complete, "dropped questions without grades for every model") if not complete.all() else es


def load_table(path: "str | Path", name: "str | None" = None, models: "list[str] | None" = None) -> EvalSet:
    """GSM8K's CSV, or any JSONL/CSV of `prompt` plus one numeric score column per model
    (`models` picks the columns; by default every column that is not the prompt)."""
    from ...data.correctness import read_correctness_csv

    p = Path(path)
    prompts, scores = read_correctness_csv(p, models)
    if not scores:
        raise ValueError(f"{p}: no model score columns")
    es = EvalSet(name or p.stem, prompts, scores)
    bad = _contaminated(p.parent / "contaminated_prompts.jsonl")
    keep = np.array([q not in bad for q in prompts])
    return es.select(keep, f"dropped {int((~keep).sum())} contaminated prompts") if (~keep).any() else es
