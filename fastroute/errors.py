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


class InvalidPromptError(FastrouteError, ValueError, TypeError):
    """A prompt that is not text (not a str, or not encodable as UTF-8); names its index.

    A ValueError (bad input) that is also a TypeError, for callers that caught the
    TypeError an embedder used to raise for non-str prompts."""


class RouterOutputError(FastrouteError, RuntimeError):
    """A router or its kernel backend produced a non-finite win rate from finite embeddings:
    a fault of the router's weights or of the backend, not of the request."""
