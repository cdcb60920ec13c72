"""A JSON answer, encoded as every front door encodes JSON (decision.json_io.dumps)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ...decision.json_io import dumps


def json_response(obj: Any, status: int = 200, headers: "dict | None" = None) -> web.Response:
    return web.Response(body=dumps(obj), status=status, headers=headers, content_type="application/json")
