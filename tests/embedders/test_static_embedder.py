"""The default static embedder: shape, truncation, kernels, and fidelity to model2vec's pooling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastroute.embedders import get_embedder, spec_for
from fastroute.embedders.static import MODEL_DIR, StaticEmbedder
from fastroute.errors import BundleError


@pytest.fixture(scope="module")
def emb():
    return get_embedder("static")


def test_protocol(emb):
    cfg = json.loads((MODEL_DIR / "config.json").read_text())
    assert (emb.name, emb.dim, emb.max_tokens, emb.fingerprint) == ("static", cfg["dim"], 512, cfg["fingerprint"])
    E = emb.encode(["Prove that there are infinitely many primes.", "hi"])
    assert E.shape == (2, emb.dim) and E.dtype == np.float32 and E.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    assert emb.encode([]).shape == (0, emb.dim)
    assert emb.encode("single").shape == (1, emb.dim)
    assert spec_for("static").fingerprint == emb.fingerprint


def test_shipped_table_is_small_and_licensed():
    size = sum(p.stat().st_size for p in MODEL_DIR.iterdir())
    assert size <= 10 * 2**20
    assert "Apache License" in (MODEL_DIR / "NOTICE").read_text()


def test_empty_and_long_inputs(emb):
    E = emb.encode(["", "   ", "word " * 100_000])
    assert np.all(E[0] == 0) and np.all(E[1] == 0)
    assert np.linalg.norm(E[2]) == pytest.approx(1.0, abs=1e-5)  # truncated, not rejected
    ids, offsets = emb.token_ids(["word " * 100_000])
    assert offsets[1] == emb.max_tokens


def test_batch_equals_single(emb):
    texts = [f"question {i}: " + "why " * (i % 13) for i in range(50)]
    batch = emb.encode(texts)
    single = np.stack([emb.encode([t])[0] for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-6)


def test_kernel_matches_numpy_pooling(emb):
    """The fused embedding-bag equals a plain mean of scaled rows, then L2 normalisation."""
    texts = ["The quick brown fox", "Écrivez un poème sur la mer 🌊", "def f(x): return x ** 2"]
    ids, offsets = emb.token_ids(texts)
    table = emb._table.astype(np.float64) * emb._scales[:, None]
    for b in range(len(texts)):
        v = table[ids[offsets[b] : offsets[b + 1]]].mean(0)
        np.testing.assert_allclose(emb.encode([texts[b]])[0], v / np.linalg.norm(v), atol=1e-6)
    numpy_emb = StaticEmbedder(backend="numpy")
    np.testing.assert_allclose(numpy_emb.encode(texts), emb.encode(texts), atol=1e-6)


def test_unknown_tokens_dropped(emb):
    ids, _ = emb.token_ids(["x" * 300])  # one 300-char word: the WordPiece [UNK]
    assert ids.size == 0


def test_semantics(emb):
    a, b, c = emb.encode(["How do I sort a list in Python?", "Sorting a Python list", "Best pizza in Naples"])
    assert a @ b > a @ c + 0.1


def test_missing_files(tmp_path):
    with pytest.raises(BundleError, match="config.json"):
        StaticEmbedder(tmp_path)


def test_unknown_embedder():
    with pytest.raises(ValueError, match="unknown embedder 'nope'"):
        get_embedder("nope")
    with pytest.raises(ValueError, match="width 300.*produces width 256"):
        spec_for("static", 300)


@pytest.mark.parametrize(
    "bad, index, message",
    [
        (
            ["fine", "also fine", "\ud800"],
            2,
            r"prompt 2 is not valid Unicode text: '\\ud800' at character 0 is a lone "
            r"surrogate",
        ),
        (["ok \udcff tail"], 0, r"prompt 0 .* at character 3"),
        (["fine", None], 1, r"prompt 1 is NoneType, not str"),
        (["fine", b"bytes"], 1, r"prompt 1 is bytes, not str"),
    ],
)
def test_bad_prompts_are_named_before_tokenizing(emb, bad, index, message):
    from fastroute.errors import InvalidPromptError

    with pytest.raises(ValueError, match=message) as info:
        emb.encode(bad)
    assert isinstance(info.value, InvalidPromptError)
    with pytest.raises(ValueError, match=message):
        emb.token_ids(bad)


def test_batch_of_bytes_or_non_sequence(emb):
    with pytest.raises(ValueError, match="prompts must be str, got bytes"):
        emb.encode(b"hello")
    with pytest.raises(ValueError, match="prompts must be a str or a sequence of str, got int"):
        emb.encode(5)
    assert emb.encode("caf\u00e9 \U0001f600").shape == (1, emb.dim)  # non-ASCII, valid: fine


def test_precomputed_embedder_checks_prompts_too():
    from fastroute.embedders.precomputed import PrecomputedEmbedder

    pre = PrecomputedEmbedder(["a", "b"], np.eye(2, dtype=np.float32), name="x")
    with pytest.raises(ValueError, match="prompt 1 is not valid Unicode text"):
        pre.encode(["a", "\ud800"])
    np.testing.assert_array_equal(pre.encode("b"), [[0.0, 1.0]])
