"""What every router checks before scoring: embeddings of the right shape and type (numpy or
torch), finite rows, thresholds in [0, 1]. Errors say what was expected."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..embedders.base import EmbedderSpec
from ..errors import EmbeddingMismatchError


def is_torch(x: Any) -> bool:
    return type(x) is not np.ndarray and type(x).__module__.startswith("torch") and hasattr(x, "device")


def nonfinite_rows(E: Any) -> list[int]:
    """Indices of the rows of a numpy or torch [B, d] array that hold NaN or infinity."""
    if is_torch(E):
        import torch

        return torch.nonzero(~torch.isfinite(E).all(dim=1)).flatten().cpu().tolist()
    # Fast path, one pass and no temporary: a float64 sum of float32 or float16 values
    # cannot overflow, so it is finite exactly when every element is.
    if E.dtype.itemsize <= 4 and np.isfinite(E.sum(dtype=np.float64)):
        return []
    return np.flatnonzero(~np.isfinite(E).all(axis=1)).tolist()


def check_threshold(threshold: float) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}") from None
    if not 0.0 <= t <= 1.0:  # also rejects NaN
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return t


def checked_embeddings(embeddings: Any, spec: "EmbedderSpec | None", kind: str) -> Any:
    """`embeddings` as a float32 [B, d] array (a 1-D vector is one prompt; a torch tensor stays
    one), or an EmbeddingMismatchError saying what a `kind` router trained with `spec` expects."""
    if is_torch(embeddings):
        E = embeddings if embeddings.ndim != 1 else embeddings[None, :]
        if not E.is_floating_point():
            raise EmbeddingMismatchError(f"embeddings must be floating point, got dtype {E.dtype}")
        if E.ndim != 2 or (spec is not None and E.shape[1] != spec.dim):
            raise EmbeddingMismatchError(
                f"embeddings have shape {tuple(E.shape)}; this {kind} router expects [batch, "
                f"{spec.dim if spec else 'dim'}]"
            )
        return E
    E = np.asarray(embeddings)
    if E.dtype.kind != "f":
        raise EmbeddingMismatchError(f"embeddings must be floating point, got dtype {E.dtype}")
    if E.ndim == 1:
        E = E[None, :]
    if E.ndim != 2:
        raise EmbeddingMismatchError(f"embeddings must be [batch, dim], got shape {E.shape}")
    if spec is not None and E.shape[1] != spec.dim:
        raise EmbeddingMismatchError(
            f"embeddings have width {E.shape[1]}, but this {kind} router was trained with "
            f"embedder {spec.name!r} of width {spec.dim}"
        )
    return E if E.dtype == np.float32 else E.astype(np.float32)
