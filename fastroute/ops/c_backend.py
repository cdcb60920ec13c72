"""C kernels (csrc/, built with cffi): the CPU fast path.

Thin wrappers: check shapes and dtypes, pass row strides so row-sliced views
need no copy, and call into fastroute._C with the GIL released (cffi does that
for every call), so one router serves many threads.
"""
from __future__ import annotations

import os

import numpy as np

from .csr import CSRMatrix

from fastroute import _C  # noqa: E402  (ImportError here marks the backend unavailable)

NAME = "c"
DEVICES = ("cpu",)

ffi, lib = _C.ffi, _C.lib
_SIMD_NAMES = {0: "portable", 1: "avx2", 2: "avx512"}


def _env_threads() -> int:
    raw = os.environ.get("FASTROUTE_NUM_THREADS", "").strip()
    if not raw:
        return 0
    try:
        n = int(raw)
    except ValueError:
        raise ValueError(f"FASTROUTE_NUM_THREADS must be an integer, got {raw!r}") from None
    if n < 0:
        raise ValueError(f"FASTROUTE_NUM_THREADS must be >= 0, got {n}")
    return n


_threads = _env_threads()


def set_num_threads(n: int) -> None:
    """Threads for the C kernels; 0 means OpenMP's default (OMP_NUM_THREADS or all cores)."""
    global _threads
    if n < 0:
        raise ValueError(f"thread count must be >= 0, got {n}")
    _threads = int(n)


def num_threads() -> int:
    return _threads if _threads > 0 else int(lib.fr_default_threads())


def simd_level() -> str:
    return _SIMD_NAMES[int(lib.fr_simd_level())]


def set_simd_level(level: str) -> str:
    """Forces a SIMD level ("portable", "avx2", "avx512"), clamped to what the CPU has."""
    codes = {v: k for k, v in _SIMD_NAMES.items()}
    if level not in codes:
        raise ValueError(f"unknown SIMD level {level!r}; known: {sorted(codes)}")
    return _SIMD_NAMES[int(lib.fr_set_simd_level(codes[level]))]


def supported_simd_levels() -> list[str]:
    return [_SIMD_NAMES[i] for i in range(int(lib.fr_simd_level_supported()) + 1)]


def describe() -> str:
    omp = "OpenMP" if lib.fr_has_openmp() else "no OpenMP"
    return f"{simd_level()} SIMD, {omp}, {num_threads()} threads"


def _rows(a: np.ndarray, dtype: type, name: str) -> tuple[np.ndarray, int]:
    """The array as `dtype` with unit inner stride, and its row stride in elements."""
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {a.shape}")
    if a.dtype != dtype:
        a = a.astype(dtype)
    item = a.itemsize
    if a.shape[1] > 1 and a.strides[1] != item or a.strides[0] < 0 or a.strides[0] % item:
        a = np.ascontiguousarray(a)
    ld = a.strides[0] // item if a.shape[0] > 1 else a.shape[1]
    return a, max(ld, a.shape[1])


def _ptr(a: np.ndarray, ctype: str):
    """A C pointer to the array's data (which must outlive the call: the caller holds it).
    ffi.from_buffer is ~4x cheaper than going through a.ctypes, which matters at B=1."""
    if a.flags.c_contiguous:
        return ffi.from_buffer(ctype.replace(" *", "[]"), a, require_writable=False)
    return ffi.cast(ctype, a.ctypes.data)


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
    half = X.dtype == np.float16
    Xa, ldx = _rows(X, np.float16 if half else np.float32, "arena")
    B, d = Qa.shape
    N = Xa.shape[0]
    if Xa.shape[1] != d:
        raise ValueError(f"query width {d} does not match arena width {Xa.shape[1]}")
    if out is None:
        out = np.empty((B, N), dtype=np.float32)
    elif out.shape != (B, N) or out.dtype != np.float32 or (B > 1 and N > 0 and (out.strides[1] != 4 or out.strides[0] % 4)):
        raise ValueError(f"out must be float32 [{B}, {N}] with unit inner stride")
    if not (B and N):
        return out
    if B > SMALL_BATCH:
        _cosine_blas(Qa, Xa, out)
        return out
    ldo = out.strides[0] // 4 if B > 1 else N
    fn, xt = (lib.fr_cosine_f16, "uint16_t *") if half else (lib.fr_cosine_f32, "float *")
    fn(_ptr(Qa, "float *"), B, ldq, _ptr(Xa, xt), N, d, ldx, _ptr(out, "float *"), ldo, _threads)
    return out


def _cosine_blas(Q: np.ndarray, X: np.ndarray, out: np.ndarray) -> None:
    from .reference import normalize_rows

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


def half_to_float(X: np.ndarray, out: np.ndarray | None = None, nthreads: int | None = None) -> np.ndarray:
    """float32 copy of a float16 matrix (numpy's own cast is ~10x slower)."""
    Xa, ldx = _rows(X, np.float16, "matrix")
    N, d = Xa.shape
    if out is None:
        out = np.empty((N, d), dtype=np.float32)
    if not out.flags.c_contiguous or out.shape != (N, d) or out.dtype != np.float32:
        raise ValueError(f"out must be a contiguous float32 [{N}, {d}] array")
    if N and d:
        nt = _threads if nthreads is None else nthreads
        lib.fr_half_to_float_rows(_ptr(Xa, "uint16_t *"), N, d, ldx, _ptr(out, "float *"), nt)
    return out


def gemv_sigmoid(E: np.ndarray, u: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """[B] sigmoid(E u + bias), accumulated in double."""
    Ea, lde = _rows(E, np.float32, "embeddings")
    ua = np.ascontiguousarray(u, dtype=np.float32)
    if ua.shape != (Ea.shape[1],):
        raise ValueError(f"vector of shape {ua.shape} does not match embedding width {Ea.shape[1]}")
    out = np.empty(Ea.shape[0], dtype=np.float32)
    if Ea.shape[0]:
        lib.fr_gemv_sigmoid_f32(
            _ptr(Ea, "float *"), Ea.shape[0], Ea.shape[1], lde, _ptr(ua, "float *"), float(bias),
            _ptr(out, "float *"), _threads,
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
    S = np.empty((B, K), dtype=np.float64)
    smax = np.empty(B, dtype=np.float32)
    if B:
        lib.fr_sw_stats(
            _ptr(sa, "float *"), B, U, lds, _ptr(A.indptr, "int64_t *"), _ptr(A.indices, "int32_t *"),
            _ptr(A.values, "float *"), K, _gamma(sharpness), _ptr(S, "double *"), _ptr(smax, "float *"), _threads,
        )
    return S, smax


def bt_fit(S: np.ndarray, T: int) -> np.ndarray:
    """[B, T] weighted Bradley-Terry coefficients of each row of counts, by the C Newton
    solver; any row it cannot finish is solved again by the numpy reference."""
    from ..sw.bradley_terry import RIDGE, n_stats

    Sa = np.ascontiguousarray(np.atleast_2d(S), dtype=np.float64)
    if Sa.shape[1] != n_stats(T):
        raise ValueError(f"expected {n_stats(T)} statistics for {T} players, got {Sa.shape[1]}")
    beta = np.zeros((Sa.shape[0], T))
    if Sa.shape[0]:
        failed = lib.fr_bt_fit(_ptr(Sa, "double *"), Sa.shape[0], T, RIDGE, 1e-11, 100, _ptr(beta, "double *"), _threads)
        if failed:  # those rows are NaN: the numpy solver (LU, more iterations) takes them
            from .reference import bt_fit as reference_fit

            bad = ~np.isfinite(beta).all(axis=1)
            beta[bad] = reference_fit(Sa[bad], T)
    return beta


def _gamma(sharpness: "float | None") -> float:
    if sharpness is None:
        return 0.0
    if not sharpness > 0:
        raise ValueError(f"sharpness must be > 0 (or None for RouteLLM's weights), got {sharpness}")
    return float(sharpness)


def embedding_bag_i8(
    table: np.ndarray, scales: np.ndarray, ids: np.ndarray, offsets: np.ndarray
) -> np.ndarray:
    """[B, d] normalised mean of scales[t] * table[t] over each prompt's token ids."""
    t = np.ascontiguousarray(table, dtype=np.int8)
    sc = np.ascontiguousarray(scales, dtype=np.float32)
    ids32 = np.ascontiguousarray(ids, dtype=np.int32)
    off = np.ascontiguousarray(offsets, dtype=np.int64)
    B = off.size - 1
    out = np.empty((B, t.shape[1]), dtype=np.float32)
    bad = lib.fr_embedding_bag_i8(
        _ptr(t, "int8_t *"), _ptr(sc, "float *"), t.shape[0], t.shape[1], _ptr(ids32, "int32_t *"),
        _ptr(off, "int64_t *"), B, _ptr(out, "float *"), _threads,
    )
    if bad:
        raise ValueError(f"token id outside the embedding table [0, {t.shape[0]})")
    return out
