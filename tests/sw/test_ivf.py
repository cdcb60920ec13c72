"""Approximate (IVF) sw_ranking: exact when every cluster is probed, close otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute import SWRankingRouter, load_router

from synthetic import synthetic_arena


@pytest.fixture(scope="module")
def arena():
    cols, emb, _ = synthetic_arena(seed=21, n_battles=3000, n_prompts=1500, dim=32)
    return cols, emb


def _router(arena, **kw):
    cols, emb = arena
    return SWRankingRouter.from_battles(cols, emb, num_tiers=10, embedder="test-embedder", **kw)


def test_probing_every_cluster_is_exact(arena, backend):
    exact = _router(arena, backend=backend)
    ivf = exact.with_ivf(nlist=20, nprobe=20, seed=1)
    Q = np.random.default_rng(0).standard_normal((12, 32))
    np.testing.assert_allclose(ivf.win_rates(embeddings=Q), exact.win_rates(embeddings=Q), atol=1e-6)
    # The reordered arena gives the same exact answers.
    np.testing.assert_allclose(ivf.exact().win_rates(embeddings=Q), exact.win_rates(embeddings=Q), atol=1e-6)


def test_error_shrinks_with_nprobe(arena):
    exact = _router(arena)
    cols, emb = arena
    rng = np.random.default_rng(1)
    Q = emb[rng.choice(len(emb), 64, replace=False)] + 0.3 * rng.standard_normal((64, 32))
    p = exact.win_rates(embeddings=Q)
    errors = []
    for nprobe in (1, 4, 16, 40):
        approx = exact.with_ivf(nlist=40, nprobe=nprobe, seed=2)
        errors.append(np.abs(approx.win_rates(embeddings=Q) - p).mean())
    assert errors[-1] < 1e-6
    assert errors[0] >= errors[1] >= errors[2] >= errors[3]
    assert errors[0] < 0.05


def test_ivf_bundle_round_trip(arena, tmp_path):
    r = _router(arena).with_ivf(nlist=16, nprobe=3)
    r.save(tmp_path / "ivf")
    back = load_router(tmp_path / "ivf")
    assert back.nprobe == 3 and back.ivf.nlist == 16
    Q = np.random.default_rng(2).standard_normal((5, 32))
    np.testing.assert_allclose(back.win_rates(embeddings=Q), r.win_rates(embeddings=Q), atol=1e-7)
