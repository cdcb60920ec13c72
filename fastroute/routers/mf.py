"""RouteLLM's matrix-factorisation router, collapsed to one GEMV.

RouteLLM's MFModel scores model m on prompt embedding e as
    logit_m(e) = w . (normalize(P[m]) * (W_proj e))
which is linear in e: logit_m(e) = L[m] . e with L[m] = W_proj^T (w * normalize(P[m])).
The win rate sigmoid(logit_s - logit_w) is then sigmoid(e . u), u = L[s] - L[w]:
computed once at load, so scoring is a memory-bound GEMV fused with the sigmoid. A stored
calibration (routers.calibration) is folded in: u scaled, its offset the GEMV's bias.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..bundle import RESERVED_KEYS
from ..embedders.base import EmbedderSpec
from ..errors import BundleError
from ..ops import DEVICE_ARRAYS, get_backend
from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK, ROUTELLM_MODELS
from .base import Router
from .calibration import META_KEY, LogitCalibration, scale_and_offset
from .inputs import is_torch
from .mf_checkpoint import read_routellm_mf
from .strengths import ScoresStrengths

ROUTELLM_EMBEDDER = EmbedderSpec("openai:text-embedding-3-small", 1536)


def _torch_normalize(P: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """torch.nn.functional.normalize(P, dim=1), as RouteLLM's MFModel: x / max(|x|, eps)
    (unlike ops.rows.normalize_rows, the kernels' normalisation: zero rows stay zero)."""
    norms = np.sqrt((P * P).sum(1, keepdims=True))
    return P / np.maximum(norms, eps)


class MFRouter(ScoresStrengths, Router):
    kind = "mf"
    embedder_spec: EmbedderSpec  # never None here (Router allows None for the random router)

    def __init__(
        self,
        *,
        P: np.ndarray,
        classifier: np.ndarray,
        text_proj: "np.ndarray | None",
        models: Sequence[str],
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        embedder: EmbedderSpec,
        backend: "str | None" = None,
        extra_meta: "dict | None" = None,
    ) -> None:
        super().__init__(
            strong_model=strong_model, weak_model=weak_model, models=models, embedder=embedder, backend=backend
        )
        P = np.asarray(P, dtype=np.float64)
        w = np.asarray(classifier, dtype=np.float64).reshape(-1)
        if P.ndim != 2 or P.shape[0] != len(self.models):
            raise ValueError(f"P has shape {P.shape}, expected [{len(self.models)}, dim]")
        if w.shape != (P.shape[1],):
            raise ValueError(f"classifier has {w.size} weights, expected {P.shape[1]}")
        if text_proj is None:
            if P.shape[1] != embedder.dim:
                raise ValueError(
                    f"without a projection the model dim {P.shape[1]} must equal the embedding dim {embedder.dim}"
                )
            W = None
        else:
            W = np.asarray(text_proj, dtype=np.float64)
            if W.shape != (P.shape[1], embedder.dim):
                raise ValueError(f"text_proj has shape {W.shape}, expected [{P.shape[1]}, {embedder.dim}]")
        self._P, self._classifier, self._W = P, w, W
        self.extra_meta = dict(extra_meta or {})
        scaled = _torch_normalize(P) * w[None, :]
        L = scaled @ W if W is not None else scaled  # [M, text_dim], float64
        self._L64 = L
        self._L = np.ascontiguousarray(L, dtype=np.float32)
        s, k = self.models.index(strong_model), self.models.index(weak_model)
        scale, self._bias = scale_and_offset(self.extra_meta, strong_model, weak_model)  # (1, 0): raw
        self._u = np.ascontiguousarray(scale * (L[s] - L[k]) if scale != 1.0 else L[s] - L[k], dtype=np.float32)
        self._ops = get_backend(backend, "cpu")
        self._rows_of_L: dict[bytes, np.ndarray] = {}  # rows of L for the column sets asked for
        self._device_arrays: dict = {}  # (name, device) -> u or L on each GPU that scored, made there once

    # -- loading ------------------------------------------------------------
    @classmethod
    def from_routellm(
        cls,
        path: "str | Path",
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        *,
        models: Sequence[str] = ROUTELLM_MODELS,
        embedder: EmbedderSpec = ROUTELLM_EMBEDDER,
        backend: "str | None" = None,
    ) -> "MFRouter":
        """Reads a RouteLLM MF checkpoint directory (config.json + model.safetensors or pytorch_model.bin)."""
        P, clf, proj = read_routellm_mf(Path(path), len(models), embedder)
        root = Path(path)
        return cls(
            P=P,
            classifier=clf[0],
            text_proj=proj,
            models=models,
            strong_model=strong_model,
            weak_model=weak_model,
            embedder=embedder,
            backend=backend,
            extra_meta={"source": {"routellm_checkpoint": str(root)}},
        )

    # -- scoring ------------------------------------------------------------
    def _device_copy(self, name: str, array: np.ndarray, ops: Any, device: Any) -> Any:
        """`array` on the queries' device, copied once per device (queries on cuda:1 get theirs)."""
        key = (name, device)
        if key not in self._device_arrays:
            self._device_arrays[key] = ops.to_device(array).to(device)
        return self._device_arrays[key]

    def _win_rates(self, E: Any) -> Any:
        ops = self._kernels_for(E)
        if DEVICE_ARRAYS in ops.capabilities:
            Et = ops.to_device(E)
            return ops.gemv_sigmoid(Et, self._device_copy("u", self._u, ops, Et.device), self._bias)
        if is_torch(E):
            E = E.detach().cpu().numpy()
        return ops.gemv_sigmoid(E, self._u, self._bias)

    def _strengths(self, E: Any, cols: np.ndarray) -> np.ndarray:
        """[B, len(cols)] RouteLLM logits of models `cols`: P(m beats k) = sigmoid(s_m - s_k).
        One small GEMM (the linear_scores op) on the queries' device."""
        key = cols.tobytes()
        L = self._rows_of_L.get(key)
        if L is None:  # a profile asks for the same candidates on every call
            L = self._rows_of_L.setdefault(key, np.ascontiguousarray(self._L[cols]))
        ops = self._kernels_for(E)
        if DEVICE_ARRAYS in ops.capabilities:
            Et = ops.to_device(E)
            S = ops.linear_scores(Et, self._device_copy("L" + key.hex(), L, ops, Et.device))
            return S.detach().double().cpu().numpy()
        if is_torch(E):
            E = E.detach().cpu().numpy()
        return ops.linear_scores(E, L).astype(np.float64)

    def logits(
        self, texts: "str | Sequence[str] | None" = None, *, embeddings: "np.ndarray | None" = None
    ) -> np.ndarray:
        """[B, M] RouteLLM logits of every model (columns in `self.models` order): the strengths."""
        return self.strengths(texts, embeddings=embeddings)

    def with_calibration(self, cal: "LogitCalibration | None") -> "MFRouter":
        """This router with `cal` stored (None: none), its win rates calibrated for cal's pair."""
        meta = {k: v for k, v in self.extra_meta.items() if k != META_KEY} | ({META_KEY: cal.to_meta()} if cal else {})
        return MFRouter(
            P=self._P,
            classifier=self._classifier,
            text_proj=self._W,
            models=self.models,
            strong_model=self.strong_model,
            weak_model=self.weak_model,
            embedder=self.embedder_spec,
            backend=self.backend,
            extra_meta=meta,
        )

    def with_pair(self, strong_model: str, weak_model: str) -> "MFRouter":
        return MFRouter(
            P=self._P,
            classifier=self._classifier,
            text_proj=self._W,
            models=self.models,
            strong_model=strong_model,
            weak_model=weak_model,
            embedder=self.embedder_spec,
            backend=self.backend,
            extra_meta=self.extra_meta,
        )

    # -- bundles ------------------------------------------------------------
    def _bundle_payload(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = self._base_meta() | {"dim": int(self._P.shape[1]), "use_proj": self._W is not None} | self.extra_meta
        tensors = {"P": self._P.astype(np.float32), "classifier": self._classifier.astype(np.float32)}
        if self._W is not None:
            tensors["text_proj"] = self._W.astype(np.float32)
        return meta, tensors

    @classmethod
    def _from_bundle(
        cls, meta: dict[str, Any], tensors: dict[str, np.ndarray], *, where: str, backend: "str | None" = None
    ) -> "MFRouter":
        for name in ("P", "classifier") + (("text_proj",) if meta.get("use_proj", True) else ()):
            if name not in tensors:
                raise BundleError(f"{where}: missing tensor {name!r}")
            if not np.issubdtype(tensors[name].dtype, np.floating):
                raise BundleError(f"{where}: tensor {name!r} must be floating point, got {tensors[name].dtype}")
        base = {"models", "strong_model", "weak_model", "embedder", "dim", "use_proj"}
        try:
            return cls(
                P=tensors["P"],
                classifier=tensors["classifier"],
                text_proj=tensors.get("text_proj"),
                models=meta["models"],
                strong_model=meta["strong_model"],
                weak_model=meta["weak_model"],
                embedder=EmbedderSpec.from_json(meta["embedder"]),
                backend=backend,
                extra_meta={k: v for k, v in meta.items() if k not in base | RESERVED_KEYS},
            )
        except (KeyError, ValueError, TypeError) as exc:
            if isinstance(exc, BundleError):
                raise
            raise BundleError(f"{where}: {exc}") from exc
