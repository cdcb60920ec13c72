"""What the text-classifier routers (bert, causal_llm) share: they read prompts, not
embeddings; they load Hugging Face checkpoints with transformers (the `classifiers`
extra); a bundle is fastroute.json plus the checkpoint in hf/."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..embedders.base import as_text_batch
from ..errors import BundleError
from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from .base import Router

HF_DIR = "hf"


def require_transformers():
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ImportError(
            "the bert and causal_llm routers need torch and transformers: pip install 'fastroute[classifiers]'"
        ) from exc
    return torch, transformers


def checkpoint_dir(path: "str | Path") -> Path:
    root = Path(path)
    if not (root / "config.json").is_file():
        raise BundleError(f"{root}: not a Hugging Face checkpoint directory (no config.json)")
    return root


def load_tokenizer(root: Path):
    """The checkpoint's tokenizer (JSON / vocabulary files, nothing unpickled); BundleError if unreadable."""
    _, transformers = require_transformers()
    try:
        return transformers.AutoTokenizer.from_pretrained(str(root))
    except ImportError:
        raise
    except Exception as exc:  # noqa: BLE001 - transformers raises many types for a bad tokenizer
        raise BundleError(f"{root}: no loadable tokenizer ({type(exc).__name__}: {exc})") from exc


class TextClassifierRouter(Router):
    """A router whose win rate comes from a transformer reading the prompt text."""

    def __init__(
        self,
        *,
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        models: "Sequence[str] | None" = None,
        batch_size: int = 32,
        source: "Path | None" = None,
        extra_meta: "dict | None" = None,
    ) -> None:
        super().__init__(
            strong_model=strong_model, weak_model=weak_model, models=models or (strong_model, weak_model), embedder=None
        )
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.source = source
        self.extra_meta = dict(extra_meta or {})
        self._infer_lock = threading.Lock()

    def win_rates(self, texts: "str | Sequence[str] | None" = None, *, embeddings: Any = None) -> np.ndarray:
        if embeddings is not None or texts is None:
            raise TypeError(f"the {self.kind} router scores prompt texts, not embeddings")
        batch = as_text_batch(texts)
        if not batch:
            return np.zeros(0)
        # Similar lengths share a batch, so padding stays small; results go back in order.
        order = np.argsort([len(t) for t in batch], kind="stable")
        out = np.empty(len(batch))
        with self._infer_lock:
            for lo in range(0, len(batch), self.batch_size):
                idx = order[lo : lo + self.batch_size]
                out[idx] = self._score([batch[i] for i in idx])
        return out

    def _win_rates(self, E: np.ndarray) -> np.ndarray:  # pragma: no cover - win_rates is overridden
        raise TypeError(f"the {self.kind} router scores prompt texts, not embeddings")

    def _score(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError

    def with_pair(self, strong_model: str, weak_model: str) -> "TextClassifierRouter":
        """A classifier is trained for one pair; the names can change, the meaning cannot."""
        import copy

        other = copy.copy(self)
        other.strong_model, other.weak_model = strong_model, weak_model
        other.models = tuple(dict.fromkeys((*self.models, strong_model, weak_model)))
        return other

    def save(self, path: "str | Path") -> Path:
        root = Path(path)
        self._save_checkpoint(root / HF_DIR)
        return super().save(root)

    def _save_checkpoint(self, path: Path) -> None:
        raise NotImplementedError

    def _bundle_payload(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return self._base_meta() | {
            "checkpoint": HF_DIR,
            "batch_size": self.batch_size,
        } | self._config() | self.extra_meta, {}

    def _config(self) -> dict[str, Any]:
        return {}
