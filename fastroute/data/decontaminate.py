"""Decontamination as RouteLLM does it: embed training and evaluation prompts and drop
every training prompt whose cosine similarity to some evaluation prompt reaches the
threshold (RouteLLM: 0.95, text-embedding-3-small)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np


@dataclass
class DecontaminationReport:
    n_train: int
    n_eval: int
    n_dropped: int
    threshold: float
    embedder: str
    examples: list[dict] = field(default_factory=list)  # a few (train, eval, similarity) matches

    def summary(self) -> str:
        return (
            f"dropped {self.n_dropped} of {self.n_train} training prompts with cosine >= {self.threshold} "
            f"to one of {self.n_eval} evaluation prompts (embedder {self.embedder})"
        )


def contaminated(
    train_prompts: Sequence[str],
    eval_prompts: Sequence[str],
    embedder,
    threshold: float = 0.95,
    block: int = 4096,
    backend: "str | None" = None,
    train_embeddings: "dict[str, np.ndarray] | None" = None,
) -> tuple[np.ndarray, DecontaminationReport]:
    """(boolean mask over `train_prompts`: True = contaminated, report). Exact text matches
    count whatever the embedder says. `train_embeddings` (prompt -> vector) skips
    re-embedding training prompts already embedded."""
    from ..ops import get_backend
    from ..ops.rows import normalize_rows

    if not 0.0 < threshold <= 1.0:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    ops = get_backend(backend, "cpu")
    uniq_train = list(dict.fromkeys(train_prompts))
    uniq_eval = list(dict.fromkeys(eval_prompts))
    eval_set = set(uniq_eval)
    flagged = {t for t in uniq_train if t in eval_set}
    examples: list[dict] = []
    if uniq_eval and uniq_train:
        E_eval = normalize_rows(embedder.encode(uniq_eval))
        for lo in range(0, len(uniq_train), block):
            chunk = uniq_train[lo : lo + block]
            E = (
                np.stack([train_embeddings[t] for t in chunk])
                if train_embeddings is not None
                else embedder.encode(chunk)
            )
            sims = ops.cosine_sim(E, E_eval)
            best = sims.argmax(axis=1)
            top = sims[np.arange(len(chunk)), best]
            for i in np.flatnonzero(top >= threshold):
                flagged.add(chunk[i])
                if len(examples) < 20:
                    examples.append(
                        {"train": chunk[i][:200], "eval": uniq_eval[best[i]][:200], "similarity": float(top[i])}
                    )
    mask = np.array([t in flagged for t in train_prompts], dtype=bool)
    report = DecontaminationReport(
        len(uniq_train), len(uniq_eval), len(flagged), threshold, getattr(embedder, "name", "?"), examples
    )
    return mask, report
