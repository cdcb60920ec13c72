"""Synthetic data at RouteLLM's scale, built once per session.

RouteLLM's sw_ranking arena: ~165,000 battles with text-embedding-3-small
(d=1536) prompt embeddings; here every battle has its own prompt (the worst
case: nothing shared) and 64 models with topic-dependent skills.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

N_BATTLES = int(os.environ.get("FASTROUTE_BENCH_N", 165_000))
N_MODELS = 64
STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"


def synthetic_battles(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    models = [f"model-{i:02d}" for i in range(N_MODELS)]
    models[3], models[40] = STRONG, WEAK
    skill = rng.normal(0, 1, N_MODELS)
    skill[3], skill[40] = 2.0, 0.0
    topics = rng.standard_normal((32, d)).astype(np.float32)
    topic_of = rng.integers(0, 32, n)
    E = topics[topic_of] + 0.8 * rng.standard_normal((n, d), dtype=np.float32)
    topical = rng.normal(0, 0.7, (N_MODELS, 32))
    a = rng.integers(0, N_MODELS, n)
    b = (a + rng.integers(1, N_MODELS, n)) % N_MODELS
    logit = skill[a] - skill[b] + topical[a, topic_of] - topical[b, topic_of]
    u = rng.random(n)
    winner = np.where(
        u < 0.1,
        "tie",
        np.where(u < 0.15, "tie (bothbad)", np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "model_a", "model_b")),
    )
    cols = {"model_a": [models[i] for i in a], "model_b": [models[i] for i in b], "winner": winner.tolist()}
    return cols, E


_arenas: dict = {}


def arena(d: int) -> dict:
    """The synthetic arena of width d and its exact router (d=256 uses the static embedder)."""
    if d not in _arenas:
        from fastroute import SWRankingRouter

        cols, E = synthetic_battles(N_BATTLES, d)
        router = SWRankingRouter.from_battles(cols, E, embedder="bench" if d != 256 else "static", num_tiers=10)
        _arenas[d] = {"d": d, "cols": cols, "E": E, "router": router}
    return _arenas[d]


@pytest.fixture(scope="session", params=[1536, 256], ids=["d1536", "d256"])
def sw_arena(request):
    return arena(request.param)


@pytest.fixture(scope="session")
def sw_arena_static():
    return arena(256)


@pytest.fixture(scope="session")
def queries():
    rng = np.random.default_rng(1)
    return {d: rng.standard_normal((4096, d)).astype(np.float32) for d in (256, 1536)}
