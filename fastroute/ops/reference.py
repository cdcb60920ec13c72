"""numpy reference kernels: the definition every fast backend is tested against.

They are also the fallback when the C kernels are not built, so they use
float32 BLAS where that does not change the result beyond float32 rounding.
"""
from __future__ import annotations

import numpy as np

from .csr import CSRMatrix

NAME = "numpy"
DEVICES = ("cpu",)
OPS = ("cosine_sim", "gemv_sigmoid", "sw_stats", "bt_fit", "embedding_bag_i8")

# Weights are 10 * 10^(s / max s) = 2^(log2(10) * (s / max s + 1)); exponents
# below 2^-113 are clamped so that no battle ever gets weight 0 (see sw_stats).
_LOG2_10 = float(np.log2(10.0))
_EXP2_MIN = -113.0


def check_real(a: np.ndarray, name: str, ndim: int) -> np.ndarray:
    """`a` as an array of real numbers (bool, int or float) with `ndim` dimensions; anything
    else (complex, objects, strings) is refused rather than silently cast."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    return a


def check_embedding_bag_args(table: np.ndarray, scales: np.ndarray, ids: np.ndarray, offsets: np.ndarray
                             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated (table int8 [V, d], scales [V], ids [n] integers, offsets int64 [B + 1]).

    offsets must start at 0, never decrease and end at len(ids); ids are checked against
    [0, V) by the caller (the C kernel does it in its own pass)."""
    table = np.asarray(table)
    if table.dtype != np.int8 or table.ndim != 2:
        raise ValueError(f"table must be a 2-D int8 array, got {table.dtype} of shape {table.shape}")
    scales = check_real(scales, "scales", 1)
    if scales.shape[0] != table.shape[0]:
        raise ValueError(f"scales has {scales.shape[0]} entries, expected one per table row ({table.shape[0]})")
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"ids must be a 1-D integer array, got {ids.dtype} of shape {ids.shape}")
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or offsets.size < 1 or (offsets.dtype.kind not in "iu" and offsets.size > 1):
        raise ValueError(f"offsets must be a 1-D integer array of length B + 1, got {offsets.dtype} "
                         f"of shape {offsets.shape}")
    offsets = offsets.astype(np.int64)
    if offsets[0] != 0:
        raise ValueError(f"offsets must start at 0, got {offsets[0]}")
    if offsets.size > 1 and np.any(offsets[1:] < offsets[:-1]):
        at = int(np.argmax(offsets[1:] < offsets[:-1]))
        raise ValueError(f"offsets must not decrease, got offsets[{at}]={offsets[at]} > "
                         f"offsets[{at + 1}]={offsets[at + 1]}")
    if offsets[-1] != ids.size:
        raise ValueError(f"offsets must end at len(ids) = {ids.size}, got {offsets[-1]}")
    return table, scales, ids, offsets


def check_ids_in_range(ids: np.ndarray, V: int) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        bad = ids[(ids < 0) | (ids >= V)][0]
        raise ValueError(f"token id {int(bad)} outside the embedding table [0, {V})")


def normalize_rows(Q: np.ndarray) -> np.ndarray:
    """Unit-norm rows in float32 (norms taken in float64); zero rows stay zero."""
    q64 = np.asarray(Q, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", q64, q64))[:, None]
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return (q64 * inv).astype(np.float32)


def cosine_sim(Q: np.ndarray, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """[B, N] cosine similarities of queries Q against unit-norm rows X (float32 or float16)."""
    Q = check_real(Q, "queries", 2)
    X = check_real(X, "arena", 2)
    if X.shape[1] != Q.shape[1]:
        raise ValueError(f"query width {Q.shape[1]} does not match arena width {X.shape[1]}")
    Xf = X if X.dtype == np.float32 else X.astype(np.float32)
    res = np.matmul(normalize_rows(Q), Xf.T)
    if out is not None:
        if out.shape != res.shape:
            raise ValueError(f"out must have shape {res.shape}, got {out.shape}")
        out[...] = res
        return out
    return res


def gemv_sigmoid(E: np.ndarray, u: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """[B] sigmoid(E u + bias), computed in float64."""
    E = check_real(E, "embeddings", 2)
    u = check_real(u, "vector", 1)
    if u.shape != (E.shape[1],):
        raise ValueError(f"vector of shape {u.shape} does not match embedding width {E.shape[1]}")
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
    s = check_real(sims, "similarities", 2).astype(np.float64)
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
    if np.shape(sims)[-1] != A.shape[1]:
        raise ValueError(f"similarities have {np.shape(sims)[-1]} columns, the statistics matrix {A.shape[1]}")
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
    table, scales, ids, offsets = check_embedding_bag_args(table, scales, ids, offsets)
    check_ids_in_range(ids, table.shape[0])
    ids = ids.astype(np.int64)
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
