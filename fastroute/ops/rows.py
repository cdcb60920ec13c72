"""Unit-norm rows: how every kernel and caller normalises queries and arena prompts (norms
in float64, zero rows left zero). Not an op: cheap, the same numpy on every backend."""

from __future__ import annotations

import numpy as np


def normalize_rows(Q: np.ndarray) -> np.ndarray:
    """Unit-norm rows in float32 (norms taken in float64); zero rows stay zero."""
    q64 = np.asarray(Q, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", q64, q64))[:, None]
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (q64 * inv).astype(np.float32)
