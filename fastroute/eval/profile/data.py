"""Routing-profile evaluation sets: prompts, a quality matrix [P, M], a cost matrix [P, M], the
model names and a group per prompt (RouterBench's eval_name, used to stratify folds).

RouterBench wide tables give per-prompt costs (`<model>|total_cost`, USD); data without
costs (LLMRouter's correctness records) take a per-model price per prompt from the caller,
broadcast to every prompt. Prompts with a missing quality or cost for any model are left
out (and counted in `notes`), so every model is compared on the same prompts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from ...data.aliases import canonical_model
from ...data.correctness import read_correctness_with_costs, read_llmrouter

DEFAULT_ROUTERBENCH = "../shared/data/routerbench"
DEFAULT_LLMROUTER = "../shared/data/llmrouter/dcrouter_train.json"


@dataclass
class ProfileEvalSet:
    name: str
    prompts: list[str]
    quality: np.ndarray  # float64 [P, M], e.g. 0/1 correctness
    cost: np.ndarray  # float64 [P, M], cost of answering prompt p with model m
    models: list[str]
    groups: list[str]  # [P] stratum per prompt (eval_name)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        p, m = len(self.prompts), len(self.models)
        self.quality = np.asarray(self.quality, dtype=np.float64)
        self.cost = np.asarray(self.cost, dtype=np.float64)
        if self.quality.shape != (p, m) or self.cost.shape != (p, m):
            raise ValueError(
                f"{self.name}: quality {self.quality.shape} and cost {self.cost.shape} must both be [{p}, {m}]"
            )
        if len(self.groups) != p:
            raise ValueError(f"{self.name}: {len(self.groups)} groups for {p} prompts")
        if len(set(self.models)) != m or m < 2:
            raise ValueError(f"{self.name}: need at least two distinct models, got {self.models}")

    def subset(self, index: "np.ndarray | Sequence[int]") -> "ProfileEvalSet":
        idx = np.asarray(index, dtype=np.int64)
        return ProfileEvalSet(
            self.name,
            [self.prompts[i] for i in idx],
            self.quality[idx],
            self.cost[idx],
            list(self.models),
            [self.groups[i] for i in idx],
            list(self.notes),
        )


def from_arrays(
    name: str,
    prompts: Sequence[str],
    quality: "Mapping[str, np.ndarray]",
    cost: "Mapping[str, np.ndarray] | Mapping[str, float]",
    groups: "Sequence[str] | None" = None,
) -> ProfileEvalSet:
    """An evaluation set from per-model columns; `cost` maps a model to its per-prompt costs
    or to one price per prompt. Rows with a missing value are dropped (noted)."""
    models = list(quality)
    missing = [m for m in models if m not in cost]
    if missing:
        raise ValueError(f"{name}: no cost for model(s) {missing}; costs given for {sorted(cost)}")
    n = len(prompts)
    q = np.column_stack([np.asarray(quality[m], dtype=np.float64) for m in models])
    c = np.column_stack([np.broadcast_to(np.asarray(cost[m], dtype=np.float64), (n,)) for m in models])
    if np.any(c[np.isfinite(c)] < 0):
        raise ValueError(f"{name}: negative costs")
    ok = np.isfinite(q).all(axis=1) & np.isfinite(c).all(axis=1)
    notes = []
    if not ok.all():
        notes.append(f"{int((~ok).sum())} prompts with a missing quality or cost left out")
    keep = np.flatnonzero(ok)
    g = list(groups) if groups is not None else [name] * n
    return ProfileEvalSet(
        name, [prompts[int(i)] for i in keep], q[keep], c[keep], models, [g[int(i)] for i in keep], notes
    )


def _table_files(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in (".csv", ".json", ".jsonl", ".parquet"))
        if not files:
            raise FileNotFoundError(f"{path}: no RouterBench tables (.csv, .json, .jsonl, .parquet)")
        return files
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or directory")
    return [path]


def load_routerbench(path: "str | Path" = DEFAULT_ROUTERBENCH, models: "Sequence[str] | None" = None) -> ProfileEvalSet:
    """Every RouterBench wide table in a directory (or one file), with per-prompt costs.
    Files must agree on the models (the first file's, or `models`)."""
    prompts: list[str] = []
    groups: list[str] = []
    qual: dict[str, list[np.ndarray]] = {}
    costs: dict[str, list[np.ndarray]] = {}
    for f in _table_files(Path(path)):
        p, s, c, g = read_correctness_with_costs(f, models)
        if not p:
            continue
        if qual and list(s) != list(qual):
            raise ValueError(f"{f}: models {list(s)} differ from {list(qual)}")
        prompts += p
        groups += [x or f.stem for x in g]
        for m in s:
            qual.setdefault(m, []).append(s[m])
            costs.setdefault(m, []).append(c[m])
    if not prompts:
        raise ValueError(f"{path}: no prompts")
    return from_arrays(
        "routerbench",
        prompts,
        {m: np.concatenate(v) for m, v in qual.items()},
        {m: np.concatenate(v) for m, v in costs.items()},
        groups,
    )


def load_llmrouter(
    path: "str | Path" = DEFAULT_LLMROUTER, prices: "Mapping[str, float] | None" = None
) -> ProfileEvalSet:
    """LLMRouter correctness records (no costs): `prices` maps each model to its cost per prompt."""
    prompts, scores = read_llmrouter(path)
    if not prices:
        raise ValueError(f"{path} has no costs: give a price per prompt for each of its models ({', '.join(scores)})")
    canon = {canonical_model(k): float(v) for k, v in prices.items()}
    return from_arrays("llmrouter", prompts, scores, canon)


def parse_prices(text: str) -> dict[str, float]:
    """`model=price,model=price` (or a JSON object file's path) as {canonical model: price}."""
    import json

    if "=" not in text:  # a file
        p = Path(text)
        if not p.is_file():
            raise ValueError(f"prices {text!r}: neither model=price pairs nor a JSON file")
        raw = json.loads(p.read_text())
        if not isinstance(raw, dict):
            raise ValueError(f"{p}: expected a JSON object model -> price")
        return {canonical_model(k): float(v) for k, v in raw.items()}
    out = {}
    for part in filter(None, (s.strip() for s in text.split(","))):
        model, sep, price = part.rpartition("=")
        if not sep or not model:
            raise ValueError(f"price {part!r} is not model=price")
        out[canonical_model(model)] = float(price)
    return out
