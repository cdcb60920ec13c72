"""Embedders by name (the table is fastroute.embedders.registry): `static` (the default,
no torch), `minilm` (sentence-transformers), `openai:<model>` (any OpenAI-compatible
/v1/embeddings endpoint); and `PrecomputedEmbedder` for embeddings computed elsewhere.

Instances are cached per name and configuration, so routers share one table or client.
"""

from __future__ import annotations

import threading
from typing import Any

from .base import Embedder, EmbedderSpec, as_text_batch
from .registry import EMBEDDERS, known_embedders, lookup

__all__ = [
    "DEFAULT_EMBEDDER",
    "EMBEDDERS",
    "Embedder",
    "EmbedderSpec",
    "as_text_batch",
    "get_embedder",
    "known_embedders",
    "resolve_spec",
    "spec_for",
]

DEFAULT_EMBEDDER = "static"

_cache: dict[tuple, Embedder] = {}
_lock = threading.Lock()


def get_embedder(name: str = DEFAULT_EMBEDDER, **options: Any) -> Embedder:
    """The embedder called `name`; options go to its constructor (e.g. base_url for openai:)."""
    key = (name, tuple(sorted(options.items())))
    with _lock:
        if key in _cache:
            return _cache[key]
    found = lookup(name)
    if found is None:
        raise ValueError(f"unknown embedder {name!r}; known: {', '.join(known_embedders())}")
    kind, model = found
    cls = kind.load()
    emb: Embedder = cls(model, **options) if kind.takes_model else cls(**options)
    with _lock:
        return _cache.setdefault(key, emb)


def spec_for(name: str, dim: "int | None" = None) -> EmbedderSpec:
    """The spec of embedder `name` without loading it (no torch, no network).

    `dim` is required for a model of unknown width (e.g. an unknown openai: model, or a
    name that is not registered: the caller's width is trusted), and is checked against
    the known width otherwise.
    """
    found = lookup(name)
    known, fingerprint = (dim, None) if found is None else found[0].load().described(found[1])
    if known is None:
        known = dim
    if known is None:
        raise ValueError(f"the width of embedder {name!r} is unknown: pass dim")
    if dim is not None and dim != known:
        raise ValueError(f"embeddings have width {dim}, but embedder {name!r} produces width {known}")
    return EmbedderSpec(name, int(known), fingerprint)


def resolve_spec(embedder: "EmbedderSpec | Embedder | str", dim: int) -> EmbedderSpec:
    """The spec of an embedder given by name, spec or instance, checked against the width of
    the embeddings it is said to have produced."""
    if isinstance(embedder, str):
        spec = spec_for(embedder, dim)
    else:
        spec = embedder if isinstance(embedder, EmbedderSpec) else EmbedderSpec.of(embedder)
    if spec.dim != dim:
        raise ValueError(f"embeddings have width {dim}, but embedder {spec.name!r} has dim {spec.dim}")
    return spec
