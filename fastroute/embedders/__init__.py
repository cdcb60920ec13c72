"""Embedders by name: `static` (the default, no torch), `minilm` (sentence-transformers),
`openai:<model>` (any OpenAI-compatible /v1/embeddings endpoint), and
`PrecomputedEmbedder` for embeddings computed elsewhere.

Instances are cached per name and configuration, so routers share one table or client.
"""
from __future__ import annotations

import threading
from typing import Any

from .base import Embedder, EmbedderSpec, as_text_batch

__all__ = ["DEFAULT_EMBEDDER", "Embedder", "EmbedderSpec", "as_text_batch", "get_embedder", "known_embedders",
           "spec_for"]

DEFAULT_EMBEDDER = "static"

_cache: dict[tuple, Embedder] = {}
_lock = threading.Lock()


def known_embedders() -> list[str]:
    return ["static", "minilm", "openai:<model>"]


def get_embedder(name: str = DEFAULT_EMBEDDER, **options: Any) -> Embedder:
    """The embedder called `name`; options go to its constructor (e.g. base_url for openai:)."""
    key = (name, tuple(sorted(options.items())))
    with _lock:
        if key in _cache:
            return _cache[key]
    if name == "static":
        from .static import StaticEmbedder

        emb: Embedder = StaticEmbedder(**options)
    elif name == "minilm":
        from .minilm import MiniLMEmbedder

        emb = MiniLMEmbedder(**options)
    elif name.startswith("openai:") and len(name) > len("openai:"):
        from .openai import OpenAIEmbedder

        emb = OpenAIEmbedder(name[len("openai:"):], **options)
    else:
        raise ValueError(f"unknown embedder {name!r}; known: {', '.join(known_embedders())}")
    with _lock:
        return _cache.setdefault(key, emb)


def spec_for(name: str, dim: "int | None" = None) -> EmbedderSpec:
    """The spec of embedder `name` without loading it (no torch, no network).

    `dim` is required for an openai: model of unknown width, and is checked
    against the known width otherwise.
    """
    fingerprint = None
    known: "int | None"
    if name == "static":
        import json

        from .static import MODEL_DIR

        cfg = json.loads((MODEL_DIR / "config.json").read_text())
        known, fingerprint = int(cfg["dim"]), cfg.get("fingerprint")
    elif name == "minilm":
        from .minilm import MiniLMEmbedder

        known, fingerprint = MiniLMEmbedder.dim, MiniLMEmbedder.fingerprint
    elif name.startswith("openai:"):
        from .openai import KNOWN_DIMS

        known = KNOWN_DIMS.get(name[len("openai:"):], dim)
    else:
        known = dim  # a custom embedder name: trust the caller's width
    if known is None:
        raise ValueError(f"the width of embedder {name!r} is unknown: pass dim")
    if dim is not None and dim != known:
        raise ValueError(f"embeddings have width {dim}, but embedder {name!r} produces width {known}")
    return EmbedderSpec(name, int(known), fingerprint)
