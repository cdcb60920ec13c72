"""The default embedder: a static token-embedding table (model2vec-style, distilled
from all-MiniLM-L6-v2), mean-pooled and normalised. No torch, sub-millisecond.

The table ships inside the package (static_model/, int8 with one scale per
token) and is rebuilt by `python -m fastroute.embedders.distill_static`.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import BundleError
from .base import as_text_batch

MODEL_DIR = Path(__file__).resolve().parent / "static_model"


class StaticEmbedder:
    """Token table lookup + mean pool + L2 normalise, through the fused embedding-bag kernel."""

    name = "static"

    @classmethod
    def described(cls, model: "str | None" = None) -> "tuple[int | None, str | None]":
        """(width, fingerprint) of the shipped table, read from its config alone."""
        cfg = json.loads((MODEL_DIR / "config.json").read_text())
        return int(cfg["dim"]), cfg.get("fingerprint")

    def __init__(self, path: "str | Path | None" = None, backend: "str | None" = None) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = Path(path) if path else MODEL_DIR
        cfg_path, table_path, tok_path = root / "config.json", root / "embeddings.safetensors", root / "tokenizer.json"
        for p in (cfg_path, table_path, tok_path):
            if not p.is_file():
                raise BundleError(f"static embedder file missing: {p}")
        try:
            cfg = json.loads(cfg_path.read_text())
            tensors = load_file(str(table_path))
            self._tokenizer = Tokenizer.from_file(str(tok_path))
        except Exception as exc:  # noqa: BLE001 - report which file is bad
            raise BundleError(f"static embedder in {root} is unreadable: {exc}") from exc
        self._table = np.ascontiguousarray(tensors["table"], dtype=np.int8)
        self._scales = np.ascontiguousarray(tensors["scales"], dtype=np.float32)
        if self._table.shape[0] != self._scales.shape[0] or self._table.shape[1] != int(cfg["dim"]):
            raise BundleError(f"static embedder in {root}: table {self._table.shape} does not match config")
        self.dim = int(cfg["dim"])
        self.max_tokens = int(cfg["max_tokens"])
        self.fingerprint = str(cfg["fingerprint"])
        self._max_chars = self.max_tokens * int(cfg["median_token_length"])
        self._unk = cfg.get("unk_token_id")
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(self.max_tokens)
        from .wordpiece import wordpiece

        self._wordpiece = wordpiece(tok_path) if backend in (None, "c") else None
        self._backend = backend
        self._ops = None
        self._lock = threading.Lock()

    def _kernels(self):
        if self._ops is None:
            from ..ops import get_backend

            with self._lock:
                self._ops = get_backend(self._backend, "cpu")
        return self._ops

    def token_ids(self, texts: "str | Sequence[str]") -> tuple[np.ndarray, np.ndarray]:
        """Concatenated token ids (unknown tokens dropped) and per-prompt offsets."""
        return self._token_ids(as_text_batch(texts))

    def _token_ids(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        # Cheap character cut first, as model2vec does, so huge inputs never reach the tokenizer whole.
        clipped = [t[: self._max_chars] for t in texts]
        drop = -1 if self._unk is None else int(self._unk)  # unknown tokens are dropped (after truncation)
        if self._wordpiece is not None:
            ids, counts, rest = self._wordpiece.encode(clipped, self.max_tokens, drop)
            if rest:  # the texts C left to tokenizers
                pieces = np.split(ids, np.cumsum(np.maximum(counts, 0))[:-1])
                for i, p in zip(rest, self._hf_ids([clipped[i] for i in rest], drop)):
                    pieces[i] = p
                ids, counts = self._joined(pieces)
        else:
            ids, counts = self._joined(self._hf_ids(clipped, drop))
        if len(texts) == 1:
            return ids, np.array([0, counts[0]], dtype=np.int64)
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        return ids, offsets

    def _hf_ids(self, texts: list[str], drop: int) -> list[np.ndarray]:
        """Token ids per text from tokenizers (truncated to max_tokens, then `drop` removed)."""
        # encode_batch_fast (tokenizers >= 0.21) skips the character offsets we never use.
        encode = getattr(self._tokenizer, "encode_batch_fast", self._tokenizer.encode_batch)
        pieces = [np.asarray(e.ids, dtype=np.int32) for e in encode(texts, add_special_tokens=False)]
        return [p[p != drop] for p in pieces]

    @staticmethod
    def _joined(pieces: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        counts = np.fromiter((p.size for p in pieces), dtype=np.int64, count=len(pieces))
        return (np.concatenate(pieces).astype(np.int32, copy=False) if pieces else np.zeros(0, np.int32)), counts

    def encode(self, texts: "str | Sequence[str]") -> np.ndarray:
        batch = as_text_batch(texts)
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        ids, offsets = self._token_ids(batch)
        return self._kernels().embedding_bag_i8(self._table, self._scales, ids, offsets)
