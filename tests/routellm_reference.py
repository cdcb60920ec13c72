"""Test-only reference implementations of RouteLLM's algorithms, written from its
documented behaviour (routellm/routers/): the slow, obvious way, with scikit-learn
where RouteLLM uses it. fastroute's fast paths are compared against these."""

from __future__ import annotations

import math

import numpy as np
from sklearn.linear_model import LogisticRegression

LN10 = math.log(10.0)


def elo_mle_with_tie(model_a, model_b, winner, sample_weight=None, anchor=True):
    """RouteLLM's compute_elo_mle_with_tie: {player: rating}, via scikit-learn's
    unpenalised logistic regression on duplicated battles, solved tightly."""
    model_a, model_b, winner = list(model_a), list(model_b), list(winner)
    players = list(dict.fromkeys(model_a + model_b))  # first appearance, as pd.unique
    col = {p: i for i, p in enumerate(players)}
    n = len(winner)
    X = np.zeros((2 * n, len(players)))
    Y = np.zeros(2 * n)
    for copy in range(2):
        for i in range(n):
            r = copy * n + i
            X[r, col[model_a[i]]] = +LN10
            X[r, col[model_b[i]]] = -LN10  # same player: overwrites, leaving only -ln 10
            if winner[i] == "model_a":
                Y[r] = 1.0
            elif winner[i] in ("tie", "tie (bothbad)") and copy == 0:
                Y[r] = 1.0
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=100_000)
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64)
        lr.fit(X, Y, sample_weight=np.concatenate([w, w]))
    else:
        lr.fit(X, Y)
    elo = 400.0 * lr.coef_[0] + 1000.0
    if anchor and "llama-2-70b-chat" in col:
        elo += 1082.0 - elo[col["llama-2-70b-chat"]]
    return dict(zip(players, elo))


def compute_tiers(ratings: dict, num_tiers: int) -> dict:
    """RouteLLM's compute_tiers, the full O(n^3 m) table as written there."""
    items = sorted(ratings.items(), key=lambda kv: -kv[1])
    r = [v for _, v in items]
    n, m = len(r), num_tiers
    dp = np.zeros((n, n, m))
    dp_split = np.zeros((n, n, m))
    for i in range(n):
        for j in range(i + 1, n):
            dp[i][j][0] = np.var(r[i : j + 1])
    for tier in range(1, m):
        for i in range(n):
            for j in range(i + 1, n):
                dp[i][j][tier] = 1e9
                for l in range(i, j):  # noqa: E741 - the name RouteLLM uses
                    cand = dp[i][l][tier - 1] + dp[l + 1][j][0]
                    if dp[i][j][tier] > cand:
                        dp_split[i][j][tier] = l
                        dp[i][j][tier] = cand
    cur_n, cuts = n, []
    for tier in range(m - 1, 0, -1):
        s = int(dp_split[0][cur_n - 1][tier])
        cuts.append(s)
        cur_n = s + 1
    cuts = cuts[::-1] + [n - 1]
    out, cur = {}, 0
    for t, c in enumerate(cuts):
        for j in range(cur, c + 1):
            out[items[j][0]] = t
        cur = c + 1
    return out


def sw_ranking_win_rate(query, arena_embeddings, model_a, model_b, winner, tiers, strong, weak):
    """One query through RouteLLM's SWRankingRouter.calculate_threshold."""
    q = np.asarray(query, dtype=np.float64)
    X = np.asarray(arena_embeddings, dtype=np.float64)
    sims = X @ q / (np.linalg.norm(X, axis=1) * np.linalg.norm(q))
    weights = 10 * 10 ** (sims / np.max(sims))
    ta = [tiers[m] for m in model_a]
    tb = [tiers[m] for m in model_b]
    res = elo_mle_with_tie(ta, tb, winner, sample_weight=weights, anchor=False)
    gap = res[tiers[strong]] - res[tiers[weak]]
    return 1 - 1 / (1 + 10 ** (gap / 400))


def mf_win_rate(P, text_proj, classifier, e, strong_id, weak_id):
    """RouteLLM's MFModel.pred_win_rate for one prompt embedding, in float64."""
    P = np.asarray(P, np.float64)
    pe = np.asarray(e, np.float64)
    if text_proj is not None:
        pe = np.asarray(text_proj, np.float64) @ pe
    logits = []
    for mid in (strong_id, weak_id):
        v = P[mid] / max(np.linalg.norm(P[mid]), 1e-12)
        logits.append(float(np.asarray(classifier, np.float64).reshape(-1) @ (v * pe)))
    return 1.0 / (1.0 + math.exp(-(logits[0] - logits[1])))
