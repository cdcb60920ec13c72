"""MT Bench: questions and GPT-4 single-answer judgments (RouteLLM's evaluation files),
and the judgments as battles (on each question and turn, the higher score wins)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

from .aliases import canonical_model
from .battles import BattleTable
from .tables import read_records


def read_questions(path: "str | Path") -> list[dict]:
    rows = read_records(path)
    for i, r in enumerate(rows):
        if "question_id" not in r or not isinstance(r.get("turns"), list) or not r["turns"]:
            raise ValueError(f"{path}: question {i} needs question_id and a list of turns")
    return rows


def read_judgments(path: "str | Path") -> dict[tuple[int, str, int], float]:
    """{(question_id, canonical model, turn): score}."""
    out = {}
    for i, r in enumerate(read_records(path)):
        try:
            out[(int(r["question_id"]), canonical_model(r["model"]), int(r["turn"]))] = float(r["score"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: judgment {i} is malformed ({exc})") from None
    return out


def judgment_battles(
    questions: list[dict], judgments: dict[tuple[int, str, int], float], source: str = "mt_bench"
) -> BattleTable:
    """Battles between every pair of judged models, per question and turn (the turn's user prompt)."""
    text = {int(q["question_id"]): q["turns"] for q in questions}
    by_qt: dict[tuple[int, int], dict[str, float]] = {}
    for (qid, model, turn), score in judgments.items():
        by_qt.setdefault((qid, turn), {})[model] = score
    p, a, b, w = [], [], [], []
    for (qid, turn), scores in sorted(by_qt.items()):
        if qid not in text or turn > len(text[qid]):
            continue
        for ma, mb in itertools.combinations(sorted(scores), 2):
            sa, sb = scores[ma], scores[mb]
            p.append(text[qid][turn - 1])
            a.append(ma)
            b.append(mb)
            w.append("model_a" if sa > sb else "model_b" if sb > sa else "tie")
    return BattleTable(p, a, b, w, np.full(len(p), np.nan), [source] * len(p))
