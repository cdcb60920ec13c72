"""The static embedder per prompt and batched, and text -> decision end to end."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute import MFRouter
from fastroute.embedders import get_embedder, spec_for
from fastroute.routellm_models import ROUTELLM_MODELS

PROMPTS = [
    "Prove that there are infinitely many primes.",
    "hi",
    "Write a Python function that merges two sorted lists without using sort().",
    "What are the main causes of the French Revolution? Answer in three paragraphs.",
    "Translate 'the weather is lovely today' into German and Japanese.",
    "Summarise the plot of Hamlet for a ten-year-old.",
    "Explain the difference between TCP and UDP with examples of when to use each.",
    "Give me a recipe for vegan lasagna that takes under an hour.",
]


@pytest.fixture(scope="module")
def texts():
    rng = np.random.default_rng(0)
    return [
        PROMPTS[i % len(PROMPTS)] + f" (variant {i}, " + "detail " * int(rng.integers(0, 30)) + ")" for i in range(4096)
    ]


def test_static_embedder_single(benchmark):
    emb = get_embedder("static")
    benchmark.group = "static embedder"
    benchmark.extra_info.update(batch=1)
    benchmark(emb.encode, [PROMPTS[6]])


def test_static_embedder_batched(benchmark, texts):
    emb = get_embedder("static")
    benchmark.group = "static embedder"
    benchmark.extra_info.update(batch=len(texts))
    benchmark.pedantic(emb.encode, args=(texts,), rounds=5, warmup_rounds=1)


@pytest.fixture(scope="module")
def mf_static():
    rng = np.random.default_rng(0)
    return MFRouter(
        P=rng.standard_normal((64, 128)),
        classifier=rng.standard_normal(128),
        text_proj=rng.standard_normal((128, 256)) / 16,
        models=ROUTELLM_MODELS,
        embedder=spec_for("static"),
    )


def test_e2e_mf_single(benchmark, mf_static):
    benchmark.group = "text -> decision"
    benchmark.extra_info.update(router="mf", batch=1)
    benchmark(mf_static.route, [PROMPTS[0]], 0.5)


def test_e2e_mf_batched(benchmark, mf_static, texts):
    benchmark.group = "text -> decision"
    benchmark.extra_info.update(router="mf", batch=len(texts))
    benchmark.pedantic(mf_static.route, args=(texts, 0.5), rounds=5, warmup_rounds=1)


def test_e2e_sw_single(benchmark, sw_arena_static):
    router = sw_arena_static["router"]
    benchmark.group = "text -> decision"
    benchmark.extra_info.update(router="sw_ranking", batch=1, n=len(router.battles))
    benchmark.pedantic(router.route, args=([PROMPTS[0]], 0.5), rounds=15, warmup_rounds=2)
