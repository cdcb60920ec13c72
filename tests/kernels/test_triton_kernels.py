"""Every Triton kernel against the numpy reference, under TRITON_INTERPRET=1 on the CPU
(CI) or on a GPU, on awkward shapes (B=1, N=1, d not a multiple of the block)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("triton")

from fastroute.ops import get_backend, reference  # noqa: E402
from fastroute.ops.csr import CSRMatrix  # noqa: E402

SHAPES = [(1, 1, 16), (1, 33, 40), (3, 50, 16), (17, 20, 33), (5, 70, 64)]


@pytest.fixture(scope="module")
def tri():
    import os

    if os.environ.get("TRITON_INTERPRET") != "1":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("no GPU and TRITON_INTERPRET is not set")
    return get_backend("triton", "cpu" if os.environ.get("TRITON_INTERPRET") == "1" else "cuda")


def _unit(rng, n, d):
    X = rng.standard_normal((n, d))
    return X / np.linalg.norm(X, axis=1, keepdims=True)


@pytest.mark.parametrize("B,N,d", SHAPES)
def test_cosine(tri, B, N, d):
    rng = np.random.default_rng(B + N + d)
    Q = rng.standard_normal((B, d)).astype(np.float32)
    Q[0] *= 0 if B > 2 else 1  # a zero query
    X = _unit(rng, N, d)
    np.testing.assert_allclose(
        tri.cosine_sim(Q, X.astype(np.float32)), reference.cosine_sim(Q, X.astype(np.float32)), atol=2e-6
    )
    # fp16 arenas feed tensor cores in fp16: the query is rounded to fp16 too
    np.testing.assert_allclose(
        tri.cosine_sim(Q, X.astype(np.float16)), reference.cosine_sim(Q, X.astype(np.float16)), atol=2e-3
    )


@pytest.mark.parametrize("B,d", [(1, 1), (1, 7), (19, 64), (40, 130)])
def test_gemv_sigmoid(tri, B, d):
    rng = np.random.default_rng(B * d)
    E = rng.standard_normal((B, d)).astype(np.float32)
    u = (rng.standard_normal(d) / np.sqrt(d)).astype(np.float32)
    np.testing.assert_allclose(tri.gemv_sigmoid(E, u, 0.3), reference.gemv_sigmoid(E, u, 0.3), atol=1e-6)
    E2 = np.repeat(E, 2, axis=0)[::2]  # non-contiguous rows
    np.testing.assert_allclose(tri.gemv_sigmoid(E2, u, 0.3), reference.gemv_sigmoid(E, u, 0.3), atol=1e-6)


def _csr(rng, K, N):
    return CSRMatrix.from_coo(
        rng.integers(0, K, 3 * N), rng.integers(0, N, 3 * N), rng.choice([1.0, 2.0, 0.25], 3 * N), (K, N)
    )


@pytest.mark.parametrize("B,N,d", SHAPES)
@pytest.mark.parametrize("sharpness", [None, 9.0])
def test_fused_weighted_stats(tri, B, N, d, sharpness):
    rng = np.random.default_rng(N * 7 + d)
    Q = rng.standard_normal((B, d)).astype(np.float32)
    X = _unit(rng, N, d).astype(np.float32)
    A = _csr(rng, 24, N)
    S, m = tri.sw_weighted_stats(Q, X, tri.dense_stats_matrix(A).cpu().numpy(), sharpness)
    S_ref, m_ref = reference.sw_stats(reference.cosine_sim(Q, X), A, sharpness)
    np.testing.assert_allclose(S, S_ref, rtol=2e-5, atol=1e-30)
    np.testing.assert_allclose(m, m_ref, atol=2e-6)


def test_stats_from_similarities(tri):
    rng = np.random.default_rng(5)
    sims = rng.uniform(-1, 1, (4, 60)).astype(np.float32)
    sims[1] = 0.0
    A = _csr(rng, 30, 60)
    for g in (None, 3.0):
        np.testing.assert_allclose(tri.sw_stats(sims, A, g)[0], reference.sw_stats(sims, A, g)[0], rtol=2e-6)


@pytest.mark.parametrize("pinned", [True, False])
def test_newton_on_device(tri, pinned):
    from generated import random_counts

    rng = np.random.default_rng(6)
    S = np.stack([random_counts(rng, 6, pinned) for _ in range(5)])
    np.testing.assert_allclose(tri.bt_fit(S, 6), reference.bt_fit(S, 6), atol=1e-9)


def test_routers_on_the_triton_backend():
    from fastroute import MFRouter, SWRankingRouter
    from fastroute.embedders.base import EmbedderSpec

    from synthetic import synthetic_arena

    cols, emb, _ = synthetic_arena(seed=3, n_battles=200, n_prompts=60, dim=16)
    Q = np.random.default_rng(0).standard_normal((5, 16))
    cpu = SWRankingRouter.from_battles(cols, emb, num_tiers=10, embedder="t", backend="numpy")
    gpu = SWRankingRouter.from_battles(cols, emb, num_tiers=10, embedder="t", backend="triton")
    p = cpu.win_rates(embeddings=Q)
    assert np.ptp(p) > 1e-3
    np.testing.assert_allclose(gpu.win_rates(embeddings=Q), p, atol=1e-5)
    np.testing.assert_allclose(
        gpu.with_sharpness(6.0).win_rates(embeddings=Q), cpu.with_sharpness(6.0).win_rates(embeddings=Q), atol=1e-5
    )
    rng = np.random.default_rng(1)
    kw = dict(
        P=rng.standard_normal((4, 8)),
        classifier=rng.standard_normal(8),
        text_proj=rng.standard_normal((8, 16)),
        models=["a", "b", "c", "d"],
        strong_model="a",
        weak_model="b",
        embedder=EmbedderSpec("t", 16),
    )
    np.testing.assert_allclose(
        MFRouter(backend="triton", **kw).win_rates(embeddings=Q),
        MFRouter(backend="numpy", **kw).win_rates(embeddings=Q),
        atol=1e-6,
    )


def test_newton_reports_rows_it_does_not_finish(tri):
    """The device solve flags rows that do not converge (NaN, converged=False) instead of
    returning unfinished coefficients; the backend solves those rows with the reference."""
    import torch

    from generated import random_counts

    newton = tri.kernel_module("bt_fit")
    rng = np.random.default_rng(7)
    S = np.stack([random_counts(rng, 5, i % 2 == 0) for i in range(4)])
    beta, ok = newton.bt_fit(torch.from_numpy(S), 5, max_iter=1)
    assert ok.dtype == torch.bool and not bool(ok.any())
    assert torch.isnan(beta).all()
    beta, ok = newton.bt_fit(torch.from_numpy(S), 5)
    assert bool(ok.all()) and torch.isfinite(beta).all()
    singular = np.zeros_like(S[:1])  # no battles at all: a zero Hessian
    beta, ok = newton.bt_fit(torch.from_numpy(np.concatenate([S[:1], singular])), 5, ridge=0.0)
    assert ok.tolist() == [True, False] and torch.isnan(beta[1]).all()


def test_backend_falls_back_for_unconverged_rows(tri, monkeypatch):
    from generated import random_counts

    newton = tri.kernel_module("bt_fit")
    real = newton.bt_fit
    monkeypatch.setattr(newton, "bt_fit", lambda S, T: real(S, T, max_iter=1))
    rng = np.random.default_rng(8)
    S = np.stack([random_counts(rng, 4, True) for _ in range(3)])
    np.testing.assert_allclose(tri.bt_fit(S, 4), reference.bt_fit(S, 4), atol=1e-9)


def test_arena_splits_use_the_tensors_device(monkeypatch):
    """The SM count comes from the GPU holding the data, not device 0."""
    import torch

    from fastroute.ops.triton_backend import kernel_module

    sw = kernel_module("sw_stats")
    asked = []

    class Props:
        multi_processor_count = 10

    monkeypatch.setattr(sw, "interpreting", lambda: False)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda dev: asked.append(dev) or Props())
    splits = sw._splits(1, 1 << 20, torch.device("cuda", 1))
    assert asked == [torch.device("cuda", 1)] and splits == 40


def test_kernels_use_int64_row_offsets():
    """Row offsets (row * stride) are formed in int64: in int32 they wrap past 2^31 elements,
    e.g. an fp16 arena of 1.4M x 1536. (The GPU test below runs such a size for real.)"""
    import inspect

    from fastroute.ops.triton_backend import kernel_module

    for mod, needle in [
        ("tiles", "rb.to(tl.int64)"),
        ("tiles", "rn.to(tl.int64)"),
        ("gemv_sigmoid", "rows.to(tl.int64)"),
        ("cosine_sim", "rb.to(tl.int64)"),
        ("sw_stats", "rn.to(tl.int64)"),
    ]:
        assert needle in inspect.getsource(kernel_module(mod)), (mod, needle)


def test_gemv_past_two_to_the_31_elements():
    """On a GPU with room for it: a [2^21 + 64, 1024] fp16 E (2^31 + 65536 elements, 4.3 GB)."""
    import torch

    if (
        not torch.cuda.is_available()
        or torch.cuda.get_device_properties(torch.cuda.current_device()).total_memory < 24e9
    ):
        pytest.skip("needs a GPU with >= 24 GB")
    from fastroute.ops.triton_backend import kernel_module

    B, d = (1 << 21) + 64, 1024
    E = torch.zeros((B, d), dtype=torch.float16, device="cuda")
    E[-64:] = 1.0
    u = torch.full((d,), 1.0 / d, device="cuda")
    p = kernel_module("gemv_sigmoid").gemv_sigmoid(E, u, 0.0)
    torch.testing.assert_close(p[-64:].cpu(), torch.full((64,), 1 / (1 + np.exp(-1.0)), dtype=torch.float32))
    torch.testing.assert_close(p[:64].cpu(), torch.full((64,), 0.5))


@pytest.mark.parametrize(
    "kind", ["fortran", "negative", "step2", "broadcast_rows", "unaligned", "big_endian", "read_only"]
)
def test_host_array_layouts(tri, kind):
    """Host arrays in any layout reach the kernels as their values (big-endian was refused by
    torch.from_numpy, read-only data warned)."""
    import warnings

    from generated import layout_2d

    rng = np.random.default_rng(11)
    Ev, E = layout_2d(rng.standard_normal((5, 24)).astype(np.float32), kind)
    Xv, X = layout_2d(_unit(rng, 9, 24).astype(np.float32), kind)
    u = (rng.standard_normal(24) / 5).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(tri.gemv_sigmoid(E, u, 0.1), reference.gemv_sigmoid(Ev, u, 0.1), atol=1e-6)
        np.testing.assert_allclose(tri.cosine_sim(E, X), reference.cosine_sim(Ev, Xv), atol=2e-6)


def test_hypothesis_small_layouts(tri):
    """A few hypothesis examples through the interpreter (each launch costs ~0.1 s there)."""
    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    from generated import LAYOUTS_2D, layout_2d

    @settings(max_examples=10, deadline=None)
    # A [1, 1] view with an odd row stride counts as C-contiguous; torch.from_numpy refused it.
    @example(B=1, N=1, d=1, kind="odd_row_stride", dtype=np.float32, seed=0)
    @given(
        B=st.integers(1, 20),
        N=st.integers(1, 20),
        d=st.integers(1, 40),
        kind=st.sampled_from(LAYOUTS_2D),
        dtype=st.sampled_from([np.float32, np.float64, np.float16]),
        seed=st.integers(0, 2**32 - 1),
    )
    def check(B, N, d, kind, dtype, seed):
        rng = np.random.default_rng(seed)
        Qv, Q = layout_2d(rng.standard_normal((B, d)).astype(dtype), kind)
        Xv, X = layout_2d(_unit(rng, N, d).astype(np.float32), kind)
        np.testing.assert_allclose(tri.cosine_sim(Q, X), reference.cosine_sim(Qv, Xv), atol=1e-5)
        u = (rng.standard_normal(d) / np.sqrt(d)).astype(np.float32)
        np.testing.assert_allclose(
            tri.gemv_sigmoid(Q, u, 0.2), reference.gemv_sigmoid(np.asarray(Qv, np.float32), u, 0.2), atol=1e-6
        )

    check()


def test_kernels_run_where_the_data_is():
    """Tensors on the second GPU are computed there (not moved to, or launched on, device 0)."""
    import torch

    if not torch.cuda.is_available() or torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    tri = get_backend("triton", "cuda")
    rng = np.random.default_rng(13)
    E = rng.standard_normal((33, 64)).astype(np.float32)
    X = _unit(rng, 50, 64).astype(np.float32)
    u = (rng.standard_normal(64) / 8).astype(np.float32)
    dev = torch.device("cuda", 1)
    p = tri.gemv_sigmoid(torch.from_numpy(E).to(dev), u)
    s = tri.cosine_sim(torch.from_numpy(E).to(dev), torch.from_numpy(X).to(dev))
    assert p.device == dev and s.device == dev
    np.testing.assert_allclose(p.cpu().numpy(), reference.gemv_sigmoid(E, u), atol=1e-6)
    np.testing.assert_allclose(s.cpu().numpy(), reference.cosine_sim(E, X), atol=2e-6)
