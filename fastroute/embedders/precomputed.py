"""Embeddings computed elsewhere, looked up by exact prompt text."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import as_text_batch


class PrecomputedEmbedder:
    """Serves a fixed table of prompt -> embedding (e.g. an evaluation set embedded once).

    `name`, `dim` and `fingerprint` should be those of the embedder that produced
    the vectors, so routers accept them.
    """

    def __init__(
        self,
        texts: Sequence[str],
        embeddings: np.ndarray,
        name: str,
        fingerprint: "str | None" = None,
        max_tokens: int = 0,
    ) -> None:
        E = np.asarray(embeddings)
        if E.ndim != 2 or E.shape[0] != len(texts):
            raise ValueError(f"{len(texts)} texts but embeddings of shape {E.shape}")
        if not np.issubdtype(E.dtype, np.floating):
            raise ValueError(f"embeddings must be floating point, got {E.dtype}")
        self._E = np.ascontiguousarray(E, dtype=np.float32)
        self._index = {t: i for i, t in enumerate(texts)}
        self.name = name
        self.dim = int(E.shape[1])
        self.max_tokens = max_tokens
        self.fingerprint = fingerprint

    def encode(self, texts: "str | Sequence[str]") -> np.ndarray:
        rows = []
        for t in as_text_batch(texts):
            i = self._index.get(t)
            if i is None:
                raise KeyError(f"no precomputed embedding for prompt {t[:80]!r}")
            rows.append(i)
        return self._E[np.asarray(rows, dtype=np.int64)] if rows else np.zeros((0, self.dim), np.float32)
