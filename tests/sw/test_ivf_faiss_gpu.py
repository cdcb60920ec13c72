"""FAISS on the GPU for the IVF mode: the GPU coarse search gives the CPU index's probes.

Runs where FAISS is a GPU build and sees a GPU (faiss-gpu-cu12 on an H100/H200); the switch
itself (FASTROUTE_FAISS_GPU) is tested everywhere."""

from __future__ import annotations

import numpy as np
import pytest

faiss = pytest.importorskip("faiss")

from fastroute.sw.ivf import build_ivf, use_faiss_gpu  # noqa: E402

HAS_GPU = getattr(faiss, "get_num_gpus", lambda: 0)() > 0


def test_switch(monkeypatch):
    monkeypatch.setenv("FASTROUTE_FAISS_GPU", "0")
    assert use_faiss_gpu(faiss) is False
    monkeypatch.setenv("FASTROUTE_FAISS_GPU", "yes")
    with pytest.raises(ValueError, match="FASTROUTE_FAISS_GPU"):
        use_faiss_gpu(faiss)
    monkeypatch.delenv("FASTROUTE_FAISS_GPU")
    assert use_faiss_gpu(faiss) is HAS_GPU
    if not HAS_GPU:
        monkeypatch.setenv("FASTROUTE_FAISS_GPU", "1")
        with pytest.raises(RuntimeError, match="no GPU"):
            use_faiss_gpu(faiss)


@pytest.mark.skipif(not HAS_GPU, reason="needs a FAISS GPU build and a GPU (faiss-gpu-cu12)")
def test_gpu_probes_equal_the_cpu_index(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20_000, 64)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Q = rng.standard_normal((257, 64)).astype(np.float32)
    Q /= np.linalg.norm(Q, axis=1, keepdims=True)
    monkeypatch.setenv("FASTROUTE_FAISS_GPU", "0")
    cpu_index, _ = build_ivf(X, 256)
    monkeypatch.setenv("FASTROUTE_FAISS_GPU", "1")
    gpu_index, _ = build_ivf(X, 256)
    np.testing.assert_array_equal(cpu_index.centroids, gpu_index.centroids)  # built on the CPU either way
    d_cpu, p_cpu = cpu_index.quantizer().search(Q, 8)
    d_gpu, p_gpu = gpu_index.quantizer().search(Q, 8)
    np.testing.assert_allclose(d_gpu, d_cpu, atol=1e-5)
    # the same probes, except where two centroids tie within the GEMM's rounding
    same = p_gpu == p_cpu
    tie = np.abs(d_gpu - d_cpu) < 1e-5
    assert (same | tie).all()
    assert same.mean() > 0.999
