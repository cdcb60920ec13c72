"""What the routers that score every model they know (mf, sw_ranking) add to the Router
interface: `strengths`, what a routing profile (fastroute.profile) chooses from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Sequence

import numpy as np

from ..errors import EmbeddingMismatchError, RouterOutputError
from .inputs import nonfinite_rows


class ScoresStrengths:
    """A mixin for Router subclasses that implement `_strengths(E, cols) -> [B, len(cols)]`."""

    if TYPE_CHECKING:
        models: tuple[str, ...]
        kind: ClassVar[str]
        # Router's and the subclass's; declared for type checkers only (the MRO stays theirs)

        def _prepare(self, texts: Any, embeddings: Any) -> Any: ...
        def _strengths(self, E: Any, cols: np.ndarray) -> np.ndarray: ...

    def strengths(
        self, texts: "str | Sequence[str] | None" = None, *, embeddings: Any = None, columns: Any = None
    ) -> np.ndarray:
        """[B, M] float64 strength of each of the router's models (columns in `models` order; only
        the model indices `columns`, in that order, when given) in natural-log odds:
        P(model m beats model k on the prompt) = sigmoid(s[m] - s[k])."""
        E = self._prepare(texts, embeddings)
        cols = np.arange(len(self.models)) if columns is None else np.asarray(columns, dtype=np.int64)
        if cols.ndim != 1 or (cols.size and (cols.min() < 0 or cols.max() >= len(self.models))):
            raise ValueError(f"columns must index the router's {len(self.models)} models, got {columns!r}")
        if E.shape[0] == 0:
            return np.zeros((0, cols.size))
        bad = nonfinite_rows(E)
        if bad:
            raise EmbeddingMismatchError(f"embeddings for prompts {bad[:10]} contain NaN or infinity")
        S = np.asarray(self._strengths(E, cols), dtype=np.float64)
        if not np.isfinite(S).all():
            rows = np.flatnonzero(~np.isfinite(S).all(axis=1))[:10].tolist()
            raise RouterOutputError(f"the {self.kind} router produced non-finite strengths for prompts {rows}")
        return S
