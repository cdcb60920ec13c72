"""Reading a request: what its `model` means (a router at a threshold, a routing profile, or a
model passed through), and the texts it asks to route. This is the one place where a model
string becomes a router and a threshold; every problem is a 4xx naming the field."""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple, Sequence

from ..routers.inputs import NoCalibrationError, check_threshold
from .config import DecisionConfig
from .errors import APIError, bad_request
from .messages import ROUTE_ON, routing_text
from .model_string import PREFIX, parse_model_string
from .validation import json_bool, json_number, json_str, model_name

ROUTED, PROFILE, PASSED = "router", "profile", "passed"
NO_CALIBRATION_HINT = "use a raw threshold (router-<router>-<threshold>, or 'threshold')"


class ChatTarget(NamedTuple):
    """Where a chat request's `model` points: `kind` ROUTED (router `name` at `threshold`),
    PROFILE (profile `name`) or PASSED (model `name`, sent on as it is); `text` is what is
    routed on ("" when passed through)."""

    kind: str
    name: str
    threshold: float
    text: str


def resolve_threshold(
    router: Any,
    threshold: "float | None" = None,
    strong_pct: "float | None" = None,
    texts: "Sequence[str] | None" = None,
    *,
    hint: str = NO_CALIBRATION_HINT,
) -> tuple[float, str]:
    """The threshold to route at and how it was chosen: a raw `threshold`, or the one sending
    `strong_pct` (default 0.5) of `texts` (else of the bundle's training prompts, from its
    stored quantiles) to the strong model. A router storing no quantiles, asked for a share
    without texts, is a NoCalibrationError ending in `hint` (what the caller can pass)."""
    if threshold is not None:
        return check_threshold(threshold), "given"
    pct = 0.5 if strong_pct is None else float(strong_pct)
    if not 0.0 <= pct <= 1.0:
        raise ValueError(f"strong_pct must be a share in [0, 1], got {strong_pct!r}")
    try:
        t = float(router.threshold_for(pct, texts))
    except NoCalibrationError as exc:
        raise exc.with_hint(hint) from None
    where = f"{len(texts)} given prompts" if texts is not None else "the bundle's training prompts"
    return t, f"calibrated for {pct:g} strong calls on {where}"


def router_and_threshold(
    cfg: DecisionConfig, model: Any, router: Any = None, threshold: Any = None, strong_pct: Any = None
) -> tuple[str, float]:
    """The router and threshold a request names: `model` as router-<router>-<threshold> or
    router-<router>-<percent>%, or `router` with `threshold` or `strong_pct` (a share in
    [0, 1]). A share is calibrated from the router's stored win-rate quantiles."""
    field_name = "model" if model is not None else "router"
    if model is not None:
        try:
            parsed = parse_model_string(json_str(model, "model"))
        except ValueError as exc:
            raise bad_request(str(exc), "model") from None
        router, threshold, strong_pct = parsed.router, parsed.threshold, parsed.strong_pct
    elif threshold is not None and strong_pct is not None:
        raise bad_request("give 'threshold' or 'strong_pct', not both", "strong_pct")
    if router is None or (threshold is None and strong_pct is None):
        raise bad_request(
            "give 'model' as router-<router>-<threshold> or router-<router>-<percent>%, "
            "or 'router' with 'threshold' or 'strong_pct'"
        )
    router = json_str(router, "router", "a string naming a router")
    if router not in cfg.routers:
        raise bad_request(f"unknown router {router!r}; routers here: {sorted(cfg.routers)}", field_name)
    if threshold is None:
        pct = json_number(strong_pct, "strong_pct")
        if not 0.0 <= pct <= 1.0:
            raise bad_request(f"strong_pct must be a share in [0, 1], got {strong_pct!r}", "strong_pct")
        try:
            return router, resolve_threshold(cfg.routers[router], strong_pct=pct)[0]
        except NoCalibrationError as exc:
            raise bad_request(str(exc), "model" if model is not None else "strong_pct") from None
    t = json_number(threshold, "threshold")
    if not 0.0 <= t <= 1.0:
        raise bad_request(f"threshold must be in [0, 1], got {threshold!r}", "threshold")
    return router, t


def is_routed(cfg: DecisionConfig, model: str) -> bool:
    """Whether `model` is decided here (a router model string or a profile's name); any other
    model is passed through as it is."""
    return model.startswith(PREFIX) or model in cfg.profiles


class ModelStrings:
    """router-<router>-<threshold|percent%> parsed into (router, threshold), and a share
    calibrated, once per distinct string: clients send the same few. Bounded; a string that
    fails is never kept."""

    def __init__(self, cfg: DecisionConfig, size: int = 1024) -> None:
        self.cfg, self.size = cfg, size
        self._seen: dict[str, tuple[str, float]] = {}

    def __call__(self, model: str) -> tuple[str, float]:
        hit = self._seen.get(model)
        if hit is None:
            hit = router_and_threshold(self.cfg, model)  # raises for a bad one: never kept
            if len(self._seen) >= self.size:
                self._seen.clear()
            self._seen[model] = hit
        return hit


def chat_target(
    cfg: DecisionConfig, body: Mapping[str, Any], strings: ModelStrings, *, pass_through: bool = True
) -> ChatTarget:
    """Where a chat completion request goes, its body checked first: `model` is
    router-<router>-<threshold> (or -<percent>%), a profile's name, or (with `pass_through`)
    any other model, whose messages are still validated."""
    if body.get("model") in (None, ""):
        raise bad_request("'model' is required", "model")
    model = model_name(body["model"])
    if "messages" not in body:
        raise bad_request("'messages' is required", "messages")
    json_bool(body, "stream")  # validated before any routing work
    if model.startswith(PREFIX):  # is_routed's first case
        router, t = strings(model)
        return ChatTarget(ROUTED, router, t, routing_text(body["messages"], cfg.route_on))
    if model in cfg.profiles:
        return ChatTarget(PROFILE, model, 0.0, routing_text(body["messages"], cfg.route_on))
    if not pass_through:
        try:
            parse_model_string(model)  # says what a routed model string looks like
        except ValueError as exc:
            raise bad_request(str(exc), "model") from None
    routing_text(body["messages"], "conversation")  # validates the messages
    return ChatTarget(PASSED, model, 0.0, "")


def route_on_of(cfg: DecisionConfig, body: Mapping[str, Any]) -> str:
    route_on = body.get("route_on", cfg.route_on)
    if route_on not in ROUTE_ON:
        raise bad_request(f"route_on must be one of {ROUTE_ON}", "route_on")
    return route_on


def texts_to_route(cfg: DecisionConfig, body: Mapping[str, Any], route_on: str) -> list[str]:
    if "prompts" in body:
        texts = body["prompts"]
        if not isinstance(texts, list) or not all(isinstance(x, str) for x in texts):
            raise bad_request("'prompts' must be a list of strings", "prompts")
        field_name = "prompts"
    elif "prompt" in body:
        texts, field_name = [json_str(body["prompt"], "prompt")], "prompt"
    elif "messages_batch" in body:
        batch = body["messages_batch"]
        if not isinstance(batch, list):
            raise bad_request("'messages_batch' must be a list of message lists", "messages_batch")
        if len(batch) > cfg.max_queue:
            raise APIError(
                413,
                f"at most {cfg.max_queue} conversations per request (the routing queue's size); "
                f"got {len(batch)}: split it",
                "invalid_request_error",
                "messages_batch",
            )
        texts = [routing_text(m, route_on, f"messages_batch[{i}]") for i, m in enumerate(batch)]
        field_name = "messages_batch"
    elif "messages" in body:
        texts, field_name = [routing_text(body["messages"], route_on)], "messages"
    else:
        raise bad_request("give 'prompt', 'prompts', 'messages' or 'messages_batch'")
    if not texts:
        raise bad_request("no prompts to route", field_name)
    if len(texts) > cfg.max_queue:
        raise APIError(
            413,
            f"at most {cfg.max_queue} prompts per request (the routing queue's size); got {len(texts)}: split it",
            "invalid_request_error",
            field_name,
        )
    return texts
