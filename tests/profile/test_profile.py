"""Routing profiles: N candidates with prices behind one router, quality as field win rates,
the two-candidate case equal to RouteLLM's threshold rule, calibration to a cost."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute import load_router
from fastroute.errors import UnknownModelError
from fastroute.profile import Candidate, RoutingProfile

PROMPTS = [
    "Prove that there are infinitely many primes.",
    "hi",
    "Write a haiku about autumn.",
    "Implement a red-black tree in C++ with deletion.",
    "What is the capital of France?",
    "Derive the Black-Scholes equation step by step.",
] * 5


@pytest.fixture(scope="module", params=["mf", "sw_ranking"])
def router(request):
    return load_router(request.param)


def test_strengths_agree_with_the_pair_win_rate(router):
    S = router.strengths(PROMPTS)
    assert S.shape == (len(PROMPTS), len(router.models)) and S.dtype == np.float64
    s, w = router.models.index(router.strong_model), router.models.index(router.weak_model)
    p = 1.0 / (1.0 + np.exp(-(S[:, s] - S[:, w])))
    # strengths are raw logits: a stored calibration is the pair's win rate's alone
    np.testing.assert_allclose(p, router.with_calibration(None).win_rates(PROMPTS), atol=1e-6)


def test_two_candidates_reduce_to_the_win_rate(router):
    prof = RoutingProfile(
        router,
        [
            Candidate("gpt-4o", 5, 15, scored_as=router.strong_model),
            Candidate("gpt-4o-mini", 0.15, 0.6, scored_as=router.weak_model),
        ],
    )
    q = prof.quality(PROMPTS)
    np.testing.assert_allclose(q[:, 0], router.with_calibration(None).win_rates(PROMPTS), atol=1e-6)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, atol=1e-12)
    picks = [d.model for d in prof.choose(PROMPTS)]  # lam = 0: the better predicted, RouteLLM at 1/2
    assert picks == np.where(q[:, 0] > 0.5, "gpt-4o", "gpt-4o-mini").tolist()


def test_n_candidates_costs_and_calibration(router):
    # five models of rising strength, priced to match: quality costs money
    mean = router.strengths(PROMPTS).mean(axis=0)
    order = np.argsort(mean)
    picks = [order[int(i)] for i in np.linspace(0, len(order) - 1, 5)]
    models = [router.models[i] for i in picks]
    cands = [Candidate(f"vendor/{m}", 0.5 * (i + 1), 2.0 * (i + 1), scored_as=m) for i, m in enumerate(models)]
    prof = RoutingProfile(router, cands, output_tokens=300)
    c = prof.expected_costs(PROMPTS)
    np.testing.assert_allclose(c[1, 0], (1 * 0.5 + 300 * 2.0) / 1e6)  # "hi": 1 token
    q = prof.quality(PROMPTS)
    assert q.shape == (len(PROMPTS), 5) and ((q > 0) & (q < 1)).all()
    best_cost = np.mean([d.cost for d in prof.choose(PROMPTS)])
    target = 0.6 * best_cost
    cheap = prof.calibrated(PROMPTS, target_cost=target)
    got = np.mean([d.cost for d in cheap.choose(PROMPTS)])
    assert cheap.value > 0 and got <= target
    share = prof.calibrated(PROMPTS, max_share=(cands[-1].name, 0.1))
    assert np.mean([d.model == cands[-1].name for d in share.choose(PROMPTS)]) <= 0.1


def test_bad_profiles_are_named(router):
    with pytest.raises(UnknownModelError, match="set scored_as"):
        RoutingProfile(router, [Candidate("gpt-4o"), Candidate("gpt-4o-mini")])
    with pytest.raises(ValueError, match="at least two"):
        RoutingProfile(router, [Candidate("x", scored_as=router.strong_model)])
    with pytest.raises(ValueError, match="input_price"):
        Candidate("x", -1.0)
    with pytest.raises(ValueError, match="repeat"):
        RoutingProfile(
            router, [Candidate("a", scored_as=router.strong_model), Candidate("a", scored_as=router.weak_model)]
        )
    with pytest.raises(TypeError, match="scores only its pair"):
        RoutingProfile(load_router("random"), [Candidate("a"), Candidate("b")])
