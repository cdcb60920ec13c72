"""Text -> decision on RouteLLM's MMLU prompts (14,037, 466 characters on average; ~13% hold
non-ASCII text) with the shipped default mf router, stage by stage in one run: Hugging Face
`tokenizers` alone, fastroute's tokenization (C WordPiece), the static embedding from text and
the embedding bag alone, routing from precomputed embeddings, and the whole text -> decision.

Each benchmark records `prompts_per_s` (from its median) in extra_info. Skipped when the shared
data (../shared/data beside the checkout) is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MMLU = SHARED_DATA / "routellm" / "mmlu"
GROUP = "text -> decision, MMLU"

pytestmark = pytest.mark.skipif(not MMLU.is_dir(), reason=f"shared data not found at {MMLU}")


@pytest.fixture(scope="module")
def prompts() -> list[str]:
    from fastroute.eval.pair.benchmarks import load_mmlu

    return load_mmlu(MMLU, split="all").prompts


@pytest.fixture(scope="module")
def mf():
    import fastroute

    router = fastroute.load_router("mf")
    router.route(["warm up"], 0.5)
    return router


def _run(benchmark, fn, prompts, stage: str, rounds: int = 5) -> None:
    benchmark.group = GROUP
    benchmark.extra_info.update(stage=stage, prompts=len(prompts))
    benchmark.pedantic(fn, rounds=rounds, warmup_rounds=1)
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["prompts_per_s"] = round(len(prompts) / benchmark.stats.stats.median)


def test_hf_tokenizers_encode_batch(benchmark, mf, prompts):
    tok = mf.embedder._tokenizer
    _run(benchmark, lambda: tok.encode_batch(prompts, add_special_tokens=False), prompts, "tokenizers encode_batch")


def test_hf_tokenizers_encode_batch_fast(benchmark, mf, prompts):
    tok = mf.embedder._tokenizer
    fast = getattr(tok, "encode_batch_fast", None)
    if fast is None:
        pytest.skip("tokenizers < 0.21 has no encode_batch_fast")
    _run(benchmark, lambda: fast(prompts, add_special_tokens=False), prompts, "tokenizers encode_batch_fast")


def test_fastroute_tokenize(benchmark, mf, prompts):
    emb = mf.embedder
    _run(benchmark, lambda: emb.token_ids(prompts), prompts, "fastroute token ids")


def test_embedding_bag_alone(benchmark, mf, prompts):
    emb = mf.embedder
    ids, offsets = emb.token_ids(prompts)
    bag = emb._kernels().embedding_bag_i8
    _run(benchmark, lambda: bag(emb._table, emb._scales, ids, offsets), prompts, "embedding bag from token ids")


def test_embed_text(benchmark, mf, prompts):
    emb = mf.embedder
    _run(benchmark, lambda: emb.encode(prompts), prompts, "static embedding from text")


def test_routing_only(benchmark, mf, prompts):
    E = mf.embedder.encode(prompts)
    _run(benchmark, lambda: mf.win_rates(embeddings=E), prompts, "mf win rates from embeddings", rounds=20)


def test_text_to_decision(benchmark, mf, prompts):
    decisions = mf.route(prompts, 0.5)
    assert len(decisions) == len(prompts)
    _run(benchmark, lambda: mf.route(prompts, 0.5), prompts, "text -> decision (default mf)")
