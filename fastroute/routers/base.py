"""The router interface every kind shares.

`win_rates` is always batched and returns float64 P(strong beats weak) per prompt; `route`
applies RouteLLM's rule (strong if p >= threshold). Routers hold no per-request state (the
embedder is created once, under a lock), so one router serves many threads.

It scores a pair of its models (`strong_model`, `weak_model`, saved in its bundle) and
routes to two targets, any names (`with_targets`; by default the scored models), as
RouteLLM's `strong_model`/`weak_model` are simply the models to call.
"""

from __future__ import annotations

import abc
import copy
import threading
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from ..embedders.base import Embedder, EmbedderSpec, as_text_batch
from ..errors import EmbeddingMismatchError, RouterOutputError, UnknownModelError
from .inputs import NoCalibrationError, check_threshold, checked_embeddings, is_torch, nonfinite_rows, scored_pair


class Router(abc.ABC):
    """Base class: subclasses implement `_win_rates(E)` on a float32 [B, d] array."""

    kind: ClassVar[str]
    _ops: Any  # the kernel backend module, set by the routers that run kernels (mf, sw_ranking)

    def __init__(
        self,
        *,
        strong_model: str,
        weak_model: str,
        models: Sequence[str],
        embedder: "EmbedderSpec | None",
        backend: "str | None" = None,
    ) -> None:
        self.models = tuple(models)
        for name in (strong_model, weak_model):
            if name not in self.models:
                raise UnknownModelError(name, self.models)
        if strong_model == weak_model:
            raise ValueError(f"strong and weak model are both {strong_model!r}")
        self.strong_model = strong_model
        self.weak_model = weak_model
        self.embedder_spec = embedder
        self.backend = backend
        # Set by trainers (and bundles): the 64-bit hashes of the training prompts, which
        # evaluations leave out, and quantiles of the win rates on them, for calibration.
        self.train_prompt_hashes: "np.ndarray | None" = None
        self.win_rate_quantiles: "np.ndarray | None" = None
        self._targets: "tuple[str, str, str, str] | None" = None  # (scored strong, scored weak, targets)
        self._embedder: "Embedder | None" = None
        self._lock = threading.Lock()

    # -- embeddings -------------------------------------------------------
    @property
    def embedder(self) -> Embedder:
        """The embedder this router was trained with, created on first use."""
        if self._embedder is None:
            if self.embedder_spec is None:
                raise RuntimeError(f"{self.kind} router has no embedder")
            from ..embedders import get_embedder

            with self._lock:
                if self._embedder is None:
                    emb = get_embedder(self.embedder_spec.name)
                    self.embedder_spec.check(emb)
                    self._embedder = emb
        return self._embedder

    def use_embedder(self, embedder: Embedder) -> None:
        """Uses `embedder` (e.g. an OpenAI client with a custom base URL) after checking it matches."""
        if self.embedder_spec is not None:
            self.embedder_spec.check(embedder)
        with self._lock:
            self._embedder = embedder

    def _prepare(self, texts: "str | Sequence[str] | None", embeddings: "np.ndarray | None") -> np.ndarray:
        if (texts is None) == (embeddings is None):
            raise TypeError("pass exactly one of texts or embeddings=")
        if texts is not None:
            batch = as_text_batch(texts)
            if not batch:
                return np.zeros((0, self.embedder_spec.dim if self.embedder_spec else 0), np.float32)
            return self.embedder.encode(batch)
        return self.check_embeddings(embeddings)

    def check_embeddings(self, embeddings: Any) -> np.ndarray:
        """float32 [B, d] view of `embeddings`; a 1-D vector is one prompt. A torch tensor
        (e.g. on the GPU) stays a torch tensor, checked the same way."""
        return checked_embeddings(embeddings, self.embedder_spec, self.kind)

    def _kernels_for(self, embeddings: Any):
        """The router's kernels (resolved once, at construction), except that torch tensors
        on a GPU go to the Triton kernels when the backend was chosen automatically."""
        if self.backend is None and is_torch(embeddings) and embeddings.device.type == "cuda":
            from ..ops import get_backend

            return get_backend(None, "cuda")
        return self._ops

    # -- scoring ----------------------------------------------------------
    def win_rates(
        self, texts: "str | Sequence[str] | None" = None, *, embeddings: "np.ndarray | None" = None
    ) -> np.ndarray:
        """P(strong model beats weak model) per prompt, float64 [B]."""
        E = self._prepare(texts, embeddings)
        if E.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        bad = nonfinite_rows(E)
        if bad:  # the input's fault: say so before any kernel runs
            source = (
                f"the {self.embedder_spec.name!r} embedder's output"
                if texts is not None and self.embedder_spec is not None
                else "embeddings"
            )
            raise EmbeddingMismatchError(
                f"{source} for prompts {bad[:10]}{' ...' if len(bad) > 10 else ''} contain NaN or infinity"
            )
        p = self._win_rates(E)
        if is_torch(p):
            p = p.detach().double().cpu().numpy()
        p = np.asarray(p, dtype=np.float64)
        if not np.isfinite(p).all():  # finite input, so the router's weights or kernel are at fault
            rows = np.flatnonzero(~np.isfinite(p))[:10].tolist()
            backend = getattr(getattr(self, "_ops", None), "NAME", self.backend)
            raise RouterOutputError(
                f"the {self.kind} router (kernel backend {backend!r}) produced non-finite win rates for prompts "
                f"{rows} from finite embeddings: a fault in the router's weights or the backend, not the input"
            )
        return p

    def route(
        self,
        texts: "str | Sequence[str] | None" = None,
        threshold: float = 0.5,
        *,
        embeddings: "np.ndarray | None" = None,
    ) -> list[str]:
        """Target name per prompt: the strong target where the win rate >= threshold."""
        check_threshold(threshold)
        return self.decide(self.win_rates(texts, embeddings=embeddings), threshold)

    def decide(self, win_rates: np.ndarray, threshold: float) -> list[str]:
        """RouteLLM's rule on given win rates: the strong target where p >= threshold, else the weak one."""
        t, (strong, weak), p = check_threshold(threshold), self.targets, np.asarray(win_rates)
        return [strong if b else weak for b in (p >= t).tolist()] if p.ndim == 1 else np.where(p >= t, strong, weak).tolist()  # fmt: skip

    # -- targets: the names routed to -----------------------------------------
    @property
    def targets(self) -> tuple[str, str]:
        """(strong, weak): the names `route`/`decide` return; by default the scored models."""
        t, pair = self._targets, (self.strong_model, self.weak_model)
        return (t[2], t[3]) if t is not None and t[:2] == pair else pair

    strong_target = property(lambda self: self.targets[0], doc="The strong target (default: strong_model).")
    weak_target = property(lambda self: self.targets[1], doc="The weak target (default: weak_model).")

    def knows(self, model: str) -> bool:
        """Whether this router can score `model` (one of its models)."""
        return model in self.models

    def with_targets(self, strong: str, weak: str, scored_as: "Mapping[str, str] | None" = None) -> "Router":
        """This router routing to `strong` / `weak` (any names). A target this router knows is
        scored as itself; `scored_as` maps a target to the known model it is scored as; any
        other target is scored as this router's own strong / weak model. A changed scored
        pair drops the stored win-rate quantiles (they belong to the bundle's pair)."""
        pair = scored_pair(self, strong, weak, scored_as)
        if pair != (self.strong_model, self.weak_model):
            other = self.with_pair(*pair)  # keeps the training hashes and a custom embedder, not the quantiles
            other.train_prompt_hashes, other._embedder = self.train_prompt_hashes, self._embedder
            other.win_rate_quantiles = None
        else:
            other = copy.copy(self)
        other._targets = (*pair, strong, weak)
        return other

    @abc.abstractmethod
    def _win_rates(self, E: Any) -> Any: ...  # numpy in, numpy out; torch in, torch out on the Triton path

    # -- calibration --------------------------------------------------------
    def threshold_for(self, strong_pct: float, texts: "Sequence[str] | None" = None) -> float:
        """The threshold that sends `strong_pct` of prompts to the strong model (RouteLLM's
        rule: the (1 - strong_pct) quantile of the win rates). Without `texts`, the win rates
        of the router's training prompts (stored in its bundle) are used."""
        if not 0.0 <= float(strong_pct) <= 1.0:
            raise ValueError(f"strong_pct must be in [0, 1], got {strong_pct!r}")
        if texts is not None:
            p = self.win_rates(list(texts))
            if p.size == 0:
                raise ValueError("no prompts to calibrate on")
            return float(np.quantile(p, 1.0 - float(strong_pct)))
        if self.win_rate_quantiles is None:
            raise NoCalibrationError(self.kind, self.strong_model, self.weak_model)
        q = self.win_rate_quantiles
        return float(np.interp(1.0 - float(strong_pct), np.linspace(0.0, 1.0, q.size), q))

    def record_training_prompts(self, prompts: Sequence[str], n_quantiles: int = 1001) -> None:
        """Stores the training prompts' hashes and the quantiles of this router's win rates on them."""
        from ..prompt_hash import prompt_hashes

        uniq = list(dict.fromkeys(prompts))
        self.train_prompt_hashes = prompt_hashes(uniq)
        p = np.concatenate([self.win_rates(uniq[lo : lo + 4096]) for lo in range(0, len(uniq), 4096)])
        self.win_rate_quantiles = np.quantile(p, np.linspace(0.0, 1.0, n_quantiles))

    # -- persistence and variants ----------------------------------------
    @abc.abstractmethod
    def with_pair(self, strong_model: str, weak_model: str) -> "Router":
        """The same router deciding between another pair of its models (weights shared)."""

    def save(self, path: "str | Path") -> Path:
        """Writes a bundle directory (fastroute.json + weights.safetensors)."""
        from ..bundle import write_bundle

        meta, tensors = self._bundle_payload()
        if self.train_prompt_hashes is not None:
            tensors["train_prompt_hashes"] = np.asarray(self.train_prompt_hashes, dtype=np.uint64)
        if self.win_rate_quantiles is not None:
            tensors["win_rate_quantiles"] = np.asarray(self.win_rate_quantiles, dtype=np.float64)
            meta["win_rate_quantiles_pair"] = [self.strong_model, self.weak_model]
        return write_bundle(path, self.kind, meta, tensors)

    @abc.abstractmethod
    def _bundle_payload(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]: ...

    @classmethod
    @abc.abstractmethod
    def _from_bundle(
        cls, meta: dict[str, Any], tensors: dict[str, np.ndarray], *, where: str, backend: "str | None" = None
    ) -> "Router": ...

    def _base_meta(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "strong_model": self.strong_model,
            "weak_model": self.weak_model,
            "embedder": self.embedder_spec.to_json() if self.embedder_spec else None,
        }

    def __repr__(self) -> str:
        emb = self.embedder_spec.name if self.embedder_spec else None
        targets = (self.strong_target, self.weak_target)
        shown = "" if targets == (self.strong_model, self.weak_model) else f", targets={targets!r}"
        return f"{type(self).__name__}(strong={self.strong_model!r}, weak={self.weak_model!r}{shown}, embedder={emb!r})"
