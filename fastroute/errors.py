"""Exceptions with messages that name the file, value or model at fault."""
from __future__ import annotations


class FastrouteError(Exception):
    """Base class for fastroute's own errors."""


class BundleError(FastrouteError, ValueError):
    """A router bundle or checkpoint is missing, malformed, or from a newer format."""


class EmbeddingMismatchError(FastrouteError, ValueError):
    """Embeddings of the wrong width, or from another embedder than the router was trained with."""


class UnknownModelError(FastrouteError, ValueError):
    """A model name the router does not know."""

    def __init__(self, name: str, known: "list[str] | tuple[str, ...]", what: str = "model") -> None:
        shown = ", ".join(sorted(known)[:80])
        more = "" if len(known) <= 80 else f", ... ({len(known)} in all)"
        super().__init__(f"unknown {what} {name!r}; known: {shown}{more}")
        self.name = name
