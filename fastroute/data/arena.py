"""Chatbot Arena human-preference battles (`lmsys/lmsys-arena-human-preference-55k`
schema) and RouteLLM's preprocessing of them for sw_ranking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .tables import columns, read_records

if TYPE_CHECKING:  # the runtime imports stay inside the functions that need them
    import numpy as np

    from ..routers.sw_ranking import SWRankingRouter
    from .battles import BattleTable

ARENA_COLUMNS = ["model_a", "model_b", "prompt", "winner_model_a", "winner_model_b", "winner_tie"]
MIN_FIRST_TURN_CHARS = 16


def _flag(v: Any) -> bool:
    return v in (1, True, "1", "1.0", "True", "true") or (isinstance(v, float) and v == 1.0)


def preprocess_arena(battles: Any) -> dict[str, list]:
    """RouteLLM's preprocess_battles: first turn of `prompt` (a JSON list of turns),
    stripped; winner from the one-hot columns (model_a, model_b, else tie); battles
    whose first turn is shorter than 16 characters dropped.

    `battles` is a path (csv/json/jsonl/parquet), a DataFrame, a mapping of columns
    or a list of records. Returns columns model_a, model_b, winner, first_turn.
    """
    if isinstance(battles, (str, Path)):
        cols = columns(read_records(battles), ARENA_COLUMNS, str(battles))
    elif isinstance(battles, list):
        cols = columns(battles, ARENA_COLUMNS, "arena battles")
    else:
        try:
            cols = {n: list(battles[n]) for n in ARENA_COLUMNS}
        except KeyError as exc:
            raise ValueError(f"arena battles lack column {exc}") from None
    out: dict[str, list] = {"model_a": [], "model_b": [], "winner": [], "first_turn": []}
    for i, raw in enumerate(cols["prompt"]):
        try:
            turns = json.loads(raw) if isinstance(raw, str) else raw
            first = turns[0].strip()
        except (json.JSONDecodeError, TypeError, IndexError, AttributeError):
            raise ValueError(f"arena battle {i}: prompt {str(raw)[:60]!r} is not a JSON list of turns") from None
        if len(first) < MIN_FIRST_TURN_CHARS:
            continue
        if _flag(cols["winner_model_a"][i]):
            winner = "model_a"
        elif _flag(cols["winner_model_b"][i]):
            winner = "model_b"
        else:
            winner = "tie"
        out["model_a"].append(cols["model_a"][i])
        out["model_b"].append(cols["model_b"][i])
        out["winner"].append(winner)
        out["first_turn"].append(first)
    return out


def sw_ranking_from_arena(
    arena_battles: Any, embeddings: "np.ndarray | None" = None, **kwargs: Any
) -> "SWRankingRouter":
    """An sw_ranking router from raw Chatbot Arena battles (`prompt` JSON list of turns,
    `winner_model_a/_b/_tie`, `model_a`, `model_b`) with RouteLLM's preprocessing: the
    first turn, stripped, at least 16 characters. `embeddings` are row-aligned with the
    battles that remain (as RouteLLM's published embedding dataset is); without them the
    first turns are embedded with `embedder`. Other keywords go to
    SWRankingRouter.from_battles."""
    from ..embedders import get_embedder
    from ..embedders.base import EmbedderSpec
    from ..routers.sw_ranking import SWRankingRouter

    table = preprocess_arena(arena_battles)
    if embeddings is None:
        name = kwargs.get("embedder", "static")
        emb = get_embedder(name if isinstance(name, str) else name.name)
        embeddings = emb.encode(table["first_turn"])
        kwargs.setdefault("embedder", EmbedderSpec.of(emb))
    elif len(embeddings) != len(table["winner"]):
        raise ValueError(
            f"embeddings have {len(embeddings)} rows but {len(table['winner'])} battles remain after "
            "RouteLLM's preprocessing (first turn of at least 16 characters)"
        )
    return SWRankingRouter.from_battles(table, embeddings, **kwargs)


HUB_DATASET = "lmsys/lmsys-arena-human-preference-55k"


def read_arena(source: Any = None, *, hub_file: str = "train.csv") -> "BattleTable":
    """Chatbot Arena battles as a BattleTable (prompt = RouteLLM's first turn).

    `source` is a local file (csv/json/jsonl/parquet), records, or None to fetch
    lmsys/lmsys-arena-human-preference-55k from the Hugging Face Hub (needs
    `huggingface_hub` and a network; the error says so when either is missing).
    """
    from .aliases import canonical_model
    from .battles import BattleTable

    if source is None:
        try:
            from huggingface_hub import hf_hub_download
        except ImportError as exc:
            raise ImportError(
                "fetching the Arena battles needs huggingface_hub (pip install huggingface_hub), "
                "or pass a local file of the same schema"
            ) from exc
        try:
            source = hf_hub_download(HUB_DATASET, hub_file, repo_type="dataset")
        except Exception as exc:  # noqa: BLE001 - offline, gated, renamed...
            raise OSError(
                f"could not fetch {HUB_DATASET} from the Hugging Face Hub ({type(exc).__name__}: {exc}); "
                "pass a local file of the same schema instead"
            ) from None
    table = preprocess_arena(source)
    n = len(table["winner"])
    return BattleTable(
        table["first_turn"],
        [canonical_model(m) for m in table["model_a"]],
        [canonical_model(m) for m in table["model_b"]],
        table["winner"],
        source=["chatbot_arena"] * n,
    )
