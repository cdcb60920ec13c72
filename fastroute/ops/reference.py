"""numpy reference kernels: the definition every fast backend is tested against.

They are also the fallback when the C kernels are not built, so they use
float32 BLAS where that does not change the result beyond float32 rounding.
"""

from __future__ import annotations

import numpy as np

from .checks import check_embedding_bag_args, check_ids_in_range, check_real, check_sharpness
from .constants import EXP2_MIN, LOG2_10, LOG2_E
from .csr import CSRMatrix
from .reference_bt import bt_fit
from .rows import normalize_rows

__all__ = [
    "CAPABILITIES",
    "DEVICES",
    "NAME",
    "OPS",
    "bt_fit",
    "check_embedding_bag_args",
    "check_ids_in_range",
    "check_real",
    "cosine_sim",
    "embedding_bag_i8",
    "gemv_sigmoid",
    "linear_scores",
    "field_win_rates",
    "normalize_rows",
    "sw_stats",
    "sw_weights",
]

NAME = "numpy"
DEVICES = ("cpu",)
OPS = ("cosine_sim", "gemv_sigmoid", "linear_scores", "field_win_rates", "sw_stats", "bt_fit", "embedding_bag_i8")
CAPABILITIES: frozenset[str] = frozenset()


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


def linear_scores(E: np.ndarray, W: np.ndarray) -> np.ndarray:
    """[B, M] float32 E W^T, in float64: one score per prompt and model (mf's logits)."""
    E = check_real(E, "embeddings", 2)
    W = check_real(W, "weights", 2)
    if W.shape[1] != E.shape[1]:
        raise ValueError(f"weights of shape {W.shape} do not match embedding width {E.shape[1]}")
    return (np.asarray(E, np.float64) @ np.asarray(W, np.float64).T).astype(np.float32)


def field_win_rates(S: np.ndarray) -> np.ndarray:
    """[B, K] float64: each of K candidates' mean P(beats another) from strengths S [B, K]
    (natural-log odds), sigmoid(S[b, k] - S[b, j]) over j != k, in float64."""
    s = np.asarray(check_real(S, "strengths", 2), dtype=np.float64)
    if s.shape[1] < 2:
        raise ValueError(f"strengths must have at least two columns (candidates), got shape {s.shape}")
    win = 0.5 * (1.0 + np.tanh(0.5 * (s[:, :, None] - s[:, None, :])))  # sigmoid, no overflow
    return (win.sum(axis=2) - 0.5) / (s.shape[1] - 1)


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
    return weights_given_max(s, m, check_sharpness(sharpness)), m.astype(np.float32)


def weights_given_max(s: np.ndarray, m: np.ndarray, sharpness: "float | None") -> np.ndarray:
    """[B, n] float64 weights of similarities s against the maxima m [B] (sw_weights' formula,
    with the maximum given: a shard of the arena weighs its rows against the global one)."""
    s, m = np.asarray(s, dtype=np.float64), np.asarray(m, dtype=np.float64)
    if sharpness is not None:
        mm = np.where(np.isfinite(m), m, 0.0)[:, None]
        return np.exp2(np.maximum(sharpness * LOG2_E * (s - mm), EXP2_MIN))
    ok = m > 0
    scale = np.where(ok, 1.0 / np.where(ok, m, 1.0), 0.0)[:, None]
    return np.exp2(np.maximum(LOG2_10 * (s * scale + 1.0), EXP2_MIN))


def weighted_sums(w: np.ndarray, A: CSRMatrix) -> np.ndarray:
    """S [B, K] = A w_b for every row of weights w [B, N], in float64."""
    S = np.zeros((w.shape[0], A.shape[0]), dtype=np.float64)
    nonempty = np.diff(A.indptr) > 0
    if nonempty.any():
        contrib = w[:, A.indices] * A.values.astype(np.float64)[None, :]
        S[:, nonempty] = np.add.reduceat(contrib, A.indptr[:-1][nonempty], axis=1)
    return S


def sw_stats(sims: np.ndarray, A: CSRMatrix, sharpness: "float | None" = None) -> tuple[np.ndarray, np.ndarray]:
    """S[b] = A w_b (float64 [B, K]) for the weights of each row of sims, and the row maxima."""
    if np.shape(sims)[-1] != A.shape[1]:
        raise ValueError(f"similarities have {np.shape(sims)[-1]} columns, the statistics matrix {A.shape[1]}")
    w, m = sw_weights(sims, sharpness)
    return weighted_sums(w, A), m


def embedding_bag_i8(table: np.ndarray, scales: np.ndarray, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
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
