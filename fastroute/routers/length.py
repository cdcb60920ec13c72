"""A prompt-length router: the longer the prompt, the likelier the strong model.

The baseline every learned router must beat (fastroute eval reports it beside random),
servable like any router, e.g. to A/B a learned router against it in a gateway. The win
rate 1 - 2^(-chars / half_chars) rises with the prompt's length in characters and is 0.5
at `half_chars`; as for every router, `threshold_for(strong_pct, texts)` calibrates it.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..embedders.base import as_text_batch
from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from .embedder_free import EmbedderFreeRouter

DEFAULT_HALF_CHARS = 500.0


def check_half_chars(half_chars: Any) -> float:
    try:
        h = float(half_chars)
    except (TypeError, ValueError):
        raise ValueError(f"half_chars must be a number of characters > 0, got {half_chars!r}") from None
    if not (h > 0 and math.isfinite(h)):
        raise ValueError(f"half_chars must be a finite number of characters > 0, got {half_chars!r}")
    return h


class LengthRouter(EmbedderFreeRouter):
    kind = "length"
    PARAMS = ("half_chars",)

    def __init__(
        self,
        *,
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        models: "Sequence[str] | None" = None,
        half_chars: float = DEFAULT_HALF_CHARS,
        backend: "str | None" = None,
    ) -> None:
        super().__init__(strong_model=strong_model, weak_model=weak_model, models=models, backend=backend)
        self.half_chars = check_half_chars(half_chars)

    def win_rates(
        self, texts: "str | Sequence[str] | None" = None, *, embeddings: "np.ndarray | None" = None
    ) -> np.ndarray:
        if embeddings is not None:
            raise TypeError("the length router reads the prompts' texts, not embeddings")
        if texts is None:
            raise TypeError("pass the prompts' texts")
        chars = np.fromiter((len(t) for t in as_text_batch(texts)), dtype=np.float64)
        return -np.expm1(-math.log(2.0) / self.half_chars * chars)  # 1 - 2^(-chars/half_chars)
