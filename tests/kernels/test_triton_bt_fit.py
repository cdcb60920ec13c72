"""The fused Bradley-Terry Newton kernel (kernels/bt_fit_fused.py) against the numpy reference
and the torch solver it replaces, under TRITON_INTERPRET=1 on the CPU (CI) or on a GPU.

Tolerance: converged rows match fastroute.ops.reference_bt.bt_fit within ATOL = 1e-9 on beta
(float64 on both sides, both iterate until |ln10 * step| < 1e-11), and the kernel reports
exactly the rows converged that kernels/bt_fit.bt_fit_torch reports; the others are NaN.
The rows are ones whose convergence the algorithm decides: where F is so ill-conditioned
(cond ~1e8 and more: extreme separations, very sharp weights) that rounding keeps every
step above 1e-11, whether a step happens to fall below it is noise, on any solver.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("triton")

from fastroute.ops import get_backend, reference, reference_bt  # noqa: E402
from fastroute.ops.triton_backend import kernel_module  # noqa: E402

from generated import bt_counts, bt_row

ATOL = 1e-9
INTERPRETING = os.environ.get("TRITON_INTERPRET") == "1"
DEVICE = "cpu" if INTERPRETING else "cuda"  # the interpreter runs on CPU tensors


@pytest.fixture(scope="module")
def tri():
    if not INTERPRETING:
        import torch

        if not torch.cuda.is_available():
            pytest.skip("no GPU and TRITON_INTERPRET is not set")
    return get_backend("triton", "cpu" if INTERPRETING else "cuda")


@pytest.fixture(scope="module")
def newton(tri):
    return tri.kernel_module("bt_fit")


def _mixed_rows(rng, T: int) -> np.ndarray:
    """Every kind of row the kernel must handle at T players (all of them converge)."""
    rows = [bt_counts(rng, T, s, pinned) for s in (1e-6, 1.0, 1e6) for pinned in (True, False)]
    rows.append(bt_counts(rng, T, 3.0, True, density=0.15))  # sparse: mostly zeros
    rows.append(bt_counts(rng, T, 3.0, False, density=0.15))
    order = np.arange(T)  # strongly separated: i beats j 10^3 times more often when i < j
    rows.append(bt_row(np.where(order[:, None] < order[None, :], 1e3, 1.0) * (1 - np.eye(T)), np.ones(T), np.ones(T)))
    if T > 1:  # the last player has no battles at all (pinned: a free fit would leave it
        # to the rank-one level term and converge too slowly for max_iter, on every solver)
        lonely = bt_counts(rng, T - 1, 2.0, True)
        C = np.zeros((T, T))
        C[: T - 1, : T - 1] = lonely[: (T - 1) ** 2].reshape(T - 1, T - 1)
        rows.append(bt_row(C, *np.pad(lonely[(T - 1) ** 2 :].reshape(2, T - 1), ((0, 0), (0, 1)))))
    else:  # one player: only the ridge (the diagonal count) or the pinning counts
        rows.append(bt_row(np.full((1, 1), 4.0)))
    return np.stack(rows)


def _check(newton, S: np.ndarray, T: int, **kw) -> np.ndarray:
    """Runs the fused kernel; checks it against the torch solver (the same converged rows, the
    others NaN) and its converged rows against the reference (against the torch solver's
    betas when kw changes the ridge, which the reference fixes). Returns the converged mask."""
    import torch

    beta, ok = newton.bt_fit_fused(torch.from_numpy(S).to(DEVICE), T, **kw)
    beta, ok = beta.cpu().numpy(), ok.cpu().numpy()
    beta_torch, ok_torch = newton.bt_fit_torch(torch.from_numpy(S).to(DEVICE), T, **kw)
    assert ok.dtype == bool and beta.shape == (S.shape[0], T)
    np.testing.assert_array_equal(ok, ok_torch.cpu().numpy())
    assert np.isnan(beta[~ok]).all() and np.isfinite(beta[ok]).all()
    if "ridge" in kw:
        want = beta_torch.cpu().numpy()[ok]
    else:
        want = reference_bt.bt_fit(S[ok], T, **{k: v for k, v in kw.items() if k == "max_iter"})
    np.testing.assert_allclose(beta[ok], want, rtol=0, atol=ATOL)
    return ok


@pytest.mark.parametrize("T", [1, 2, 3, 5, 10, 16])
def test_fused_matches_reference(newton, T):
    S = _mixed_rows(np.random.default_rng(T), T)
    assert _check(newton, S, T).all()


def test_line_search_takes_the_references_path(newton):
    """Rows whose Newton path halves one step (found by a random search; halvings are rare
    from beta = 0): the reference needs exactly 15 iterations, 16 without the halving, so
    max_iter = 14 / 15 pins the kernel's path, not only its end point."""
    C = np.array([[0, 1e4, 20, 0.004], [4, 0, 0.06, 0.4], [1e5, 0.03, 0, 30], [0.01, 4e4, 10, 0]])
    S = np.stack([bt_row(C), bt_row(C * 1e-3), bt_row(C.T)])
    assert not _check(newton, S, 4, max_iter=14).any()
    assert _check(newton, S, 4, max_iter=15).all()


def test_largest_tile(newton):
    """T = 20 and 32 players: TP = 32, the largest tile the kernel takes."""
    rng = np.random.default_rng(14)
    for T in (20, 32):
        assert _check(newton, np.stack([bt_counts(rng, T, 1.0, True), bt_counts(rng, T, 1.0, False)]), T).all()


def test_batch_sizes_and_partial_blocks(newton):
    """1 row, 7 rows, and one more than a full program plus 3 (the last program partly empty)."""
    _launch_shape = kernel_module("bt_fit_fused")._launch_shape

    T = 5
    block, _ = _launch_shape(64, 8)
    rng = np.random.default_rng(11)
    for B in sorted({1, 7, block + 3}):
        S = np.stack([bt_counts(rng, T, 10.0 ** rng.uniform(-3, 3), i % 2 == 0) for i in range(B)])
        assert _check(newton, S, T).all()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # NaN counts, under the interpreter
def test_unfinished_and_broken_rows_are_nan(newton):
    """A row needing more than max_iter iterations, and rows whose Newton system is singular
    or not finite, come back NaN and not converged; their neighbours are unaffected."""
    T = 4
    rng = np.random.default_rng(12)
    symmetric = np.full((T, T), 2.0) * (1 - np.eye(T))  # beta = 0 exactly: done in one iteration
    far = bt_counts(rng, T, 1.0, True)
    assert _check(newton, np.stack([bt_row(symmetric, np.ones(T), np.ones(T)), far]), T, max_iter=1).tolist() == [
        True,
        False,
    ]
    nan_row, inf_row = bt_counts(rng, T, 1.0, True), bt_counts(rng, T, 1.0, False)
    nan_row[3] = np.nan
    inf_row[T * T] = np.inf
    S = np.stack([far, np.zeros_like(far), nan_row, inf_row, bt_counts(rng, T, 5.0, False)])
    assert _check(newton, S, T).tolist() == [True, False, False, False, True]
    assert _check(newton, S[:1], T, ridge=0.0).all()  # a pinned fit needs no ridge


def test_real_sw_ranking_statistics(newton):
    """Rows as a small sw_ranking router builds them (10 tiers, plain and sharp weights; much
    sharper ones, 40 here, make F so ill-conditioned that no solver reaches BT_TOL)."""
    from fastroute import SWRankingRouter

    from synthetic import synthetic_arena

    cols, emb, _ = synthetic_arena(seed=4, n_battles=300, n_prompts=60, dim=16)
    router = SWRankingRouter.from_battles(cols, emb, num_tiers=10, embedder="t", backend="numpy")
    engine = router._engine
    Q = np.random.default_rng(0).standard_normal((3, 16)).astype(np.float32)
    sims = reference.cosine_sim(Q, engine.arena.astype(np.float32))
    S = np.concatenate([reference.sw_stats(sims, engine.stats.A, g)[0] for g in (None, 20.0)])
    assert _check(newton, S, engine.stats.T).all()


def test_backend_path_matches_reference(tri, newton, monkeypatch):
    """fastroute.ops.triton_backend.bt_fit: the fused kernel, and the reference for the rows
    it leaves unfinished (max_iter=2 here, so some rows take that path)."""
    rng = np.random.default_rng(13)
    S = np.stack([bt_counts(rng, 10, 10.0 ** rng.uniform(-2, 2), i % 2 == 0) for i in range(3)])
    np.testing.assert_allclose(tri.bt_fit(S, 10), reference.bt_fit(S, 10), rtol=0, atol=ATOL)
    real = newton.bt_fit_fused
    monkeypatch.setattr(newton, "bt_fit_fused", lambda S, T, *a: real(S, T, max_iter=2))
    np.testing.assert_allclose(tri.bt_fit(S, 10), reference.bt_fit(S, 10), rtol=0, atol=ATOL)


def test_dispatch_fused_up_to_its_limit(newton, monkeypatch):
    """bt_fit takes the fused kernel up to FUSED_MAX_T players and the torch solver beyond;
    the fused launcher refuses what it cannot hold."""
    import torch

    called = []
    monkeypatch.setattr(newton, "bt_fit_fused", lambda *a: called.append("fused") or (None, None))
    monkeypatch.setattr(newton, "bt_fit_torch", lambda *a: called.append("torch") or (None, None))
    for T in (1, newton.FUSED_MAX_T, newton.FUSED_MAX_T + 1):
        newton.bt_fit(torch.zeros((1, T * T + 2 * T), dtype=torch.float64), T)
    assert called == ["fused", "fused", "torch"]
    monkeypatch.undo()
    with pytest.raises(ValueError, match="1..32 players"):
        newton.bt_fit_fused(torch.zeros((1, 33 * 35)), 33)
    with pytest.raises(ValueError, match="expected 24 statistics"):
        newton.bt_fit(torch.zeros((1, 23)), 4)
