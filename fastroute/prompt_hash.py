"""Prompt identities: stable 64-bit hashes, by which bundles record the prompts they were
trained on and evaluations leave those prompts out."""

from __future__ import annotations

import hashlib
from typing import Iterable

import numpy as np


def prompt_hash(text: str) -> int:
    """First 8 bytes of sha256(text as UTF-8), as an unsigned integer."""
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def prompt_hashes(texts: Iterable[str]) -> np.ndarray:
    return np.fromiter((prompt_hash(t) for t in texts), dtype=np.uint64)
