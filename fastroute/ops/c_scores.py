"""The C backend's routing-profile ops (a part of fastroute.ops.c_backend, which exports them):
every model's score (linear_scores) and the candidates' field win rates."""

from __future__ import annotations

import numpy as np

from . import c_library as _L
from .c_library import lib
from .c_library import ptr as _ptr
from .c_library import rows as _rows
from .c_library import status as _status

SMALL_BATCH = 16


def linear_scores(E: np.ndarray, W: np.ndarray) -> np.ndarray:
    """[B, M] E W^T: accumulated in double up to SMALL_BATCH rows; above, BLAS sgemm, 8x
    faster at B = 256, M = 64 (float32 sums: within 3e-6 of the reference at d = 256 and 1536)."""
    Ea, lde = _rows(E, np.float32, "embeddings")
    Wa, ldw = _rows(W, np.float32, "weights")
    if Wa.shape[1] != Ea.shape[1]:
        raise ValueError(f"weights of shape {Wa.shape} do not match embedding width {Ea.shape[1]}")
    (B, d), M = Ea.shape, Wa.shape[0]
    if B > SMALL_BATCH:
        return np.matmul(Ea, Wa.T)
    out = np.empty((B, M), dtype=np.float32)
    if B and M:
        args = (_ptr(Ea, "float *"), B, d, lde, _ptr(Wa, "float *"), M, ldw, _ptr(out, "float *"), M, _L._threads)
        _status(lib.fr_linear_scores_f32(*args), "linear_scores")
    return out


def field_win_rates(S: np.ndarray) -> np.ndarray:
    """[B, K] float64 mean sigmoid(S[b, k] - S[b, j]) over j != k (float sigmoids, double sums:
    within 1e-6 of the reference)."""
    Sa, lds = _rows(S, np.float64, "strengths")
    B, K = Sa.shape
    if K < 2:
        raise ValueError(f"strengths must have at least two columns (candidates), got shape {Sa.shape}")
    out = np.empty((B, K), dtype=np.float64)
    if B:
        _status(
            lib.fr_field_win_rates(_ptr(Sa, "double *"), B, K, lds, _ptr(out, "double *"), K, _L._threads),
            "field_win_rates",
        )
    return out
