"""AlpacaEval annotation records (LLM-judge pairwise battles) as battles.

`preference` is 1 (generator_1 wins), 2 (generator_2 wins), 1.5 (tie), 0 or
missing (no valid judgment: dropped and counted). The `weighted_*` annotators
give a continuous 1 + P(generator_2 better), kept as the soft label
P(model_a wins) = 2 - preference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .aliases import canonical_model
from .battles import BattleTable
from .tables import read_records


def read_alpaca_eval(path: "str | Path", source: "str | None" = None) -> tuple[BattleTable, int]:
    """(battles, number of records without a valid judgment) from a .json/.jsonl(.gz) file."""
    records = read_records(path)
    src = source or f"alpaca_eval:{Path(path).name.split('.')[0]}"
    prompt, a, b, winner, soft = [], [], [], [], []
    dropped = 0
    for i, r in enumerate(records):
        try:
            pref = r.get("preference")
            instruction, g1, g2 = r["instruction"], r["generator_1"], r["generator_2"]
        except KeyError as exc:
            raise ValueError(f"{path}: record {i} lacks {exc}") from None
        if pref is None or not np.isfinite(float(pref)) or float(pref) == 0:
            dropped += 1
            continue
        pref = float(pref)
        if not 1.0 <= pref <= 2.0:
            raise ValueError(f"{path}: record {i} has preference {pref}, outside [1, 2]")
        prompt.append(instruction)
        a.append(canonical_model(g1))
        b.append(canonical_model(g2))
        winner.append("model_a" if pref < 1.5 else "model_b" if pref > 1.5 else "tie")
        soft.append(2.0 - pref if pref not in (1.0, 1.5, 2.0) else np.nan)
    return BattleTable(prompt, a, b, winner, np.array(soft, dtype=np.float64), [src] * len(prompt)), dropped
