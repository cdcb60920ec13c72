"""Choosing sw_ranking's battle weighting on held-out prompts.

RouteLLM's weighting 10 * 10^(s / max s) is the default for parity, but it is flat: the
most similar battle weighs at most 10x the least similar. `choose_weighting` scores sharper
weights exp(g (s - max s)), with battles weighted as RouteLLM does or balanced per prompt,
by cross-validation over the prompts, and reports RouteLLM's weighting beside every
alternative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.battles import BattleTable
from ..embedders.base import EmbedderSpec
from ..progress import track
from ..sw import bradley_terry as bt

DEFAULT_GRID = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)


@dataclass
class WeightingReport:
    """Held-out scores of every weighting tried, and the one chosen."""

    validation_prompts: int  # prompts scored out of fold (all of them)
    validation_battles: int
    criterion: str  # how the weightings were ranked
    loglik: dict[str, float]  # "balance/weights" -> mean log-likelihood per held-out battle
    auc: dict[str, float]  # "balance/weights" -> AUC of P(strong wins) on decisive strong-vs-weak battles
    chosen_balance: str
    chosen_sharpness: "float | None"
    oof_win_rates: "np.ndarray | None" = None  # the chosen weighting's, on the decisive pair battles
    oof_outcomes: "np.ndarray | None" = None  # P(strong wins) on each of them

    def lines(self) -> list[str]:
        out = [
            f"validation: {self.validation_battles} held-out battles on {self.validation_prompts} held-out "
            f"prompts; ranked by {self.criterion}"
        ]
        out += [
            f"  {k:>22s}: AUC {self.auc.get(k, float('nan')):.4f}, mean log-likelihood {v:.5f}"
            for k, v in self.loglik.items()
        ]
        g = "RouteLLM's 10*10^(s/max)" if self.chosen_sharpness is None else f"exp({self.chosen_sharpness:g} (s - max))"
        out.append(f"chosen: balance={self.chosen_balance}, weights {g}")
        return out


def _key(balance: str, g: "float | None") -> str:
    return f"{balance}/{'routellm' if g is None else f'g={g:g}'}"


def _router(
    battles: BattleTable,
    E: np.ndarray,
    pid: np.ndarray,
    spec: EmbedderSpec,
    strong: str,
    weak: str,
    num_tiers: "int | None",
    storage: str,
    sharpness,
    extra_meta=None,
    balance: str = "battle",
):
    from ..routers.sw_ranking import SWRankingRouter

    # from_battles dedupes rows of E[pid] again; passing the aligned rows keeps one code path.
    return SWRankingRouter.from_battles(
        battles,
        E[pid],
        strong_model=strong,
        weak_model=weak,
        num_tiers=num_tiers,
        embedder=spec,
        storage=storage,
        sharpness=sharpness,
        balance=balance,
        extra_meta=extra_meta,
    )


def heldout_loglik(router, battles: BattleTable, E_prompts: np.ndarray, pid: np.ndarray) -> float:
    """Mean log-likelihood of `battles` (labels P(model_a wins)) under the router's
    per-prompt tier ratings, each prompt's ratings fitted from the router's arena."""
    if len(battles) == 0:
        return float("nan")
    uniq, inv = np.unique(pid, return_inverse=True)
    beta = router.tier_betas(router.check_embeddings(E_prompts[uniq]))
    tier = {m: router.tier_of_model[i] for i, m in enumerate(router.models)}
    ta = np.array([tier.get(m, -1) for m in battles.model_a])
    tb = np.array([tier.get(m, -1) for m in battles.model_b])
    known = (ta >= 0) & (tb >= 0)
    rows = np.arange(len(battles))[known]
    p = bt.win_probability(beta[inv[rows], ta[known]], beta[inv[rows], tb[known]])
    p = np.clip(p, 1e-12, 1 - 1e-12)
    y = battles.labels[known]
    return float(np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _auc(p: np.ndarray, y: np.ndarray) -> float:
    """Mann-Whitney AUC of scores p for binary outcomes y (ties in p count half)."""
    pos, neg = int((y > 0.5).sum()), int((y < 0.5).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    order = np.argsort(p, kind="stable")
    sorted_p = p[order]
    _, first, counts = np.unique(sorted_p, return_index=True, return_counts=True)
    ranks = np.empty(p.size)
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)  # average ranks of ties
    return float((ranks[y > 0.5].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _pair_outcomes(battles: BattleTable, strong: str) -> np.ndarray:
    """P(strong wins) per battle between the strong and the weak model."""
    return np.where(np.array(battles.model_a) == strong, battles.labels, 1.0 - battles.labels)


def choose_weighting(
    battles: BattleTable,
    E_prompts: np.ndarray,
    pid: np.ndarray,
    spec: EmbedderSpec,
    *,
    strong: str,
    weak: str,
    num_tiers: "int | None" = None,
    grid=DEFAULT_GRID,
    folds: int = 5,
    seed: int = 0,
    min_decisive: int = 100,
) -> WeightingReport:
    """Scores each (balance, weights) by K-fold cross-validation over the prompts.

    For every fold the router is built on the other folds' battles and scores the
    held-out prompts. The ranking criterion is the AUC of the out-of-fold P(strong wins)
    on the decisive battles between the strong and the weak model (routing by a threshold
    is a ranking of prompts by that advantage) when there are at least `min_decisive`;
    otherwise the mean log-likelihood of all held-out battles. Both are reported.
    """
    if folds < 2:
        raise ValueError(f"folds must be >= 2, got {folds}")
    n_prompts = E_prompts.shape[0]
    fold_of_prompt = np.random.default_rng(seed).permutation(n_prompts) % folds
    keys = [_key(b, g) for b in ("battle", "prompt") for g in (None, *grid)]
    ll_sum = dict.fromkeys(keys, 0.0)
    n_ll = 0
    pair_p: dict[str, list] = {k: [] for k in keys}
    pair_y: list = []
    for f in track(range(folds), "train sw_ranking: choosing the weighting", unit="folds"):
        held = fold_of_prompt[pid] == f
        train_b, val_b, val_pid = battles.select(~held), battles.select(held), pid[held]
        pair = np.array([{a, b} == {strong, weak} for a, b in zip(val_b.model_a, val_b.model_b)], dtype=bool)
        pair_b, pair_pid = val_b.select(pair), val_pid[pair]
        y = _pair_outcomes(pair_b, strong)
        decisive = y != 0.5
        pair_y.append(y[decisive])
        base = _router(train_b, E_prompts, pid[~held], spec, strong, weak, num_tiers, "float32", None)
        uniq, inv = np.unique(pair_pid, return_inverse=True)
        for key in keys:
            balance, weights = key.split("/")
            r = base.with_weighting(sharpness=None if weights == "routellm" else float(weights[2:]), balance=balance)
            ll_sum[key] += heldout_loglik(r, val_b, E_prompts, val_pid) * len(val_b)
            if uniq.size:
                pair_p[key].append(r.win_rates(embeddings=E_prompts[uniq])[inv][decisive])
        n_ll += len(val_b)
    y_all = np.concatenate(pair_y)
    loglik = {k: ll_sum[k] / max(n_ll, 1) for k in keys}
    auc = {k: _auc(np.concatenate(pair_p[k]), y_all) if pair_p[k] else float("nan") for k in keys}
    # AUC needs both outcomes among the decisive battles (else it is NaN for every weighting)
    if y_all.size >= min_decisive and all(np.isfinite(auc[k]) for k in keys):
        criterion = f"{folds}-fold AUC on {y_all.size} decisive {strong} vs {weak} battles"
        best = max(keys, key=lambda k: (auc[k], loglik[k]))
    else:
        criterion = f"{folds}-fold mean log-likelihood of all held-out battles"
        best = max(keys, key=lambda k: loglik[k])
    balance, weights = best.split("/")
    return WeightingReport(
        n_prompts,
        n_ll,
        criterion,
        loglik,
        auc,
        balance,
        None if weights == "routellm" else float(weights[2:]),
        np.concatenate(pair_p[best]) if pair_p[best] else None,
        y_all,
    )
