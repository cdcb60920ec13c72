"""The C WordPiece for ASCII text gives the static embedder exactly the token ids Hugging Face
`tokenizers` gives: on every MMLU and MT Bench prompt, and on generated ASCII strings
(controls, punctuation, long words, the added tokens "[PAD]" / "[UNK]")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastroute.embedders.static import StaticEmbedder

pytest.importorskip("fastroute._C", reason="the C kernels are not built")


@pytest.fixture(scope="module")
def pair():
    fast, slow = StaticEmbedder(), StaticEmbedder(backend="numpy")  # numpy: tokenizers only
    assert fast._wordpiece is not None and slow._wordpiece is None
    return fast, slow


def _same(pair, texts):
    (a, ao), (b, bo) = pair[0].token_ids(texts), pair[1].token_ids(texts)
    np.testing.assert_array_equal(ao, bo)
    np.testing.assert_array_equal(a, b)


def test_real_prompts(pair, shared_data):
    from fastroute.eval.benchmarks import load_mmlu, load_mt_bench

    prompts = load_mmlu(shared_data / "routellm" / "mmlu", split="all").prompts
    mt = load_mt_bench(shared_data / "routellm" / "mt_bench")
    _same(pair, prompts + mt.prompts + list(mt.extra_prompts))


PIECES = st.sampled_from(
    ["a", "Z", "un", "##", "aff", "able", " ", "  ", "\t", "\n", "\r", "\x0b", "\x00", "\x7f", "\x1f", ".", ",", "'",
     "-", "[", "]", "[PAD]", "[UNK]", "pad", "3.14", "x" * 99, "y" * 101, "q" * 130, "é", "’", "\xa0"]
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=12).map("".join), min_size=1, max_size=8))
def test_generated_strings(pair, texts):
    _same(pair, texts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127), max_size=300), min_size=1, max_size=6))
def test_any_ascii(pair, texts):
    _same(pair, texts)


def test_embeddings_unchanged(pair):
    """Same ids, same C embedding bag: bit-identical embeddings with and without the fast path."""
    texts = ["Prove that there are infinitely many primes.", "hi", "Caf\u00e9 au lait?", "x" * 5000]
    plain = StaticEmbedder()
    plain._wordpiece = None
    np.testing.assert_array_equal(pair[0].encode(texts), plain.encode(texts))
