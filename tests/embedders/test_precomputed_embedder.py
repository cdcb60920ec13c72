"""Precomputed embeddings served by prompt text, and checked against the router's embedder."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute import SWRankingRouter
from fastroute.embedders.precomputed import PrecomputedEmbedder
from fastroute.errors import EmbeddingMismatchError

from synthetic import synthetic_arena


def test_lookup_and_router_use():
    cols, emb, _ = synthetic_arena(seed=51)
    router = SWRankingRouter.from_battles(cols, emb, num_tiers=10, embedder="test-embedder")
    texts = ["alpha", "beta", "gamma"]
    E = np.random.default_rng(0).standard_normal((3, emb.shape[1]))
    pre = PrecomputedEmbedder(texts, E, name="test-embedder")
    router.use_embedder(pre)
    np.testing.assert_allclose(router.win_rates(["gamma", "alpha"]), router.win_rates(embeddings=E[[2, 0]]))
    with pytest.raises(KeyError, match="delta"):
        router.win_rates(["delta"])
    with pytest.raises(EmbeddingMismatchError, match="trained with embedder 'test-embedder'"):
        router.use_embedder(PrecomputedEmbedder(texts, E, name="other"))


def test_shape_checks():
    with pytest.raises(ValueError, match="2 texts"):
        PrecomputedEmbedder(["a", "b"], np.zeros((3, 4)), name="x")
    with pytest.raises(ValueError, match="floating"):
        PrecomputedEmbedder(["a"], np.zeros((1, 4), dtype=int), name="x")
