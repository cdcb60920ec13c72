"""sw_ranking's default number of tiers works on the data given: RouteLLM's 10 when the
battles have at least 10 models, one tier per model when they have fewer (two-model battles,
say); a number given explicitly is used as given."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute import SWRankingRouter
from fastroute.embedders import EmbedderSpec

from synthetic import STRONG, WEAK, synthetic_arena


def _spec(dim: int) -> EmbedderSpec:
    return EmbedderSpec("precomputed", dim, "synthetic")


@pytest.mark.parametrize("n_models, expected", [(14, 10), (4, 4)])
def test_default_tiers_follow_the_models(n_models, expected):
    cols, E, _ = synthetic_arena(n_models=n_models)
    router = SWRankingRouter.from_battles(cols, E, embedder=_spec(E.shape[1]))
    assert router.num_tiers == expected


def test_two_model_battles_train_with_the_defaults_and_an_explicit_ten_is_refused():
    rng = np.random.default_rng(0)
    n = 300
    cols = {
        "model_a": [STRONG] * n,
        "model_b": [WEAK] * n,
        "winner": rng.choice(["model_a", "model_b", "tie"], n, p=[0.6, 0.3, 0.1]).tolist(),
    }
    E = rng.standard_normal((n, 16))
    router = SWRankingRouter.from_battles(cols, E, embedder=_spec(16))
    assert router.num_tiers == 2
    p = router.win_rates(embeddings=E[:5])
    assert p.shape == (5,) and np.isfinite(p).all()
    with pytest.raises(ValueError, match="num_tiers=10 needs at least 10 models"):
        SWRankingRouter.from_battles(cols, E, embedder=_spec(16), num_tiers=10)
