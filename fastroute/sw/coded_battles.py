"""Battles coded for the sw_ranking math: integer model ids, outcome codes, and an index
into the unique prompts (data.battles.BattleTable holds the same battles as text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .bradley_terry import WINNER_CODES


@dataclass(frozen=True)
class CodedBattles:
    """N battles: model_a/model_b index `models`; outcome 0 = model_a won, 1 = model_b won,
    2 = tie (either RouteLLM tie label); prompt indexes the unique prompt embeddings;
    label (optional) is a soft P(model_a wins), NaN where only the outcome is known."""

    models: tuple[str, ...]
    model_a: np.ndarray
    model_b: np.ndarray
    outcome: np.ndarray
    prompt: np.ndarray
    label: "np.ndarray | None" = None

    def labels(self) -> np.ndarray:
        """P(model_a wins) per battle: the soft label where given, else 1, 0 or 1/2."""
        hard = np.where(self.outcome == 0, 1.0, np.where(self.outcome == 1, 0.0, 0.5))
        if self.label is None:
            return hard
        return np.where(np.isnan(self.label), hard, self.label)

    def __len__(self) -> int:
        return int(self.model_a.size)


def get_columns(table: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """Columns of a DataFrame, a mapping of sequences, or a list of records."""
    if (
        isinstance(table, Sequence)
        and not isinstance(table, (str, bytes))
        and (len(table) == 0 or isinstance(table[0], Mapping))
    ):
        missing = [n for n in names if table and n not in table[0]]
        if missing:
            raise ValueError(f"battle records lack column(s) {missing}")
        return {n: np.asarray([row[n] for row in table], dtype=object) for n in names}
    out = {}
    for n in names:
        try:
            col = table[n]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"battles lack column {n!r}") from None
        out[n] = np.asarray(list(col) if not isinstance(col, np.ndarray) else col, dtype=object)
    return out


def encode_battles(
    model_a: "Sequence[str] | np.ndarray", model_b: "Sequence[str] | np.ndarray", winner: "Sequence[str] | np.ndarray"
) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray]:
    """(models in first-appearance order of model_a then model_b, a ids, b ids, outcome codes).

    RouteLLM silently counts any unrecognised winner as a model_b win; here it is an error.
    """
    a = np.asarray(model_a, dtype=object)
    b = np.asarray(model_b, dtype=object)
    w = np.asarray(winner, dtype=object)
    if not (a.shape == b.shape == w.shape) or a.ndim != 1:
        raise ValueError(
            f"model_a, model_b and winner must be equal-length columns, got {a.shape}, {b.shape}, {w.shape}"
        )
    for name, col in (("model_a", a), ("model_b", b)):
        bad = [i for i, v in enumerate(col.tolist()) if not isinstance(v, str) or not v]
        if bad:
            raise ValueError(f"{name} of battle {bad[0]} is {col[bad[0]]!r}, not a model name")
    codes = np.empty(w.size, dtype=np.int8)
    for i, v in enumerate(w.tolist()):
        c = WINNER_CODES.get(v) if isinstance(v, str) else None
        if c is None:
            raise ValueError(f"winner of battle {i} is {v!r}; expected one of {sorted(WINNER_CODES)}")
        codes[i] = c
    both = np.concatenate([a, b])
    uniq, first = np.unique(both.astype(str), return_index=True)
    models = tuple(uniq[np.argsort(first, kind="stable")].tolist())
    index = {m: i for i, m in enumerate(models)}
    a_id = np.fromiter((index[x] for x in a.tolist()), dtype=np.int32, count=a.size)
    b_id = np.fromiter((index[x] for x in b.tolist()), dtype=np.int32, count=b.size)
    return models, a_id, b_id, codes


def dedupe_rows(E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the first occurrence of each distinct row, row -> distinct-row id)."""
    E = np.ascontiguousarray(E)
    view = E.view(np.dtype((np.void, E.dtype.itemsize * E.shape[1]))).ravel()
    _, first, inverse = np.unique(view, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # keep first-appearance order
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return first[order], rank[inverse.ravel()].astype(np.int32)
