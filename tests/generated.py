"""Generated inputs shared by the kernel tests: the memory layouts numpy can hand an op
(broadcast, Fortran order, negative and odd strides, unaligned, big-endian, read-only), and
Bradley-Terry count rows."""

from __future__ import annotations

import numpy as np

LAYOUTS_2D = [
    "c",
    "fortran",
    "negative",
    "step2",
    "broadcast_rows",
    "broadcast_cols",
    "odd_row_stride",
    "unaligned",
    "big_endian",
    "read_only",
]
LAYOUTS_1D = ["c", "negative", "step2", "broadcast", "unaligned", "big_endian", "read_only"]


def _unaligned(a: np.ndarray) -> np.ndarray:
    """A copy of `a` whose data starts one byte into a uint8 buffer."""
    buf = np.zeros(a.nbytes + 1, dtype=np.uint8)
    view = buf[1:].view(a.dtype).reshape(a.shape)
    view[...] = a
    return view


def _any_rank_layout(a: np.ndarray, kind: str) -> np.ndarray:
    """The layouts that do not depend on the array's rank."""
    if kind == "unaligned":
        return _unaligned(a)
    if kind == "big_endian":
        return a.astype(a.dtype.newbyteorder(">"))
    if kind == "read_only":
        v = a.copy()
        v.flags.writeable = False
        return v
    raise ValueError(kind)


def layout_2d(a: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(values, view): `view` holds `values` (which may differ from `a` where the layout needs
    repeated rows or columns) in the memory layout `kind`."""
    a = np.ascontiguousarray(a)
    n, d = a.shape
    if kind == "c":
        return a, a
    if kind == "fortran":
        return a, np.asfortranarray(a)
    if kind == "negative":
        return a, np.ascontiguousarray(a[::-1, ::-1])[::-1, ::-1]
    if kind == "step2":
        big = np.zeros((2 * n, 2 * d), dtype=a.dtype)
        big[::2, ::2] = a
        return a, big[::2, ::2]
    if kind == "broadcast_rows":
        v = np.broadcast_to(a[:1], a.shape)
        return np.ascontiguousarray(v), v
    if kind == "broadcast_cols":
        v = np.broadcast_to(a[:, :1], a.shape)
        return np.ascontiguousarray(v), v
    if kind == "odd_row_stride":  # rows 2 bytes apart from a whole number of items
        item = a.dtype.itemsize
        stride = d * item + 2
        buf = np.zeros(n * stride + item, dtype=np.uint8)
        v = np.ndarray(a.shape, dtype=a.dtype, buffer=buf, strides=(stride, item))
        v[...] = a
        return a, v
    return a, _any_rank_layout(a, kind)


def layout_1d(a: np.ndarray, kind: str) -> tuple[np.ndarray, np.ndarray]:
    a = np.ascontiguousarray(a)
    if kind == "c":
        return a, a
    if kind == "negative":
        return a, np.ascontiguousarray(a[::-1])[::-1]
    if kind == "step2":
        big = np.zeros(2 * a.size, dtype=a.dtype)
        big[::2] = a
        return a, big[::2]
    if kind == "broadcast":
        v = np.broadcast_to(a[:1], a.shape)
        return np.ascontiguousarray(v), v
    return a, _any_rank_layout(a, kind)


def random_counts(rng, T, pinned):
    C = rng.uniform(0.5, 20, (T, T)) * (rng.random((T, T)) < 0.7)
    np.fill_diagonal(C, 0)
    C += 0.1  # keep the comparison graph strongly connected
    np.fill_diagonal(C, 0)
    Dp = rng.uniform(0, 5, T) if pinned else np.zeros(T)
    Dm = rng.uniform(0, 5, T) if pinned else np.zeros(T)
    return np.concatenate([C.ravel(), Dp, Dm])


def bt_row(C: np.ndarray, Dp: "np.ndarray | None" = None, Dm: "np.ndarray | None" = None) -> np.ndarray:
    T = C.shape[0]
    return np.concatenate([C.ravel(), np.zeros(T) if Dp is None else Dp, np.zeros(T) if Dm is None else Dm])


def bt_counts(rng, T: int, scale: float, pinned: bool, density: float = 0.8) -> np.ndarray:
    """Random counts keeping every player in one strongly connected group (a finite fit):
    a two-way cycle of small counts under random, possibly sparse, ones."""
    C = rng.uniform(0.5, 20, (T, T)) * (rng.random((T, T)) < density)
    ring = np.arange(T)
    C[ring, (ring + 1) % T] += 0.3
    C[(ring + 1) % T, ring] += 0.3
    C *= scale
    D = (rng.uniform(0.1, 5, (2, T)) * scale) if pinned else (None, None)
    return bt_row(C, *D)
