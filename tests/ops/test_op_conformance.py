"""Every op of the contract x every backend here, against the numpy reference.

The test enumerates fastroute.ops.contract.CONTRACT, so a new op without a case in CASES
fails here. Inputs are drawn by hypothesis: shapes, the dtypes the contract accepts for
each parameter, and memory layouts (C and Fortran order, strided and odd-stride views,
broadcast rows and columns, negative strides, unaligned, big-endian and read-only data).
Triton runs under TRITON_INTERPRET=1 (conftest.py sets it before triton is imported), on
few, small examples: each launch costs ~0.1 s there. An op a backend does not declare is
checked as callers get it: through the registry's fallback.

Tolerances, per op (float32 kernels are never bit-identical across CPUs):
  cosine_sim        atol 1e-5; 2e-3 for Triton on float16 arenas (tl.dot rounds the query to fp16)
  gemv_sigmoid      atol 1e-6 (against the reference on the float32-rounded E the kernels read)
  linear_scores     atol 1e-5 (scores of size ~1; Triton's cuBLAS/torch path accumulates in float32)
  field_win_rates   atol 1e-6 (C: float sigmoids through fr_exp2f, double sums)
  sw_stats          rtol 1e-5 on S (float32 exponents, double sums); row maxima exact
  bt_fit            atol 1e-8 (two Newton solvers run to |step| < 1e-11)
  embedding_bag_i8  atol 1e-6
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastroute import ops
from fastroute.ops import contract, reference

from generated import LAYOUTS_1D, LAYOUTS_2D, layout_1d, layout_2d, random_counts

ALL_BACKENDS = tuple(ops._MODULES)
# The sanitizer run (`make asan`) is about the C kernels: Triton stays out of it.
SANITIZED = os.environ.get("FASTROUTE_EXPECT_SANITIZERS") == "1"
EXAMPLES = {"numpy": 30, "c": 50, "triton": 12}


def _dtypes(op: str, param: str) -> list:
    p = next(p for p in contract.SPECS[op].params if p.name == param)
    return [np.dtype(d) for d in p.dtypes]


def _unit_rows(rng, n, d):
    X = rng.standard_normal((n, d))
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-300)


def case_cosine_sim(data, rng, backend):
    B, N, d = data.draw(st.integers(1, 9)), data.draw(st.integers(1, 20)), data.draw(st.integers(1, 40))
    qdt = data.draw(st.sampled_from(_dtypes("cosine_sim", "Q")))
    xdt = data.draw(st.sampled_from(_dtypes("cosine_sim", "X")))
    Qv, Q = layout_2d(
        (rng.standard_normal((B, d)) * (4 if qdt.kind == "i" else 1)).astype(qdt),
        data.draw(st.sampled_from(LAYOUTS_2D)),
    )
    Xv, X = layout_2d(_unit_rows(rng, N, d).astype(xdt), data.draw(st.sampled_from(LAYOUTS_2D)))
    atol = 2e-3 if backend == "triton" and xdt == np.float16 else 1e-5
    return (Q, X), reference.cosine_sim(Qv, Xv), dict(atol=atol)


def case_gemv_sigmoid(data, rng, backend):
    B, d = data.draw(st.integers(1, 40)), data.draw(st.integers(1, 150))
    Ev, E = layout_2d(
        rng.standard_normal((B, d)).astype(data.draw(st.sampled_from(_dtypes("gemv_sigmoid", "E")))),
        data.draw(st.sampled_from(LAYOUTS_2D)),
    )
    uv, u = layout_1d(
        (rng.standard_normal(d) / np.sqrt(d)).astype(data.draw(st.sampled_from(_dtypes("gemv_sigmoid", "u")))),
        data.draw(st.sampled_from(LAYOUTS_1D)),
    )
    bias = data.draw(st.floats(-2, 2))
    want = reference.gemv_sigmoid(np.asarray(Ev, np.float32), np.asarray(uv, np.float32), bias)
    return (E, u, bias), want, dict(atol=1e-6)


def case_linear_scores(data, rng, backend):
    B, M, d = data.draw(st.integers(1, 40)), data.draw(st.integers(1, 70)), data.draw(st.integers(1, 150))
    Ev, E = layout_2d(
        rng.standard_normal((B, d)).astype(data.draw(st.sampled_from(_dtypes("linear_scores", "E")))),
        data.draw(st.sampled_from(LAYOUTS_2D)),
    )
    Wv, W = layout_2d(
        (rng.standard_normal((M, d)) / np.sqrt(d)).astype(data.draw(st.sampled_from(_dtypes("linear_scores", "W")))),
        data.draw(st.sampled_from(LAYOUTS_2D)),
    )
    want = reference.linear_scores(np.asarray(Ev, np.float32), np.asarray(Wv, np.float32))
    return (E, W), want, dict(atol=1e-5)


def case_field_win_rates(data, rng, backend):
    B, K = data.draw(st.integers(1, 40)), data.draw(st.integers(2, 70))
    Sv, S = layout_2d(
        (rng.standard_normal((B, K)) * data.draw(st.sampled_from([0.1, 3.0, 40.0]))).astype(
            data.draw(st.sampled_from(_dtypes("field_win_rates", "S")))
        ),
        data.draw(st.sampled_from(LAYOUTS_2D)),
    )
    return (S,), reference.field_win_rates(np.asarray(Sv, np.float64)), dict(atol=1e-6)


def _csr(rng, K, U):
    nnz = 2 * U + 1
    return ops.CSRMatrix.from_coo(
        rng.integers(0, K, nnz), rng.integers(0, U, nnz), rng.choice([1.0, 2.0, 0.5], nnz), (K, U)
    )


def case_sw_stats(data, rng, backend):
    B, U, K = data.draw(st.integers(1, 5)), data.draw(st.integers(1, 60)), data.draw(st.integers(1, 16))
    sdt = data.draw(st.sampled_from(_dtypes("sw_stats", "sims")))
    sv, s = layout_2d(rng.uniform(-1, 1, (B, U)).astype(sdt), data.draw(st.sampled_from(LAYOUTS_2D)))
    A = _csr(rng, K, U)
    g = data.draw(st.sampled_from([None, 0.5, 10.0]))
    return (s, A, g), reference.sw_stats(np.asarray(sv, np.float32), A, g), dict(rtol=1e-5, atol=1e-300)


def case_bt_fit(data, rng, backend):
    T, B = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    counts = np.stack(
        [random_counts(rng, T, bool(rng.integers(2))) if T > 1 else np.array([0.0, 3.0, 2.0]) for _ in range(B)]
    ).astype(data.draw(st.sampled_from(_dtypes("bt_fit", "S"))))
    Sv, S = layout_2d(counts, data.draw(st.sampled_from([k for k in LAYOUTS_2D if k != "broadcast_cols"])))
    return (S, T), reference.bt_fit(Sv, T), dict(atol=1e-8)


def case_embedding_bag_i8(data, rng, backend):
    V, d = data.draw(st.integers(1, 40)), data.draw(st.integers(1, 30))
    lengths = data.draw(st.lists(st.integers(0, 10), min_size=1, max_size=6))
    kind = data.draw(st.sampled_from(LAYOUTS_1D))
    table = rng.integers(-127, 128, (V, d)).astype(np.int8)
    scv, sc = layout_1d(
        rng.uniform(0.001, 0.05, V).astype(data.draw(st.sampled_from(_dtypes("embedding_bag_i8", "scales")))), kind
    )
    idv, ids = layout_1d(
        rng.integers(0, V, sum(lengths)).astype(data.draw(st.sampled_from(_dtypes("embedding_bag_i8", "ids")))),
        kind if sum(lengths) else "c",
    )
    off = np.concatenate([[0], np.cumsum(lengths)]).astype(
        data.draw(st.sampled_from(_dtypes("embedding_bag_i8", "offsets")))
    )
    want = reference.embedding_bag_i8(table, scv.astype(np.float32), idv, off)
    return (table, sc, ids, off), want, dict(atol=1e-6)


CASES = {
    "cosine_sim": case_cosine_sim,
    "gemv_sigmoid": case_gemv_sigmoid,
    "linear_scores": case_linear_scores,
    "field_win_rates": case_field_win_rates,
    "sw_stats": case_sw_stats,
    "bt_fit": case_bt_fit,
    "embedding_bag_i8": case_embedding_bag_i8,
}


def test_every_op_of_the_contract_has_a_case():
    assert set(CASES) == set(ops.OPS), "add a conformance case for every op of the contract (and none for others)"


def _host(x):
    return x if isinstance(x, np.ndarray) else x.detach().cpu().numpy()


@pytest.mark.parametrize("op", ops.OPS)
@pytest.mark.parametrize("backend", ALL_BACKENDS)
def test_op_matches_the_reference(op, backend):
    mod, reason = ops._load(backend)
    if mod is None:
        pytest.skip(f"{backend}: {reason}")
    if SANITIZED and backend == "triton":
        pytest.skip("the sanitizer run checks the C kernels")
    b = ops.get_backend(backend, "cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an undeclared op's one-time fallback warning
        fn = getattr(b, op)
    assert (b.provider(op) == backend) == (op in mod.OPS)
    make = CASES[op]

    @settings(
        max_examples=EXAMPLES.get(backend, 4),
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data(), seed=st.integers(0, 2**32 - 1))
    def check(data, seed):
        args, want, tol = make(data, np.random.default_rng(seed), backend)
        got = fn(*args)
        for g, w in zip(*((got, want) if isinstance(want, tuple) else ((got,), (want,)))):
            g = _host(g)
            assert g.shape == w.shape, (g.shape, w.shape)
            if op == "sw_stats" and g.ndim == 1:
                np.testing.assert_array_equal(g, w)  # row maxima: exact
            else:
                np.testing.assert_allclose(g, w, **tol)

    check()
