"""Embedding the distinct prompts of a battle table once."""

from __future__ import annotations

import numpy as np

from ..data.battles import BattleTable
from ..progress import Progress


def unique_prompts(battles: BattleTable) -> tuple[list[str], np.ndarray]:
    """(distinct prompts in first-appearance order, prompt index of every battle)."""
    index: dict[str, int] = {}
    ids = np.fromiter((index.setdefault(p, len(index)) for p in battles.prompt), dtype=np.int64, count=len(battles))
    return list(index), ids


def embed(texts: list[str], embedder, batch: int = 4096) -> np.ndarray:
    parts = []
    with Progress(len(texts), "embedding prompts", unit="prompts", delay=1.0) as bar:  # slow with a neural embedder
        for lo in range(0, len(texts), batch):
            parts.append(embedder.encode(texts[lo : lo + batch]))
            bar.update(len(parts[-1]))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float32)


def split_prompts(n_prompts: int, fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of the validation prompts (a fixed fraction, drawn with `seed`)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must be in (0, 1), got {fraction}")
    rng = np.random.default_rng(seed)
    mask = np.zeros(n_prompts, dtype=bool)
    mask[rng.choice(n_prompts, max(1, int(round(fraction * n_prompts))), replace=False)] = True
    return mask
