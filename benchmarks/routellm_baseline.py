"""RouteLLM's algorithms as RouteLLM runs them, for side-by-side timing.

Written from RouteLLM's behaviour (routellm/routers/), vectorised where RouteLLM
is, per prompt where RouteLLM is: the MF forward pass one prompt at a time in
torch, and sw_ranking as a float64 cosine with norms recomputed every call
followed by a scikit-learn logistic-regression refit on every battle (twice).
"""

from __future__ import annotations

import math

import numpy as np

LN10 = math.log(10.0)


class SWRankingBaseline:
    """Per query: similarities, weights, and a LogisticRegression refit over 2N rows."""

    def __init__(self, arena_embeddings, tier_a, tier_b, winner_code, strong_tier, weak_tier):
        self.X = np.asarray(arena_embeddings, dtype=np.float32)  # RouteLLM keeps the .npy as loaded
        players = np.unique(np.concatenate([tier_a, tier_b]))
        col = {p: i for i, p in enumerate(players)}
        n = len(tier_a)
        a = np.array([col[t] for t in tier_a])
        b = np.array([col[t] for t in tier_b])
        design = np.zeros((2 * n, len(players)))
        rows = np.arange(2 * n)
        design[rows, np.concatenate([a, a])] = LN10
        design[rows, np.concatenate([b, b])] = -LN10
        y = np.zeros(2 * n)
        y[np.concatenate([winner_code == 0, winner_code == 0])] = 1.0
        y[:n][winner_code == 2] = 1.0
        self.design, self.y = design, y
        self.s, self.w = col[strong_tier], col[weak_tier]

    def win_rate(self, query) -> float:
        from sklearn.linear_model import LogisticRegression

        q = np.asarray(query, dtype=np.float64)
        sims = np.dot(self.X, q) / (np.linalg.norm(self.X, axis=1) * np.linalg.norm(q))
        weights = 10 * 10 ** (sims / np.max(sims))
        lr = LogisticRegression(fit_intercept=False, C=np.inf)  # RouteLLM: penalty=None, defaults otherwise
        lr.fit(self.design, self.y, sample_weight=np.concatenate([weights, weights]))
        gap = 400 * (lr.coef_[0][self.s] - lr.coef_[0][self.w])
        return 1 - 1 / (1 + 10 ** (gap / 400))


class MFBaseline:
    """RouteLLM's MFModel.pred_win_rate: one torch forward pass per prompt."""

    def __init__(self, P, text_proj, classifier, strong_id, weak_id):
        import torch

        self.torch = torch
        self.P = torch.nn.Embedding.from_pretrained(torch.from_numpy(np.asarray(P, np.float32)))
        self.proj = torch.nn.Linear(text_proj.shape[1], text_proj.shape[0], bias=False)
        self.proj.weight.data.copy_(torch.from_numpy(np.asarray(text_proj, np.float32)))
        self.clf = torch.nn.Linear(classifier.size, 1, bias=False)
        self.clf.weight.data.copy_(torch.from_numpy(np.asarray(classifier, np.float32).reshape(1, -1)))
        self.ids = [strong_id, weak_id]

    def win_rate(self, embedding) -> float:
        torch = self.torch
        with torch.no_grad():
            model_embed = torch.nn.functional.normalize(self.P(torch.tensor(self.ids)), p=2, dim=1)
            prompt_embed = self.proj(torch.tensor(embedding))
            logits = self.clf(model_embed * prompt_embed).squeeze()
            return torch.sigmoid(logits[0] - logits[1]).item()
