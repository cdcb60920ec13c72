"""Golden-label correctness tables as battles, as the RouteLLM paper augments its data:
on each prompt, for each pair of models, the correct answer beats the incorrect one,
and both right or both wrong is a tie (a higher score wins when scores are graded).

Readers for the formats users have: RouteLLM's MMLU/GSM8K response CSVs (`prompt`
plus one True/False column per model; GSM8K adds `<model>_response` columns),
RouterBench wide tables (`prompt`, a list literal of turns, plus per-model 0/1 columns,
with `<model>|...` extras) and LLMRouter records (`question` plus a `scores` dict or dict string).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path
from typing import Sequence

import numpy as np

from .aliases import canonical_model
from .battles import BattleTable
from .routerbench_prompts import is_routerbench_table, prompt_text
from .tables import read_records


def _as_score(value, where: str) -> float:
    """1/0 for True/False, the number for graded scores, NaN for a missing cell."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "nan", "none", "null")):
        return float("nan")
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and value.strip() in ("True", "False", "true", "false"):
        return 1.0 if value.strip().lower() == "true" else 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {value!r} is not a correctness value") from None


def _prompts(records: Sequence[dict]) -> list[str]:
    """The prompt column, as text: RouterBench's list-literal cells decoded (routerbench_prompts)."""
    if is_routerbench_table(records[0]):
        return [prompt_text(r["prompt"]) for r in records]
    return [r["prompt"] for r in records]


def correctness_battles(
    prompts: Sequence[str], scores: dict[str, np.ndarray], source: str, pairs: "Sequence[tuple[str, str]] | None" = None
) -> BattleTable:
    """Battles from per-model scores (1 = correct) on each prompt; NaN scores are skipped.

    `pairs` restricts the model pairs (default: every pair, in column order).
    """
    models = list(scores)
    pairs = list(pairs) if pairs is not None else list(itertools.combinations(models, 2))
    out_p: list[str] = []
    out_a: list[str] = []
    out_b: list[str] = []
    out_w: list[str] = []
    for ma, mb in pairs:
        sa, sb = np.asarray(scores[ma], float), np.asarray(scores[mb], float)
        ok = ~(np.isnan(sa) | np.isnan(sb))
        idx = np.flatnonzero(ok)
        win = np.where(sa[idx] > sb[idx], "model_a", np.where(sa[idx] < sb[idx], "model_b", "tie"))
        out_p.extend(prompts[int(i)] for i in idx)
        out_a.extend([ma] * idx.size)
        out_b.extend([mb] * idx.size)
        out_w.extend(win.tolist())
    return BattleTable(out_p, out_a, out_b, out_w, np.full(len(out_p), np.nan), [source] * len(out_p))


def read_correctness_csv(
    path: "str | Path", models: "Sequence[str] | None" = None
) -> tuple[list[str], dict[str, np.ndarray]]:
    """(prompts, {canonical model: scores}) from a RouteLLM MMLU/GSM8K CSV or a RouterBench table.

    Model columns are those with True/False or numeric values, other than index-like
    columns and `<model>_response` / `<model>|...` extras; `models` picks them explicitly.
    """
    records = read_records(path)
    if not records:
        return [], {}
    if "prompt" not in records[0]:
        raise ValueError(f"{path}: no 'prompt' column (has {sorted(records[0])})")
    skip = {"", "prompt", "sample_id", "eval_name", "oracle_model_to_route_to", "Unnamed: 0"}
    if models is None:
        models = [c for c in records[0] if c not in skip and "|" not in c and not c.endswith("_response")]
    else:  # the columns of these models, however the file spells them
        wanted = {canonical_model(m): m for m in models}
        found = {canonical_model(c): c for c in records[0] if c not in skip and "|" not in c}
        missing = [m for k, m in wanted.items() if k not in found]
        if missing:
            raise ValueError(f"{path}: no column for model(s) {missing}; columns: {sorted(records[0])}")
        models = [found[k] for k in wanted]
    prompts = _prompts(records)
    scores = {}
    for m in models:
        if m not in records[0]:
            raise ValueError(f"{path}: no column {m!r}")
        scores[canonical_model(m)] = np.array(
            [_as_score(r[m], f"{path}: column {m!r}, row {i}") for i, r in enumerate(records)]
        )
    return prompts, scores


def read_llmrouter(path: "str | Path") -> tuple[list[str], dict[str, np.ndarray]]:
    """(prompts, {model: scores}) from LLMRouter records: `question` and `scores` (dict or dict string)."""
    records = read_records(path)
    prompts, rows = [], []
    for i, r in enumerate(records):
        s = r.get("scores")
        if isinstance(s, str):
            try:
                s = ast.literal_eval(s)  # a Python dict literal: parsed, never executed
            except (ValueError, SyntaxError):
                raise ValueError(f"{path}: record {i} has unreadable scores {s[:60]!r}") from None
        if not isinstance(s, dict) or "question" not in r:
            raise ValueError(f"{path}: record {i} needs 'question' and a 'scores' dict")
        prompts.append(r["question"])
        rows.append({canonical_model(k): float(v) for k, v in s.items()})
    models = sorted({m for row in rows for m in row})
    return prompts, {m: np.array([row.get(m, np.nan) for row in rows]) for m in models}


def read_mmlu_dir(path: "str | Path") -> tuple[list[str], dict[str, np.ndarray], list[str]]:
    """All `mmlu_*.csv` files of RouteLLM's responses directory: (prompts, scores, subject per prompt)."""
    files = sorted(Path(path).glob("mmlu_*.csv"))
    if not files:
        raise FileNotFoundError(f"{path}: no mmlu_*.csv files")
    prompts, subjects, parts = [], [], []
    for f in files:
        p, s = read_correctness_csv(f)
        prompts.extend(p)
        subjects.extend([f.stem[len("mmlu_") :]] * len(p))
        parts.append(s)
    models = list(parts[0])
    for f, s in zip(files, parts):
        if list(s) != models:
            raise ValueError(f"{f}: model columns {list(s)} differ from {models}")
    return prompts, {m: np.concatenate([s[m] for s in parts]) for m in models}, subjects


def read_correctness_with_costs(
    path: "str | Path", models: "Sequence[str] | None" = None
) -> tuple[list[str], dict[str, np.ndarray], dict[str, np.ndarray], list[str]]:
    """(prompts, {canonical model: scores}, {canonical model: per-prompt cost}, eval_name per prompt)
    from a RouterBench wide table: a model is a column with a `<model>|total_cost` column beside it
    (cost in USD for that prompt); `models` picks them explicitly. eval_name is "" when absent."""
    records = read_records(path)
    if not records:
        return [], {}, {}, []
    head = records[0]
    if "prompt" not in head:
        raise ValueError(f"{path}: no 'prompt' column (has {sorted(head)})")
    priced = [c for c in head if "|" not in c and f"{c}|total_cost" in head]
    if models is not None:
        found = {canonical_model(c): c for c in priced}
        missing = [m for m in models if canonical_model(m) not in found]
        if missing:
            raise ValueError(f"{path}: no correctness and total_cost columns for model(s) {missing}")
        priced = [found[canonical_model(m)] for m in models]
    if not priced:
        raise ValueError(f"{path}: no '<model>|total_cost' columns: not a RouterBench table")
    scores, costs = {}, {}
    for m in priced:
        name = canonical_model(m)
        scores[name] = np.array([_as_score(r[m], f"{path}: column {m!r}, row {i}") for i, r in enumerate(records)])
        col = f"{m}|total_cost"
        costs[name] = np.array([_as_score(r[col], f"{path}: column {col!r}, row {i}") for i, r in enumerate(records)])
    groups = [str(r.get("eval_name") or "") for r in records]
    return _prompts(records), scores, costs, groups
