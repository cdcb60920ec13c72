"""C kernels (csrc/, built with cffi): the CPU fast path.

Thin wrappers: check shapes, dtypes and layouts, pass row strides so row-sliced
views need no copy (anything C could misread, such as broadcast or big-endian
data, is copied first), and call into fastroute._C with the GIL released (cffi
does that for every call), so one router serves many threads. Every C entry
point returns a status, raised here as ValueError or MemoryError.
"""
from __future__ import annotations

import os

import numpy as np

from .csr import CSRMatrix
from .reference import check_embedding_bag_args, check_ids_in_range, check_real


def _load_extension():
    """fastroute._C, or the build FASTROUTE_C_MODULE names (a path to a _C*.so, e.g. the
    sanitizer build of `make asan`), so a test build never replaces the installed one."""
    path = os.environ.get("FASTROUTE_C_MODULE", "").strip()
    if not path:
        from fastroute import _C

        return _C
    import importlib.machinery
    import importlib.util
    import sys

    if not os.path.isfile(path):
        raise ImportError(f"FASTROUTE_C_MODULE={path!r}: no such file")
    loader = importlib.machinery.ExtensionFileLoader("fastroute._C", path)
    spec = importlib.util.spec_from_file_location("fastroute._C", path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    sys.modules["fastroute._C"] = module
    return module


_C = _load_extension()  # ImportError here marks the backend unavailable

NAME = "c"
DEVICES = ("cpu",)
OPS = ("cosine_sim", "gemv_sigmoid", "sw_stats", "bt_fit", "embedding_bag_i8")

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


def _status(code: int, fn: str) -> int:
    """A C entry point's status as a count (>= 0), or the matching Python exception."""
    code = int(code)
    if code >= 0:
        return code
    if code == lib.FR_ENOMEM:
        raise MemoryError(f"fastroute C kernel {fn}: out of memory")
    if code == lib.FR_ERANGE:
        raise ValueError(f"fastroute C kernel {fn}: an index is out of range")
    if code == lib.FR_EINVAL:
        raise ValueError(f"fastroute C kernel {fn} rejected its arguments (sizes, strides or offsets)")
    raise RuntimeError(f"fastroute C kernel {fn} returned unknown status {code}")


def _rows(a: np.ndarray, dtype: type, name: str) -> tuple[np.ndarray, int]:
    """The matrix as one C can read, and its row stride in elements.

    C reads rows p + i * ld, element k at p[i * ld + k]: that is safe only for native
    byte order `dtype`, an aligned buffer, unit inner stride and a row stride that is a
    positive multiple of the item size and at least the row length. Such views (e.g. a
    row slice) pass as they are; anything else (broadcast rows with stride 0, negative
    strides, Fortran order, unaligned or big-endian data) is copied first.
    """
    dt = np.dtype(dtype)
    if type(a) is np.ndarray and a.dtype == dt and a.ndim == 2 and a.flags.c_contiguous and a.flags.aligned:
        return a, a.shape[1]  # the common case, checked first: it is what routers pass
    a = check_real(a, name, 2)
    if a.dtype != dt:  # also converts (not reinterprets) big-endian data
        a = a.astype(dt)
    n, d = a.shape
    item = dt.itemsize
    s0, s1 = a.strides
    ok = a.flags.aligned and (d <= 1 or s1 == item)
    if ok and n > 1:
        ok = s0 > 0 and s0 % item == 0 and s0 // item >= d
    if not ok:
        a = np.array(a, dtype=dt, order="C", copy=True)
    ld = a.strides[0] // item if n > 1 else d
    return a, ld


def _vector(a: np.ndarray, dtype: type, name: str) -> np.ndarray:
    """A 1-D contiguous, aligned, native-order copy of `a` (no copy when it already is one)."""
    if type(a) is np.ndarray and a.dtype == dtype and a.ndim == 1 and a.flags.c_contiguous and a.flags.aligned:
        return a
    return np.require(check_real(a, name, 1), dtype=dtype, requirements=["C", "A"])


def _ptr(a: np.ndarray, ctype: str):
    """A C pointer to the array's data (which must outlive the call: the caller holds it).
    ffi.from_buffer is ~4x cheaper than going through a.ctypes, which matters at B=1."""
    if a.flags.c_contiguous:
        return ffi.from_buffer(ctype.replace(" *", "[]"), a, require_writable=False)
    return ffi.cast(ctype, a.ctypes.data)


def _writable_out(out: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """The caller's float32 `out` if C can write it in place, else a fresh array to copy back
    from; and its row stride in elements."""
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"out must be a float32 array of shape {shape}, got "
                         f"{getattr(out, 'dtype', type(out).__name__)} of shape {getattr(out, 'shape', '?')}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    n, d = shape
    s0, s1 = out.strides
    ok = out.flags.aligned and (d <= 1 or s1 == 4) and (n <= 1 or (s0 > 0 and s0 % 4 == 0 and s0 // 4 >= d))
    if not ok:
        out = np.empty(shape, dtype=np.float32)
    return out, (out.strides[0] // 4 if n > 1 else d)


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
            fn, xt = (lib.fr_cosine_f16, "uint16_t *") if half else (lib.fr_cosine_f32, "float *")
            _status(fn(_ptr(Qa, "float *"), B, ldq, _ptr(Xa, xt), N, d, ldx, _ptr(res, "float *"), ldo, _threads),
                    "cosine")
    if res is not out:
        out[...] = res
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
    if (not isinstance(out, np.ndarray) or not out.flags.c_contiguous or not out.flags.aligned
            or not out.flags.writeable or out.shape != (N, d) or out.dtype != np.float32):
        raise ValueError(f"out must be a writable, contiguous float32 [{N}, {d}] array")
    if N and d:
        nt = _threads if nthreads is None else nthreads
        _status(lib.fr_half_to_float_rows(_ptr(Xa, "uint16_t *"), N, d, ldx, _ptr(out, "float *"), nt), "half_to_float")
    return out


def gemv_sigmoid(E: np.ndarray, u: np.ndarray, bias: float = 0.0) -> np.ndarray:
    """[B] sigmoid(E u + bias), accumulated in double."""
    Ea, lde = _rows(E, np.float32, "embeddings")
    ua = _vector(u, np.float32, "vector")
    if ua.shape != (Ea.shape[1],):
        raise ValueError(f"vector of shape {ua.shape} does not match embedding width {Ea.shape[1]}")
    out = np.empty(Ea.shape[0], dtype=np.float32)
    if Ea.shape[0]:
        _status(lib.fr_gemv_sigmoid_f32(
            _ptr(Ea, "float *"), Ea.shape[0], Ea.shape[1], lde, _ptr(ua, "float *") if ua.size else ffi.NULL,
            float(bias), _ptr(out, "float *"), _threads,
        ), "gemv_sigmoid")
    return out


def sw_stats(sims: np.ndarray, A: CSRMatrix, sharpness: "float | None" = None) -> tuple[np.ndarray, np.ndarray]:
    """S[b] = A w_b (float64 [B, K]) for the weights of each row of sims (see reference.sw_weights),
    and the row maxima."""
    sa, lds = _rows(sims, np.float32, "similarities")
    B, U = sa.shape
    K = A.shape[0]
    if U != A.shape[1]:
        raise ValueError(f"similarities have {U} columns, the statistics matrix {A.shape[1]}")
    gamma = _gamma(sharpness)
    indptr = np.require(A.indptr, np.int64, ["C", "A"])
    indices = np.require(A.indices, np.int32, ["C", "A"])
    values = np.require(A.values, np.float32, ["C", "A"])
    S = np.empty((B, K), dtype=np.float64)
    smax = np.empty(B, dtype=np.float32)
    if B:
        nnz = indices.size
        _status(lib.fr_sw_stats(
            _ptr(sa, "float *"), B, U, lds, _ptr(indptr, "int64_t *"),
            _ptr(indices, "int32_t *") if nnz else ffi.NULL, _ptr(values, "float *") if nnz else ffi.NULL,
            K, gamma, _ptr(S, "double *"),
            _ptr(smax, "float *"), _threads,
        ), "sw_stats")
    return S, smax


def bt_fit(S: np.ndarray, T: int) -> np.ndarray:
    """[B, T] weighted Bradley-Terry coefficients of each row of counts, by the C Newton
    solver; any row it cannot finish is solved again by the numpy reference."""
    from ..sw.bradley_terry import RIDGE, n_stats

    if T < 1:
        raise ValueError(f"T must be >= 1, got {T}")
    S = check_real(np.atleast_2d(S), "statistics", 2)
    Sa = np.require(S, np.float64, ["C", "A"])
    if Sa.shape[1] != n_stats(T):
        raise ValueError(f"expected {n_stats(T)} statistics for {T} players, got {Sa.shape[1]}")
    beta = np.zeros((Sa.shape[0], T))
    if Sa.shape[0]:
        failed = _status(lib.fr_bt_fit(_ptr(Sa, "double *"), Sa.shape[0], T, RIDGE, 1e-11, 100,
                                       _ptr(beta, "double *"), _threads), "bt_fit")
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
        _ptr(t, "int8_t *") if t.size else ffi.NULL, _ptr(sc, "float *") if sc.size else ffi.NULL, V, d,
        _ptr(ids32, "int32_t *") if ids32.size else ffi.NULL, ids32.size, _ptr(off, "int64_t *"), B,
        _ptr(out, "float *"), _threads,
    )
    if code == lib.FR_ERANGE:
        check_ids_in_range(ids32, V)  # raises, naming the id
    _status(code, "embedding_bag_i8")
    return out
