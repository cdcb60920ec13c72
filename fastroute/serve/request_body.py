"""Reading a request: its JSON body (within the client timeout), the router and threshold it
names, and the texts it asks to route. Every problem is a 4xx naming the field."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from ..model_string import parse_model_string
from ..routers.inputs import NoCalibrationError
from .config import CONFIG, ServeConfig
from .errors import APIError, bad_request
from .messages import routing_text
from .validation import json_number, json_str, parse_json


async def json_body(request: web.Request) -> dict:
    cfg: ServeConfig = request.app[CONFIG]
    try:
        if request.content.is_eof():  # the whole body came with the head (the usual case): no timer
            raw = await request.read()
        else:
            raw = await asyncio.wait_for(request.read(), cfg.client_timeout)
    except asyncio.TimeoutError:
        raise APIError(
            408, f"the request body did not arrive within {cfg.client_timeout:g} s", "invalid_request_error"
        ) from None
    charset = request.charset if "charset=" in request.headers.get("Content-Type", "").lower() else None
    return parse_json(raw, charset)


def router_and_threshold(
    cfg: ServeConfig, model: Any, router: Any, threshold: Any, strong_pct: Any = None
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
        raise bad_request(f"unknown router {router!r}; this server has {sorted(cfg.routers)}", field_name)
    if threshold is None:
        pct = json_number(strong_pct, "strong_pct")
        if not 0.0 <= pct <= 1.0:
            raise bad_request(f"strong_pct must be a share in [0, 1], got {strong_pct!r}", "strong_pct")
        try:
            return router, float(cfg.routers[router].threshold_for(pct))
        except NoCalibrationError as exc:
            hint = "use a raw threshold (router-<router>-<threshold>, or 'threshold')"
            raise bad_request(str(exc.with_hint(hint)), "model" if model is not None else "strong_pct") from None
    t = json_number(threshold, "threshold")
    if not 0.0 <= t <= 1.0:
        raise bad_request(f"threshold must be in [0, 1], got {threshold!r}", "threshold")
    return router, t


def texts_to_route(cfg: ServeConfig, body: dict, route_on: str) -> list[str]:
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
