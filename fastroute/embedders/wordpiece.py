"""BERT's uncased WordPiece for ASCII text in C (csrc/wordpiece.c): the static embedder's
tokenizer, token for token as Hugging Face `tokenizers` does it, 10x faster per core on
ASCII prompts (no Unicode normalisation to do). Text with any non-ASCII byte goes to
`tokenizers`. Used only when the tokenizer file is exactly the pipeline the C code
implements (BertNormalizer lowercasing, BertPreTokenizer, WordPiece with "##"), and the C
kernels are built; otherwise None, and `tokenizers` does everything."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


class AsciiWordPiece:
    def __init__(
        self, lib: Any, ffi: Any, vocab: dict[str, int], unk_id: int, max_chars: int, added: tuple[str, ...] = ()
    ) -> None:
        items = sorted(vocab.items(), key=lambda kv: kv[1])
        raw = [k.encode("utf-8") for k, _ in items]
        start = np.zeros(len(raw) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in raw], out=start[1:])
        ids = np.array([v for _, v in items], dtype=np.int32)
        handle = lib.fr_wp_new(
            b"".join(raw), ffi.cast("int64_t *", start.ctypes.data), ffi.cast("int32_t *", ids.ctypes.data), len(raw)
        )
        if handle == ffi.NULL:
            raise MemoryError("could not build the WordPiece vocabulary")
        self._lib, self._ffi = lib, ffi
        self._vocab = ffi.gc(handle, lib.fr_wp_free)
        self.unk_id, self.max_chars, self.added = int(unk_id), int(max_chars), added

    def encode(self, texts: list[str], max_tokens: int) -> tuple[list[np.ndarray | None], list[int]]:
        """(ids per text, None where the text is not ASCII or holds an added token such as
        "[PAD]"; the indices of those texts, for tokenizers)."""
        out: list[np.ndarray | None] = []
        rest: list[int] = []
        buf = np.empty(max_tokens, dtype=np.int32)
        ptr = self._ffi.cast("int32_t *", buf.ctypes.data)
        enc = self._lib.fr_wp_encode
        for i, t in enumerate(texts):
            if not t.isascii() or any(a in t for a in self.added):
                out.append(None)
                rest.append(i)
                continue
            b = t.encode("ascii")
            n = enc(self._vocab, b, len(b), self.unk_id, self.max_chars, ptr, max_tokens)
            if n < 0:  # cannot happen for ASCII text; be safe: let tokenizers do it
                out.append(None)
                rest.append(i)
            else:
                out.append(buf[:n].copy())
        return out, rest


def ascii_wordpiece(tokenizer_json: Path) -> "AsciiWordPiece | None":
    """The fast path for this tokenizer file, or None when it does not apply."""
    try:
        from ..ops.c_library import ffi, lib
    except Exception:  # noqa: BLE001 - the C kernels are not built: tokenizers does everything
        return None
    if not hasattr(lib, "fr_wp_encode"):
        return None
    doc = json.loads(Path(tokenizer_json).read_text())
    norm, pre, model = doc.get("normalizer") or {}, doc.get("pre_tokenizer") or {}, doc.get("model") or {}
    if not (
        norm.get("type") == "BertNormalizer"
        and norm.get("lowercase") is True
        and norm.get("clean_text") is True
        and pre.get("type") == "BertPreTokenizer"
        and model.get("type") == "WordPiece"
        and model.get("continuing_subword_prefix") == "##"
        and doc.get("post_processor") is None
    ):
        return None
    vocab = model["vocab"]
    unk = vocab.get(model.get("unk_token", "[UNK]"))
    max_chars = int(model.get("max_input_chars_per_word", 100))
    if unk is None or max_chars > 128:  # the C code holds a word of up to 128 characters
        return None
    # tokenizers matches added tokens (e.g. "[PAD]") in the raw text first: such text goes to it.
    added = tuple(t["content"] for t in doc.get("added_tokens", []) if t.get("content"))
    return AsciiWordPiece(lib, ffi, vocab, int(unk), max_chars, added)
