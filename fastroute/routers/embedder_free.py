"""The base of the routers that read no embeddings and store no tensors (random, length):
their hyper-parameters are their whole bundle, so pairing, saving and loading are shared."""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from .base import Router


class EmbedderFreeRouter(Router):
    """Subclasses override `win_rates` and name their hyper-parameters in PARAMS: each is an
    attribute, a keyword of `__init__` and a key of the bundle's manifest."""

    PARAMS: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, *, strong_model: str, weak_model: str, models: "Sequence[str] | None" = None, backend: "str | None" = None
    ) -> None:
        super().__init__(
            strong_model=strong_model,
            weak_model=weak_model,
            models=models or (strong_model, weak_model),
            embedder=None,
            backend=backend,
        )

    def params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.PARAMS}

    def _win_rates(self, E: np.ndarray) -> np.ndarray:  # pragma: no cover - win_rates is overridden
        raise NotImplementedError

    def knows(self, model: str) -> bool:
        """Any name: these routers score every pair alike, so a target is scored as itself."""
        return isinstance(model, str)

    def with_pair(self, strong_model: str, weak_model: str) -> "EmbedderFreeRouter":
        """Any pair: models outside the router's list replace it by the pair itself."""
        models = self.models if {strong_model, weak_model} <= set(self.models) else None
        return type(self)(
            strong_model=strong_model, weak_model=weak_model, models=models, backend=self.backend, **self.params()
        )

    def _bundle_payload(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        return self._base_meta() | self.params(), {}

    @classmethod
    def _from_bundle(
        cls, meta: dict[str, Any], tensors: dict[str, np.ndarray], *, where: str, backend: "str | None" = None
    ) -> "EmbedderFreeRouter":
        return cls(
            strong_model=meta["strong_model"],
            weak_model=meta["weak_model"],
            models=meta["models"],
            backend=backend,
            **{name: meta[name] for name in cls.PARAMS if name in meta},
        )
