"""A minimal CSR matrix: the sparse statistics matrix A that sw_ranking multiplies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CSRMatrix:
    """K x U sparse matrix in CSR form with the dtypes the C kernels take."""

    indptr: np.ndarray  # int64 [K + 1]
    indices: np.ndarray  # int32 [nnz], column ids
    values: np.ndarray  # float32 [nnz]
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        k, u = self.shape
        if self.indptr.dtype != np.int64 or self.indptr.shape != (k + 1,):
            raise ValueError(f"CSR indptr must be int64 of length {k + 1}")
        if self.indices.dtype != np.int32 or self.values.dtype != np.float32:
            raise ValueError("CSR indices must be int32 and values float32")
        if self.indices.shape != self.values.shape or self.indptr[-1] != self.indices.size:
            raise ValueError("CSR indices/values length does not match indptr")
        if self.indptr[0] != 0 or np.any(self.indptr[1:] < self.indptr[:-1]):
            raise ValueError("CSR indptr must start at 0 and never decrease")
        if self.indices.size and (self.indices.min() < 0 or self.indices.max() >= u):
            raise ValueError(f"CSR column index outside [0, {u})")

    @classmethod
    def from_coo(cls, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> "CSRMatrix":
        """Builds CSR from triplets, summing duplicates; columns sorted within rows."""
        k, u = shape
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        vals = np.asarray(vals, dtype=np.float64)
        key = rows * max(u, 1) + cols
        uniq, inverse = np.unique(key, return_inverse=True)
        summed = np.bincount(inverse, weights=vals, minlength=uniq.size)
        r = uniq // max(u, 1)
        c = uniq % max(u, 1)
        indptr = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(np.bincount(r, minlength=k), out=indptr[1:])
        return cls(indptr, c.astype(np.int32), summed.astype(np.float32), (k, u))

    def to_dense(self) -> np.ndarray:
        k, u = self.shape
        dense = np.zeros((k, u), dtype=np.float64)
        rows = np.repeat(np.arange(k), np.diff(self.indptr))
        np.add.at(dense, (rows, self.indices), self.values)
        return dense
