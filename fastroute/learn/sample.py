"""Step 1 of `fastroute learn`: the prompts to label. Duplicates are dropped (by routing
text), a seeded sample of at most `max_prompts` is drawn, and each prompt is assigned to
the training or the held-out part by its hash, so a prompt keeps its part across reruns
and samples. Training prompts within cosine `threshold` of a held-out prompt are dropped
(decontamination, as RouteLLM does it), so the held-out numbers are honest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..prompt_hash import prompt_hash
from .inputs import Prompt


@dataclass(frozen=True)
class Labelled:
    """A prompt of the sample, with its id (the hex of its 64-bit hash) and part."""

    id: str
    prompt: Prompt
    split: str  # "train" | "heldout"

    def record(self) -> dict:
        row = {"id": self.id, "split": self.split, "prompt": self.prompt.text, "messages": list(self.prompt.messages)}
        if self.prompt.reference is not None:
            row["reference"] = self.prompt.reference
        row["origin"] = self.prompt.origin
        return row

    @classmethod
    def from_record(cls, row: dict) -> "Labelled":
        p = Prompt(row["prompt"], tuple(row["messages"]), row.get("reference"), row.get("origin", ""))
        return cls(row["id"], p, row["split"])


@dataclass(frozen=True)
class SampleReport:
    read: int
    distinct: int
    sampled: int
    train: int
    heldout: int
    decontaminated: int

    def lines(self) -> list[str]:
        return [
            f"{self.read} prompts read, {self.distinct} distinct, {self.sampled} sampled",
            f"{self.train} for training, {self.heldout} held out; {self.decontaminated} training prompts "
            "dropped as near-duplicates of held-out ones",
        ]


def held_out(h: int, fraction: float) -> bool:
    """Whether the prompt of hash `h` is held out: its hash's top 32 bits below fraction * 2^32."""
    return (h >> 32) < int(fraction * 2**32)


def sample(
    prompts: Sequence[Prompt],
    *,
    max_prompts: int,
    heldout_fraction: float,
    seed: int,
    embedder,
    threshold: float = 0.95,
) -> tuple[list[Labelled], SampleReport]:
    from ..data.decontaminate import contaminated

    if max_prompts < 2:
        raise ValueError(f"max_prompts must be at least 2, got {max_prompts}")
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"the held-out fraction must be in (0, 1), got {heldout_fraction}")
    distinct = list({p.text: p for p in reversed(prompts)}.values())[::-1]  # first occurrence of each text
    rng = np.random.default_rng(seed)
    pick = (
        np.sort(rng.permutation(len(distinct))[:max_prompts]) if len(distinct) > max_prompts else range(len(distinct))
    )
    chosen = [distinct[i] for i in pick]
    hashes = [prompt_hash(p.text) for p in chosen]
    rows = [
        Labelled(f"{h:016x}", p, "heldout" if held_out(h, heldout_fraction) else "train")
        for p, h in zip(chosen, hashes)
    ]
    train = [r for r in rows if r.split == "train"]
    test = [r for r in rows if r.split == "heldout"]
    if not train or not test:
        raise ValueError(f"{len(rows)} prompts give {len(train)} training and {len(test)} held-out ones: need both")
    bad, _ = contaminated([r.prompt.text for r in train], [r.prompt.text for r in test], embedder, threshold)
    kept = [r for r, b in zip(train, bad) if not b] + test
    kept.sort(key=lambda r: r.id)
    report = SampleReport(
        len(prompts), len(distinct), len(rows), len(train) - int(bad.sum()), len(test), int(bad.sum())
    )
    return kept, report
