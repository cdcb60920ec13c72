"""Prompt identities: stable 64-bit hashes, and the fixed MMLU train/evaluation halves."""
from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np


def prompt_hash(text: str) -> int:
    """First 8 bytes of sha256(text as UTF-8), as an unsigned integer."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def prompt_hashes(texts: Iterable[str]) -> np.ndarray:
    return np.fromiter((prompt_hash(t) for t in texts), dtype=np.uint64)


def is_mmlu_train_prompt(text: str) -> bool:
    """The fixed half of RouteLLM's MMLU prompts used for training: the first byte of
    sha256(prompt as UTF-8) is even. The other half is evaluation-only."""
    return hashlib.sha256(text.encode("utf-8")).digest()[0] % 2 == 0
