"""An optional, structured access log: one JSON object per line, written at INFO to the
logger "fastroute.access" (route it with logging config; `fastroute serve` prints it to
stdout when nothing else handles it, see server.py).

`ServeConfig.access_log` (`fastroute serve --access-log FRACTION`) is the sampled fraction
of requests logged (0: off, the default; 1: all); when it is on at all, every 5xx is
logged. When off, nothing here is installed: the app has no extra middleware and no
response signal. When on, an outer middleware (before auth) times each request from its
arrival, gives it a request id (the client's `x-request-id` when it is a short safe token,
else a new one) sent back as `x-request-id`, and logs when the response is made (a
stream: when it ends).

A record (access_record.py) holds: ts (arrival, ISO 8601 UTC), id, method, path, status,
latency_ms, stream (the request asked for one), model (the requested `model` if a router
string, profile or configured model; "other" for any other name), routed_to
(x-fastroute-model; configured names or "other"), router / win_rate / threshold or profile
/ quality / cost_usd (from the decision's x-fastroute-* headers or a /v1/route answer;
decisions: how many), first_byte_ms (streams), bytes_out (the body's bytes, before any
chunked framing), error_type / error_code (error answers), upstream_request_id (the
upstream's x-request-id), client (the peer address); not the upstream's own status or
latency (proxy.py keeps them to itself; the relayed status is the status). Never a prompt,
a message, an error message or a header such as Authorization; client and upstream text is
capped and kept ASCII (escaped), and the JSON encoding escapes the rest.

A client that hangs up makes aiohttp cancel the handler: the status is then 499, unless the
answer's last event had already gone out (the OpenAI client closes a stream as soon as it
has read `data: [DONE]`): that stream was delivered, and is logged as such (outcome.py).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import re
import secrets
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

from ...decision.json_io import dumps
from .access_record import Records, clip, note_body
from .config import ServeConfig
from .outcome import STATUS, status_after_cancel

__all__ = ["ACCESS_LOG", "AccessLog", "check_fraction", "install", "note_body"]
log = logging.getLogger("fastroute.access")
_serve_log = logging.getLogger("fastroute.serve")
_Key = getattr(web, "RequestKey", None)  # aiohttp >= 3.12; plain strings before
# request key: [request id, time of the first byte out, the upstream's x-request-id]
_ENTRY = _Key("fastroute_access", list) if _Key else "fastroute_access"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")
_PROCESS = secrets.token_hex(5)
_COUNTER = itertools.count(1)


def check_fraction(value: Any) -> None:
    """Refuses anything but a number in [0, 1] (a bool, a string, NaN included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"access_log must be a fraction in [0, 1] (0: off, 1: every request), not {value!r}")


class AccessLog:
    """The access log of one app; `random` (a float in [0, 1)) samples, so tests can seed it."""

    def __init__(self, cfg: ServeConfig) -> None:
        check_fraction(cfg.access_log)
        self.fraction = float(cfg.access_log)
        self.random: Callable[[], float] = random.random
        self.records = Records(cfg)

    @web.middleware
    async def handle(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        t0, wall = time.perf_counter(), time.time()
        rid = request.headers.get("x-request-id")
        entry = [rid if rid is not None and _SAFE_ID.fullmatch(rid) else f"{_PROCESS}{next(_COUNTER):06x}", 0.0, None]
        request[_ENTRY] = entry
        status, resp = 500, None
        try:
            resp = await handler(request)
            status = int(request.get(STATUS) or resp.status)
            return resp
        except asyncio.CancelledError:
            status = int(status_after_cancel(request))  # 499, unless the answer had been delivered
            raise
        except web.HTTPException as exc:  # a redirect errors_and_auth let through
            status = exc.status
            raise
        finally:
            if status >= 500 or self.fraction >= 1.0 or self.random() < self.fraction:
                try:
                    if log.isEnabledFor(logging.INFO):  # a record made directly: no caller lookup
                        line = dumps(self.records.make(request, resp, status, wall, t0, entry)).decode()
                        log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None))
                except Exception:  # noqa: BLE001 - a record that cannot be made never fails the request
                    _serve_log.exception("access log: no record for %s %s", request.method, clip(request.path))


async def _on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """Right before the headers go out: the request id, and the time of the first byte."""
    entry = request.get(_ENTRY)
    if entry is None:
        return
    upstream_id = response.headers.get("x-request-id")
    if upstream_id is not None and upstream_id != entry[0]:
        entry[2] = upstream_id  # relayed from the upstream: ours replaces it, the log keeps it
    response.headers["x-request-id"] = entry[0]
    entry[1] = time.perf_counter()


def install(app: web.Application, cfg: ServeConfig) -> None:
    """Puts the access log in front of the app's middlewares, when `cfg.access_log` > 0."""
    if not cfg.access_log:
        return
    access = app[ACCESS_LOG] = AccessLog(cfg)
    app.middlewares.insert(0, access.handle)  # the outermost: it times auth too
    app.on_response_prepare.append(_on_prepare)


ACCESS_LOG = web.AppKey("access_log", AccessLog)
