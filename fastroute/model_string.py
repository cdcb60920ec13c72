"""RouteLLM's model strings: `router-<router>-<threshold>` means "route with <router>,
sending a prompt to the strong model when its win rate >= <threshold>" (a raw threshold,
as in RouteLLM; `fastroute calibrate` tells which threshold gives a strong-call share).

The grammar is strict, because the string arrives from clients: <threshold> is an ASCII
decimal with an optional exponent (`0.5`, `.5`, `1`, `1e-05`; no sign, no underscores,
no whitespace, no `inf`/`nan`) whose value is in [0, 1]; <router> is a router name or a
bundle path without control characters or surrounding whitespace. `router_model` writes
only strings that `parse_router_model` reads back to the same router and threshold.
"""

from __future__ import annotations

import math
import re
from typing import Collection

PREFIX = "router-"
SYNTAX = "'router-<router>-<threshold>' with a decimal threshold in [0, 1], e.g. 'router-mf-0.11593'"

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
# The router part is the shortest prefix after which a (possibly signed) number ends the
# string, so the '-' of a negative threshold or of an exponent never joins the router name.
_MODEL_RE = re.compile(rf"router-(?P<router>.+?)-(?P<sign>[+-]?)(?P<number>{_NUMBER})", re.DOTALL)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _check_router_name(router: str, model: str) -> None:
    if not router or router != router.strip() or _CONTROL_RE.search(router):
        raise ValueError(
            f"{model!r}: router name {router!r} is empty, padded with whitespace or holds "
            f"control characters; expected {SYNTAX}"
        )


def parse_router_model(model: str, known: "Collection[str] | None" = None) -> tuple[str, float]:
    """("mf", 0.11593) for "router-mf-0.11593"; ValueError naming the string and what was expected.

    With `known`, the router must be one of those names (a server passes the routers it serves)."""
    if not isinstance(model, str):
        raise ValueError(f"model must be a string, got {type(model).__name__}; expected {SYNTAX}")
    if not model.startswith(PREFIX):
        raise ValueError(f"{model!r} is not a router model string; expected {SYNTAX}")
    m = _MODEL_RE.fullmatch(model)
    if m is None:
        router, sep, tail = model[len(PREFIX) :].rpartition("-")
        if not sep:
            raise ValueError(f"{model!r} names no threshold; expected {SYNTAX}")
        if not router:
            raise ValueError(f"{model!r} names no router; expected {SYNTAX}")
        raise ValueError(f"{model!r}: threshold {tail!r} is not a plain decimal number; expected {SYNTAX}")
    router, sign, raw = m["router"], m["sign"], m["number"]
    _check_router_name(router, model)
    if known is not None and router not in known:
        raise ValueError(f"{model!r}: unknown router {router!r}; known: {', '.join(sorted(known))}")
    threshold = float(raw)
    if sign == "-" and threshold != 0.0:
        raise ValueError(f"{model!r}: threshold -{raw} is negative; it must be in [0, 1]")
    if sign:
        raise ValueError(f"{model!r}: threshold {sign}{raw} has a sign; expected {SYNTAX}")
    if math.isinf(threshold) or threshold > 1.0:
        raise ValueError(f"{model!r}: threshold {raw} is above 1; it must be in [0, 1]")
    if threshold == 0.0 and re.search(r"[1-9]", raw.split("e")[0].split("E")[0]):
        raise ValueError(
            f"{model!r}: threshold {raw} is too small for a float64 (it would become 0); write 0 if that is meant"
        )
    return router, threshold


def router_model(router: str, threshold: float) -> str:
    """The model string for `router` at `threshold`; it always parses back to the same pair."""
    from .routers.inputs import check_threshold

    if not isinstance(router, str):
        raise ValueError(f"router must be a string, got {type(router).__name__}")
    t = check_threshold(threshold) + 0.0  # + 0.0 turns -0.0 into 0.0
    text = repr(t)  # the shortest decimal that reads back as exactly t ("1e-05", "0.5", "1.0")
    model = f"{PREFIX}{router}-{text}"
    _check_router_name(router, model)
    try:
        back: "tuple[str, float] | str" = parse_router_model(model)
    except ValueError as exc:
        back = str(exc)
    if back != (router, t):
        raise ValueError(
            f"router name {router!r} cannot be written unambiguously in a model string ({model!r} reads back as {back})"
        )
    return model
