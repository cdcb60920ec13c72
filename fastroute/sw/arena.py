"""Building an sw_ranking arena from battles: coded battles, unit prompt embeddings stored
once per distinct prompt, RouteLLM's model ratings and tiers, and the per-tier statistics
matrix the scoring engine reads (S = A w, see fastroute.sw.bradley_terry).

Tiers come from RouteLLM's compute_tiers on the unweighted model ratings (anchored at
llama-2-70b-chat = 1082 when present).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..embedders import resolve_spec
from ..embedders.base import Embedder, EmbedderSpec
from ..ops.csr import CSRMatrix
from ..ops.rows import normalize_rows
from ..routellm_models import ANCHOR_MODEL, ANCHOR_RATING
from . import bradley_terry as bt
from .coded_battles import CodedBattles, dedupe_rows, encode_battles, get_columns
from .tiers import compute_tiers

STORAGE = {"float32": np.float32, "float16": np.float16}
# "battle": RouteLLM's estimator, every battle weighs its prompt's similarity weight.
# "prompt": a prompt's battles share that weight, so a prompt judged on 100 model pairs
# counts as much as one judged on a single pair (golden labels vs LLM-judge sweeps).
BALANCES = ("battle", "prompt")


def model_ratings(battles: CodedBattles) -> np.ndarray:
    """Unweighted Elo-scale rating of every model, as RouteLLM's compute_elo_mle_with_tie."""
    M = len(battles.models)
    A = bt.stat_matrix(
        battles.model_a,
        battles.model_b,
        battles.outcome,
        np.zeros(len(battles), dtype=np.int64),
        M,
        1,
        label=battles.labels() if battles.label is not None else None,
    )
    S = A.to_dense()[:, 0]
    beta = bt.check_finite_fit(S, M, list(battles.models), "model")
    r = bt.ratings(beta)
    if ANCHOR_MODEL in battles.models:
        r = r + (ANCHOR_RATING - r[battles.models.index(ANCHOR_MODEL)])
    return r


DEFAULT_TIERS = 10  # RouteLLM's num_tiers


@dataclass(frozen=True)
class BuiltArena:
    battles: CodedBattles
    arena: np.ndarray  # [U, d] unit rows, one per distinct prompt, in the storage dtype
    model_tiers: np.ndarray  # [M] RouteLLM tier id per model
    model_ratings: np.ndarray  # [M] unweighted Elo-scale ratings
    embedder: EmbedderSpec  # what made the embeddings
    num_tiers: int  # the tiers asked for (None given: RouteLLM's 10, or one per model when fewer)


def build_arena(
    battles: Any,
    embeddings: np.ndarray,
    *,
    embedder: "EmbedderSpec | Embedder | str",
    num_tiers: "int | None",
    storage: str,
) -> BuiltArena:
    """The arena of RouteLLM's preprocessed battles (model_a, model_b, winner, optionally
    soft_label = P(model_a wins)) and their prompt embeddings [N, d], row-aligned, made by
    `embedder` (its width is checked before any work). `num_tiers` None: RouteLLM's 10 tiers,
    or one per model when the battles have fewer models (a number is taken as given)."""
    cols = get_columns(battles, ["model_a", "model_b", "winner"])
    models, a, b, outcome = encode_battles(cols["model_a"], cols["model_b"], cols["winner"])
    label = None
    try:
        soft = np.asarray(battles["soft_label"], dtype=np.float64)
    except (KeyError, IndexError, TypeError, ValueError):
        soft = None
    if soft is not None and soft.shape == a.shape and (~np.isnan(soft)).any():
        label = soft
    E = np.asarray(embeddings)
    if E.ndim != 2 or E.shape[0] != a.size:
        raise ValueError(f"embeddings have shape {E.shape}; expected one row per battle ({a.size})")
    if not np.issubdtype(E.dtype, np.floating) or not np.isfinite(E).all():
        raise ValueError("embeddings must be finite floating-point values")
    spec = resolve_spec(embedder, E.shape[1])
    if storage not in STORAGE:
        raise ValueError(f"storage must be one of {sorted(STORAGE)}, got {storage!r}")
    unit = normalize_rows(E)
    first, prompt = dedupe_rows(unit)
    coded = CodedBattles(models, a, b, outcome, prompt, label)
    ratings = model_ratings(coded)
    n_tiers = min(DEFAULT_TIERS, len(models)) if num_tiers is None else num_tiers
    tier_map = compute_tiers(list(models), ratings, n_tiers)
    tiers = np.array([tier_map[m] for m in models])
    return BuiltArena(coded, unit[first].astype(STORAGE[storage]), tiers, ratings, spec, int(n_tiers))


@dataclass(frozen=True)
class TierStatistics:
    """The tiers in use, renumbered 0..T-1 (RouteLLM's fit only knows the tiers that occur),
    and the sparse matrix A turning per-prompt weights into the fit's statistics S = A w."""

    A: CSRMatrix
    T: int
    used_tiers: np.ndarray  # [T] original tier ids, ascending
    tier_of_model: np.ndarray  # [M] index into used_tiers


def tier_statistics(battles: CodedBattles, model_tiers: np.ndarray, n_prompts: int, balance: str) -> TierStatistics:
    """A for these battles; a ValueError naming the tiers when the unweighted fit is not finite."""
    if balance not in BALANCES:
        raise ValueError(f"balance must be one of {BALANCES}, got {balance!r}")
    used, tier_index = np.unique(model_tiers, return_inverse=True)
    tier_of_model = tier_index.astype(np.int64)
    T = int(used.size)
    weight = None
    if balance == "prompt":  # every prompt carries one unit of weight, however many battles it has
        weight = 1.0 / np.bincount(battles.prompt, minlength=n_prompts)[battles.prompt]
    A = bt.stat_matrix(
        tier_of_model[battles.model_a],
        tier_of_model[battles.model_b],
        battles.outcome,
        battles.prompt,
        T,
        n_prompts,
        label=battles.labels() if battles.label is not None else None,
        weight=weight,
    )
    unit = np.asarray(A.values, np.float64)
    S1 = np.bincount(np.repeat(np.arange(A.shape[0]), np.diff(A.indptr)), weights=unit, minlength=A.shape[0])
    names = [f"tier {int(t)} ({', '.join(m for m, x in zip(battles.models, model_tiers) if x == t)})" for t in used]
    bt.check_finite_fit(S1, T, names, "tier")
    return TierStatistics(A, T, used, tier_of_model)


def reordered(battles: CodedBattles, arena: np.ndarray, order: np.ndarray) -> tuple[CodedBattles, np.ndarray]:
    """The arena's rows in `order` (e.g. grouped by IVF cluster), battles pointing at them."""
    new_of_old = np.empty_like(order)
    new_of_old[order] = np.arange(order.size)
    moved = CodedBattles(
        battles.models,
        battles.model_a,
        battles.model_b,
        battles.outcome,
        new_of_old[battles.prompt].astype(np.int32),
        battles.label,
    )
    return moved, arena[order]
