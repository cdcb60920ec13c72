"""RouteLLM's `compute_tiers`: group models, sorted by rating, into tiers by
dynamic programming over contiguous splits, minimising the summed (population)
variance of the ratings within each tier.

Reproduced with its quirks, because sw_ranking's output depends on them: the
recurrence lets a single model stand for any number of tiers at zero cost, so
some tier ids can end up empty and the used ids need not be contiguous; ties
between equal costs go to the first split. Only the row of the DP table that
starts at the best model is ever read back, so only that row is computed
(O(n^2 m) instead of O(n^3 m)), with the same values.
"""

from __future__ import annotations

import numpy as np

_UNSET = 1_000_000_000.0  # RouteLLM's initial "infinite" cost


def compute_tiers(names: "list[str]", ratings: np.ndarray, num_tiers: int) -> dict[str, int]:
    """Tier id (0 = best) of each model, from its rating."""
    ratings = np.asarray(ratings, dtype=np.float64)
    n, m = len(names), int(num_tiers)
    if ratings.shape != (n,):
        raise ValueError(f"{n} names but {ratings.shape} ratings")
    if m < 1:
        raise ValueError(f"num_tiers must be >= 1, got {m}")
    if n < m:
        raise ValueError(f"num_tiers={m} needs at least {m} models, the battles have {n}")
    order = np.argsort(-ratings, kind="stable")
    r = ratings[order]
    sorted_names = [names[i] for i in order]

    # var[i, j] = population variance of r[i..j], as np.var computes it (the same
    # rounding keeps ties between equal-cost splits broken the same way).
    var = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            var[i, j] = np.var(r[i : j + 1])

    # dp[j, t]: best cost of r[0..j] in t + 1 tiers; dp[0, t] = 0 for every t.
    dp = np.zeros((n, m))
    split = np.zeros((n, m), dtype=np.int64)
    dp[:, 0] = var[0, :]
    for t in range(1, m):
        for j in range(1, n):
            cost = dp[:j, t - 1] + var[1 : j + 1, j]
            best = int(np.argmin(cost))
            if cost[best] < _UNSET:
                dp[j, t] = cost[best]
                split[j, t] = best
            else:
                dp[j, t] = _UNSET

    cuts = []
    end = n
    for t in range(m - 1, 0, -1):
        s = int(split[end - 1, t])
        cuts.append(s)
        end = s + 1
    cuts = cuts[::-1] + [n - 1]
    tiers: dict[str, int] = {}
    start = 0
    for tier, cut in enumerate(cuts):
        for j in range(start, cut + 1):
            tiers[sorted_names[j]] = tier
        start = cut + 1
    return tiers
