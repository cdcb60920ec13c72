"""The middleware every request passes: API-key auth, an OpenAI-style JSON error for every
failure (a catch-all included, also inside a stream already started), one count per request."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web

from ...decision.errors import APIError, server_error
from .config import CONFIG, KNOWN_PATHS, METRICS, ServeConfig
from .outcome import PREPARED, STATUS, outcome, status_after_cancel
from .responses import json_response

log = logging.getLogger("fastroute.serve")


def _error_response(err: APIError) -> web.Response:
    return json_response(err.body(), status=err.status, headers=err.headers)


def _check_auth(cfg: ServeConfig, request: web.Request) -> None:
    if cfg.api_keys is None or not (
        request.path.startswith("/v1/") or (cfg.metrics_auth and request.path == "/metrics")
    ):
        return
    auth = request.headers.get("Authorization", "")
    if not auth.startswith("Bearer ") or auth[len("Bearer ") :].strip() not in cfg.api_keys:
        raise APIError(
            401,
            "missing or invalid API key (send 'Authorization: Bearer <key>')",
            "authentication_error",
            code="invalid_api_key",
        )


async def _end_started_stream(request: web.Request, err: APIError) -> web.StreamResponse:
    """A failure after a stream's headers went out: end that stream with an error event,
    never a second response inside it."""
    outcome(request).failed(request, err.status, err.type, err.code)  # counted and logged as the error
    resp = request[PREPARED]
    try:
        await outcome(request).write(resp, err.sse_event(), last=True)
        await resp.write_eof()
    except ConnectionResetError:
        pass
    return resp


@web.middleware
async def errors_and_auth(request: web.Request, handler):
    """Auth, a JSON error for every failure (a catch-all included), and one count per request."""
    cfg: ServeConfig = request.app[CONFIG]
    status = "500"
    try:
        _check_auth(cfg, request)
        resp = await handler(request)
        status = request.get(STATUS) or str(resp.status)
        return resp
    except APIError as err:
        status = str(err.status)
        return await _end_started_stream(request, err) if PREPARED in request else _error_response(err)
    except web.HTTPException as exc:
        status = str(exc.status)
        if exc.status < 400:
            raise
        message = exc.text if exc.text and not exc.text.lstrip().startswith("<") else (exc.reason or "error")
        headers = {k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
        return _error_response(APIError(exc.status, message, "invalid_request_error", headers=headers))
    except asyncio.CancelledError:
        # the client hung up; aiohttp cancelled the handler (and its upstream call): a 499,
        # unless the answer's last event had gone out (outcome.py)
        status = status_after_cancel(request)
        raise
    except Exception as exc:  # noqa: BLE001 - the catch-all: a bug must still answer JSON
        log.exception("unhandled %s on %s %s", type(exc).__name__, request.method, request.path)
        error = server_error(f"internal error ({type(exc).__name__}); the server log has the details")
        return await _end_started_stream(request, error) if PREPARED in request else _error_response(error)
    finally:
        request.app[METRICS].requests.inc(
            endpoint=request.path if request.path in KNOWN_PATHS else "other", status=status
        )
