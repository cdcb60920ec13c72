"""Screens golden-label tables for grading failures before they become battles.

A model that answers a multiple-choice test honestly cannot score far below chance; a
table where it does records a broken grader or a truncated answer, not the model's
ability. RouteLLM's MMLU responses have one: gpt-4-1106-preview is graded correct on 8
of 270 `high_school_mathematics` questions (chance is 1 in 4), against Mixtral's 86.
Trained on, such a group teaches a router that the strong model is worse there than
the weak one, and the lesson spreads to every nearby prompt (math, in this case).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

DEFAULT_ALPHA = 1e-6  # one-sided binomial p-value below which a group is a grading failure
MMLU_CHANCE = 0.25  # MMLU questions have four answer choices


@dataclass(frozen=True)
class BelowChance:
    """One model scoring significantly below chance on one group of a correctness table."""

    group: str
    model: str
    correct: int
    total: int
    chance: float
    p_value: float

    def describe(self) -> str:
        return (
            f"{self.group}: {self.model} correct on {self.correct}/{self.total} "
            f"({self.correct / self.total:.1%}), below chance {self.chance:.0%} (p = {self.p_value:.1e})"
        )


def binomial_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed in log space (exact for any n)."""
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    logs = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p) + (n - i) * math.log1p(-p)
        for i in range(k + 1)
    ]
    top = max(logs)
    return min(1.0, math.exp(top) * math.fsum(math.exp(v - top) for v in logs))


def below_chance_groups(
    scores: dict[str, np.ndarray], groups: Sequence[str], chance: float, alpha: float = DEFAULT_ALPHA
) -> list[BelowChance]:
    """Every (group, model) whose count of correct answers (scores are 0/1, NaN = missing)
    is below `chance` with a one-sided binomial p-value under `alpha`, in group order."""
    if not 0.0 < chance < 1.0:
        raise ValueError(f"chance must be in (0, 1), got {chance}")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    labels = np.asarray(groups)
    columns = {model: np.asarray(v, float) for model, v in scores.items()}
    for model, v in columns.items():
        if len(v) != len(labels):
            raise ValueError(f"scores of {model!r} have {len(v)} rows, groups {len(labels)}")
    found = []
    for g in dict.fromkeys(labels.tolist()):
        rows = labels == g
        for model, v in columns.items():
            x = v[rows]
            x = x[~np.isnan(x)]
            if x.size == 0:
                continue
            if not np.isin(x, (0.0, 1.0)).all():
                raise ValueError(f"group {g!r}, model {model!r}: scores must be 0/1 to compare with chance")
            correct = int(x.sum())
            p = binomial_cdf(correct, int(x.size), chance)
            if p < alpha:
                found.append(BelowChance(str(g), model, correct, int(x.size), chance, p))
    return found
