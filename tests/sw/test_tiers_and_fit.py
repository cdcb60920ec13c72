"""compute_tiers and the Bradley-Terry Newton fit against their references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastroute.ops import reference_bt
from fastroute.ops.constants import BT_RIDGE
from fastroute.ops.reference_bt import bt_fit
from fastroute.sw import bradley_terry as bt
from fastroute.sw.tiers import compute_tiers

import routellm_reference as ref
from generated import random_counts


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(800, 1300, allow_nan=False), min_size=3, max_size=14, unique=True), st.integers(1, 6))
def test_compute_tiers_matches_routellm(ratings, m):
    names = [f"m{i}" for i in range(len(ratings))]
    if len(ratings) < m:
        with pytest.raises(ValueError, match="needs at least"):
            compute_tiers(names, np.array(ratings), m)
        return
    assert compute_tiers(names, np.array(ratings), m) == ref.compute_tiers(dict(zip(names, ratings)), m)


def test_compute_tiers_quirk_empty_tiers():
    """An outlier at the top lets RouteLLM's DP leave tier ids unused; reproduce it."""
    r = {"top": 2000.0, **{f"m{i}": 1000.0 + i for i in range(6)}}
    ours = compute_tiers(list(r), np.array(list(r.values())), 5)
    assert ours == ref.compute_tiers(r, 5)


@pytest.mark.parametrize("pinned", [True, False])
def test_fit_is_the_stationary_point(pinned):
    rng = np.random.default_rng(0)
    T = 7
    S = np.stack([random_counts(rng, T, pinned) for _ in range(5)])
    beta = bt_fit(S, T)
    # Numerical gradient of the log-likelihood vanishes at the optimum.
    C, Dp, Dm = reference_bt.split_counts(S, T)
    for i in range(5):
        lam = BT_RIDGE * S[i : i + 1].sum(1)
        f = lambda b: reference_bt.bt_objective(b[None], C[i : i + 1], Dp[i : i + 1], Dm[i : i + 1], lam)[0]  # noqa: E731, B023 - used in this iteration
        g = np.array([(f(beta[i] + 1e-6 * e) - f(beta[i] - 1e-6 * e)) / 2e-6 for e in np.eye(T)])
        assert np.abs(g).max() < 1e-4 * max(1, np.abs(S[i]).max())
    if not pinned:
        np.testing.assert_allclose(beta.sum(1), 0, atol=1e-9)  # sklearn's lbfgs keeps sum(b) = 0


def test_one_sided_pins_do_not_pin():
    """Same-player rows of only one outcome leave the level free (sklearn would drift)."""
    rng = np.random.default_rng(1)
    S = random_counts(rng, 5, pinned=False)
    S_one = S.copy()
    S_one[25:30] = 3.0  # Dp only
    np.testing.assert_allclose(bt_fit(S_one[None], 5), bt_fit(S[None], 5), atol=1e-9)


def test_group_that_always_wins_is_rejected():
    T = 4
    C = np.zeros((T, T))
    C[0, 1] = C[1, 0] = 3  # players 0,1 compare both ways
    C[2, 3] = C[3, 2] = 3
    C[0, 2] = C[1, 3] = 5  # group {0,1} always beats group {2,3}
    S = np.concatenate([C.ravel(), np.zeros(2 * T)])
    with pytest.raises(ValueError, match="always beats"):
        bt.check_finite_fit(S, T, ["a", "b", "c", "d"], "model")


def test_weighted_fit_matches_sklearn():
    rng = np.random.default_rng(2)
    n = 300
    a = rng.integers(0, 6, n)
    b = (a + rng.integers(1, 6, n)) % 6
    b[:15] = a[:15]  # same-player rows
    winner = rng.choice(["model_a", "model_b", "tie", "tie (bothbad)"], n, p=[0.4, 0.4, 0.1, 0.1])
    w = rng.uniform(10, 100, n)
    o = np.array([bt.WINNER_CODES[x] for x in winner])
    A = bt.stat_matrix(a, b, o, np.arange(n), 6, n)
    beta = bt_fit((A.to_dense() @ w)[None], 6)[0]
    theirs = ref.elo_mle_with_tie([int(x) for x in a], [int(x) for x in b], list(winner), sample_weight=w, anchor=False)
    np.testing.assert_allclose(bt.ratings(beta), [theirs[i] for i in range(6)], atol=1e-3)


def test_negligible_tier_weight_stays_well_posed():
    """Sharp weights can leave a tier with ~1e-30 of the weight: the fit must not break."""
    rng = np.random.default_rng(3)
    S = random_counts(rng, 6, pinned=True)
    unscaled = S.copy()
    C = S[:36].reshape(6, 6)
    C[5, :] *= 1e-32
    C[:, 5] *= 1e-32
    S[:36] = C.ravel()
    S[36 + 5] *= 1e-32
    S[42 + 5] *= 1e-32
    beta = bt_fit(S[None], 6)[0]
    assert np.isfinite(beta).all() and abs(beta[5]) < 5
    # Tier 5 then barely matters: the other tiers fit as if it were not there at all.
    mentions_5 = [5 * 6 + j for j in range(6)] + [i * 6 + 5 for i in range(5)] + [36 + 5, 42 + 5]
    without = np.delete(S, mentions_5)
    assert without.size == bt.n_stats(5)
    without_5 = bt_fit(without[None], 5)[0]
    np.testing.assert_allclose(beta[:5], without_5, rtol=1e-7, atol=1e-9)
    # ... which is a real check: with its full weight, tier 5 moves the others.
    assert np.abs(bt_fit(unscaled[None], 6)[0][:5] - without_5).max() > 1e-3


@pytest.mark.parametrize("pinned", [True, False])
@pytest.mark.parametrize("T", [1, 2, 7, 23])
def test_backends_solve_the_same_fit(backend, pinned, T):
    from fastroute.ops import get_backend

    rng = np.random.default_rng(T)
    S = np.stack([random_counts(rng, T, pinned) for _ in range(9)]) if T > 1 else np.array([[0.0, 3.0, 2.0]])
    np.testing.assert_allclose(get_backend(backend).bt_fit(S, T), bt_fit(S, T), atol=1e-9)
