"""numpy reference kernels: the definition every fast backend is tested against.

They are also the fallback when the C kernels are not built, so they use
float32 BLAS where that does not change the result beyond float32 rounding.
"""
from __future__ import annotations

import numpy as np

from .csr import CSRMatrix

NAME = "numpy"
DEVICES = ("cpu",)

# Weights are 10 * 10^(s / max s) = 2^(log2(10) * (s / max s + 1)); exponents
# below 2^-113 are clamped so that no battle ever gets weight 0 (see sw_stats).
_LOG2_10 = float(np.log2(10.0))
_EXP2_MIN = -113.0


def normalize_rows(Q: np.ndarray) -> np.ndarray:
    """Unit-norm rows in float32 (norms taken in float64); zero rows stay zero."""
    q64 = np.asarray(Q, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", q64, q64))[:, None]
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (q64 * inv).astype(np.float32)


def cosine_sim(Q: np.ndarray, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """[B, N] cosine similarities of queries Q against unit-norm rows X (float32 or float16)."""
    Xf = X if X.dtype == np.float32 else X.astype(np.float32)
    res = np.matmul(normalize_rows(Q), Xf.T)
    if out is not None:
        out[...] = res
        return out
    return res


def gemv_sigmoid(E: np.ndarray, u: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """[B] sigmoid(E u + bias), computed in float64."""
    z = np.asarray(E, dtype=np.float64) @ np.asarray(u, dtype=np.float64) + bias
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


def sw_weights(sims: np.ndarray, sharpness: "float | None" = None) -> tuple[np.ndarray, np.ndarray]:
    """Battle weights per row of similarities, and the row maxima m.

    sharpness None: RouteLLM's 10 * 10^(s / m). A row whose maximum is <= 0 (e.g. a
    zero query) gets uniform weights: RouteLLM would divide by zero there, or invert
    the weighting when every similarity is negative. RouteLLM's weights differ by at
    most 10x from the nearest to the farthest battle.
    sharpness g > 0: exp(g (s - m)), fastroute's sharper alternative.
    """
    s = np.asarray(sims, dtype=np.float64)
    m = s.max(axis=1) if s.shape[1] else np.full(s.shape[0], -np.inf)
    if sharpness is not None:
        if not sharpness > 0:
            raise ValueError(f"sharpness must be > 0 (or None for RouteLLM's weights), got {sharpness}")
        mm = np.where(np.isfinite(m), m, 0.0)[:, None]
        expo = np.maximum(sharpness * np.log2(np.e) * (s - mm), _EXP2_MIN)
        return np.exp2(expo), m.astype(np.float32)
    ok = m > 0
    scale = np.where(ok, 1.0 / np.where(ok, m, 1.0), 0.0)[:, None]
    expo = np.maximum(_LOG2_10 * (s * scale + 1.0), _EXP2_MIN)
    return np.exp2(expo), m.astype(np.float32)


def sw_stats(sims: np.ndarray, A: CSRMatrix, sharpness: "float | None" = None) -> tuple[np.ndarray, np.ndarray]:
    """S[b] = A w_b (float64 [B, K]) for the weights of each row of sims, and the row maxima."""
    w, m = sw_weights(sims, sharpness)
    S = np.zeros((w.shape[0], A.shape[0]), dtype=np.float64)
    nonempty = np.diff(A.indptr) > 0
    if nonempty.any():
        contrib = w[:, A.indices] * A.values.astype(np.float64)[None, :]
        S[:, nonempty] = np.add.reduceat(contrib, A.indptr[:-1][nonempty], axis=1)
    return S, m


def embedding_bag_i8(
    table: np.ndarray, scales: np.ndarray, ids: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """[B, d] normalised mean of scales[t] * table[t] over each prompt's token ids."""
    ids = np.asarray(ids, dtype=np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= table.shape[0]):
        raise ValueError(f"token id outside the embedding table [0, {table.shape[0]})")
    B = len(offsets) - 1
    rows = table[ids].astype(np.float64) * scales[ids].astype(np.float64)[:, None]
    seg = np.repeat(np.arange(B), np.diff(offsets))
    out = np.zeros((B, table.shape[1]), dtype=np.float64)
    np.add.at(out, seg, rows)
    return normalize_rows(out)


def bt_fit(S: np.ndarray, T: int) -> np.ndarray:
    """[B, T] weighted Bradley-Terry coefficients of each row of counts (see fastroute.sw.bradley_terry)."""
    from ..sw.bradley_terry import fit

    return fit(S, T)
