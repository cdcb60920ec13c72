"""Reading a request's JSON body within the client timeout, strictly (decision.validation)."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ...decision.errors import APIError
from ...decision.validation import parse_json
from .config import CONFIG, ServeConfig


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
