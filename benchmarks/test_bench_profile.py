"""Routing-profile decisions/s (M = 2, 5, 11, 64 candidates) beside the
two-model path, on the same router and embeddings in one run: mf (a small GEMM, then the
field win rates and the policy) and the shipped sw_ranking default (the per-tier fit is
the same; the profile part adds the strengths' gather, the field win rates and the policy)."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute import MFRouter, load_router
from fastroute.embedders.base import EmbedderSpec
from fastroute.profile import Candidate, RoutingProfile

M_VALUES = (2, 5, 11, 64)
PROMPTS = [f"prompt {i}: " + "words " * (i % 40) for i in range(256)]


def _mf():
    rng = np.random.default_rng(0)
    models = [f"model-{i:02d}" for i in range(64)]
    P = rng.standard_normal((64, 128)).astype(np.float32)
    W = (rng.standard_normal((128, 256)) / 16).astype(np.float32)
    w = rng.standard_normal(128).astype(np.float32)
    return MFRouter(
        P=P,
        classifier=w,
        text_proj=W,
        models=models,
        strong_model=models[0],
        weak_model=models[1],
        embedder=EmbedderSpec("static", 256),
    )


@pytest.fixture(scope="module", params=["mf", "sw_ranking"])
def router(request):
    return _mf() if request.param == "mf" else load_router("sw_ranking")


def _profile(router, m):
    names = router.models[:m]
    cands = [Candidate(f"cand-{i}", 0.1 * (i + 1), 0.3 * (i + 1), scored_as=n) for i, n in enumerate(names)]
    return RoutingProfile(router, cands, value=200.0)


@pytest.mark.parametrize("batch", [1, 256])
def test_two_model_decisions(benchmark, router, batch):
    E = np.random.default_rng(1).standard_normal((batch, router.embedder_spec.dim)).astype(np.float32)
    benchmark.group = f"{router.kind} decisions, batch {batch}"
    benchmark.extra_info.update(batch=batch, path="two-model win rate + threshold")
    benchmark(lambda: router.decide(router.win_rates(embeddings=E), 0.5))


@pytest.mark.parametrize("m", M_VALUES)
@pytest.mark.parametrize("batch", [1, 256])
def test_n_model_decisions(benchmark, router, m, batch):
    E = np.random.default_rng(1).standard_normal((batch, router.embedder_spec.dim)).astype(np.float32)
    prof = _profile(router, m)
    texts = PROMPTS[:batch]
    benchmark.group = f"{router.kind} decisions, batch {batch}"
    benchmark.extra_info.update(batch=batch, candidates=m)
    out = benchmark(prof.choose, texts, embeddings=E)
    assert len(out) == batch
