"""Weighted Bradley-Terry fits through sufficient statistics, exactly as RouteLLM's
`compute_elo_mle_with_tie` but without refitting a logistic regression.

RouteLLM fits an unpenalised, intercept-free logistic regression on every battle
twice over: a row holds +ln 10 for model_a and -ln 10 for model_b, Y = 1 when
model_a won (both copies), and a tie counts as one win for each side (Y = 1 in
the first copy only). A battle whose two sides are the same player (in the tier
fit: two models of one tier) keeps only the -ln 10 entry. The log-likelihood is
therefore a function of a few weighted counts, for T players:

* C[i, j] for i != j: weight of "i beat j" (2 per win, 1 per tie, each way),
* Dp[t], Dm[t]: same-player battles with Y = 1 / Y = 0 (2 per decisive battle, 1 per tie),

    L(b) = sum_ij C[i,j] log s(k (b_i - b_j)) + sum_t Dp[t] log s(-k b_t) + Dm[t] log s(k b_t)

with k = ln 10 and s the logistic function. The counts are S = A w for a fixed
sparse matrix A (K = T^2 + 2T rows, one column per prompt) and the battle
weights w, so a per-query fit is one sparse product and a T-dimensional Newton
solve. Ratings are 400 b + 1000, as RouteLLM's.

The solver itself is the `bt_fit` op (fastroute.ops: numpy reference in
fastroute/ops/reference_bt.py, C in csrc/bt_fit.c, GPU in kernels/bt_fit.py); this module
builds its input (stat_matrix) and reads its output (ratings, win_probability).

Degenerate cases:
* no same-player battles (or only ones with Y = 1, or only Y = 0): the level of b is
  not pinned; the fit then keeps sum(b) = 0, as scikit-learn's lbfgs does from its
  zero start, and differences (all that win rates use) are the pair-only MLE;
* players never compared (a pair without battles) simply contribute nothing;
* a player that only wins or only loses has no finite rating: `check_finite_fit`
  reports it when the router is built, since the support of S is the same for
  every query (weights are always > 0);
* sharp weights can leave a tier with a negligible total weight (1e-30 of the
  rest): a vanishing ridge, fastroute.ops.constants.BT_RIDGE times the query's total weight, keeps the Newton
  system well-posed there (such a tier's rating stays near 0). Its effect on a
  RouteLLM-weighted fit is far below 1e-8 in the win rate.
"""

from __future__ import annotations

import numpy as np

from ..ops.constants import LN10
from ..ops.csr import CSRMatrix
from ..ops.reference_bt import bt_fit, n_stats, sigmoid, split_counts

__all__ = [
    "OUTCOME_A",
    "OUTCOME_B",
    "OUTCOME_TIE",
    "WINNER_CODES",
    "check_finite_fit",
    "n_stats",
    "rateable_players",
    "ratings",
    "stat_matrix",
    "win_probability",
]

OUTCOME_A, OUTCOME_B, OUTCOME_TIE = 0, 1, 2
WINNER_CODES = {"model_a": OUTCOME_A, "model_b": OUTCOME_B, "tie": OUTCOME_TIE, "tie (bothbad)": OUTCOME_TIE}


def stat_matrix(
    player_a: np.ndarray,
    player_b: np.ndarray,
    outcome: np.ndarray,
    column: np.ndarray,
    n_players: int,
    n_columns: int,
    label: "np.ndarray | None" = None,
    weight: "np.ndarray | None" = None,
) -> CSRMatrix:
    """A (K x n_columns): how one unit of weight on each column (prompt) feeds each count.

    A battle with P(model_a wins) = y adds 2y to "a beat b" and 2(1 - y) to "b beat a"
    (RouteLLM's coding for y = 1, 0 and ties at 1/2; a soft label in between), times an
    optional per-battle `weight`. Same-player battles feed Dp (2y) and Dm (2(1 - y)).
    """
    a = np.asarray(player_a, dtype=np.int64)
    b = np.asarray(player_b, dtype=np.int64)
    o = np.asarray(outcome, dtype=np.int64)
    col = np.asarray(column, dtype=np.int64)
    y = np.where(o == OUTCOME_A, 1.0, np.where(o == OUTCOME_B, 0.0, 0.5)) if label is None else np.asarray(label, float)
    if y.shape != a.shape or np.isnan(y).any() or (y < 0).any() or (y > 1).any():
        raise ValueError("battle labels must be probabilities, one per battle")
    wt = np.ones(a.size) if weight is None else np.asarray(weight, dtype=np.float64)
    T = n_players
    same = a == b
    win_row = np.where(same, T * T + a, a * T + b)
    loss_row = np.where(same, T * T + T + a, b * T + a)
    rows = np.concatenate([win_row, loss_row])
    vals = np.concatenate([2.0 * y * wt, 2.0 * (1.0 - y) * wt])
    keep = vals != 0
    return CSRMatrix.from_coo(rows[keep], np.concatenate([col, col])[keep], vals[keep], (n_stats(T), n_columns))


def ratings(beta: np.ndarray) -> np.ndarray:
    """RouteLLM's Elo scale: 400 b + 1000."""
    return 400.0 * beta + 1000.0


def win_probability(beta_strong: np.ndarray, beta_weak: np.ndarray) -> np.ndarray:
    """1 - 1 / (1 + 10^((r_s - r_w) / 400)) = sigmoid(ln 10 (b_s - b_w))."""
    return sigmoid(LN10 * (np.asarray(beta_strong) - np.asarray(beta_weak)))


def check_finite_fit(S: np.ndarray, T: int, names: "list[str]", what: str) -> np.ndarray:
    """Fits unit-weight counts and raises if some rating runs off to infinity.

    The pattern of nonzero counts is the same for every query, so if this fit is
    finite, every weighted fit is too.
    """
    S = np.asarray(S, dtype=np.float64).reshape(1, -1)
    C, Dp, Dm = split_counts(S, T)
    wins = C[0].sum(1) + Dm[0]
    losses = C[0].sum(0) + Dp[0]
    bad = [str(names[i]) for i in range(T) if wins[i] == 0 or losses[i] == 0]
    if bad:
        raise ValueError(
            f"the battles give no finite Bradley-Terry rating to every {what} (never won or never lost: "
            f"{', '.join(bad)}): add battles (a tie counts both ways) or drop those {what}s"
        )
    outside = _outside_main_component(C[0], Dp[0], Dm[0])
    if outside:
        raise ValueError(
            f"the battles give no finite Bradley-Terry rating to every {what}: some group of {what}s "
            f"always beats, or is never compared with, the rest ({', '.join(str(names[i]) for i in outside)})"
        )
    beta = bt_fit(S, T, max_iter=200)[0]
    return beta


def _reachable(adj: np.ndarray, start: int) -> np.ndarray:
    seen = np.zeros(adj.shape[0], dtype=bool)
    seen[start] = True
    frontier = seen.copy()
    while frontier.any():
        nxt = adj[frontier].any(axis=0) & ~seen
        seen |= nxt
        frontier = nxt
    return seen


def _outside_main_component(C: np.ndarray, Dp: np.ndarray, Dm: np.ndarray, start: int = 0) -> list[int]:
    """Players not in the strongly connected component of player `start` of the "beat" graph.

    The MLE is finite iff that graph is strongly connected (Zermelo/Ford); with
    same-player rows of both kinds, a virtual anchor node of fixed rating joins it
    (Dm: the player beat the anchor, Dp: the anchor beat the player).
    """
    T = C.shape[0]
    pinned = Dp.sum() > 0 and Dm.sum() > 0
    n = T + 1 if pinned else T
    adj = np.zeros((n, n), dtype=bool)
    adj[:T, :T] = C > 0  # adj[i, j]: i beat j
    if pinned:
        adj[:T, T] = Dm > 0
        adj[T, :T] = Dp > 0
    both = _reachable(adj, start) & _reachable(adj.T, start)
    return [i for i in range(T) if not both[i]]


def rateable_players(
    player_a: np.ndarray, player_b: np.ndarray, outcome: np.ndarray, n_players: int, anchor: int
) -> np.ndarray:
    """Boolean mask of the players whose ratings relative to `anchor` are finite: the
    strongly connected component of `anchor` in the graph of who beat whom."""
    A = stat_matrix(player_a, player_b, outcome, np.zeros(len(player_a), dtype=np.int64), n_players, 1)
    C, Dp, Dm = split_counts(A.to_dense().T, n_players)
    outside = set(_outside_main_component(C[0], Dp[0], Dm[0], start=anchor))
    return np.array([i not in outside for i in range(n_players)])
