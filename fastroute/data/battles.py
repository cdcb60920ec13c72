"""The one battles table every importer produces and every trainer reads.

Columns: prompt, model_a, model_b, winner (model_a | model_b | tie | tie (bothbad)),
soft_label (P(model_a wins) in [0, 1], NaN when the source has only a hard label)
and source (where the row came from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

WINNERS = ("model_a", "model_b", "tie", "tie (bothbad)")


@dataclass
class BattleTable:
    prompt: list[str]
    model_a: list[str]
    model_b: list[str]
    winner: list[str]
    soft_label: np.ndarray = field(default=None)  # type: ignore[arg-type]  # None: filled in by __post_init__
    source: list[str] = field(default=None)  # type: ignore[arg-type]  # None: filled in by __post_init__

    def __post_init__(self) -> None:
        n = len(self.prompt)
        if self.soft_label is None:
            self.soft_label = np.full(n, np.nan)
        self.soft_label = np.asarray(self.soft_label, dtype=np.float64)
        if self.source is None:
            self.source = [""] * n
        lengths = {len(self.model_a), len(self.model_b), len(self.winner), len(self.soft_label), len(self.source)}
        if lengths != {n}:
            raise ValueError(f"battle columns have different lengths: prompt {n}, others {sorted(lengths)}")
        bad = next((i for i, w in enumerate(self.winner) if w not in WINNERS), None)
        if bad is not None:
            raise ValueError(f"battle {bad}: winner {self.winner[bad]!r} is not one of {WINNERS}")
        soft = self.soft_label[~np.isnan(self.soft_label)]
        if soft.size and (soft.min() < 0 or soft.max() > 1):
            raise ValueError("soft labels must be probabilities in [0, 1]")

    def __len__(self) -> int:
        return len(self.prompt)

    def __getitem__(self, column: str) -> list:
        """Column access, so a table can go wherever a DataFrame of battles can."""
        if column not in ("prompt", "model_a", "model_b", "winner", "soft_label", "source"):
            raise KeyError(column)
        return getattr(self, column)

    @property
    def labels(self) -> np.ndarray:
        """P(model_a wins): the soft label where there is one, else 1 / 0 / 0.5 for a win / loss / tie."""
        hard = np.array([{"model_a": 1.0, "model_b": 0.0}.get(w, 0.5) for w in self.winner])
        return np.where(np.isnan(self.soft_label), hard, self.soft_label)

    def models(self) -> list[str]:
        return sorted(set(self.model_a) | set(self.model_b))

    def select(self, rows: "Sequence[int] | np.ndarray") -> "BattleTable":
        idx = np.flatnonzero(rows) if np.asarray(rows).dtype == bool else np.asarray(rows, dtype=np.int64)
        pick = lambda col: [col[i] for i in idx]  # noqa: E731
        return BattleTable(
            pick(self.prompt),
            pick(self.model_a),
            pick(self.model_b),
            pick(self.winner),
            self.soft_label[idx],
            pick(self.source),
        )

    @classmethod
    def concat(cls, tables: Iterable["BattleTable"]) -> "BattleTable":
        tables = list(tables)
        return cls(
            [p for t in tables for p in t.prompt],
            [m for t in tables for m in t.model_a],
            [m for t in tables for m in t.model_b],
            [w for t in tables for w in t.winner],
            np.concatenate([t.soft_label for t in tables]) if tables else np.zeros(0),
            [s for t in tables for s in t.source],
        )

    def to_jsonl(self, path: "str | Path") -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for i in range(len(self)):
                row: dict[str, Any] = {
                    "prompt": self.prompt[i],
                    "model_a": self.model_a[i],
                    "model_b": self.model_b[i],
                    "winner": self.winner[i],
                    "source": self.source[i],
                }
                if not np.isnan(self.soft_label[i]):
                    row["soft_label"] = float(self.soft_label[i])
                fh.write(json.dumps(row) + "\n")

    @classmethod
    def from_records(cls, records: Sequence[dict], where: str = "battles") -> "BattleTable":
        needed = ("prompt", "model_a", "model_b", "winner")
        for i, r in enumerate(records):
            missing = [k for k in needed if k not in r]
            if missing:
                raise ValueError(f"{where}: row {i} lacks {missing}")
        return cls(
            [r["prompt"] for r in records],
            [r["model_a"] for r in records],
            [r["model_b"] for r in records],
            [r["winner"] for r in records],
            np.array([np.nan if r.get("soft_label") is None else float(r["soft_label"]) for r in records]),
            [r.get("source", "") for r in records],
        )
