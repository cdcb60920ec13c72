"""Builds sw_ranking bundles from battles: the rateable battles, unique prompt embeddings,
the weighting (chosen on held-out prompts by fastroute.train.sw_weighting), the router."""

from __future__ import annotations

import math

import numpy as np

from ..data.battles import BattleTable
from ..embedders.base import EmbedderSpec
from ..sw import bradley_terry as bt
from .embed_prompts import embed, unique_prompts
from .sw_weighting import DEFAULT_GRID, choose_weighting


def rateable_battles(battles: BattleTable, strong: str, weak: str) -> tuple[BattleTable, list[str]]:
    """The battles among models whose Bradley-Terry ratings relative to `strong` are finite
    (its strongly connected component of who beat whom), and the models left out.

    Sources that share no model with the rest (e.g. LLMRouter's open models) cannot be
    placed on the same rating scale, so their battles cannot inform the fit."""
    from ..errors import UnknownModelError
    from ..sw.coded_battles import encode_battles

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


def build_sw(
    battles: BattleTable,
    embedder,
    *,
    strong_model: str,
    weak_model: str,
    num_tiers: "int | None" = None,
    sharpness: "float | str | None" = "auto",
    balance: str = "battle",
    grid=DEFAULT_GRID,
    folds: int = 5,
    seed: int = 0,
    storage: str = "float16",
    prompt_embeddings: "np.ndarray | None" = None,
    extra_meta: "dict | None" = None,
):
    """(SWRankingRouter on all rateable battles, WeightingReport or None).

    sharpness "auto" chooses the balance and the weights on a validation split
    (`choose_weighting`); None is RouteLLM's weighting; a number g gives exp(g (s - max s))."""
    from ..routers.sw_ranking import SWRankingRouter

    battles, dropped = rateable_battles(battles, strong_model, weak_model)
    if prompt_embeddings is not None and dropped:
        raise ValueError("pass prompt_embeddings only for battles whose models are all rateable")
    prompts, pid = unique_prompts(battles)
    E = prompt_embeddings if prompt_embeddings is not None else embed(prompts, embedder)
    spec = EmbedderSpec.of(embedder)
    report = None
    if sharpness == "auto":
        report = choose_weighting(
            battles,
            E,
            pid,
            spec,
            strong=strong_model,
            weak=weak_model,
            num_tiers=num_tiers,
            grid=grid,
            folds=folds,
            seed=seed,
        )
        sharpness, balance = report.chosen_sharpness, report.chosen_balance
    if isinstance(sharpness, str):
        raise ValueError(f"sharpness must be 'auto', None or a number > 0, got {sharpness!r}")
    meta = dict(extra_meta or {})
    if dropped:
        meta["unrateable_models_dropped"] = dropped
    if report is not None:
        meta["weighting_selection"] = {
            "validation_prompts": report.validation_prompts,
            "validation_battles": report.validation_battles,
            "criterion": report.criterion,
            "mean_loglik": report.loglik,
            # AUC is undefined (NaN) without a decisive battle each way (pooled over the folds): null
            "auc": {k: v if math.isfinite(v) else None for k, v in report.auc.items()},
            "chosen_balance": report.chosen_balance,
            "chosen_sharpness": report.chosen_sharpness,
            "folds": folds,
            "seed": seed,
        }
    # from_battles dedupes rows of E[pid] again; passing the aligned rows keeps one code path.
    router: SWRankingRouter = SWRankingRouter.from_battles(
        battles,
        E[pid],
        strong_model=strong_model,
        weak_model=weak_model,
        num_tiers=num_tiers,
        embedder=spec,
        storage=storage,
        sharpness=sharpness,
        balance=balance,
        extra_meta=meta,
    )
    if report is not None and report.oof_win_rates is not None and report.oof_outcomes is not None:  # out of fold
        from .calibration_fit import calibration_from

        how = f"out of fold ({folds}-fold, the weighting's cross-validation)"
        cal = calibration_from(report.oof_win_rates, report.oof_outcomes, strong_model, weak_model, how)
        router = router.with_calibration(cal) if cal else router
    return router, report
