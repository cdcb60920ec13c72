"""Chatbot Arena human-preference battles (`lmsys/lmsys-arena-human-preference-55k`
schema) and RouteLLM's preprocessing of them for sw_ranking."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .tables import columns, read_records

ARENA_COLUMNS = ["model_a", "model_b", "prompt", "winner_model_a", "winner_model_b", "winner_tie"]
MIN_FIRST_TURN_CHARS = 16


def _flag(v: Any) -> bool:
    return v in (1, True, "1", "1.0", "True", "true") or (isinstance(v, float) and v == 1.0)


def preprocess_arena(battles: Any) -> dict[str, list]:
    """RouteLLM's preprocess_battles: first turn of `prompt` (a JSON list of turns),
    stripped; winner from the one-hot columns (model_a, model_b, else tie); battles
    whose first turn is shorter than 16 characters dropped.

    `battles` is a path (csv/json/jsonl/parquet), a DataFrame, a mapping of columns
    or a list of records. Returns columns model_a, model_b, winner, first_turn.
    """
    if isinstance(battles, (str, Path)):
        cols = columns(read_records(battles), ARENA_COLUMNS, str(battles))
    elif isinstance(battles, list):
        cols = columns(battles, ARENA_COLUMNS, "arena battles")
    else:
        try:
            cols = {n: list(battles[n]) for n in ARENA_COLUMNS}
        except KeyError as exc:
            raise ValueError(f"arena battles lack column {exc}") from None
    out: dict[str, list] = {"model_a": [], "model_b": [], "winner": [], "first_turn": []}
    for i, raw in enumerate(cols["prompt"]):
        try:
            turns = json.loads(raw) if isinstance(raw, str) else raw
            first = turns[0].strip()
        except (json.JSONDecodeError, TypeError, IndexError, AttributeError):
            raise ValueError(f"arena battle {i}: prompt {str(raw)[:60]!r} is not a JSON list of turns") from None
        if len(first) < MIN_FIRST_TURN_CHARS:
            continue
        if _flag(cols["winner_model_a"][i]):
            winner = "model_a"
        elif _flag(cols["winner_model_b"][i]):
            winner = "model_b"
        else:
            winner = "tie"
        out["model_a"].append(cols["model_a"][i])
        out["model_b"].append(cols["model_b"][i])
        out["winner"].append(winner)
        out["first_turn"].append(first)
    return out
