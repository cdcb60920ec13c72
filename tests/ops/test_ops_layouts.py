"""Every op on every CPU backend, on every memory layout numpy can hand it: broadcast rows
(stride 0), Fortran order, negative strides, step-2 slices, odd row strides, unaligned
buffers, big-endian and read-only data, against the numpy reference on a contiguous copy.

Tolerances are stated per op (float32 kernels are never bit-identical across CPUs);
decisions (p >= threshold) must agree exactly wherever the reference is farther than the
tolerance from the threshold.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastroute.ops import get_backend, reference
from fastroute.ops.csr import CSRMatrix

from conftest import CPU_BACKENDS
from generated import LAYOUTS_1D, LAYOUTS_2D, layout_1d, layout_2d, random_counts

HYP = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

COS_ATOL = 1e-5  # float32 dot products of unit vectors, d <= 200
GEMV_ATOL = 1e-6  # both accumulate in double; inputs rounded to float32
STATS_RTOL = 1e-5  # float32 exponents, double sums
BAG_ATOL = 1e-6
BT_ATOL = 1e-8  # two Newton solvers run to |step| < 1e-11


def _unit_rows(rng, n, d):
    X = rng.standard_normal((n, d))
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)


def _csr(rng, K, U):
    nnz = 2 * U + 1
    return CSRMatrix.from_coo(
        rng.integers(0, K, nnz), rng.integers(0, U, nnz), rng.choice([1.0, 2.0, 0.5], nnz), (K, U)
    )


# ---- the reported bug, end to end ------------------------------------------------------


@pytest.mark.parametrize("B", [4, 64])
def test_mf_router_on_broadcast_embeddings(B):
    """load_router("mf").win_rates on np.broadcast_to(v, (B, d)) gave [0.7375, 0.0, 0.0013, 1.0]
    at B=4 (C read rows past the buffer) and a NaN error at B=64."""
    from fastroute import load_router

    router = load_router("mf")
    v = np.random.default_rng(0).standard_normal(router.embedder_spec.dim).astype(np.float32)
    one = router.win_rates(embeddings=v[None])
    got = router.win_rates(embeddings=np.broadcast_to(v, (B, v.size)))
    np.testing.assert_allclose(got, np.repeat(one, B), atol=1e-7)


# ---- every layout, fixed shapes --------------------------------------------------------


@pytest.mark.parametrize("name", CPU_BACKENDS)
@pytest.mark.parametrize("kind", LAYOUTS_2D)
def test_cosine_sim_layouts(name, kind):
    rng = np.random.default_rng(1)
    ops = get_backend(name)
    for B in (1, 3, 20):  # 20 > the C backend's small-batch limit: the BLAS path
        Qv, Q = layout_2d(rng.standard_normal((B, 37)).astype(np.float32), kind)
        Xv, X = layout_2d(_unit_rows(rng, 11, 37).astype(np.float32), kind)
        want = reference.cosine_sim(Qv, Xv)
        np.testing.assert_allclose(ops.cosine_sim(Q, X), want, atol=COS_ATOL)
        if kind != "read_only":  # out in the same layout (values are overwritten)
            _, out = layout_2d(np.zeros((B, 11), np.float32), kind if kind not in ("big_endian",) else "c")
            if not out.flags.writeable:
                continue
            got = ops.cosine_sim(Q, X, out=out)
            assert got is out
            np.testing.assert_allclose(out, want, atol=COS_ATOL)


@pytest.mark.parametrize("name", CPU_BACKENDS)
@pytest.mark.parametrize("kind", LAYOUTS_2D)
def test_gemv_sigmoid_layouts(name, kind):
    rng = np.random.default_rng(2)
    for B in (1, 4, 64):
        Ev, E = layout_2d(rng.standard_normal((B, 256)).astype(np.float32), kind)
        uv, u = layout_1d((rng.standard_normal(256) / 16).astype(np.float32), LAYOUTS_1D[len(kind) % len(LAYOUTS_1D)])
        want = reference.gemv_sigmoid(Ev, uv, 0.1)
        got = get_backend(name).gemv_sigmoid(E, u, 0.1)
        np.testing.assert_allclose(got, want, atol=GEMV_ATOL)


@pytest.mark.parametrize("name", CPU_BACKENDS)
@pytest.mark.parametrize("kind", LAYOUTS_2D)
def test_sw_stats_layouts(name, kind):
    rng = np.random.default_rng(3)
    A = _csr(rng, 9, 30)
    sv, s = layout_2d(rng.uniform(-0.5, 1.0, (5, 30)).astype(np.float32), kind)
    for g in (None, 4.0):
        S, m = get_backend(name).sw_stats(s, A, g)
        S_ref, m_ref = reference.sw_stats(sv, A, g)
        np.testing.assert_allclose(S, S_ref, rtol=STATS_RTOL)
        np.testing.assert_array_equal(m, m_ref)


@pytest.mark.parametrize("name", CPU_BACKENDS)
@pytest.mark.parametrize("kind", LAYOUTS_1D)
def test_embedding_bag_layouts(name, kind):
    rng = np.random.default_rng(4)
    V, d = 40, 12
    tv, table = layout_2d(
        rng.integers(-127, 128, (V, d)).astype(np.int8),
        "c"
        if kind in ("big_endian", "unaligned")
        else {"negative": "negative", "step2": "step2", "broadcast": "broadcast_rows", "read_only": "read_only"}.get(
            kind, "c"
        ),
    )
    scv, sc = layout_1d(rng.uniform(0.01, 0.02, V).astype(np.float32), kind)
    idv, ids = layout_1d(rng.integers(0, V, 30).astype(np.int32), kind)
    off = np.array([0, 3, 3, 17, 30], np.int64)
    ofv, offsets = layout_1d(off, kind if kind != "broadcast" else "c")
    want = reference.embedding_bag_i8(tv, scv, idv, ofv)
    np.testing.assert_allclose(get_backend(name).embedding_bag_i8(table, sc, ids, offsets), want, atol=BAG_ATOL)


# Repeating one count across a row (broadcast_cols) makes no valid set of statistics.
BT_LAYOUTS = [k for k in LAYOUTS_2D if k != "broadcast_cols"]


@pytest.mark.parametrize("name", CPU_BACKENDS)
@pytest.mark.parametrize("kind", BT_LAYOUTS)
def test_bt_fit_layouts(name, kind):
    rng = np.random.default_rng(5)
    Sv, S = layout_2d(np.stack([random_counts(rng, 4, i % 2 == 0) for i in range(3)]), kind)
    np.testing.assert_allclose(get_backend(name).bt_fit(S, 4), reference.bt_fit(Sv, 4), atol=BT_ATOL)


@pytest.mark.parametrize("name", CPU_BACKENDS)
def test_non_real_inputs_are_refused(name):
    ops = get_backend(name)
    Q = np.ones((2, 3), np.complex64)
    with pytest.raises(ValueError, match="queries must hold real numbers"):
        ops.cosine_sim(Q, np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match="embeddings must hold real numbers"):
        ops.gemv_sigmoid(np.array([["a", "b"]]), np.ones(2, np.float32))
    with pytest.raises(ValueError, match="2-D"):
        ops.gemv_sigmoid(np.ones(3, np.float32), np.ones(3, np.float32))


@pytest.mark.parametrize("name", CPU_BACKENDS)
def test_out_argument_checked(name):
    ops = get_backend(name)
    Q, X = np.ones((2, 3), np.float32), np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="shape"):
        ops.cosine_sim(Q, X, out=np.zeros((3, 3), np.float32))


# ---- hypothesis: shapes x dtypes x layouts ---------------------------------------------

FLOATS = [np.float32, np.float64, np.float16]


@st.composite
def float_matrix(draw, rows, cols, dtypes=FLOATS, layouts=LAYOUTS_2D):
    seed = draw(st.integers(0, 2**32 - 1))
    dtype = draw(st.sampled_from(dtypes))
    kind = draw(st.sampled_from(layouts))
    a = np.random.default_rng(seed).standard_normal((rows, cols)).astype(dtype)
    return layout_2d(a, kind)


@pytest.mark.parametrize("name", CPU_BACKENDS)
@HYP
@given(data=st.data())
def test_cosine_sim_hypothesis(name, data):
    B = data.draw(st.integers(1, 20), label="B")
    N = data.draw(st.integers(1, 30), label="N")
    d = data.draw(st.integers(1, 70), label="d")
    Qv, Q = data.draw(float_matrix(B, d, FLOATS + [np.int16]), label="Q")
    xdt = data.draw(st.sampled_from([np.float32, np.float16]), label="arena dtype")
    kind = data.draw(st.sampled_from(LAYOUTS_2D), label="arena layout")
    seed = data.draw(st.integers(0, 2**32 - 1))
    Xv, X = layout_2d(_unit_rows(np.random.default_rng(seed), N, d).astype(xdt), kind)
    got = get_backend(name).cosine_sim(Q, X)
    assert got.shape == (B, N) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference.cosine_sim(Qv, Xv), atol=COS_ATOL)


@pytest.mark.parametrize("name", CPU_BACKENDS)
@HYP
@given(data=st.data())
def test_gemv_sigmoid_hypothesis(name, data):
    B = data.draw(st.integers(1, 80), label="B")
    d = data.draw(st.integers(1, 300), label="d")
    Ev, E = data.draw(float_matrix(B, d, FLOATS + [np.int8]), label="E")
    seed = data.draw(st.integers(0, 2**32 - 1))
    ukind = data.draw(st.sampled_from(LAYOUTS_1D), label="u layout")
    uv, u = layout_1d((np.random.default_rng(seed).standard_normal(d) / np.sqrt(d)).astype(np.float32), ukind)
    bias = data.draw(st.floats(-2, 2), label="bias")
    got = get_backend(name).gemv_sigmoid(E, u, bias)
    # The C kernel reads float32: round the reference's inputs the same way.
    want = reference.gemv_sigmoid(np.asarray(Ev, np.float32), uv, bias)
    np.testing.assert_allclose(got, want, atol=GEMV_ATOL)
    far = np.abs(want.astype(np.float64) - 0.5) > GEMV_ATOL
    np.testing.assert_array_equal((got >= 0.5)[far], (want >= 0.5)[far])  # decisions exactly


@pytest.mark.parametrize("name", CPU_BACKENDS)
@HYP
@given(data=st.data())
def test_sw_stats_hypothesis(name, data):
    B = data.draw(st.integers(1, 6), label="B")
    U = data.draw(st.integers(1, 80), label="U")
    K = data.draw(st.integers(1, 20), label="K")
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dtype = data.draw(st.sampled_from([np.float32, np.float64]), label="dtype")
    kind = data.draw(st.sampled_from(LAYOUTS_2D), label="layout")
    sv, s = layout_2d(rng.uniform(-1, 1, (B, U)).astype(dtype), kind)
    A = _csr(rng, K, U)
    g = data.draw(st.sampled_from([None, 0.5, 10.0]), label="sharpness")
    S, m = get_backend(name).sw_stats(s, A, g)
    S_ref, m_ref = reference.sw_stats(np.asarray(sv, np.float32), A, g)
    np.testing.assert_allclose(S, S_ref, rtol=STATS_RTOL, atol=1e-300)
    np.testing.assert_allclose(m, m_ref, rtol=0, atol=0)


@pytest.mark.parametrize("name", CPU_BACKENDS)
@HYP
@given(data=st.data())
def test_embedding_bag_hypothesis(name, data):
    V = data.draw(st.integers(1, 50), label="V")
    d = data.draw(st.integers(1, 40), label="d")
    lengths = data.draw(st.lists(st.integers(0, 12), min_size=1, max_size=8), label="lengths")
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    id_dtype = data.draw(st.sampled_from([np.int32, np.int64, np.uint16, np.int16]), label="id dtype")
    kind = data.draw(st.sampled_from(LAYOUTS_1D), label="layout")
    table = rng.integers(-127, 128, (V, d)).astype(np.int8)
    scv, sc = layout_1d(
        rng.uniform(0.001, 0.05, V).astype(data.draw(st.sampled_from(FLOATS), label="scale dtype")), kind
    )
    idv, ids = layout_1d(rng.integers(0, V, sum(lengths)).astype(id_dtype), kind if sum(lengths) else "c")
    off = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    got = get_backend(name).embedding_bag_i8(table, sc, ids, off)
    want = reference.embedding_bag_i8(table, scv.astype(np.float32), idv, off)
    np.testing.assert_allclose(got, want, atol=BAG_ATOL)


@pytest.mark.parametrize("name", CPU_BACKENDS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_bt_fit_hypothesis(name, data):
    T = data.draw(st.integers(2, 6), label="T")
    B = data.draw(st.integers(1, 4), label="B")
    seed = data.draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = data.draw(st.sampled_from(BT_LAYOUTS), label="layout")
    Sv, S = layout_2d(np.stack([random_counts(rng, T, bool(rng.integers(2))) for _ in range(B)]), kind)
    np.testing.assert_allclose(get_backend(name).bt_fit(S, T), reference.bt_fit(Sv, T), atol=BT_ATOL)


def test_c_row_stride_fast_path_kept_only_when_safe():
    """Row slices of a float32 matrix reach C without a copy (the point of passing a row
    stride); every layout C could misread is copied into a fresh C-contiguous array."""
    if "c" not in CPU_BACKENDS:
        pytest.skip("C backend not built")
    from fastroute.ops import c_backend

    big = np.zeros((10, 8), np.float32)
    a, ld = c_backend._rows(big[::2], np.float32, "x")
    assert np.shares_memory(a, big) and ld == 16
    a, ld = c_backend._rows(big[2:7, :5], np.float32, "x")
    assert np.shares_memory(a, big) and ld == 8
    for kind in [k for k in LAYOUTS_2D if k not in ("c", "read_only")]:  # the layouts C cannot read in place
        _, v = layout_2d(np.ones((3, 4), np.float32), kind)
        a, ld = c_backend._rows(v, np.float32, "x")
        assert a.flags.c_contiguous and a.flags.aligned and a.dtype == np.dtype("=f4") and ld == 4, kind
        assert not np.shares_memory(a, v), kind
