"""RouteLLM's model strings: `router-<router>-<threshold>` means "route with <router>,
sending a prompt to the strong model when its win rate >= <threshold>" (a raw threshold,
as in RouteLLM; `fastroute calibrate` tells which threshold gives a strong-call share)."""
from __future__ import annotations

from .routers.base import check_threshold

PREFIX = "router-"


def parse_router_model(model: str) -> tuple[str, float]:
    """("mf", 0.11593) for "router-mf-0.11593"; ValueError naming the problem otherwise."""
    if not isinstance(model, str) or not model.startswith(PREFIX):
        raise ValueError(f"{model!r} is not a router model string (expected 'router-<router>-<threshold>')")
    router, sep, raw = model[len(PREFIX):].rpartition("-")
    if not sep or not router:
        raise ValueError(f"{model!r}: expected 'router-<router>-<threshold>', e.g. 'router-mf-0.11593'")
    try:
        threshold = float(raw)
    except ValueError:
        raise ValueError(f"{model!r}: threshold {raw!r} is not a number") from None
    return router, check_threshold(threshold)


def router_model(router: str, threshold: float) -> str:
    return f"{PREFIX}{router}-{check_threshold(threshold)}"
