"""fastroute: a fast, RouteLLM-faithful LLM router.

Importing the package does no work: routers, embedders and kernels load on
first use, so `import fastroute` needs no torch, GPU, network or API key.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .routers.registry import ROUTERS

# Public names, loaded on first use: the router classes come from the router registry.
_LAZY = {
    "Router": "fastroute.routers.base",
    **{entry.class_name: entry.module for entry in ROUTERS.values()},
    "load_router": "fastroute.loader",
    "Controller": "fastroute.frontends.controller",
    "get_embedder": "fastroute.embedders",
    "FastrouteError": "fastroute.errors",
    "BundleError": "fastroute.errors",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # pragma: no cover
    # `x as x`: re-exports (listed in __all__ through _LAZY), typed for checkers only.
    from .embedders import get_embedder as get_embedder
    from .errors import BundleError as BundleError
    from .errors import FastrouteError as FastrouteError
    from .frontends.controller import Controller as Controller
    from .loader import load_router as load_router
    from .routers.base import Router as Router
    from .routers.bert import BERTRouter as BERTRouter
    from .routers.causal_llm import CausalLLMRouter as CausalLLMRouter
    from .routers.mf import MFRouter as MFRouter
    from .routers.random import RandomRouter as RandomRouter
    from .routers.sw_ranking import SWRankingRouter as SWRankingRouter


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastroute' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
