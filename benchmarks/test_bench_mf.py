"""mf: decisions/s given embeddings, against RouteLLM's one-prompt-at-a-time torch forward."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute import MFRouter
from fastroute.embedders.base import EmbedderSpec
from fastroute.routellm_models import DEFAULT_STRONG, DEFAULT_WEAK, ROUTELLM_MODELS

from routellm_baseline import MFBaseline


@pytest.fixture(scope="module", params=[1536, 256], ids=["d1536", "d256"])
def mf(request):
    d = request.param
    rng = np.random.default_rng(0)
    P = rng.standard_normal((64, 128)).astype(np.float32)
    W = (rng.standard_normal((128, d)) / np.sqrt(d)).astype(np.float32)
    w = rng.standard_normal(128).astype(np.float32)
    spec = EmbedderSpec("openai:text-embedding-3-small", 1536) if d == 1536 else EmbedderSpec("static", 256)
    router = MFRouter(P=P, classifier=w, text_proj=W, models=ROUTELLM_MODELS, embedder=spec)
    E = rng.standard_normal((4096, d)).astype(np.float32)
    return {"d": d, "router": router, "E": E, "P": P, "W": W, "w": w}


@pytest.mark.parametrize("batch", [1, 4096])
def test_mf_decisions(benchmark, mf, batch):
    E = mf["E"][:batch]
    benchmark.group = f"mf, d={mf['d']}"
    benchmark.extra_info.update(batch=batch)
    benchmark(mf["router"].win_rates, embeddings=E)


def test_routellm_mf_per_prompt(benchmark, mf):
    pytest.importorskip("torch")
    base = MFBaseline(
        mf["P"], mf["W"], mf["w"], ROUTELLM_MODELS.index(DEFAULT_STRONG), ROUTELLM_MODELS.index(DEFAULT_WEAK)
    )
    E = mf["E"][:256]
    benchmark.group = f"mf, d={mf['d']}"
    benchmark.extra_info.update(batch=256, baseline="RouteLLM (per-prompt torch forward)")
    res = benchmark.pedantic(lambda: [base.win_rate(e) for e in E], rounds=5, warmup_rounds=1)
    np.testing.assert_allclose(res, mf["router"].win_rates(embeddings=E), atol=1e-5)
