"""The C WordPiece's Unicode table (csrc/wordpiece_unicode.c) is what its generator writes from
this Python's `unicodedata`, checked against this `tokenizers`; its kinds are the C enum's; the
embedder uses it only with the tokenizers version it was checked against."""

from __future__ import annotations

import re
import sys
import unicodedata

import pytest

from paths import ROOT  # noqa: E402

sys.path.insert(0, str(ROOT / "scripts"))

import gen_wordpiece_unicode as gen  # noqa: E402

TABLE = (ROOT / "csrc" / "wordpiece_unicode.c").read_text()


def _checked_on() -> dict[str, str]:
    line = re.search(r'return "(unicodedata=\S+ tokenizers=\S+)";', TABLE)
    assert line, "the table names the versions it was checked on"
    return dict(kv.split("=") for kv in line.group(1).split())


def test_kinds_match_the_c_enum():
    header = (ROOT / "csrc" / "wordpiece_unicode.h").read_text()
    body = re.search(r"enum \{([^}]*)\}", header)
    assert body is not None
    names = [n.strip() for n in body.group(1).split(",") if n.strip()]
    assert names == [f"FR_WPU_{n}" for n in ("WORD", "WORD_MAP", "REMOVE", "SPACE", "ISOLATE", "ISOLATE_MAP",
                                              "HANGUL", "FALLBACK")]  # fmt: skip
    assert [getattr(gen, n[len("FR_WPU_") :]) for n in names] == list(range(len(names)))


def test_table_is_regenerated_exactly():
    tokenizers = pytest.importorskip("tokenizers")
    on = _checked_on()
    if on["unicodedata"] != unicodedata.unidata_version or on["tokenizers"] != tokenizers.__version__:
        pytest.skip(f"table checked on {on}; here unicodedata {unicodedata.unidata_version}, "
                    f"tokenizers {tokenizers.__version__}: rerun scripts/gen_wordpiece_unicode.py")  # fmt: skip
    assert gen.render() == TABLE, "csrc/wordpiece_unicode.c is stale: rerun scripts/gen_wordpiece_unicode.py"


def test_model_examples():
    """A few code points by hand: what BERT's uncased normaliser and pre-tokenizer do."""
    assert gen.model(ord("É")) == (gen.WORD_MAP, "e")
    assert gen.model(0x0301) == (gen.REMOVE, "")  # a combining accent
    assert gen.model(0x200B) == (gen.REMOVE, "")  # zero-width space: a format character
    assert gen.model(0x3000)[0] == gen.SPACE
    assert gen.model(ord("中")) == (gen.ISOLATE, "中")
    assert gen.model(0xF900) == (gen.ISOLATE_MAP, unicodedata.normalize("NFD", "\uf900"))
    assert gen.model(ord("—")) == (gen.ISOLATE, "—")
    assert gen.model(0x037E) == (gen.ISOLATE_MAP, ";")  # Greek question mark: NFD is ";"
    assert gen.model(ord("€")) == (gen.WORD, "€")  # a symbol, not punctuation: part of a word
    assert gen.model(ord("한"))[0] == gen.HANGUL


def test_embedder_uses_the_table_only_with_its_tokenizers(monkeypatch):
    pytest.importorskip("fastroute._C", reason="the C kernels are not built")
    import tokenizers

    from fastroute.embedders.wordpiece import unicode_table_applies
    from fastroute.ops.c_library import ffi, lib

    assert unicode_table_applies(lib, ffi) == (_checked_on()["tokenizers"] == tokenizers.__version__)
    monkeypatch.setattr(tokenizers, "__version__", "0.0.0")
    assert not unicode_table_applies(lib, ffi)
