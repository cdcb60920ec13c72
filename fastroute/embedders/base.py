"""The embedder protocol and the spec a router records of the embedder it was trained with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from ..errors import EmbeddingMismatchError, InvalidPromptError


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into a float32, C-contiguous [B, dim] array.

    Inputs longer than `max_tokens` are truncated, never rejected. `fingerprint`
    identifies the exact weights where a name alone could be ambiguous (None if
    the name suffices).

    The attributes are read-only properties here, so a plain attribute, a property
    or a class attribute (of a narrower type: `str` for `fingerprint`) each conforms.
    """

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    @property
    def fingerprint(self) -> "str | None": ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EmbedderSpec:
    """Which embedder a router expects: its name, width and (optionally) fingerprint."""

    name: str
    dim: int
    fingerprint: "str | None" = None

    @classmethod
    def of(cls, embedder: Embedder) -> "EmbedderSpec":
        return cls(embedder.name, int(embedder.dim), getattr(embedder, "fingerprint", None))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dim": self.dim}
        if self.fingerprint:
            out["fingerprint"] = self.fingerprint
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> "EmbedderSpec":
        return cls(str(obj["name"]), int(obj["dim"]), obj.get("fingerprint"))

    def check(self, embedder: Embedder) -> None:
        """Raises unless `embedder` is the one this spec describes."""
        if embedder.name != self.name or int(embedder.dim) != self.dim:
            raise EmbeddingMismatchError(
                f"this router was trained with embedder {self.name!r} (dim {self.dim}); "
                f"got {embedder.name!r} (dim {embedder.dim})"
            )
        fp = getattr(embedder, "fingerprint", None)
        if self.fingerprint and fp and fp != self.fingerprint:
            raise EmbeddingMismatchError(
                f"embedder {self.name!r} has weights {fp}, but this router was trained with {self.fingerprint}"
            )


def lone_surrogate(text: str) -> "int | None":
    """Where `text` holds a lone UTF-16 surrogate (e.g. from a "\\ud800" JSON escape), the one
    thing a Python str can hold that UTF-8 cannot encode; None for valid text. The one check
    every entry point (API, server, CLI) uses."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def as_text_batch(texts: "str | Sequence[str]") -> list[str]:
    """A list of prompts; a single string is a batch of one.

    Every prompt must be a str that encodes as UTF-8 (a lone surrogate such as "\\ud800"
    does not): checked here, before any tokenizer or HTTP client sees the batch, so the
    error names the prompt's index rather than failing somewhere inside."""
    if isinstance(texts, str):
        batch = [texts]
    elif isinstance(texts, (bytes, bytearray, memoryview)):
        raise InvalidPromptError(f"prompts must be str, got {type(texts).__name__}: decode them first")
    else:
        try:
            batch = list(texts)
        except TypeError:
            raise InvalidPromptError(
                f"prompts must be a str or a sequence of str, got {type(texts).__name__}"
            ) from None
    for i, t in enumerate(batch):
        if not isinstance(t, str):
            raise InvalidPromptError(f"prompt {i} is {type(t).__name__}, not str")
        at = lone_surrogate(t)
        if at is not None:
            raise InvalidPromptError(
                f"prompt {i} is not valid Unicode text: {t[at]!r} at character {at} "
                "is a lone surrogate, which has no UTF-8 encoding"
            )
    return batch
