"""Every embedder fastroute can build by name, in one table: `get_embedder`, `spec_for`,
the CLI and `fastroute info` read it, so a new embedder is one line here (see CONTRIBUTING.md).

A record names its class as "module:Class", imported on first use. The class answers
`described(model)`: its (width, fingerprint) without loading weights or calling a network,
which is what a bundle records and checks.
"""

from __future__ import annotations

import importlib
from typing import Any, NamedTuple


class EmbedderKind(NamedTuple):
    """One embedder: `name`, or `name:<model>` when it takes a model (e.g. openai:<model>)."""

    name: str
    target: str  # "module:Class"
    summary: str
    takes_model: bool = False
    extra: "str | None" = None  # the pip extra it needs, if any

    @property
    def usage(self) -> str:
        return f"{self.name}:<model>" if self.takes_model else self.name

    def load(self) -> Any:
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


EMBEDDERS: dict[str, EmbedderKind] = {
    e.name: e
    for e in (
        EmbedderKind(
            "static",
            "fastroute.embedders.static:StaticEmbedder",
            "a static token table shipped in the package (the default: no torch, sub-millisecond)",
        ),
        EmbedderKind(
            "minilm",
            "fastroute.embedders.minilm:MiniLMEmbedder",
            "all-MiniLM-L6-v2 through sentence-transformers",
            extra="minilm",
        ),
        EmbedderKind(
            "openai",
            "fastroute.embedders.openai:OpenAIEmbedder",
            "any OpenAI-compatible /v1/embeddings endpoint",
            takes_model=True,
        ),
    )
}


def known_embedders() -> list[str]:
    return [e.usage for e in EMBEDDERS.values()]


def lookup(name: str) -> "tuple[EmbedderKind, str | None] | None":
    """(kind, model) for a registered embedder name, None for any other name."""
    base, sep, model = name.partition(":")
    kind = EMBEDDERS.get(base)
    if kind is None or kind.takes_model != bool(sep) or (sep and not model):
        return None
    return kind, (model or None)
