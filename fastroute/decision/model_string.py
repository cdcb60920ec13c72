"""RouteLLM's model strings, and a form that states the strong-call share.

* `router-<router>-<threshold>` (RouteLLM's): route with <router>, sending a prompt to the
  strong model when its win rate >= <threshold>. A raw threshold is per checkpoint: 0.5
  sends almost everything to the strong model with one router and little with another
  (`fastroute calibrate` tells which threshold gives a share).
* `router-<router>-<percent>%` (fastroute's): send <percent>% of prompts to the strong
  model, e.g. `router-mf-50%`. The threshold is calibrated from the win-rate quantiles
  the router's bundle stores (`Router.threshold_for`); a router that stores none refuses
  it with a message saying what to pass instead.

The grammar is strict, because the string arrives from clients: <threshold> and <percent>
are ASCII decimals with an optional exponent (`0.5`, `.5`, `1`, `1e-05`; no sign, no
underscores, no whitespace, no `inf`/`nan`), a threshold in [0, 1], a percent in [0, 100];
<router> is a router name or a bundle path without control characters or surrounding
whitespace. `parse_model_string` reads both forms; `parse_router_model` (RouteLLM's form
only) returns (router, threshold). `router_model` writes only strings that the parsers
read back to the same router and threshold or share.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass
from typing import Any, Collection

PREFIX = "router-"
SYNTAX = (
    "'router-<router>-<threshold>' with a decimal threshold in [0, 1], e.g. 'router-mf-0.11593', "
    "or 'router-<router>-<percent>%' for a share of strong-model calls, e.g. 'router-mf-50%'"
)

_NUMBER = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
# The router part is the shortest prefix after which a (possibly signed) number ends the
# string, so the '-' of a negative threshold or of an exponent never joins the router name.
_MODEL_RE = re.compile(rf"router-(?P<router>.+?)-(?P<sign>[+-]?)(?P<number>{_NUMBER})(?P<pct>%?)", re.DOTALL)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _check_router_name(router: str, model: str) -> None:
    if not router or router != router.strip() or _CONTROL_RE.search(router):
        raise ValueError(
            f"{model!r}: router name {router!r} is empty, padded with whitespace or holds "
            f"control characters; expected {SYNTAX}"
        )


@dataclass(frozen=True)
class RouterModel:
    """A parsed model string: a raw `threshold`, or `strong_pct` (a share in [0, 1])."""

    router: str
    threshold: "float | None" = None
    strong_pct: "float | None" = None

    def threshold_for(self, router: Any) -> float:
        """The threshold on `router` (a Router): the raw one, or calibrated for the share."""
        if self.threshold is not None:
            return self.threshold
        return float(router.threshold_for(self.strong_pct))


def parse_model_string(model: str, known: "Collection[str] | None" = None) -> RouterModel:
    """RouterModel("mf", threshold=0.11593) for "router-mf-0.11593", RouterModel("mf",
    strong_pct=0.5) for "router-mf-50%"; ValueError naming the string and what was expected.

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
    router, sign, raw, pct = m["router"], m["sign"], m["number"], m["pct"]
    what, top = ("percent", 100) if pct else ("threshold", 1)
    _check_router_name(router, model)
    if known is not None and router not in known:
        raise ValueError(f"{model!r}: unknown router {router!r}; known: {', '.join(sorted(known))}")
    exact = decimal.Decimal(raw)
    if sign == "-" and exact != 0:
        raise ValueError(f"{model!r}: {what} -{raw} is negative; it must be in [0, {top}]")
    if sign:
        raise ValueError(f"{model!r}: {what} {sign}{raw} has a sign; expected {SYNTAX}")
    if exact > top:
        raise ValueError(f"{model!r}: {what} {raw} is above {top}; it must be in [0, {top}]")
    with decimal.localcontext() as ctx:
        ctx.prec, ctx.traps[decimal.Underflow] = 60, False
        value = float(exact / 100) if pct else float(raw)
    if value == 0.0 and exact != 0:
        raise ValueError(
            f"{model!r}: {what} {raw} is too small for a float64 (it would become 0); write 0 if that is meant"
        )
    return RouterModel(router, strong_pct=value) if pct else RouterModel(router, threshold=value)


def parse_router_model(model: str, known: "Collection[str] | None" = None) -> tuple[str, float]:
    """("mf", 0.11593) for "router-mf-0.11593" (RouteLLM's form only); ValueError naming the
    string and what was expected. With `known`, the router must be one of those names."""
    parsed = parse_model_string(model, known)
    if parsed.threshold is None:
        raise ValueError(
            f"{model!r} states a share of strong-model calls, not a threshold: read it with "
            "parse_model_string and calibrate it with the router (RouterModel.threshold_for)"
        )
    return parsed.router, parsed.threshold


def router_model(router: str, threshold: "float | None" = None, *, strong_pct: "float | None" = None) -> str:
    """The model string for `router` at a raw `threshold` ("router-mf-0.5") or for a share
    `strong_pct` of strong-model calls in [0, 1] ("router-mf-50%"); it always parses back
    to the same router and threshold or share."""
    from ..routers.inputs import check_threshold

    if not isinstance(router, str):
        raise ValueError(f"router must be a string, got {type(router).__name__}")
    if (threshold is None) == (strong_pct is None):
        raise ValueError("give a threshold or strong_pct=, not both")
    if strong_pct is not None:
        try:
            share = check_threshold(strong_pct) + 0.0  # + 0.0 turns -0.0 into 0.0
        except ValueError:
            raise ValueError(f"strong_pct must be a share in [0, 1], got {strong_pct!r}") from None
        # repr is the shortest decimal that reads back as the share; times 100 is exact in decimal
        text = format((decimal.Decimal(repr(share)) * 100).normalize(), "f") + "%"
        want: "tuple[str, float | None, float | None]" = (router, None, share)
    else:
        assert threshold is not None  # exactly one of the two was given
        t = check_threshold(threshold) + 0.0
        text = repr(t)  # the shortest decimal that reads back as exactly t ("1e-05", "0.5", "1.0")
        want = (router, t, None)
    model = f"{PREFIX}{router}-{text}"
    _check_router_name(router, model)
    try:
        got = parse_model_string(model)
        back: "tuple[str, float | None, float | None] | str" = (got.router, got.threshold, got.strong_pct)
    except ValueError as exc:
        back = str(exc)
    if back != want:
        raise ValueError(
            f"router name {router!r} cannot be written unambiguously in a model string ({model!r} reads back as {back})"
        )
    return model
