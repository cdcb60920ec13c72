"""The API every router shares: inputs, thresholds, threads."""

from __future__ import annotations

import concurrent.futures as cf

import numpy as np
import pytest

from fastroute import RandomRouter, SWRankingRouter
from fastroute.errors import EmbeddingMismatchError

from synthetic import STRONG, WEAK, synthetic_arena


@pytest.fixture(scope="module")
def router():
    cols, emb, _ = synthetic_arena(seed=31)
    return SWRankingRouter.from_battles(cols, emb, num_tiers=10, embedder="test-embedder")


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan"), "x", None])
def test_threshold_outside_unit_interval(router, bad):
    with pytest.raises(ValueError, match="threshold"):
        router.route(embeddings=np.zeros((1, 24)), threshold=bad)


def test_route_rule_is_greater_or_equal(router):
    E = np.random.default_rng(0).standard_normal((8, 24))
    p = router.win_rates(embeddings=E)
    assert router.route(embeddings=E, threshold=float(p[3]))[3] == STRONG
    assert router.route(embeddings=E, threshold=float(np.nextafter(p[3], 2)))[3] == WEAK
    assert router.decide(p, 0.0) == [STRONG] * 8


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_decide_compares_in_the_win_rates_own_precision_whatever_the_shape(router, dtype):
    """p >= t as numpy compares them (a float threshold takes the array's dtype), for a vector
    as for a matrix: a float32 0.1 is not below the threshold float64(float32(0.1))."""
    p = np.array([0.1, 0.5, 0.9, np.nan], dtype=dtype)
    for t in (float(np.float32(0.1)), 0.1, 0.5, float(np.nextafter(0.5, 1.0))):
        expected = np.where(p >= t, router.strong_target, router.weak_target).tolist()
        assert router.decide(p, t) == expected
        assert router.decide(p[None, :], t) == [expected]


def test_inputs(router):
    with pytest.raises(TypeError, match="exactly one"):
        router.win_rates()
    with pytest.raises(TypeError, match="exactly one"):
        router.win_rates(["a"], embeddings=np.zeros((1, 24)))
    one = router.win_rates(embeddings=np.ones(24))
    assert one.shape == (1,) and one.dtype == np.float64
    assert router.win_rates(embeddings=np.zeros((0, 24))).shape == (0,)
    with pytest.raises(EmbeddingMismatchError, match=r"\[batch, dim\]"):
        router.win_rates(embeddings=np.zeros((1, 2, 24)))
    with pytest.raises(TypeError, match="prompt 1 is int"):
        RandomRouter().win_rates(["ok", 3])


def test_thread_safe_and_deterministic(router):
    rng = np.random.default_rng(1)
    batches = [rng.standard_normal((int(n), 24)) for n in rng.integers(1, 30, 40)]
    expected = [router.win_rates(embeddings=b) for b in batches]
    with cf.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda b: router.win_rates(embeddings=b), batches))
    for e, g in zip(expected, got):
        np.testing.assert_array_equal(e, g)


def test_random_router_seeded():
    a, b = RandomRouter(seed=7), RandomRouter(seed=7)
    np.testing.assert_array_equal(a.win_rates(["x"] * 5), b.win_rates(["x"] * 5))
    p = RandomRouter(seed=1).win_rates(["x"] * 20000)
    assert 0.49 < p.mean() < 0.51 and p.min() >= 0 and p.max() < 1
    assert RandomRouter(seed=7).win_rates(embeddings=np.zeros((3, 5))).shape == (3,)
