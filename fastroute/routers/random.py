"""RouteLLM's random router: a uniform win rate per prompt, seedable.

One generator per router, drawn under a lock, so results are reproducible for
a given seed and call order and the router is safe to share between threads.
"""

from __future__ import annotations

import threading
from typing import Sequence

import numpy as np

from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from .embedder_free import EmbedderFreeRouter


class RandomRouter(EmbedderFreeRouter):
    kind = "random"
    PARAMS = ("seed",)

    def __init__(
        self,
        *,
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        models: "Sequence[str] | None" = None,
        seed: "int | None" = None,
        backend: "str | None" = None,
    ) -> None:
        super().__init__(strong_model=strong_model, weak_model=weak_model, models=models, backend=backend)
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()

    def win_rates(
        self, texts: "str | Sequence[str] | None" = None, *, embeddings: "np.ndarray | None" = None
    ) -> np.ndarray:
        if (texts is None) == (embeddings is None):
            raise TypeError("pass exactly one of texts or embeddings=")
        if texts is not None:
            from ..embedders.base import as_text_batch

            n = len(as_text_batch(texts))
        else:
            E = np.asarray(embeddings)
            n = 1 if E.ndim == 1 else int(E.shape[0])
        with self._rng_lock:
            return self._rng.uniform(0.0, 1.0, size=n)

    def threshold_for(self, strong_pct: float, texts: "Sequence[str] | None" = None) -> float:
        """Win rates are uniform on [0, 1]: the threshold for a strong-call share s is 1 - s,
        with no prompts to calibrate on (given prompts are used as for any router)."""
        if texts is not None:
            return super().threshold_for(strong_pct, texts)
        if not 0.0 <= float(strong_pct) <= 1.0:
            raise ValueError(f"strong_pct must be in [0, 1], got {strong_pct!r}")
        return 1.0 - float(strong_pct)
