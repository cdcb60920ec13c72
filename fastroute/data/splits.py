"""The fixed MMLU train/evaluation halves."""

from __future__ import annotations

import hashlib


def is_mmlu_train_prompt(text: str) -> bool:
    """The fixed half of RouteLLM's MMLU prompts used for training: the first byte of
    sha256(prompt as UTF-8) is even. The other half is evaluation-only."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 2 == 0
