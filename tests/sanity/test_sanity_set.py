"""The shipped defaults on a sanity set written for the purpose (sanity_prompts.jsonl: 60 obviously
easy and 60 obviously hard everyday prompts, paired by domain and length; see README.md here).
A router that knows what needs a strong model gives hard prompts the higher win rate: AUC 1;
chance is 0.5. The floors are the shipped defaults' AUCs less 0.03, so a rebuild that ranks
these prompts worse fails; the set is never trained, tuned or chosen on."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fastroute import load_router

ROWS = [json.loads(line) for line in (Path(__file__).with_name("sanity_prompts.jsonl")).read_text().splitlines()]
PROMPTS = [r["prompt"] for r in ROWS]
HARD = np.array([r["difficulty"] == "hard" for r in ROWS])
# Measured on the shipped defaults (fastroute/defaults, Dec 2026): mf 0.224, sw_ranking 0.204,
# prompt length 0.511. Below chance: see the README's "The default routers".
FLOORS = {"mf": 0.19, "sw_ranking": 0.17}


def auc(scores: np.ndarray) -> float:
    """P(a hard prompt scores above an easy one), ties counting half."""
    h, e = np.asarray(scores, float)[HARD], np.asarray(scores, float)[~HARD]
    return float(((h[:, None] > e[None, :]).sum() + 0.5 * (h[:, None] == e[None, :]).sum()) / (h.size * e.size))


def test_the_set_is_what_it_says():
    assert len(ROWS) == 120 and HARD.sum() == 60 and len(set(PROMPTS)) == 120
    pairs: dict[int, list] = {}
    for r in ROWS:
        pairs.setdefault(r["pair"], []).append(r)
    for pair in pairs.values():
        easy, hard = sorted(pair, key=lambda r: r["difficulty"])
        assert (easy["difficulty"], hard["difficulty"]) == ("easy", "hard") and easy["domain"] == hard["domain"]
        a, b = len(easy["prompt"]), len(hard["prompt"])
        assert max(a, b) / min(a, b) <= 1.15  # length cannot tell them apart
    assert 0.4 < auc(np.array([len(p) for p in PROMPTS])) < 0.6


@pytest.mark.parametrize("kind", sorted(FLOORS))
def test_the_defaults_do_not_rank_these_worse(kind):
    value = auc(load_router(kind).win_rates(PROMPTS))
    print(f"{kind}: sanity-set AUC {value:.3f}")
    assert value >= FLOORS[kind]
