"""Every kernel backend against the numpy reference, on awkward shapes, at every SIMD level."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute.ops import get_backend, reference
from fastroute.ops.csr import CSRMatrix

SHAPES = [(1, 1, 1), (1, 7, 13), (3, 5, 17), (2, 9, 16), (4, 33, 31), (5, 101, 384), (17, 40, 257), (40, 21, 24)]


def _unit_rows(rng, n, d):
    X = rng.standard_normal((n, d))
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(params=["portable", "avx2", "avx512"])
def simd(request):
    """Runs a test at each SIMD level the CPU has (C backend only)."""
    try:
        c = get_backend("c")
    except Exception:  # noqa: BLE001
        pytest.skip("C backend not built")
    if request.param not in c.supported_simd_levels():
        pytest.skip(f"CPU lacks {request.param}")
    before = c.simd_level()
    c.set_simd_level(request.param)
    yield c
    c.set_simd_level(before)


@pytest.mark.parametrize("B,N,d", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cosine_sim(backend, B, N, d, dtype):
    rng = np.random.default_rng(B * 1000 + N + d)
    Q = rng.standard_normal((B, d)).astype(np.float32)
    X = _unit_rows(rng, N, d).astype(dtype)
    got = get_backend(backend).cosine_sim(Q, X)
    want = reference.cosine_sim(Q, X)
    assert got.shape == (B, N) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=2e-6)
    # Independent check: float64 cosine.
    Xf = X.astype(np.float64)
    exact = (Q / np.linalg.norm(Q, axis=1, keepdims=True)) @ Xf.T
    np.testing.assert_allclose(got, exact, atol=2e-6)


@pytest.mark.parametrize("B,N,d", [(1, 9, 13), (3, 50, 33), (6, 35, 100), (20, 30, 48)])
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_cosine_sim_every_simd_level(simd, B, N, d, dtype):
    rng = np.random.default_rng(7)
    Q = rng.standard_normal((B, d)).astype(np.float32)
    X = _unit_rows(rng, N, d).astype(dtype)
    np.testing.assert_allclose(simd.cosine_sim(Q, X), reference.cosine_sim(Q, X), atol=2e-6)


def test_cosine_sim_non_contiguous_and_zero_queries(backend):
    rng = np.random.default_rng(1)
    big = _unit_rows(rng, 60, 40)
    X = big[::3]  # row stride 3
    Xcols = np.asfortranarray(_unit_rows(rng, 20, 40))  # column-major
    Q = rng.standard_normal((7, 80)).astype(np.float32)[:, ::2]  # inner stride 2
    Q[2] = 0.0
    ops = get_backend(backend)
    for arena in (X, Xcols):
        got = ops.cosine_sim(Q, arena)
        np.testing.assert_allclose(
            got, reference.cosine_sim(np.ascontiguousarray(Q), np.ascontiguousarray(arena)), atol=2e-6
        )
        assert np.all(got[2] == 0.0)
    Q64 = Q.astype(np.float64)  # other float dtypes are accepted
    np.testing.assert_allclose(ops.cosine_sim(Q64, X), reference.cosine_sim(Q, X), atol=2e-6)


def test_cosine_sim_large_batch_path(backend):
    """Batches above the C backend's small-batch limit go through BLAS; check both dtypes."""
    rng = np.random.default_rng(2)
    Q = rng.standard_normal((70, 48)).astype(np.float32)
    X = _unit_rows(rng, 3000, 48)
    ops = get_backend(backend)
    for arena in (X, X.astype(np.float16)):
        np.testing.assert_allclose(ops.cosine_sim(Q, arena), reference.cosine_sim(Q, arena), atol=2e-6)


def test_cosine_sim_shape_errors(backend):
    ops = get_backend(backend)
    with pytest.raises(ValueError):
        ops.cosine_sim(np.zeros((2, 5), np.float32), np.zeros((3, 6), np.float32))


@pytest.mark.parametrize("B,d", [(1, 1), (1, 13), (5, 16), (33, 1536), (1000, 7)])
def test_gemv_sigmoid(backend, B, d):
    rng = np.random.default_rng(B + d)
    E = rng.standard_normal((B, d)).astype(np.float32)
    u = (rng.standard_normal(d) / np.sqrt(d)).astype(np.float32)
    got = get_backend(backend).gemv_sigmoid(E, u, 0.25)
    exact = 1 / (1 + np.exp(-(E.astype(np.float64) @ u.astype(np.float64) + 0.25)))
    np.testing.assert_allclose(got, exact, atol=1e-7)
    np.testing.assert_allclose(got, reference.gemv_sigmoid(E, u, 0.25), atol=1e-7)
    # Non-contiguous rows.
    E2 = np.repeat(E, 2, axis=0)[::2]
    np.testing.assert_allclose(get_backend(backend).gemv_sigmoid(E2, u, 0.25), got, atol=1e-7)


def test_gemv_sigmoid_every_simd_level(simd):
    rng = np.random.default_rng(3)
    E = rng.standard_normal((9, 37)).astype(np.float32)
    u = rng.standard_normal(37).astype(np.float32)
    np.testing.assert_allclose(simd.gemv_sigmoid(E, u), reference.gemv_sigmoid(E, u), atol=1e-7)


def _random_csr(rng, K, U, nnz):
    rows = rng.integers(0, K, nnz)
    cols = rng.integers(0, U, nnz)
    vals = rng.choice([1.0, 2.0], nnz)
    return CSRMatrix.from_coo(rows, cols, vals, (K, U))


@pytest.mark.parametrize("B,U,K", [(1, 1, 1), (1, 7, 3), (3, 50, 8), (2, 1000, 120), (9, 333, 35)])
def test_sw_stats(backend, B, U, K):
    rng = np.random.default_rng(B * 7 + U)
    sims = rng.uniform(-0.4, 1.0, (B, U)).astype(np.float32)
    A = _random_csr(rng, K, U, 3 * U)
    S, m = get_backend(backend).sw_stats(sims, A)
    # Independent dense check in float64 from RouteLLM's formula.
    s64 = sims.astype(np.float64)
    mx = s64.max(1, keepdims=True)
    w = 10 * 10 ** (s64 / mx)
    np.testing.assert_allclose(S, w @ A.to_dense().T, rtol=2e-6)
    np.testing.assert_allclose(m, sims.max(1))


def test_sw_stats_every_simd_level(simd):
    rng = np.random.default_rng(4)
    sims = rng.uniform(-1, 1, (3, 257)).astype(np.float32)
    A = _random_csr(rng, 24, 257, 600)
    S, _ = simd.sw_stats(sims, A)
    np.testing.assert_allclose(S, reference.sw_stats(sims, A)[0], rtol=2e-6)


def test_sw_stats_degenerate_rows(backend):
    """max <= 0 gives uniform weights (10 each); tiny maxima never give zero weights."""
    A = CSRMatrix.from_coo(np.array([0, 1, 2]), np.array([0, 1, 2]), np.array([1.0, 2.0, 1.0]), (3, 3))
    sims = np.array([[0.0, 0.0, 0.0], [-0.5, -0.2, -0.9], [1e-3, -1.0, 5e-4]], dtype=np.float32)
    S, m = get_backend(backend).sw_stats(sims, A)
    np.testing.assert_allclose(S[0], [10.0, 20.0, 10.0])
    np.testing.assert_allclose(S[1], [10.0, 20.0, 10.0])
    np.testing.assert_allclose(S[2, [0, 2]], [100.0, 10 * 10**0.5], rtol=1e-6)
    assert 0 < S[2, 1] < 1e-30  # 10 * 10^-1000 underflows: clamped to ~1e-34, never 0
    np.testing.assert_allclose(S, reference.sw_stats(sims, A)[0], rtol=2e-6)


def test_sw_stats_non_contiguous(backend):
    rng = np.random.default_rng(5)
    big = rng.uniform(-1, 1, (6, 200)).astype(np.float32)
    sims = big[::2, :100]
    A = _random_csr(rng, 10, 100, 150)
    np.testing.assert_allclose(
        get_backend(backend).sw_stats(sims, A)[0], reference.sw_stats(np.ascontiguousarray(sims), A)[0], rtol=2e-6
    )


@pytest.mark.parametrize("lengths", [[0], [1], [3, 0, 5], [200] * 3, list(range(70))])
def test_embedding_bag_i8(backend, lengths):
    rng = np.random.default_rng(len(lengths))
    V, d = 50, 19
    table = rng.integers(-127, 128, (V, d)).astype(np.int8)
    scales = rng.uniform(0.001, 0.02, V).astype(np.float32)
    ids = rng.integers(0, V, int(np.sum(lengths))).astype(np.int32)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    got = get_backend(backend).embedding_bag_i8(table, scales, ids, offsets)
    assert got.shape == (len(lengths), d) and got.dtype == np.float32
    for b, n in enumerate(lengths):
        if n == 0:
            assert np.all(got[b] == 0)
            continue
        rows = (
            table[ids[offsets[b] : offsets[b + 1]]].astype(np.float64) * scales[ids[offsets[b] : offsets[b + 1]], None]
        )
        mean = rows.mean(0)
        np.testing.assert_allclose(got[b], mean / np.linalg.norm(mean), atol=1e-6)


def test_embedding_bag_rejects_bad_ids(backend):
    table = np.zeros((4, 3), np.int8)
    with pytest.raises(ValueError, match="token id"):
        get_backend(backend).embedding_bag_i8(
            table, np.ones(4, np.float32), np.array([1, 4], np.int32), np.array([0, 2], np.int64)
        )


def test_half_to_float_matches_numpy():
    try:
        c = get_backend("c")
    except Exception:  # noqa: BLE001
        pytest.skip("C backend not built")
    rng = np.random.default_rng(6)
    vals = np.concatenate([rng.standard_normal(997) * 100, [0.0, -0.0, 6e-8, -6e-8, 65504, np.inf, -np.inf]])
    X = vals.astype(np.float16).reshape(1, -1)
    levels = c.supported_simd_levels()
    before = c.simd_level()
    try:
        for lvl in levels:
            c.set_simd_level(lvl)
            np.testing.assert_array_equal(c.half_to_float(X), X.astype(np.float32))
    finally:
        c.set_simd_level(before)


@pytest.mark.parametrize("gamma", [0.5, 20.0, 300.0])
def test_sw_stats_sharpness(backend, gamma):
    rng = np.random.default_rng(int(gamma))
    sims = rng.uniform(-0.5, 1.0, (4, 301)).astype(np.float32)
    sims[3] = 0.0  # a zero query: uniform weights
    A = _random_csr(rng, 30, 301, 700)
    S, _ = get_backend(backend).sw_stats(sims, A, sharpness=gamma)
    s64 = sims.astype(np.float64)
    w = np.maximum(np.exp(gamma * (s64 - s64.max(1, keepdims=True))), 2.0**-113)
    # float32 exponents: relative error ~1e-7 * |exponent|, i.e. up to ~1e-5 for weights near 2^-113
    np.testing.assert_allclose(S, w @ A.to_dense().T, rtol=1e-5)
    with pytest.raises(ValueError, match="sharpness"):
        get_backend(backend).sw_stats(sims, A, sharpness=-1.0)


def test_sw_stats_sharpness_every_simd_level(simd):
    rng = np.random.default_rng(8)
    sims = rng.uniform(-1, 1, (3, 130)).astype(np.float32)
    A = _random_csr(rng, 12, 130, 300)
    np.testing.assert_allclose(simd.sw_stats(sims, A, 7.0)[0], reference.sw_stats(sims, A, 7.0)[0], rtol=2e-6)


# ---- argument checks: C sees only validated arrays -------------------------------------


def _bag_inputs():
    rng = np.random.default_rng(9)
    table = rng.integers(-127, 128, (6, 5)).astype(np.int8)
    scales = rng.uniform(0.01, 0.02, 6).astype(np.float32)
    ids = np.array([0, 5, 2, 3], np.int32)
    return table, scales, ids


@pytest.mark.parametrize(
    "offsets,match",
    [
        ([1, 2, 4], "offsets must start at 0"),
        ([0, 3, 2, 4], "offsets must not decrease"),
        ([0, 2, 7], "offsets must end at len\\(ids\\) = 4, got 7"),  # ASan: heap-buffer-overflow before the fix
        ([0, 2, 3], "offsets must end at len\\(ids\\) = 4, got 3"),
        ([], "offsets must be a 1-D integer array"),
        ([[0, 4]], "offsets must be a 1-D integer array"),
        ([0.0, 4.0], "offsets must be a 1-D integer array"),
    ],
)
def test_embedding_bag_rejects_bad_offsets(backend, offsets, match):
    table, scales, ids = _bag_inputs()
    with pytest.raises(ValueError, match=match):
        get_backend(backend).embedding_bag_i8(table, scales, ids, np.array(offsets))


def test_embedding_bag_rejects_bad_scales_table_and_ids(backend):
    ops = get_backend(backend)
    table, scales, ids = _bag_inputs()
    off = np.array([0, 4], np.int64)
    with pytest.raises(ValueError, match="scales has 3 entries, expected one per table row \\(6\\)"):
        ops.embedding_bag_i8(table, scales[:3], ids, off)  # C read scales[5] past the end before the fix
    with pytest.raises(ValueError, match="table must be a 2-D int8 array"):
        ops.embedding_bag_i8(table.astype(np.int16) * 300, scales, ids, off)  # would wrap silently if cast
    with pytest.raises(ValueError, match="ids must be a 1-D integer array"):
        ops.embedding_bag_i8(table, scales, ids.astype(np.float32), off)
    with pytest.raises(ValueError, match="token id 4294967296 outside"):  # int64 ids must not wrap to int32
        ops.embedding_bag_i8(table, scales, np.array([0, 5, 2, 2**32], np.int64), off)
    with pytest.raises(ValueError, match="token id -1 outside"):
        ops.embedding_bag_i8(table, scales, np.array([0, -1, 2, 3], np.int32), off)


def test_c_entry_points_return_status():
    """Bad arguments reaching C directly come back as FR_EINVAL, not as out-of-bounds reads."""
    try:
        c = get_backend("c")
    except Exception:  # noqa: BLE001
        pytest.skip("C backend not built")
    lib, ffi = c.lib, c.ffi
    x = np.zeros((4, 3), np.float32)
    xp = ffi.cast("float *", x.ctypes.data)
    out = np.zeros(16, np.float32)
    op = ffi.cast("float *", out.ctypes.data)
    assert lib.fr_gemv_sigmoid_f32(xp, 4, 3, 2, xp, 0.0, op, 1) == lib.FR_EINVAL  # ld < d
    assert lib.fr_gemv_sigmoid_f32(xp, -1, 3, 3, xp, 0.0, op, 1) == lib.FR_EINVAL
    assert lib.fr_gemv_sigmoid_f32(xp, 4, 3, 3, xp, 0.0, op, 1) == lib.FR_OK
    assert lib.fr_cosine_sim_f32(xp, 2, 3, xp, 4, 3, 3, op, 2, 1) == lib.FR_EINVAL  # ldo < N
    assert lib.fr_cosine_sim_f32(xp, 2, 3, xp, 4, 3, 3, op, 4, 1) == lib.FR_OK
    assert lib.fr_bt_fit(ffi.NULL, 1, 0, 0.0, 1e-9, 10, ffi.NULL, 1) == lib.FR_EINVAL
    table = np.zeros((2, 3), np.int8)
    ids = np.array([0, 1], np.int32)
    for offsets in ([0, 3], [1, 2], [0, 2, 1]):
        off = np.array(offsets, np.int64)
        code = lib.fr_embedding_bag_i8(
            ffi.cast("int8_t *", table.ctypes.data),
            ffi.cast("float *", x.ctypes.data),
            2,
            3,
            ffi.cast("int32_t *", ids.ctypes.data),
            2,
            ffi.cast("int64_t *", off.ctypes.data),
            off.size - 1,
            op,
            1,
        )
        assert code == lib.FR_EINVAL, offsets
    indptr = np.array([0, 2, 1], np.int64)  # decreasing CSR row pointer
    S = np.zeros((1, 2))
    assert (
        lib.fr_sw_stats(
            xp,
            1,
            3,
            3,
            ffi.cast("int64_t *", indptr.ctypes.data),
            ffi.cast("int32_t *", ids.ctypes.data),
            xp,
            2,
            0.0,
            ffi.cast("double *", S.ctypes.data),
            op,
            1,
        )
        == lib.FR_EINVAL
    )


def test_allocation_failure_raises_memory_error():
    """malloc results are checked: a failed allocation is a MemoryError, never a crash or
    an uninitialised result (fr_cosine_* left `out` unwritten; sw_stats wrote through NULL)."""
    try:
        c = get_backend("c")
    except Exception:  # noqa: BLE001
        pytest.skip("C backend not built")
    rng = np.random.default_rng(10)
    Q = rng.standard_normal((2, 16)).astype(np.float32)
    X = _unit_rows(rng, 9, 16)
    A = _random_csr(rng, 5, 9, 20)
    from generated import random_counts

    S = np.stack([random_counts(rng, 4, True)])
    calls = [
        lambda: c.cosine_sim(Q, X),
        lambda: c.cosine_sim(Q, X.astype(np.float16)),
        lambda: c.sw_stats(np.abs(Q[:, :9]), A),
        lambda: c.bt_fit(S, 4),
    ]
    try:
        for call in calls:
            c.lib.fr_debug_fail_allocs(0)
            with pytest.raises(MemoryError, match="out of memory"):
                call()
    finally:
        c.lib.fr_debug_fail_allocs(-1)
    for call in calls:  # and everything works again afterwards
        call()


def test_parallel_paths_match_reference():
    """Sizes above the C kernels' one-thread limits, on two threads: the OpenMP paths
    (split arena in sw_stats, parallel rows elsewhere) run under `make asan` too."""
    try:
        c = get_backend("c")
    except Exception:  # noqa: BLE001
        pytest.skip("C backend not built")
    rng = np.random.default_rng(12)
    before = c.thread_setting()
    c.set_num_threads(2)
    try:
        sims = rng.uniform(-0.3, 1.0, (1, 140_000)).astype(np.float32)
        A = _random_csr(rng, 30, 140_000, 200_000)
        for g in (None, 5.0):
            np.testing.assert_allclose(c.sw_stats(sims, A, g)[0], reference.sw_stats(sims, A, g)[0], rtol=2e-6)
        Q = rng.standard_normal((4, 1024)).astype(np.float32)
        X = _unit_rows(rng, 2100, 1024)
        np.testing.assert_allclose(c.cosine_sim(Q, X), reference.cosine_sim(Q, X), atol=2e-6)
        E = rng.standard_normal((1100, 2048)).astype(np.float32)
        u = (rng.standard_normal(2048) / 45).astype(np.float32)
        np.testing.assert_allclose(c.gemv_sigmoid(E, u), reference.gemv_sigmoid(E, u), atol=1e-7)
        table = rng.integers(-127, 128, (300, 1024)).astype(np.int8)
        scales = rng.uniform(0.01, 0.02, 300).astype(np.float32)
        ids = rng.integers(0, 300, 2500).astype(np.int32)
        offsets = np.linspace(0, 2500, 41).astype(np.int64)
        np.testing.assert_allclose(
            c.embedding_bag_i8(table, scales, ids, offsets),
            reference.embedding_bag_i8(table, scales, ids, offsets),
            atol=1e-6,
        )
    finally:
        c.set_num_threads(before)


def test_csr_matrix_checks_its_row_pointer():
    """The C kernel reads A.indptr[k] .. A.indptr[k + 1]: a bad row pointer is refused up front."""
    idx, val = np.array([0, 1], np.int32), np.ones(2, np.float32)
    with pytest.raises(ValueError, match="indptr must start at 0 and never decrease"):
        CSRMatrix(np.array([0, 2, 1, 2], np.int64), idx, val, (3, 2))
    with pytest.raises(ValueError, match="indptr must start at 0"):
        CSRMatrix(np.array([1, 1, 2], np.int64), idx, val, (2, 2))
    with pytest.raises(ValueError, match="column index"):
        CSRMatrix(np.array([0, 1, 2], np.int64), np.array([0, 2], np.int32), val, (2, 2))
