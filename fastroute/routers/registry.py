"""Every router kind fastroute knows, in one table: the bundle loader, `fastroute.__all__`,
the CLI and the server all read it, so a new kind is one line here (see CONTRIBUTING.md).

Importing this module imports no router: each record names its class as "module:Class",
loaded on first use, so listing the kinds costs nothing (no torch, no kernels; a NamedTuple
rather than a dataclass keeps `import fastroute` from importing dataclasses).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple

from ..errors import BundleError

if TYPE_CHECKING:
    from .base import Router


class RouterKind(NamedTuple):
    """One router kind: its bundle `kind`, where its class lives, and whether the package ships
    a trained default of it (loadable by name, e.g. `load_router("mf")`)."""

    kind: str
    target: str  # "module:Class"
    summary: str
    shipped_default: bool = False
    needs_bundle: bool = True  # False: constructible without weights (random)

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    @property
    def class_name(self) -> str:
        return self.target.partition(":")[2]

    def load(self) -> "type[Router]":
        return getattr(importlib.import_module(self.module), self.class_name)


ROUTERS: dict[str, RouterKind] = {
    r.kind: r
    for r in (
        RouterKind(
            "mf",
            "fastroute.routers.mf:MFRouter",
            "RouteLLM's matrix factorisation, collapsed to one GEMV",
            shipped_default=True,
        ),
        RouterKind(
            "sw_ranking",
            "fastroute.routers.sw_ranking:SWRankingRouter",
            "similarity-weighted Bradley-Terry ratings over an arena of battles",
            shipped_default=True,
        ),
        RouterKind(
            "random",
            "fastroute.routers.random:RandomRouter",
            "a uniform random win rate, RouteLLM's baseline",
            needs_bundle=False,
        ),
        RouterKind(
            "length",
            "fastroute.routers.length:LengthRouter",
            "longer prompts to the strong model, the baseline to beat",
            needs_bundle=False,
        ),
        RouterKind(
            "bert", "fastroute.routers.bert:BERTRouter", "a BERT sequence classifier; needs fastroute[classifiers]"
        ),
        RouterKind(
            "causal_llm",
            "fastroute.routers.causal_llm:CausalLLMRouter",
            "a causal LM scoring the prompt; needs fastroute[classifiers]",
        ),
    )
}


def router_kinds() -> list[str]:
    return sorted(ROUTERS)


def shipped_defaults() -> list[str]:
    """The kinds with a default bundle shipped inside the package."""
    return sorted(k for k, r in ROUTERS.items() if r.shipped_default)


def router_kind(kind: str) -> RouterKind:
    if kind not in ROUTERS:
        raise BundleError(f"unknown router kind {kind!r}; known: {router_kinds()}")
    return ROUTERS[kind]


def router_class(kind: str) -> "type[Router]":
    return router_kind(kind).load()
