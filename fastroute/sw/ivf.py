"""Approximate sw_ranking: an IVF coarse quantiser over the arena prompts.

FAISS trains spherical k-means centroids and answers the coarse search. The
arena rows are stored sorted by cluster, so a cluster is a contiguous slice
that the exact kernels scan. For a query, prompts in the `nprobe` nearest
clusters get their exact similarity; every other prompt gets its cluster's
mean similarity q . mean(x in cluster) (exact on average, but the weights are
convex in s, so far clusters are slightly under-weighted). The similarity
maximum is taken over that mixed vector. The error against exact mode is
measured in tests/sw/test_ivf.py and benchmarks/README.md.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


@dataclass(eq=False)
class IVFIndex:
    centroids: np.ndarray  # [C, d] float32 unit vectors, for probing
    means: np.ndarray  # [C, d] float32 mean of each cluster's (unit) rows
    offsets: np.ndarray  # [C + 1] int64: cluster c holds arena rows offsets[c]:offsets[c+1]
    _quantizer: list = field(default_factory=list, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def nlist(self) -> int:
        return int(self.centroids.shape[0])

    @cached_property
    def row_cluster(self) -> np.ndarray:
        """Cluster id of every arena row."""
        return np.repeat(np.arange(self.nlist), np.diff(self.offsets))

    def quantizer(self):
        """A FAISS flat inner-product index over the centroids (built once)."""
        if not self._quantizer:
            import faiss

            with self._lock:
                if not self._quantizer:
                    q = faiss.IndexFlatIP(self.centroids.shape[1])
                    q.add(np.ascontiguousarray(self.centroids, dtype=np.float32))
                    if use_faiss_gpu(faiss):
                        self._gpu_resources = faiss.StandardGpuResources()
                        q = faiss.index_cpu_to_gpu(self._gpu_resources, 0, q)
                    self._quantizer.append(q)
        return self._quantizer[0]


def use_faiss_gpu(faiss) -> bool:
    """Whether the coarse search runs on the GPU: FASTROUTE_FAISS_GPU=1 requires it, 0 forbids
    it; unset, it does when FAISS is a GPU build and sees a GPU. Only the search moves: the
    k-means that builds the index stays on the CPU, so a bundle is the same wherever it was
    built, and a flat inner-product search over the centroids gives the CPU index's probes."""
    has_gpu = getattr(faiss, "get_num_gpus", lambda: 0)() > 0
    wanted = os.environ.get("FASTROUTE_FAISS_GPU", "")
    if wanted not in ("", "0", "1"):
        raise ValueError(f"FASTROUTE_FAISS_GPU must be 0 or 1, got {wanted!r}")
    if wanted == "1" and not has_gpu:
        raise RuntimeError("FASTROUTE_FAISS_GPU=1, but FAISS sees no GPU (install faiss-gpu-cu12 on a GPU machine)")
    return has_gpu and wanted != "0"


def default_nlist(n_rows: int) -> int:
    return int(max(1, min(n_rows, round(4 * np.sqrt(n_rows)))))


def build_ivf(X: np.ndarray, nlist: int, *, seed: int = 0, niter: int = 20) -> tuple[IVFIndex, np.ndarray]:
    """Clusters the unit rows of X; returns the index and the row order (new row i = old row order[i])."""
    import faiss

    N, d = X.shape
    if not 1 <= nlist <= N:
        raise ValueError(f"nlist must be in [1, {N}], got {nlist}")
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    km = faiss.Kmeans(
        d,
        nlist,
        niter=niter,
        seed=seed,
        spherical=True,
        verbose=False,
        min_points_per_centroid=1,
        max_points_per_centroid=max(256, -(-N // nlist)),
    )
    km.train(X32)
    cent = np.ascontiguousarray(km.centroids, dtype=np.float32)
    _, assign = km.index.search(X32, 1)
    assign = assign[:, 0]
    order = np.argsort(assign, kind="stable")
    counts = np.bincount(assign, minlength=nlist)
    offsets = np.zeros(nlist + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    sums = np.zeros((nlist, d), dtype=np.float64)
    np.add.at(sums, assign, X32.astype(np.float64))
    means = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
    norms = np.linalg.norm(cent, axis=1, keepdims=True)
    cent = (cent / np.where(norms > 0, norms, 1)).astype(np.float32)
    return IVFIndex(cent, means, offsets), order


def approximate_similarities(Q: np.ndarray, X: np.ndarray, ivf: IVFIndex, nprobe: int, ops) -> np.ndarray:
    """[B, U] similarities: exact inside each query's nprobe nearest clusters, cluster means elsewhere."""
    from ..ops.rows import normalize_rows

    Qn = normalize_rows(Q)
    nprobe = int(min(max(nprobe, 1), ivf.nlist))
    _, probes = ivf.quantizer().search(Qn, nprobe)
    sims = np.ascontiguousarray((Qn @ ivf.means.T)[:, ivf.row_cluster])
    for c in np.unique(probes):
        if c < 0:
            continue
        lo, hi = int(ivf.offsets[c]), int(ivf.offsets[c + 1])
        if hi == lo:
            continue
        qs = np.flatnonzero((probes == c).any(axis=1))
        sims[qs, lo:hi] = ops.cosine_sim(Qn[qs], X[lo:hi])
    return sims
