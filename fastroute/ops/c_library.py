"""The C library behind the c backend: loading fastroute._C, thread count and SIMD level,
and the helpers that hand numpy arrays to C (layout checks, pointers, status codes)."""

from __future__ import annotations

import os

import numpy as np

from .checks import check_real


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


_threads = _env_threads()  # what every kernel call passes as nthreads (0: OpenMP's default)


def thread_setting() -> int:
    """The thread count set (0: OpenMP's default), as set_num_threads takes it."""
    return _threads


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


def status(code: int, fn: str) -> int:
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


def rows(a: np.ndarray, dtype: type, name: str) -> tuple[np.ndarray, int]:
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


def vector(a: np.ndarray, dtype: type, name: str) -> np.ndarray:
    """A 1-D contiguous, aligned, native-order copy of `a` (no copy when it already is one)."""
    if type(a) is np.ndarray and a.dtype == dtype and a.ndim == 1 and a.flags.c_contiguous and a.flags.aligned:
        return a
    return np.require(check_real(a, name, 1), dtype=dtype, requirements=["C", "A"])


_ARRAY_TYPES: dict[str, str] = {}  # "float *" -> "float[]", built once per type


def ptr(a: np.ndarray, ctype: str):
    """A C pointer to the array's data (which must outlive the call: the caller holds it).
    ffi.from_buffer is ~4x cheaper than going through a.ctypes, which matters at B=1."""
    if a.flags.c_contiguous:
        array_type = _ARRAY_TYPES.get(ctype) or _ARRAY_TYPES.setdefault(ctype, ctype.replace(" *", "[]"))
        return ffi.from_buffer(array_type, a, require_writable=False)
    return ffi.cast(ctype, a.ctypes.data)


def writable_out(out: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, int]:
    """The caller's float32 `out` if C can write it in place, else a fresh array to copy back
    from; and its row stride in elements."""
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != np.float32:
        raise ValueError(
            f"out must be a float32 array of shape {shape}, got "
            f"{getattr(out, 'dtype', type(out).__name__)} of shape {getattr(out, 'shape', '?')}"
        )
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    n, d = shape
    s0, s1 = out.strides
    ok = out.flags.aligned and (d <= 1 or s1 == 4) and (n <= 1 or (s0 > 0 and s0 % 4 == 0 and s0 // 4 >= d))
    if not ok:
        out = np.empty(shape, dtype=np.float32)
    return out, (out.strides[0] // 4 if n > 1 else d)


def half_to_float(X: np.ndarray, out: np.ndarray | None = None, nthreads: int | None = None) -> np.ndarray:
    """float32 copy of a float16 matrix (numpy's own cast is ~10x slower)."""
    Xa, ldx = rows(X, np.float16, "matrix")
    N, d = Xa.shape
    if out is None:
        out = np.empty((N, d), dtype=np.float32)
    if (
        not isinstance(out, np.ndarray)
        or not out.flags.c_contiguous
        or not out.flags.aligned
        or not out.flags.writeable
        or out.shape != (N, d)
        or out.dtype != np.float32
    ):
        raise ValueError(f"out must be a writable, contiguous float32 [{N}, {d}] array")
    if N and d:
        nt = _threads if nthreads is None else nthreads
        status(lib.fr_half_to_float_rows(ptr(Xa, "uint16_t *"), N, d, ldx, ptr(out, "float *"), nt), "half_to_float")
    return out
