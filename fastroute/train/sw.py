"""Builds sw_ranking bundles from battles: tiers, unique prompt embeddings, statistics.

RouteLLM's weighting 10 * 10^(s / max s) is the default for parity, but it is
flat: the most similar battle weighs at most 10x the least similar. `choose_weighting`
scores sharper weights exp(g (s - max s)), with battles weighted as RouteLLM does or
balanced per prompt, on a validation split of the prompts (the log-likelihood of the
held-out battles' outcomes under each query's fitted tier ratings), and reports
RouteLLM's weighting beside every alternative.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.battles import BattleTable
from ..embedders.base import EmbedderSpec
from ..sw import bradley_terry as bt
from .embed_prompts import embed, split_prompts, unique_prompts

DEFAULT_GRID = (2.0, 5.0, 10.0, 20.0, 40.0, 80.0)


@dataclass
class WeightingReport:
    """Held-out log-likelihood of every weighting tried, and the one chosen."""

    validation_prompts: int
    validation_battles: int
    criterion: str  # which held-out battles were scored
    loglik: dict[str, float]  # "balance/weights" -> mean log-likelihood per held-out battle
    chosen_balance: str
    chosen_sharpness: "float | None"

    def lines(self) -> list[str]:
        out = [f"validation: {self.validation_battles} held-out battles ({self.criterion}) on "
               f"{self.validation_prompts} held-out prompts"]
        out += [f"  {k:>22s}: mean log-likelihood {v:.5f}" for k, v in self.loglik.items()]
        g = "RouteLLM's 10*10^(s/max)" if self.chosen_sharpness is None else f"exp({self.chosen_sharpness:g} (s - max))"
        out.append(f"chosen: balance={self.chosen_balance}, weights {g}")
        return out


def _key(balance: str, g: "float | None") -> str:
    return f"{balance}/{'routellm' if g is None else f'g={g:g}'}"


def rateable_battles(battles: BattleTable, strong: str, weak: str) -> tuple[BattleTable, list[str]]:
    """The battles among models whose Bradley-Terry ratings relative to `strong` are finite
    (its strongly connected component of who beat whom), and the models left out.

    Sources that share no model with the rest (e.g. LLMRouter's open models) cannot be
    placed on the same rating scale, so their battles cannot inform the fit."""
    from ..errors import UnknownModelError
    from ..sw.battles import encode_battles

    models, a, b, o = encode_battles(battles.model_a, battles.model_b, battles.winner)
    for m in (strong, weak):
        if m not in models:
            raise UnknownModelError(m, models)
    keep_model = bt.rateable_players(a, b, o, len(models), models.index(strong))
    if not keep_model[models.index(weak)]:
        raise ValueError(f"{weak!r} cannot be rated against {strong!r} from these battles")
    dropped = [m for m, k in zip(models, keep_model) if not k]
    if not dropped:
        return battles, []
    return battles.select(keep_model[a] & keep_model[b]), dropped


def _router(battles: BattleTable, E: np.ndarray, pid: np.ndarray, spec: EmbedderSpec, strong: str, weak: str,
            num_tiers: int, storage: str, sharpness, extra_meta=None, balance: str = "battle"):
    from ..routers.sw_ranking import SWRankingRouter

    # from_battles dedupes rows of E[pid] again; passing the aligned rows keeps one code path.
    return SWRankingRouter.from_battles(battles, E[pid], strong_model=strong, weak_model=weak,
                                        num_tiers=num_tiers, embedder=spec, storage=storage,
                                        sharpness=sharpness, balance=balance, extra_meta=extra_meta)


def heldout_loglik(router, battles: BattleTable, E_prompts: np.ndarray, pid: np.ndarray) -> float:
    """Mean log-likelihood of `battles` (labels P(model_a wins)) under the router's
    per-prompt tier ratings, each prompt's ratings fitted from the router's arena."""
    if len(battles) == 0:
        return float("nan")
    uniq, inv = np.unique(pid, return_inverse=True)
    beta = router.tier_betas(router.check_embeddings(E_prompts[uniq]))
    tier = {m: router._tier_of_model[i] for i, m in enumerate(router.models)}
    ta = np.array([tier.get(m, -1) for m in battles.model_a])
    tb = np.array([tier.get(m, -1) for m in battles.model_b])
    known = (ta >= 0) & (tb >= 0)
    rows = np.arange(len(battles))[known]
    p = bt.win_probability(beta[inv[rows], ta[known]], beta[inv[rows], tb[known]])
    p = np.clip(p, 1e-12, 1 - 1e-12)
    y = battles.labels[known]
    return float(np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def choose_weighting(battles: BattleTable, E_prompts: np.ndarray, pid: np.ndarray, spec: EmbedderSpec, *,
                     strong: str, weak: str, num_tiers: int = 10, grid=DEFAULT_GRID, val_fraction: float = 0.1,
                     seed: int = 0, min_pair_battles: int = 200) -> WeightingReport:
    """Scores each (balance, weights) on a validation split of the prompts.

    The criterion is the log-likelihood of the held-out battles between the strong and
    the weak model (the decision the router makes) when there are at least
    `min_pair_battles` of them, else of all held-out battles.
    """
    val_prompt = split_prompts(E_prompts.shape[0], val_fraction, seed)
    is_val = val_prompt[pid]
    train_b, val_b = battles.select(~is_val), battles.select(is_val)
    val_pid = pid[is_val]
    pair = np.array([{a, b} == {strong, weak} for a, b in zip(val_b.model_a, val_b.model_b)], dtype=bool)
    if pair.sum() >= min_pair_battles:
        val_b, val_pid, criterion = val_b.select(pair), val_pid[pair], f"{strong} vs {weak}"
    else:
        criterion = "all battles"
    base = _router(train_b, E_prompts, pid[~is_val], spec, strong, weak, num_tiers, "float32", None)
    scores = {}
    for balance in ("battle", "prompt"):
        for g in (None, *grid):
            scores[_key(balance, g)] = heldout_loglik(base.with_weighting(sharpness=g, balance=balance),
                                                      val_b, E_prompts, val_pid)
    best = max(scores, key=scores.get)
    balance, weights = best.split("/")
    return WeightingReport(int(val_prompt.sum()), len(val_b), criterion, scores, balance,
                           None if weights == "routellm" else float(weights[2:]))


def build_sw(battles: BattleTable, embedder, *, strong_model: str, weak_model: str, num_tiers: int = 10,
             sharpness: "float | str | None" = "auto", balance: str = "battle", grid=DEFAULT_GRID,
             val_fraction: float = 0.1, seed: int = 0, storage: str = "float16",
             prompt_embeddings: "np.ndarray | None" = None, extra_meta: "dict | None" = None):
    """(SWRankingRouter on all rateable battles, WeightingReport or None).

    sharpness "auto" chooses the balance and the weights on a validation split
    (`choose_weighting`); None is RouteLLM's weighting; a number g gives exp(g (s - max s))."""
    battles, dropped = rateable_battles(battles, strong_model, weak_model)
    if prompt_embeddings is not None and dropped:
        raise ValueError("pass prompt_embeddings only for battles whose models are all rateable")
    prompts, pid = unique_prompts(battles)
    E = prompt_embeddings if prompt_embeddings is not None else embed(prompts, embedder)
    spec = EmbedderSpec.of(embedder)
    report = None
    if sharpness == "auto":
        report = choose_weighting(battles, E, pid, spec, strong=strong_model, weak=weak_model, num_tiers=num_tiers,
                                  grid=grid, val_fraction=val_fraction, seed=seed)
        sharpness, balance = report.chosen_sharpness, report.chosen_balance
    meta = dict(extra_meta or {})
    if dropped:
        meta["unrateable_models_dropped"] = dropped
    if report is not None:
        meta["weighting_selection"] = {"validation_prompts": report.validation_prompts,
                                       "validation_battles": report.validation_battles,
                                       "criterion": report.criterion, "mean_loglik": report.loglik,
                                       "chosen_balance": report.chosen_balance,
                                       "chosen_sharpness": report.chosen_sharpness,
                                       "val_fraction": val_fraction, "seed": seed}
    router = _router(battles, E, pid, spec, strong_model, weak_model, num_tiers, storage, sharpness, meta, balance)
    return router, report
