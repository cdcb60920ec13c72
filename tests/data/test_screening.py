"""Grading-failure screening of golden-label tables: the binomial tail, the group rule,
and what it finds in RouteLLM's real MMLU responses."""

from __future__ import annotations

import math

import numpy as np
import pytest

from fastroute.data.screening import MMLU_CHANCE, below_chance_groups, binomial_cdf


@pytest.mark.parametrize("k,n,p", [(0, 5, 0.3), (2, 5, 0.3), (4, 5, 0.3), (10, 40, 0.25), (30, 40, 0.5)])
def test_binomial_cdf_matches_the_direct_sum(k, n, p):
    direct = sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))
    assert binomial_cdf(k, n, p) == pytest.approx(direct, rel=1e-12)


def test_binomial_cdf_large_n_and_edges():
    assert binomial_cdf(8, 270, 0.25) < 1e-20  # no overflow where math.comb * p**i would
    mode = math.exp(math.lgamma(10_001) - 2 * math.lgamma(5001) - 10_000 * math.log(2))  # P(X = 5000)
    assert binomial_cdf(5000, 10_000, 0.5) == pytest.approx(0.5 + 0.5 * mode, rel=1e-9)  # by symmetry
    assert binomial_cdf(-1, 10, 0.5) == 0.0 and binomial_cdf(10, 10, 0.5) == 1.0
    with pytest.raises(ValueError, match="p must be"):
        binomial_cdf(1, 2, 1.0)


def test_only_groups_far_below_chance_are_flagged():
    groups = ["g1"] * 200 + ["g2"] * 200
    strong = np.r_[np.zeros(190), np.ones(10), np.ones(150), np.zeros(50)]  # g1: 5% on a 25%-chance test
    weak = np.r_[np.r_[np.ones(40), np.zeros(160)], np.ones(200) * np.nan]  # g1: 20%, near chance; g2: missing
    found = below_chance_groups({"strong": strong, "weak": weak}, groups, 0.25)
    assert [(f.group, f.model, f.correct, f.total) for f in found] == [("g1", "strong", 10, 200)]
    assert "g1: strong correct on 10/200 (5.0%), below chance 25%" in found[0].describe()


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="chance must be"):
        below_chance_groups({"m": np.ones(3)}, ["a"] * 3, 1.5)
    with pytest.raises(ValueError, match="have 2 rows, groups 3"):
        below_chance_groups({"m": np.ones(2)}, ["a"] * 3, 0.25)
    with pytest.raises(ValueError, match="must be 0/1"):
        below_chance_groups({"m": np.array([0.5, 1, 0])}, ["a"] * 3, 0.25)


def test_routellm_mmlu_high_school_mathematics_is_a_grading_failure(shared_data):
    from fastroute.data.correctness import read_mmlu_dir

    _, scores, subjects = read_mmlu_dir(shared_data / "routellm" / "mmlu" / "responses")
    found = below_chance_groups(scores, subjects, MMLU_CHANCE)
    assert [(f.group, f.model, f.correct, f.total) for f in found] == [
        ("high_school_mathematics", "gpt-4-1106-preview", 8, 270)
    ]


def test_default_recipe_leaves_the_failed_subject_out(shared_data):
    from fastroute.data.correctness import read_mmlu_dir
    from fastroute.train.defaults import training_battles

    data = training_battles(shared_data)
    assert len(data.screened_out) == 1 and data.screened_out[0].startswith("high_school_mathematics")
    prompts, _, subjects = read_mmlu_dir(shared_data / "routellm" / "mmlu" / "responses")
    hs_math = {p for p, s in zip(prompts, subjects) if s == "high_school_mathematics"}
    mmlu = [p for p, s in zip(data.battles.prompt, data.battles.source) if s == "mmlu_golden_train_half"]
    assert len(mmlu) > 6000 and not hs_math.intersection(mmlu)


def test_mmlu_evaluation_keeps_the_subject_and_says_so(shared_data):
    from fastroute.eval.pair.benchmarks import load_mmlu

    es = load_mmlu(shared_data / "routellm" / "mmlu", split="all")
    assert len(es.prompts) > 14_000  # kept, as RouteLLM scores it
    assert any(n.startswith("suspect grading, kept: high_school_mathematics") for n in es.notes)
