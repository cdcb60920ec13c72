"""The C WordPiece gives the static embedder exactly the token ids Hugging Face `tokenizers`
gives: on every MMLU and MT Bench prompt, on generated strings (ASCII controls, punctuation,
long words, the added tokens "[PAD]" / "[UNK]"; accents, CJK, Hangul, emoji, combining marks,
Unicode whitespace, punctuation and controls, code points its table leaves to tokenizers) and
on any Unicode text. The C entry point refuses bad arguments, never truncates silently and
gives invalid UTF-8 back to tokenizers (this file runs under `make asan`)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastroute.embedders.static import StaticEmbedder
from fastroute.errors import InvalidPromptError

pytest.importorskip("fastroute._C", reason="the C kernels are not built")


@pytest.fixture(scope="module")
def pair():
    fast, slow = StaticEmbedder(), StaticEmbedder(backend="numpy")  # numpy: tokenizers only
    assert fast._wordpiece is not None and fast._wordpiece.unicode and slow._wordpiece is None
    return fast, slow


def _same(pair, texts, alone: int = 8):
    (a, ao), (b, bo) = pair[0].token_ids(texts), pair[1].token_ids(texts)
    np.testing.assert_array_equal(ao, bo)
    np.testing.assert_array_equal(a, b)
    for i, t in enumerate(texts[:alone]):  # one text at a time takes its own path (a server's request)
        np.testing.assert_array_equal(pair[0].token_ids([t])[0], a[ao[i] : ao[i + 1]])


def test_real_prompts(pair, shared_data):
    from fastroute.eval.pair.benchmarks import load_mmlu, load_mt_bench

    prompts = load_mmlu(shared_data / "routellm" / "mmlu", split="all").prompts
    mt = load_mt_bench(shared_data / "routellm" / "mt_bench")
    texts = prompts + mt.prompts + list(mt.extra_prompts)
    _same(pair, texts, alone=len(texts))
    _, counts, rest = pair[0]._wordpiece.encode(texts, pair[0].max_tokens)
    assert rest == [] and (counts >= 0).all()  # all of them in C, non-ASCII ones included


ASCII_PIECES = ["a", "Z", "un", "##", "aff", "able", " ", "  ", "\t", "\n", "\r", "\x0b", "\x00", "\x7f", "\x1f",
                ".", ",", "'", "-", "[", "]", "[PAD]", "[UNK]", "pad", "3.14", "x" * 99, "y" * 101, "q" * 130]  # fmt: skip
UNICODE_PIECES = [
    "é", "É", "e\u0301", "\u0301", "Ångström", "naïve", "façade", "Straße", "İstanbul", "ΣΊΣΥΦΟΣ", "Ω", "\u212a",
    "\u037e", "ﬁ", "ǅ", "Ⅻ", "①", "x₂", "µ", "½", "©", "€5", "£", "¿Qué?", "¡", "«»", "„“”", "‘’", "—", "…", "·",
    "中文", "日本語の", "カタカナ", "\uf900", "\U0002f800", "한국어", "\u1100\u1161", "ㄱ", "😀", "👍🏽", "👨\u200d👩",
    "\u200b", "\u00ad", "\ufeff", "\ufffd", "\u0085", "\xa0", "\u3000", "\u2028", "\u2003", "\u1680", "\x1c",
    "\ue000", "\U0002b820", "\u07fd", "\u2e55", "\U000e0001", "ǰ", "\u0345", "ᾳ", "ﬀ" * 60, "é" * 99, "ü" * 101,
    "中" * 40, "Дом", "ДОМ", "אבג", "مرحبا", "हिन्दी", "ไทย", "\u0f73", "\U0001d15e", "\U0001d165",
]  # fmt: skip
PIECES = st.sampled_from(ASCII_PIECES + UNICODE_PIECES)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(PIECES, max_size=12).map("".join), min_size=1, max_size=8))
def test_generated_strings(pair, texts):
    _same(pair, texts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(max_codepoint=127), max_size=300), min_size=1, max_size=6))
def test_any_ascii(pair, texts):
    _same(pair, texts)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=200), min_size=1, max_size=6))
def test_any_unicode(pair, texts):
    _same(pair, texts)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x3200), max_size=80), max_size=4))
def test_dense_non_ascii(pair, texts):
    _same(pair, texts)


def test_truncation_and_long_words(pair):
    long = " ".join(["word", "é", "中", "naïve", "😀"] * 300)  # past max_tokens, through every kind
    _same(pair, [long, "x" * 5000, "é" * 5000, "中" * 5000, "\u3000" * 100 + "a", ""])


def test_fallbacks_agree(pair):
    """Code points the table leaves to tokenizers, and added tokens, send their text there."""
    texts = ["plain", "a\U0002b820b", "x [PAD] y", "é [UNK]", "ok é"]
    _, counts, rest = pair[0]._wordpiece.encode(texts, pair[0].max_tokens)
    assert rest == [1, 2, 3] and (counts[[0, 4]] > 0).all()
    _same(pair, texts)


def test_without_the_table(pair, monkeypatch):
    """Another tokenizers version: the table is not trusted, non-ASCII text goes to tokenizers."""
    monkeypatch.setattr(pair[0]._wordpiece, "unicode", False)
    texts = ["plain", "café", "中文", "ok"]
    assert pair[0]._wordpiece.encode(texts, 512)[2] == [1, 2]
    _same(pair, texts)


def test_lone_surrogates(pair):
    """Refused by name on both paths; below the check, C leaves them to tokenizers."""
    for emb in pair:
        with pytest.raises(InvalidPromptError, match="lone surrogate"):
            emb.token_ids(["ok", "bad \ud800 text"])
    _, counts, rest = pair[0]._wordpiece.encode(["ok", "bad \ud800"], 512)
    assert rest == [1] and counts[0] == 1


def test_embeddings_unchanged(pair):
    """Same ids, same C embedding bag: bit-identical embeddings with and without the fast path."""
    texts = ["Prove that there are infinitely many primes.", "hi", "Caf\u00e9 au lait?", "x" * 5000, "中文 한국어"]
    plain = StaticEmbedder()
    plain._wordpiece = None
    np.testing.assert_array_equal(pair[0].encode(texts), plain.encode(texts))


def _c(wp, raws, cap=None, max_tokens=512, max_chars=None, offsets=None):
    from fastroute.ops.c_library import ffi, lib

    blob = b"".join(raws)
    if offsets is None:
        offsets = np.cumsum([0] + [len(r) for r in raws]).astype(np.int64)
    cap = len(blob) if cap is None else cap
    out, counts = np.zeros(max(cap, 1), np.int32), np.zeros(max(len(offsets) - 1, 1), np.int64)
    status = lib.fr_wp_encode_batch(
        wp._vocab, blob, ffi.cast("int64_t *", offsets.ctypes.data), len(offsets) - 1, wp.unk_id,
        wp.max_chars if max_chars is None else max_chars, max_tokens, -1, ffi.cast("int32_t *", out.ctypes.data),
        cap, ffi.cast("int64_t *", counts.ctypes.data),
    )  # fmt: skip
    return status, out, counts


def test_c_refuses_bad_arguments(pair):
    wp = pair[0]._wordpiece
    assert _c(wp, [b"ab", b"c"])[0] == 0
    assert _c(wp, [b"ab"], offsets=np.array([1, 2], np.int64))[0] == -1  # not from 0
    assert _c(wp, [b"ab", b"c"], offsets=np.array([0, 2, 1], np.int64))[0] == -1  # decreasing
    assert _c(wp, [b"ab"], max_chars=129)[0] == -1
    assert _c(wp, [b"ab"], max_tokens=-1)[0] == -1


def test_c_never_truncates_for_want_of_room(pair):
    wp = pair[0]._wordpiece
    status, out, counts = _c(wp, [b"one two three", b"four five six"], cap=5)
    assert status == 0 and counts[0] == 3 and counts[1] == -1  # the second did not fit: tokenizers'
    status, out, counts = _c(wp, [b"one two three"], cap=3, max_tokens=2)  # truncation proper: fine
    assert status == 0 and counts[0] == 2


@pytest.mark.parametrize(
    "raw",
    [b"\xff", b"a\x80b", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe4\xb8", b"\xc3"],
)
def test_c_gives_invalid_utf8_back(pair, raw):
    status, _, counts = _c(pair[0]._wordpiece, [b"ok", raw, "é".encode()])
    assert status == 0 and counts[0] == 1 and counts[1] == -1 and counts[2] == 1
