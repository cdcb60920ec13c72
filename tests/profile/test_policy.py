"""The N-model policies: what each picks, RouteLLM's rule as the two-model case, and the
calibration of lam / the margin to a target cost or share."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastroute.profile import policy as P

Q = np.array([[0.9, 0.8, 0.2], [0.5, 0.5, 0.5], [0.1, 0.3, 0.35]])
C = np.array([10.0, 2.0, 1.0])


def test_max_value_extremes_and_ties():
    assert P.max_value(Q, C, 0.0).tolist() == [0, 2, 2]  # best; ties to the cheapest
    assert P.max_value(Q, C, np.inf).tolist() == [2, 2, 2]  # cheapest everywhere
    assert P.max_value(Q, C, 0.05).tolist() == [1, 2, 2]  # 0.9 - 0.5 < 0.8 - 0.1


def test_two_candidates_are_routellms_threshold_rule():
    rng = np.random.default_rng(0)
    p = rng.random(2000)
    q = np.stack([p, 1 - p], axis=1)
    cost = np.array([3.0, 1.0])
    for lam in (0.0, 0.01, 0.1, 0.2):
        strong = P.max_value(q, cost, lam) == 0
        threshold = 0.5 + lam * (cost[0] - cost[1]) / 2
        np.testing.assert_array_equal(strong, p > threshold)


def test_within_margin_and_under_budget():
    assert P.within_margin(Q, C, 0.0).tolist() == [0, 2, 2]
    assert P.within_margin(Q, C, 0.15).tolist() == [1, 2, 2]
    assert P.within_margin(Q, C, 1.0).tolist() == [2, 2, 2]
    assert P.under_budget(Q, C, 2.0).tolist() == [1, 2, 2]
    assert P.under_budget(Q, C, 0.5).tolist() == [2, 2, 2]  # nothing affordable: the cheapest
    per_prompt = np.array([[10.0, 2.0, 1.0], [1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    assert P.under_budget(Q, per_prompt, 2.0).tolist() == [1, 0, 2]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="quality must be"):
        P.max_value(np.ones(3), C, 0.0)
    with pytest.raises(ValueError, match="cost must be"):
        P.max_value(Q, np.ones(4), 0.0)
    with pytest.raises(ValueError, match="finite"):
        P.max_value(np.where(Q > 0.8, np.nan, Q), C, 0.0)
    with pytest.raises(ValueError, match="cost >= 0"):
        P.max_value(Q, -C, 0.0)
    with pytest.raises(ValueError, match="lambda"):
        P.max_value(Q, C, -1.0)
    with pytest.raises(ValueError, match="unknown policy"):
        P.choose("cheapest", Q, C, 0.0)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), m=st.integers(2, 8))
def test_cost_falls_as_lambda_grows(seed, m):
    rng = np.random.default_rng(seed)
    q, c = rng.random((50, m)), rng.random(m)
    lams = [0.0, *np.geomspace(1e-3, 1e3, 25), np.inf]
    costs = [c[P.max_value(q, c, lam)] for lam in lams]
    for a, b in zip(costs, costs[1:]):
        assert (b <= a + 1e-15).all()  # per prompt, never a dearer model for a larger lam


@pytest.mark.parametrize("policy", ["max_value", "within_margin"])
def test_calibrate_meets_a_target_cost(policy):
    rng = np.random.default_rng(1)
    q, c = rng.random((3000, 5)), np.array([0.5, 1.0, 2.0, 5.0, 10.0]) * 1e-3
    best_everywhere = c[q.argmax(axis=1)].mean()
    for target in (1e-3, 2e-3, 3e-3):
        assert target < best_everywhere
        v = P.calibrate(policy, q, c, target_cost=target)
        got = c[P.choose(policy, q, c, v)].mean()
        assert got <= target and got > 0.95 * target, (target, got)
    assert P.calibrate(policy, q, c, target_cost=1.0) == 0.0  # the best everywhere already fits
    with pytest.raises(ValueError, match="cannot be met"):
        P.calibrate(policy, q, c, target_cost=1e-4)


def test_calibrate_a_share():
    rng = np.random.default_rng(2)
    q, c = rng.random((2000, 3)), np.array([1.0, 2.0, 9.0])
    lam = P.calibrate("max_value", q, c, max_share=(2, 0.2))
    share = np.mean(P.max_value(q, c, lam) == 2)
    assert 0.19 <= share <= 0.2
    with pytest.raises(ValueError, match="exactly one"):
        P.calibrate("max_value", q, c)
    with pytest.raises(ValueError, match="max_share"):
        P.calibrate("max_value", q, c, max_share=(3, 0.2))


def test_field_win_rates():
    rng = np.random.default_rng(3)
    s = rng.standard_normal((20, 7)) * 3
    sig = 1 / (1 + np.exp(-(s[:, :, None] - s[:, None, :])))
    want = (sig.sum(axis=2) - 0.5) / 6
    np.testing.assert_allclose(P.field_win_rates(s), want, atol=1e-6)
    np.testing.assert_allclose(
        P.field_win_rates(np.array([[2.0, -1.0]])), [[1 / (1 + np.exp(-3)), 1 / (1 + np.exp(3))]], atol=1e-7
    )
    assert np.isfinite(P.field_win_rates(np.array([[1e6, -1e6, 0.0]]))).all()
    with pytest.raises(ValueError, match="candidates >= 2"):
        P.field_win_rates(np.ones((3, 1)))


def test_calibrate_with_extreme_costs_returns_a_value_that_meets_the_target():
    q, c = np.array([[0.1, 0.9, 0.5]]), np.array([1.0, 1e-70, 0.0])
    lam = P.calibrate("max_value", q, c, max_share=(1, 0.0))
    assert np.mean(P.max_value(q, c, lam) == 1) == 0.0
    lam = P.calibrate("max_value", q, c, target_cost=0.0)
    assert c[P.max_value(q, c, lam)].mean() == 0.0
    with pytest.raises(ValueError, match="no prompts"):
        P.calibrate("max_value", np.zeros((0, 3)), c, target_cost=0.5)
