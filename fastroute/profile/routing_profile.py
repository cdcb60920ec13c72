"""Routing among N candidate models with prices: a router's per-model strengths, the
candidates to call (any names, each scored as a model the router knows) with their prices,
and a policy (policy.py) that picks one per prompt.

Quality is a candidate's field win rate: the mean, over the other candidates, of
P(it beats them) = sigmoid(s_k - s_j) from the router's strengths. With two candidates it is
the router's win rate p for the strong one and 1 - p for the weak one, so max_value at
lam = 0 is RouteLLM's rule at threshold 1/2.

Cost is what a request is expected to cost, in USD: the prompt's input tokens (estimated
as characters / `chars_per_token`; the upstream's usage report has the real count) times
the input price, plus `output_tokens` times the output price, prices per 1M tokens as
providers publish them.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import numpy as np

from ..data.aliases import canonical_model
from ..embedders.base import as_text_batch
from ..errors import UnknownModelError
from . import policy as P


@dataclass(frozen=True)
class Candidate:
    """A model to call, its prices (USD per 1M input / output tokens) and the router model it
    is scored as (default: `name` itself, or the router model with the same canonical name)."""

    name: str
    input_price: float = 0.0
    output_price: float = 0.0
    scored_as: "str | None" = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a candidate needs a model name, got {self.name!r}")
        for key in ("input_price", "output_price"):
            v = getattr(self, key)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
                raise ValueError(f"candidate {self.name!r}: {key} must be a finite number >= 0 (USD per 1M tokens)")


class Decision(NamedTuple):  # a NamedTuple: made once per prompt, 5x cheaper than a dataclass
    model: str  # the candidate to call
    quality: float  # its predicted field win rate among the candidates
    cost: float  # its expected cost in USD


def scored_index(router: Any, candidate: Candidate) -> int:
    """The column of the router's models that `candidate` is scored as."""
    target = candidate.scored_as or candidate.name
    if target in router.models:
        return router.models.index(target)
    canon = {canonical_model(m): i for i, m in enumerate(router.models)}
    hit = canon.get(canonical_model(target))
    if hit is None:
        raise UnknownModelError(target, router.models, what=f"model for candidate {candidate.name!r} (set scored_as)")
    return hit


class RoutingProfile:
    """`router` (one that scores every model it knows: mf, sw_ranking) choosing among
    `candidates` with `policy` ("max_value" with lam, "within_margin" with a margin,
    "under_budget" with a budget in USD) at parameter `value`."""

    def __init__(
        self,
        router: Any,
        candidates: Sequence[Candidate],
        *,
        policy: str = "max_value",
        value: float = 0.0,
        output_tokens: int = 256,
        chars_per_token: float = 4.0,
    ) -> None:
        if len(candidates) < 2:
            raise ValueError(f"a routing profile needs at least two candidates, got {len(candidates)}")
        names = [c.name for c in candidates]
        self._names = tuple(names)
        if len(set(names)) != len(names):
            raise ValueError(f"candidate names repeat: {names}")
        if policy not in P.POLICIES:
            raise ValueError(f"unknown policy {policy!r}; known: {list(P.POLICIES)}")
        if not (output_tokens >= 0 and chars_per_token > 0):
            raise ValueError("output_tokens must be >= 0 and chars_per_token > 0")
        if not hasattr(router, "strengths"):
            raise TypeError(f"the {router.kind} router scores only its pair; a routing profile needs mf or sw_ranking")
        self.router, self.candidates = router, tuple(candidates)
        self.policy, self.value = policy, float(value)
        self.output_tokens, self.chars_per_token = int(output_tokens), float(chars_per_token)
        self._cols = np.array([scored_index(router, c) for c in self.candidates])
        self._in = np.array([c.input_price for c in self.candidates]) / 1e6
        self._out = np.array([c.output_price for c in self.candidates]) / 1e6
        P.choose(policy, np.zeros((1, len(names))), np.zeros(len(names)), self.value)  # checks the value

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def quality(self, texts: "Sequence[str] | None" = None, *, embeddings: Any = None) -> np.ndarray:
        """[B, K] field win rate of each candidate among the others, float64."""
        return P.field_win_rates(self.router.strengths(texts, embeddings=embeddings, columns=self._cols))

    def expected_costs(self, texts: "str | Sequence[str]") -> np.ndarray:
        """[B, K] expected USD per request of each candidate for each prompt."""
        return self._costs(as_text_batch(texts))

    def _costs(self, batch: list[str]) -> np.ndarray:
        chars = np.fromiter(map(len, batch), dtype=np.float64, count=len(batch))
        return (
            np.ceil(chars / self.chars_per_token)[:, None] * self._in[None, :] + self.output_tokens * self._out[None, :]
        )

    def choose(self, texts: "str | Sequence[str]", *, embeddings: Any = None) -> list[Decision]:
        """One decision per prompt (`embeddings`, when given, are the prompts' embeddings)."""
        batch = as_text_batch(texts)
        q = self.quality(None if embeddings is not None else batch, embeddings=embeddings)
        if q.shape[0] != len(batch):
            raise ValueError(f"{len(batch)} prompts but {q.shape[0]} rows of embeddings")
        c = self._costs(batch)
        pick = P.choose(self.policy, q, c, self.value)
        rows = np.arange(len(batch))
        names, qs, cs = self._names, q[rows, pick].tolist(), c[rows, pick].tolist()
        return [Decision(names[k], qk, ck) for k, qk, ck in zip(pick.tolist(), qs, cs)]

    def calibrated(
        self, texts: Sequence[str], *, target_cost: "float | None" = None, max_share: "tuple[str, float] | None" = None
    ) -> "RoutingProfile":
        """The same profile with lam (or the margin) set so that, on `texts`, requests cost
        `target_cost` USD on average, or at most a share `max_share[1]` goes to candidate
        `max_share[0]`."""
        batch = as_text_batch(texts)
        share = None
        if max_share is not None:
            if max_share[0] not in self.names:
                raise UnknownModelError(max_share[0], self.names, what="candidate")
            share = (self.names.index(max_share[0]), float(max_share[1]))
        value = P.calibrate(
            self.policy, self.quality(batch), self.expected_costs(batch), target_cost=target_cost, max_share=share
        )
        other = copy.copy(self)
        other.value = value
        return other


PROFILE_KEYS = {"router", "policy", "value", "output_tokens", "chars_per_token", "candidates", "calibration"}
CANDIDATE_KEYS = {"name", "input_price", "output_price", "scored_as"}


def profile_from_dict(doc: Any, where: str, *, base_dir: "Path | None" = None, router: Any = None) -> RoutingProfile:
    """A profile from its JSON/TOML form: {"router": bundle directory (relative to `base_dir`)
    or router name, "policy", "value", "output_tokens", "candidates": [{"name",
    "input_price", "output_price", "scored_as"}, ...]}; `router` overrides the one named.
    Every error names `where` and the key."""
    from ..loader import DEFAULTS_DIR, load_router

    if not isinstance(doc, dict):
        raise ValueError(f"{where}: a routing profile is a table/object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - PROFILE_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; a profile has {sorted(PROFILE_KEYS)}")
    cands = doc.get("candidates")
    if not isinstance(cands, list) or not all(isinstance(c, dict) for c in cands):
        raise ValueError(f"{where}: key 'candidates': expected a list of tables with {sorted(CANDIDATE_KEYS)}")
    candidates = []
    for i, c in enumerate(cands):
        bad = sorted(set(c) - CANDIDATE_KEYS)
        if bad or "name" not in c:
            raise ValueError(
                f"{where}: candidates[{i}]: keys {sorted(c)}; expected 'name' and any of {sorted(CANDIDATE_KEYS)}"
            )
        try:
            candidates.append(Candidate(**c))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: candidates[{i}]: {exc}") from None
    if router is None:
        name = doc.get("router")
        if not isinstance(name, str) or not name:
            raise ValueError(f"{where}: key 'router': expected a router name or bundle directory")
        local = (base_dir / name) if base_dir is not None else None
        shipped = DEFAULTS_DIR / name
        target = local if local is not None and local.is_dir() else shipped if shipped.is_dir() else name
        router = load_router(target)
    options = {k: doc[k] for k in ("policy", "value", "output_tokens", "chars_per_token") if k in doc}
    try:
        return RoutingProfile(router, candidates, **options)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


def load_profile(name_or_path: "str | Path", *, router: Any = None) -> RoutingProfile:
    """A routing profile from a JSON file, or by name from the profiles shipped in the package
    (`routerbench`: the RouterBench models and prices over their own mf bundle)."""
    import json

    from ..loader import DEFAULTS_DIR

    path = Path(name_or_path)
    if not path.is_file():
        shipped = DEFAULTS_DIR / "profiles" / f"{name_or_path}.json"
        if not shipped.is_file():
            known = sorted(p.stem for p in (DEFAULTS_DIR / "profiles").glob("*.json"))
            raise ValueError(f"{name_or_path!r} is neither a profile file nor a shipped profile ({', '.join(known)})")
        path = shipped
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: unreadable routing profile ({exc})") from None
    return profile_from_dict(doc, str(path), base_dir=path.parent, router=router)
