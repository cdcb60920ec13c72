"""What every router checks before scoring: embeddings of the right shape and type (numpy or
torch), finite rows, thresholds in [0, 1]. Errors say what was expected."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..embedders.base import EmbedderSpec
from ..errors import EmbeddingMismatchError, UnknownModelError


def is_torch(x: Any) -> bool:
    return type(x) is not np.ndarray and type(x).__module__.startswith("torch") and hasattr(x, "device")


def nonfinite_rows(E: Any) -> list[int]:
    """Indices of the rows of a numpy or torch [B, d] array that hold NaN or infinity."""
    if is_torch(E):
        import torch

        return torch.nonzero(~torch.isfinite(E).all(dim=1)).flatten().cpu().tolist()
    # Fast path, one pass and no temporary: a float64 sum of float32 or float16 values
    # cannot overflow, so it is finite exactly when every element is.
    if E.dtype.itemsize <= 4 and np.isfinite(E.sum(dtype=np.float64)):
        return []
    return np.flatnonzero(~np.isfinite(E).all(axis=1)).tolist()


class NoCalibrationError(ValueError):
    """A strong-call share was asked of a router that stores no win-rate quantiles for its pair."""

    def __init__(
        self, kind: str, strong: str, weak: str, hint: str = "pass texts= (prompts to calibrate on) or a raw threshold"
    ) -> None:
        self.kind, self.strong, self.weak = kind, strong, weak
        super().__init__(f"this {kind} router stores no win-rate quantiles for {strong} vs {weak}: {hint}")

    def with_hint(self, hint: str) -> "NoCalibrationError":
        """The same error, telling another caller (a command line, a server) what to pass."""
        return NoCalibrationError(self.kind, self.strong, self.weak, hint)


def check_threshold(threshold: float) -> float:
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise ValueError(f"threshold must be a number in [0, 1], got {threshold!r}") from None
    if not 0.0 <= t <= 1.0:  # also rejects NaN
        raise ValueError(f"threshold must be in [0, 1], got {threshold!r}")
    return t


def checked_embeddings(embeddings: Any, spec: "EmbedderSpec | None", kind: str) -> Any:
    """`embeddings` as a float32 [B, d] array (a 1-D vector is one prompt; a torch tensor stays
    one), or an EmbeddingMismatchError saying what a `kind` router trained with `spec` expects."""
    if is_torch(embeddings):
        E = embeddings if embeddings.ndim != 1 else embeddings[None, :]
        if not E.is_floating_point():
            raise EmbeddingMismatchError(f"embeddings must be floating point, got dtype {E.dtype}")
        if E.ndim != 2 or (spec is not None and E.shape[1] != spec.dim):
            raise EmbeddingMismatchError(
                f"embeddings have shape {tuple(E.shape)}; this {kind} router expects [batch, "
                f"{spec.dim if spec else 'dim'}]"
            )
        return E
    E = np.asarray(embeddings)
    if E.dtype.kind != "f":
        raise EmbeddingMismatchError(f"embeddings must be floating point, got dtype {E.dtype}")
    if E.ndim == 1:
        E = E[None, :]
    if E.ndim != 2:
        raise EmbeddingMismatchError(f"embeddings must be [batch, dim], got shape {E.shape}")
    if spec is not None and E.shape[1] != spec.dim:
        raise EmbeddingMismatchError(
            f"embeddings have width {E.shape[1]}, but this {kind} router was trained with "
            f"embedder {spec.name!r} of width {spec.dim}"
        )
    return E if E.dtype == np.float32 else E.astype(np.float32)


def scored_pair(router: Any, strong: str, weak: str, scored_as: "Mapping[str, str] | None") -> tuple[str, str]:
    """The models `router` scores for the targets `strong` / `weak` (see Router.with_targets):
    `scored_as[target]` (a model the router knows), else the target itself when the router
    knows it, else the router's own strong / weak model."""
    mapping = dict(scored_as or {})
    pair = []
    for target, own in ((strong, router.strong_model), (weak, router.weak_model)):
        if not isinstance(target, str) or not target.strip():
            raise ValueError(f"a target must be a model name, got {target!r}")
        model = mapping.get(target, target if router.knows(target) else own)
        if not isinstance(model, str) or not router.knows(model):
            raise UnknownModelError(str(model), router.models, what=f"model to score {target!r} as")
        pair.append(model)
    if strong == weak:
        raise ValueError(f"the strong and weak targets are both {strong!r}")
    if pair[0] == pair[1]:
        raise ValueError(
            f"targets {strong!r} and {weak!r} would both be scored as {pair[0]!r}: "
            "say which models they are scored as (scored_as=, --scored-as)"
        )
    return pair[0], pair[1]
