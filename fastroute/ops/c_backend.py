"""C kernels (csrc/, built with cffi): the CPU fast path.

Thin wrappers over csrc/<op>.c (the library, threads and SIMD level: c_library.py):
check shapes, dtypes and layouts, pass row strides so row-sliced
views need no copy (anything C could misread, such as broadcast or big-endian
data, is copied first), and call into fastroute._C with the GIL released (cffi
does that for every call), so one router serves many threads. Every C entry
point returns a status, raised here as ValueError or MemoryError.
"""

from __future__ import annotations

import numpy as np

from . import c_library as _L
from .c_library import (  # noqa: F401 - the backend's own functions, reached through get_backend("c")
    _C,
    describe,
    ffi,
    half_to_float,
    lib,
    num_threads,
    set_num_threads,
    set_simd_level,
    simd_level,
    supported_simd_levels,
    thread_setting,
)
from .c_library import ptr as _ptr
from .c_library import rows as _rows
from .c_library import status as _status
from .c_library import vector as _vector
from .c_library import writable_out as _writable_out
from .c_scores import field_win_rates, linear_scores  # noqa: F401 - ops of this backend
from .checks import check_embedding_bag_args, check_ids_in_range, check_real, check_sharpness
from .constants import BT_MAX_ITER, BT_RIDGE, BT_TOL
from .csr import CSRMatrix
from .reference_bt import n_stats

NAME = "c"
DEVICES = ("cpu",)
OPS = ("cosine_sim", "gemv_sigmoid", "linear_scores", "field_win_rates", "sw_stats", "bt_fit", "embedding_bag_i8")
CAPABILITIES: frozenset[str] = frozenset()


# Up to this many queries the fused C scan (memory-bound: X is read once for all
# of them) beats a GEMM; larger batches are compute-bound and go to BLAS, with
# float16 arenas widened chunk by chunk. Measured on the 2-core dev VM at
# N=165k, d=1536 (benchmarks/README.md).
SMALL_BATCH = 16
# float32 staging buffer for float16 arenas on the BLAS path: small enough to
# stay in cache between the widening and the GEMM.
_CHUNK_BYTES = 4 << 20


def cosine_sim(Q: np.ndarray, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """[B, N] cosine similarities of queries Q against unit-norm rows X (float32 or float16)."""
    Qa, ldq = _rows(Q, np.float32, "queries")
    X = check_real(X, "arena", 2)
    half = X.dtype.kind == "f" and X.dtype.itemsize == 2
    Xa, ldx = _rows(X, np.float16 if half else np.float32, "arena")
    B, d = Qa.shape
    N = Xa.shape[0]
    if Xa.shape[1] != d:
        raise ValueError(f"query width {d} does not match arena width {Xa.shape[1]}")
    if out is None:
        res = out = np.empty((B, N), dtype=np.float32)
        ldo = N
    else:
        res, ldo = _writable_out(out, (B, N))
    if B and N:
        if B > SMALL_BATCH:
            _cosine_blas(Qa, Xa, res)
        else:
            fn, xt = (lib.fr_cosine_sim_f16, "uint16_t *") if half else (lib.fr_cosine_sim_f32, "float *")
            _status(
                fn(_ptr(Qa, "float *"), B, ldq, _ptr(Xa, xt), N, d, ldx, _ptr(res, "float *"), ldo, _L._threads),
                "cosine_sim",
            )
    if res is not out:
        out[...] = res
    return out


def _cosine_blas(Q: np.ndarray, X: np.ndarray, out: np.ndarray) -> None:
    from .rows import normalize_rows

    Qn = normalize_rows(Q)
    if X.dtype == np.float32:
        np.matmul(Qn, X.T, out=out)
        return
    N, d = X.shape
    rows = max(1, _CHUNK_BYTES // (4 * d))
    buf = np.empty((min(rows, N), d), dtype=np.float32)
    for lo in range(0, N, rows):
        hi = min(N, lo + rows)
        part = buf[: hi - lo]
        # One thread: OpenMP workers would fight BLAS's spinning threads for the cores.
        half_to_float(X[lo:hi], out=part, nthreads=1)
        np.matmul(Qn, part.T, out=out[:, lo:hi])


def gemv_sigmoid(E: np.ndarray, u: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """[B] sigmoid(E u + bias), accumulated in double."""
    Ea, lde = _rows(E, np.float32, "embeddings")
    ua = _vector(u, np.float32, "vector")
    if ua.shape != (Ea.shape[1],):
        raise ValueError(f"vector of shape {ua.shape} does not match embedding width {Ea.shape[1]}")
    out = np.empty(Ea.shape[0], dtype=np.float32)
    if Ea.shape[0]:
        _status(
            lib.fr_gemv_sigmoid_f32(
                _ptr(Ea, "float *"),
                Ea.shape[0],
                Ea.shape[1],
                lde,
                _ptr(ua, "float *") if ua.size else ffi.NULL,
                float(bias),
                _ptr(out, "float *"),
                _L._threads,
            ),
            "gemv_sigmoid",
        )
    return out


def sw_stats(sims: np.ndarray, A: CSRMatrix, sharpness: "float | None" = None) -> tuple[np.ndarray, np.ndarray]:
    """S[b] = A w_b (float64 [B, K]) for the weights of each row of sims (see reference.sw_weights),
    and the row maxima."""
    sa, lds = _rows(sims, np.float32, "similarities")
    B, U = sa.shape
    K = A.shape[0]
    if U != A.shape[1]:
        raise ValueError(f"similarities have {U} columns, the statistics matrix {A.shape[1]}")
    sharpness = check_sharpness(sharpness)
    gamma = 0.0 if sharpness is None else sharpness
    indptr = np.require(A.indptr, np.int64, ["C", "A"])
    indices = np.require(A.indices, np.int32, ["C", "A"])
    values = np.require(A.values, np.float32, ["C", "A"])
    S = np.empty((B, K), dtype=np.float64)
    smax = np.empty(B, dtype=np.float32)
    if B:
        nnz = indices.size
        _status(
            lib.fr_sw_stats(
                _ptr(sa, "float *"),
                B,
                U,
                lds,
                _ptr(indptr, "int64_t *"),
                _ptr(indices, "int32_t *") if nnz else ffi.NULL,
                _ptr(values, "float *") if nnz else ffi.NULL,
                K,
                gamma,
                _ptr(S, "double *"),
                _ptr(smax, "float *"),
                _L._threads,
            ),
            "sw_stats",
        )
    return S, smax


def bt_fit(S: np.ndarray, T: int) -> np.ndarray:
    """[B, T] weighted Bradley-Terry coefficients of each row of counts, by the C Newton
    solver; any row it cannot finish is solved again by the numpy reference."""
    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    S = check_real(np.atleast_2d(S), "statistics", 2)
    Sa = np.require(S, np.float64, ["C", "A"])
    if Sa.shape[1] != n_stats(T):
        raise ValueError(f"expected {n_stats(T)} statistics for {T} players, got {Sa.shape[1]}")
    beta = np.zeros((Sa.shape[0], T))
    if Sa.shape[0]:
        failed = _status(
            lib.fr_bt_fit(
                _ptr(Sa, "double *"), Sa.shape[0], T, BT_RIDGE, BT_TOL, BT_MAX_ITER, _ptr(beta, "double *"), _L._threads
            ),
            "bt_fit",
        )
        if failed:  # those rows are NaN: the numpy solver (LU, more iterations) takes them
            from .reference_bt import bt_fit as reference_fit

            bad = ~np.isfinite(beta).all(axis=1)
            beta[bad] = reference_fit(Sa[bad], T)
    return beta


def _exact(a: np.ndarray, dtype: type, ndim: int) -> bool:
    """Already what C reads (what the static embedder passes): no check or copy is needed."""
    return type(a) is np.ndarray and a.dtype == dtype and a.ndim == ndim and a.flags.c_contiguous and a.flags.aligned


def _embedding_bag_exact(table: np.ndarray, scales: np.ndarray, ids: np.ndarray, offsets: np.ndarray):
    """The B = 1 fast path: C checks offsets and id range itself before it reads through them;
    on any refusal (None) the caller runs the full checks, which name the problem."""
    (V, d), B = table.shape, offsets.size - 1
    out = np.empty((B, d), dtype=np.float32)
    if B == 0 or d == 0 or V == 0 or ids.size == 0:
        return None  # the general path handles the empty cases
    code = lib.fr_embedding_bag_i8(
        _ptr(table, "int8_t *"),
        _ptr(scales, "float *"),
        V,
        d,
        _ptr(ids, "int32_t *"),
        ids.size,
        _ptr(offsets, "int64_t *"),
        B,
        _ptr(out, "float *"),
        _L._threads,
    )
    return out if code == lib.FR_OK else None


def embedding_bag_i8(table: np.ndarray, scales: np.ndarray, ids: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """[B, d] normalised mean of scales[t] * table[t] over each prompt's token ids."""
    if _exact(table, np.int8, 2) and _exact(scales, np.float32, 1) and _exact(ids, np.int32, 1):
        if _exact(offsets, np.int64, 1) and offsets.size >= 1 and scales.shape[0] == table.shape[0]:
            out = _embedding_bag_exact(table, scales, ids, offsets)
            if out is not None:
                return out
    table, scales, ids, offsets = check_embedding_bag_args(table, scales, ids, offsets)
    V, d = table.shape
    if ids.dtype != np.int32:  # range first, so the cast to int32 cannot wrap an id around
        check_ids_in_range(ids, V)
    t = np.require(table, np.int8, ["C"])
    sc = np.require(scales, np.float32, ["C", "A"])
    ids32 = np.require(ids, np.int32, ["C", "A"])
    off = np.require(offsets, np.int64, ["C", "A"])
    B = off.size - 1
    out = np.empty((B, d), dtype=np.float32)
    if B == 0 or d == 0:
        return out
    code = lib.fr_embedding_bag_i8(
        _ptr(t, "int8_t *") if t.size else ffi.NULL,
        _ptr(sc, "float *") if sc.size else ffi.NULL,
        V,
        d,
        _ptr(ids32, "int32_t *") if ids32.size else ffi.NULL,
        ids32.size,
        _ptr(off, "int64_t *"),
        B,
        _ptr(out, "float *"),
        _L._threads,
    )
    if code == lib.FR_ERANGE:
        check_ids_in_range(ids32, V)  # raises, naming the id
    _status(code, "embedding_bag_i8")
    return out
