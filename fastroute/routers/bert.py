"""RouteLLM's BERT classifier router: a 3-label sequence classifier over the prompt
(label 0: the stronger side wins, 1: tie, 2: the weaker side wins); the win rate is
1 - P(labels 1 and 2). Batched (padding per batch, truncation to the model's maximum
length) where RouteLLM scores one prompt at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import RESERVED_KEYS
from ..errors import BundleError
from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from .classifier_base import HF_DIR, TextClassifierRouter, checkpoint_dir, load_tokenizer, require_transformers
from .hf_checkpoint import confined_checkpoint, load_model


class BERTRouter(TextClassifierRouter):
    kind = "bert"

    def __init__(
        self, model, tokenizer, *, max_length: "int | None" = None, device: str = "cpu", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        num_labels = getattr(model.config, "num_labels", None)
        if num_labels != 3:
            raise BundleError(f"RouteLLM's BERT router has 3 labels; this model has {num_labels}")
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        limit = getattr(model.config, "max_position_embeddings", 512)
        self.max_length = int(max_length or min(tokenizer.model_max_length, limit))
        self.device = device

    @classmethod
    def from_pretrained(
        cls,
        path: "str | Path",
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: "int | None" = None,
        extra_meta: "dict | None" = None,
    ) -> "BERTRouter":
        """Loads a local checkpoint directory (RouteLLM's bert_gpt4_augmented layout)."""
        _, transformers = require_transformers()
        root = checkpoint_dir(path)
        model = load_model(transformers.AutoModelForSequenceClassification, root, "sequence classifier")
        tokenizer = load_tokenizer(root)
        return cls(
            model,
            tokenizer,
            strong_model=strong_model,
            weak_model=weak_model,
            device=device,
            batch_size=batch_size,
            max_length=max_length,
            source=root,
            extra_meta=extra_meta,
        )

    def _score(self, texts: list[str]) -> np.ndarray:
        torch, _ = require_transformers()
        enc = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt")
        with torch.inference_mode():
            logits = self.model(**{k: v.to(self.device) for k, v in enc.items()}).logits.double().cpu().numpy()
        z = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs = z / z.sum(axis=1, keepdims=True)
        return 1.0 - probs[:, -2:].sum(axis=1)

    def _save_checkpoint(self, path: Path) -> None:
        self.model.save_pretrained(str(path), safe_serialization=True)
        self.tokenizer.save_pretrained(str(path))

    def _config(self) -> dict[str, Any]:
        return {"max_length": self.max_length}

    @classmethod
    def _from_bundle(
        cls, meta: dict[str, Any], tensors: dict[str, np.ndarray], *, where: str, backend: "str | None" = None
    ) -> "BERTRouter":
        base = {"models", "strong_model", "weak_model", "embedder", "checkpoint", "batch_size", "max_length"}
        return cls.from_pretrained(
            confined_checkpoint(where, meta.get("checkpoint", HF_DIR)),
            meta["strong_model"],
            meta["weak_model"],
            batch_size=int(meta.get("batch_size", 32)),
            max_length=meta.get("max_length"),
            extra_meta={k: v for k, v in meta.items() if k not in base | RESERVED_KEYS},
        )
