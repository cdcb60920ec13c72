"""The one-pass, online-rescaled sw_stats kernel (kernels/sw_stats_online.py, the exp
weighting) against the numpy reference, under TRITON_INTERPRET=1 on the CPU or on a GPU:
odd shapes, fp32/fp16 arenas, sharpness up to 400, running maxima that grow tile after tile,
forced arena splits (one of them empty), query layouts, and sharpness=None still on the
two-pass kernels."""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("triton")

from fastroute.ops import reference  # noqa: E402
from fastroute.ops.constants import EXP2_MIN  # noqa: E402
from fastroute.ops.csr import CSRMatrix  # noqa: E402
from fastroute.ops.triton_backend import kernel_module  # noqa: E402

INTERPRETING = os.environ.get("TRITON_INTERPRET") == "1"
SHARPNESS = (0.5, 20.0, 80.0, 400.0)
# The two-pass kernel's tolerance (tests/kernels/test_triton_kernels.py): float32 exponents and
# sums. The clamp: the reference weighs a battle at least 2^EXP2_MIN (-113) of the row's
# largest weight 1; the one-pass kernel clamps against the running maximum and rescales
# later, so a battle the reference clamps weighs anywhere in [0, 2^-113] instead:
# |S - S_ref|[b, k] <= 2^-113 sum_n |A[n, k]| <= N max|A| 2^-113 (<= 257 * 2 * 9.6e-35 ~ 5e-32
# here), inside ATOL; `_check` also asserts that bound itself, without ATOL.
RTOL, ATOL = 2e-5, 1e-30
# Under the interpreter the similarities the reference gets (the cosine kernel's, the same
# tile_dot on the same 16-blocks) are bit for bit the fused kernel's. On a GPU the tiles may
# differ: a similarity error ~1e-6 moves a weight by ~g 1e-6 relatively (not measured).
G_RTOL = 0.0 if INTERPRETING else 2e-6


@pytest.fixture(scope="module")
def dev():
    if not INTERPRETING and not torch.cuda.is_available():
        pytest.skip("no GPU and TRITON_INTERPRET is not set")
    return torch.device("cpu" if INTERPRETING else "cuda")


@pytest.fixture(scope="module")
def sw(dev):

    return kernel_module("sw_stats")


def _unit(rng, n, d):
    X = rng.standard_normal((n, d))
    return torch.from_numpy((X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32))


def _stats(rng, N, K):
    A = rng.choice([0.0, 0.0, 1.0, 2.0, 0.25], (N, K)).astype(np.float32)
    return torch.from_numpy(A)


def _csr(A):
    k, n = np.nonzero(A.T)
    return CSRMatrix.from_coo(k, n, A.T[k, n], A.T.shape)


def _check(sw, Q, X, A, g):
    """sw_weighted_stats(Q, X, A, g) against reference.sw_stats on the kernels' similarities."""

    S, m = sw.sw_weighted_stats(Q, X, A, g)
    sims = kernel_module("cosine_sim").cosine_sim(Q, X).cpu().numpy()
    An = A.cpu().numpy()
    S_ref, m_ref = reference.sw_stats(sims, _csr(An), g)
    S = S.cpu().numpy()
    assert S.dtype == np.float64 and m.dtype == torch.float32 and np.isfinite(S).all()
    rtol = RTOL + (G_RTOL * g if g else 0.0)
    np.testing.assert_allclose(S, S_ref, rtol=rtol, atol=ATOL)
    bound = rtol * np.abs(S_ref) + 2.0**EXP2_MIN * np.abs(An).sum(axis=0)[None, :]
    assert (np.abs(S - S_ref) <= bound).all()
    if INTERPRETING:
        assert np.array_equal(m.cpu().numpy(), m_ref)
    else:
        np.testing.assert_allclose(m.cpu().numpy(), m_ref, atol=2e-6)
    return S, m


# (B, N, D, K): every value of B {1, 3, 17}, N {1, 15, 16, 17, 100, 257}, D {1, 16, 33} and
# K {1, 5, 40} at least twice; N = 15/16/17 straddle a 16-tile, 257 a tile past 16 of them.
SHAPES = [
    (1, 1, 1, 1),
    (3, 15, 16, 5),
    (17, 16, 33, 1),
    (1, 17, 16, 40),
    (3, 100, 33, 5),
    (17, 257, 1, 1),
    (1, 257, 33, 5),
    (3, 1, 33, 40),
    (17, 15, 1, 5),
    (1, 100, 16, 1),
    (3, 16, 1, 40),
    (17, 17, 16, 5),
]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
@pytest.mark.parametrize("i", range(len(SHAPES)))
def test_against_reference(sw, dev, i, dtype):
    if dtype == "bfloat16" and INTERPRETING:
        pytest.skip("tl.dot on bf16 gives garbage under the interpreter (../shared/PITFALLS.md)")
    B, N, D, K = SHAPES[i]
    rng = np.random.default_rng(i)
    Q = torch.from_numpy(rng.standard_normal((B, D)).astype(np.float32)).to(dev)
    X = _unit(rng, N, D).to(dev, getattr(torch, dtype))
    A = _stats(rng, N, K).to(dev)
    for g in SHARPNESS:
        _check(sw, Q, X, A, g)


def _sorted_arena(rng, N, D):
    """Arena whose similarity with q rises column after column (so the running maximum
    grows in every tile for q, and peaks in the first tile for -q), and queries q, -q, u."""
    q, u = np.linalg.qr(rng.standard_normal((D, 2)))[0].T
    theta = np.linspace(np.pi, 0.0, N)
    X = np.cos(theta)[:, None] * q[None, :] + np.sin(theta)[:, None] * u[None, :]
    return torch.from_numpy(np.stack([q, -q, u]).astype(np.float32)), torch.from_numpy(X.astype(np.float32))


@pytest.mark.parametrize("g", [20.0, 400.0])
def test_maximum_in_a_late_tile_and_in_the_first(sw, dev, g):
    rng = np.random.default_rng(3)
    Q, X = _sorted_arena(rng, 100, 16)
    A = _stats(rng, 100, 5).to(dev)
    S, m = _check(sw, Q.to(dev), X.to(dev), A, g)
    # Row -q peaks in its first tile: nothing is ever rescaled (factors exp2(0) = 1), so it
    # is the two-pass kernel's row bit for bit (one split; the same tiles).
    normalized_queries = kernel_module("cosine_sim").normalized_queries

    Qn, Xc = normalized_queries(Q.to(dev), torch.float32), X.to(dev)
    rows = []
    for run in (sw.online_weighted_stats, sw.two_pass_weighted_stats):
        S1, m1 = run(Qn, Xc, A, g, 112, 1)
        np.testing.assert_allclose(S1.cpu().numpy(), S, rtol=RTOL, atol=ATOL)
        assert torch.equal(m1.cpu(), m.cpu())
        rows.append(S1[1])
    if INTERPRETING:
        assert torch.equal(rows[0], rows[1])


def test_the_clamp_and_the_documented_difference(sw, dev):
    """g = 400 on the sorted arena (one split): battles 0-29 are far from q's maximum (last
    tile), battles 70-99 far from -q's (first tile); the reference weighs each 2^-113. With its
    maximum known from the first tile, -q's far battles weigh exactly that (the clamp); q's
    were weighed before its maximum arrived and rescaled, so they weigh in [0, 2^-113]."""
    rng = np.random.default_rng(10)
    Q, X = _sorted_arena(rng, 100, 16)
    A = torch.cat([_stats(rng, 100, 3), torch.zeros(100, 2)], dim=1)
    A[:30, 3] = 1.0
    A[70:, 4] = 1.0
    Q, X, A = Q.to(dev), X.to(dev), A.to(dev)
    S, _ = sw.online_weighted_stats(*_prepared(Q, X, A), 400.0, 112, 1)
    S_split, _ = _check(sw, Q, X, A, 400.0)  # the splits sw_weighted_stats makes, against the reference
    far = 30 * 2.0**EXP2_MIN
    assert S[1, 4].item() == far  # -q: clamped as the reference
    assert 0.0 <= S[0, 3].item() <= far  # q: the documented difference (here 0: rescaled away)
    assert 0.0 <= S_split[0, 3] <= far and 0.0 <= S_split[1, 4] <= far


def test_all_equal_similarities(sw, dev):
    """Identical arena rows, and a zero query: every weight is exactly 1, S the column sums."""
    rng = np.random.default_rng(4)
    X = _unit(rng, 1, 16).repeat(40, 1).to(dev)
    Q = torch.from_numpy(rng.standard_normal((3, 16)).astype(np.float32)).to(dev)
    Q[1] = 0.0
    A = _stats(rng, 40, 5).to(dev)
    for g in (0.5, 400.0):
        S, m = sw.sw_weighted_stats(Q, X, A, g)
        assert torch.equal(S.cpu(), A.cpu().to(torch.float64).sum(0).expand(3, 5))
        assert m[1] == 0.0


@pytest.mark.parametrize("forced", [2, 4])
def test_forced_splits_combine(sw, dev, monkeypatch, forced):
    """Splits with different maxima (sorted arena) combine to the one-split result."""
    rng = np.random.default_rng(5)
    Q, X = _sorted_arena(rng, 100, 16)
    Q, X, A = Q.to(dev), X.to(dev), _stats(rng, 100, 5).to(dev)
    S1, m1 = sw.online_weighted_stats(*_prepared(Q, X, A), 80.0, 112, 1)
    monkeypatch.setattr(sw, "_splits", lambda B, N, device=None: forced)
    S, m = _check(sw, Q, X, A, 80.0)
    assert torch.equal(m.cpu(), m1.cpu())
    np.testing.assert_allclose(S, S1.cpu().numpy(), rtol=RTOL, atol=ATOL)


def _prepared(Q, X, A):
    normalized_queries = kernel_module("cosine_sim").normalized_queries

    return normalized_queries(Q, X.dtype), X, A.to(torch.float32).contiguous()


def test_empty_split_adds_nothing(sw, dev):
    """Splits past N (maximum -inf) hold exactly 0, not NaN, and add nothing; a row with no
    live split at all comes out 0."""
    online = kernel_module("sw_stats_online")
    combine_splits, online_parts = online.combine_splits, online.online_parts

    rng = np.random.default_rng(6)
    Q, X, A = _unit(rng, 3, 8).to(dev), _unit(rng, 20, 8).to(dev), _stats(rng, 20, 40).to(dev)
    mpart, spart = online_parts(*_prepared(Q, X, A), 20.0, 16, 4)  # splits 2 and 3: no column
    assert (mpart[2:] == float("-inf")).all() and (spart[2:] == 0.0).all()
    assert torch.isfinite(mpart[:2]).all() and torch.isfinite(spart[:2]).all()
    want = sw.online_weighted_stats(*_prepared(Q, X, A), 20.0, 16, 2)
    assert all(torch.equal(a, b) for a, b in zip(combine_splits(mpart, spart, 20.0), want))
    mpart = torch.tensor([[0.5, float("-inf")], [float("-inf"), float("-inf")]])  # [splits, B]
    spart = torch.full((2, 2, 3), float("nan"))
    spart[0] = 1.0
    S, m = combine_splits(mpart, spart, 20.0)
    assert m[1] == float("-inf") and torch.equal(S, torch.tensor([[1.0] * 3, [0.0] * 3], dtype=torch.float64))


def test_splits_that_end_inside_a_tile(sw, dev):
    """Runs of 24 columns (not a multiple of the tile): the columns of the next run that a
    tile reaches neither raise a split's maximum nor weigh in it."""
    online_parts = kernel_module("sw_stats_online").online_parts

    rng = np.random.default_rng(9)
    Q, X = _sorted_arena(rng, 100, 16)
    Q, X, A = Q.to(dev), X.to(dev), _stats(rng, 100, 5).to(dev)
    mpart, _ = online_parts(*_prepared(Q, X, A), 80.0, 24, 5)
    sims = kernel_module("cosine_sim").cosine_sim(Q, X).cpu()
    want = torch.stack([sims[:, lo : lo + 24].max(dim=1).values for lo in range(0, 100, 24)])
    assert torch.equal(mpart.cpu(), want) if INTERPRETING else torch.allclose(mpart.cpu(), want, atol=2e-6)
    S, m = sw.online_weighted_stats(*_prepared(Q, X, A), 80.0, 24, 5)
    S1, m1 = sw.online_weighted_stats(*_prepared(Q, X, A), 80.0, 112, 1)
    assert torch.equal(m, m1)
    np.testing.assert_allclose(S.cpu().numpy(), S1.cpu().numpy(), rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("kind", ["broadcast", "strided", "fortran", "column_step"])
def test_query_views(sw, dev, kind):
    """Any query layout gives the tidy (contiguous) query's results."""
    rng = np.random.default_rng(7)
    tidy = torch.from_numpy(rng.standard_normal((3, 16)).astype(np.float32))
    if kind == "broadcast":
        tidy[1:] = tidy[0]
        view = tidy[:1].expand(3, 16)
    elif kind == "strided":
        view = torch.stack([tidy, torch.zeros_like(tidy)], 1).reshape(6, 16)[::2]
    elif kind == "fortran":
        view = tidy.T.contiguous().T
    else:
        view = torch.stack([tidy, torch.ones_like(tidy)], 2).reshape(3, 32)[:, ::2]
    assert torch.equal(view, tidy) and not view.is_contiguous()
    X, A = _unit(rng, 40, 16).to(dev), _stats(rng, 40, 5).to(dev)
    for g in (20.0, None):
        S, m = sw.sw_weighted_stats(view.to(dev), X, A, g)
        S0, m0 = sw.sw_weighted_stats(tidy.to(dev), X, A, g)
        assert torch.equal(S, S0) and torch.equal(m, m0)


def test_sharpness_none_stays_on_two_passes(sw, dev, monkeypatch):
    """None runs the two-pass kernels, unchanged; g > 0 the one-pass kernel; g <= 0 is refused."""
    rng = np.random.default_rng(8)
    Q = torch.from_numpy(rng.standard_normal((3, 33)).astype(np.float32)).to(dev)
    X, A = _unit(rng, 50, 33).to(dev), _stats(rng, 50, 5).to(dev)
    calls = []
    real = sw.online_weighted_stats
    monkeypatch.setattr(sw, "online_weighted_stats", lambda *a: calls.append(a[3]) or real(*a))
    monkeypatch.setattr(sw, "_splits", lambda B, N, device=None: 1)
    per = -(-50 // sw.SPLIT_MULTIPLE) * sw.SPLIT_MULTIPLE  # what sw_weighted_stats makes of 1 split
    S, m = sw.sw_weighted_stats(Q, X, A, None)
    assert calls == []
    S2, m2 = sw.two_pass_weighted_stats(*_prepared(Q, X, A), None, per, 1)
    assert torch.equal(S, S2) and torch.equal(m, m2)
    _check(sw, Q, X, A, None)
    S, m = sw.sw_weighted_stats(Q, X, A, 9.0)
    assert calls == [9.0]
    S2, m2 = sw.two_pass_weighted_stats(*_prepared(Q, X, A), 9.0, per, 1)
    np.testing.assert_allclose(S.cpu().numpy(), S2.cpu().numpy(), rtol=RTOL, atol=ATOL)
    assert torch.equal(m, m2)
    for bad in (0.0, -1.0):
        with pytest.raises(ValueError, match="sharpness"):
            sw.sw_weighted_stats(Q, X, A, bad)


def test_int64_offsets_and_float32_products():
    """Row offsets in int64 (an fp16 arena of 1.4M x 1536 passes 2^31 elements); the W A dot
    in full float32 by default."""
    import inspect

    sw_stats_online = kernel_module("sw_stats_online")

    src = inspect.getsource(sw_stats_online)
    assert "rn.to(tl.int64)" in src and "split.to(tl.int64)" in src and "rb.to(tl.int64)" in src
    assert "tile_dot(" in src and sw_stats_online.WA_DOT_PRECISION == "ieee"
