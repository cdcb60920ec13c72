"""BERT's uncased WordPiece in C (csrc/wordpiece.c): the static embedder's tokenizer, token for
token as Hugging Face `tokenizers` does it, several times faster per core and without the
per-text Python objects. Non-ASCII text goes through a per-code-point table generated from
`unicodedata` and checked against `tokenizers` (csrc/wordpiece_unicode.c); a text with a code
point where the two disagree, or with an added token ("[PAD]"), is left to `tokenizers`.

Used only when the tokenizer file is exactly the pipeline the C code implements (BertNormalizer
lowercasing, BertPreTokenizer, WordPiece with "##") and the C kernels are built; otherwise None,
and `tokenizers` does everything. The non-ASCII table is used only with the `tokenizers`
version it was checked against (another version: ASCII texts only), so ids never differ."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CHUNK = 512  # texts per C call: the output buffer stays small (max_tokens ids per text at most)


class WordPiece:
    def __init__(
        self,
        lib: Any,
        ffi: Any,
        vocab: dict[str, int],
        unk_id: int,
        max_chars: int,
        added: tuple[str, ...] = (),
        unicode: bool = True,
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
        self.unk_id, self.max_chars, self.added, self.unicode = int(unk_id), int(max_chars), added, unicode
        self._added_raw = tuple(a.encode("utf-8") for a in added)

    def encode(self, texts: list[str], max_tokens: int, drop: int = -1) -> tuple[np.ndarray, np.ndarray, list[int]]:
        """(ids of all texts one after another, without `drop`; ids per text, -1 where C left
        the text to tokenizers; the indices of those texts)."""
        if len(texts) == 1:  # one prompt, a server's usual request: no batch bookkeeping
            ids, counts = self._chunk(texts, max_tokens, drop)
            return ids, counts, [0] if counts[0] < 0 else []
        parts: list[np.ndarray] = []
        counts = np.empty(len(texts), dtype=np.int64)
        for lo in range(0, len(texts), CHUNK):
            ids, counts[lo : lo + CHUNK] = self._chunk(texts[lo : lo + CHUNK], max_tokens, drop)
            parts.append(ids)
        ids = np.concatenate(parts) if parts else np.zeros(0, np.int32)
        return ids, counts, np.flatnonzero(counts < 0).tolist()

    def _chunk(self, texts: list[str], max_tokens: int, drop: int) -> tuple[np.ndarray, np.ndarray]:
        blob, offsets, skip = self._joined(texts)
        # At most one token per byte (the table's generator checks it), max_tokens per text; one
        # more slot than bytes, so that a text whose every byte is a token is not taken for one
        # that ran out of room (C hands those to tokenizers).
        if len(texts) == 1:
            cap = min(len(blob) + 1, max_tokens)
        else:
            cap = int(np.minimum(np.diff(offsets) + 1, max_tokens).sum())
        out = np.empty(max(cap, 1), dtype=np.int32)
        counts = np.empty(len(texts), dtype=np.int64)
        f = self._ffi
        status = self._lib.fr_wp_encode_batch(
            self._vocab, blob, f.from_buffer("int64_t[]", offsets), len(texts), self.unk_id, self.max_chars,
            max_tokens, drop, f.from_buffer("int32_t[]", out), cap, f.from_buffer("int64_t[]", counts),
        )  # fmt: skip
        if status != 0:
            raise RuntimeError(f"fr_wp_encode_batch failed with status {status}")
        counts[skip] = -1  # empty to C (no ids written): tokenizers does them
        if len(texts) == 1:
            return out[: max(int(counts[0]), 0)], counts
        return out[: int(np.maximum(counts, 0).sum())], counts

    def _joined(self, texts: list[str]) -> tuple[bytes, np.ndarray, list[int]]:
        """(the texts as one UTF-8 buffer, their byte offsets, the texts left empty for tokenizers).
        One join and one encode for the batch; text by text only when some text needs it."""
        if len(texts) == 1 and texts[0].isascii() and not any(a in texts[0] for a in self.added):
            blob = texts[0].encode("ascii")
            return blob, np.array([0, len(blob)], dtype=np.int64), []
        joined = "".join(texts)
        try:
            blob = joined.encode("ascii" if joined.isascii() or not self.unicode else "utf-8")
        except UnicodeEncodeError:  # not ASCII where only ASCII is handled, or a lone surrogate
            return self._one_by_one(texts)
        if any(a in blob for a in self._added_raw):  # tokenizers matches added tokens in the raw text first
            return self._one_by_one(texts)
        lengths = np.fromiter(map(len, texts), np.int64, len(texts))
        if len(blob) != len(joined):  # byte lengths of the non-ASCII texts
            wide = [i for i, t in enumerate(texts) if not t.isascii()]
            lengths[wide] = [len(texts[i].encode("utf-8")) for i in wide]
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return blob, offsets, []

    def _one_by_one(self, texts: list[str]) -> tuple[bytes, np.ndarray, list[int]]:
        raws, skip = [], []
        for i, t in enumerate(texts):
            try:
                raw = t.encode("utf-8") if t.isascii() or self.unicode else b""
            except UnicodeEncodeError:  # a lone surrogate: tokenizers says what it says about it
                raw = b""
            if not raw and t or any(a in t for a in self.added):
                raw = b""
                skip.append(i)
            raws.append(raw)
        offsets = np.zeros(len(raws) + 1, dtype=np.int64)
        np.cumsum([len(r) for r in raws], out=offsets[1:])
        return b"".join(raws), offsets, skip


def wordpiece(tokenizer_json: Path) -> "WordPiece | None":
    """The fast path for this tokenizer file, or None when it does not apply."""
    try:
        from ..ops.c_library import ffi, lib
    except Exception:  # noqa: BLE001 - the C kernels are not built: tokenizers does everything
        return None
    if not hasattr(lib, "fr_wp_encode_batch"):
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
    # Chinese-character padding and accent stripping touch non-ASCII text only: the table assumes both.
    unicode = norm.get("handle_chinese_chars") is True and norm.get("strip_accents") in (None, True)
    vocab = model["vocab"]
    unk = vocab.get(model.get("unk_token", "[UNK]"))
    max_chars = int(model.get("max_input_chars_per_word", 100))
    if unk is None or max_chars > 128:  # the C code holds a word of up to 128 characters
        return None
    added = tuple(t["content"] for t in doc.get("added_tokens", []) if t.get("content"))
    return WordPiece(lib, ffi, vocab, int(unk), max_chars, added, unicode=unicode and unicode_table_applies(lib, ffi))


def unicode_table_applies(lib: Any, ffi: Any) -> bool:
    """Whether the C table was checked against the installed tokenizers version."""
    import tokenizers

    checked = ffi.string(lib.fr_wp_unicode_version()).decode()
    return f"tokenizers={tokenizers.__version__}" in checked.split()
