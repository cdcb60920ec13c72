"""An optional, structured access log: one JSON object per line, written at INFO to the
logger "fastroute.access" (route it with logging config; `fastroute serve` prints it to
stdout when nothing else handles it, see server.py).

`ServeConfig.access_log` is the sampled fraction of requests logged (0: off, the default;
1: all); when it is on at all, every 5xx is logged. When off, nothing here is installed: the
app has no extra middleware and no response signal. When on, an outer middleware (before
auth) times each request from its arrival, gives it a request id (the client's
`x-request-id` when it is a short safe token, else a new one) sent back as `x-request-id`,
and logs when the response is made (a stream: when it ends).

A record holds: ts (arrival, ISO 8601 UTC), id, method, path, status, latency_ms, stream
(the request asked for one), model (the requested `model` if a router string, profile or configured model; "other" for
any other name), routed_to (x-fastroute-model; configured names or "other"), router /
win_rate / threshold or profile / quality / cost_usd (from the x-fastroute-* headers or a
/v1/route answer; decisions: how many), first_byte_ms (streams), bytes_out, error_type /
error_code (error answers), upstream_request_id (the upstream's x-request-id), client (the
peer address); not the upstream's own status or latency (proxy.py keeps them to itself;
the relayed status is the status). Never a prompt, a message, an error message or a header such as
Authorization; client and upstream text is capped and kept ASCII (escaped), and the JSON
encoding escapes the rest.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import random
import re
import secrets
import time
from typing import Any, Callable

from aiohttp import web

from ..model_string import PREFIX, parse_model_string
from .config import ServeConfig
from .json_io import dumps
from .proxy import STATUS

try:
    import orjson
except ImportError:  # pragma: no cover - orjson comes with the serve extra
    orjson = None  # type: ignore[assignment]

log = logging.getLogger("fastroute.access")
_serve_log = logging.getLogger("fastroute.serve")
_Key = getattr(web, "RequestKey", None)  # aiohttp >= 3.12; plain strings before
# request keys: [request id, time of the first byte out, the upstream's x-request-id]; and
# (model, router, stream) as the request body named them (note_body, called by the handlers)
_ENTRY = _Key("fastroute_access", list) if _Key else "fastroute_access"
_BODY = _Key("fastroute_access_body", tuple) if _Key else "fastroute_access_body"
_SAFE_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,64}")
_PROCESS = secrets.token_hex(5)
_COUNTER = itertools.count(1)
_MAX_PARSED = 64 * 1024  # the largest answer body read back for an error's type or a route's decisions
_HEADERS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("x-fastroute-router", "router", str),
    ("x-fastroute-win-rate", "win_rate", float),
    ("x-fastroute-profile", "profile", str),
    ("x-fastroute-quality", "quality", float),
    ("x-fastroute-cost-usd", "cost_usd", float),
)


def check_fraction(value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"access_log must be a fraction in [0, 1] (0: off, 1: every request), not {value!r}")


def note_body(request: web.Request, body: dict) -> None:
    """Called by a handler (only when the log is on) with the parsed request body."""
    request[_BODY] = (body.get("model"), body.get("router"), body.get("stream") is True)


def _clip(text: str, n: int = 128) -> str:
    text = text[:n]
    return text if text.isascii() else text.encode("ascii", "backslashreplace").decode("ascii")


def _loads(payload: "bytes | bytearray") -> Any:
    try:
        return orjson.loads(payload) if orjson is not None else json.loads(payload)
    except ValueError:
        return None


class AccessLog:
    """The access log of one app; `random` (a float in [0, 1)) samples, so tests can seed it."""

    def __init__(self, cfg: ServeConfig) -> None:
        check_fraction(cfg.access_log)
        self.fraction = float(cfg.access_log)
        self.random: Callable[[], float] = random.random
        self.models = cfg.model_names() | set(cfg.profiles)
        self.routers = set(cfg.routers)
        self._router_strings: dict[str, bool] = {}
        self._second, self._stamp = -1, ""

    @web.middleware
    async def handle(self, request: web.Request, handler) -> web.StreamResponse:
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
            status = 499  # the client hung up before the answer
            raise
        except web.HTTPException as exc:  # a redirect errors_and_auth let through
            status = exc.status
            raise
        finally:
            if status >= 500 or self.fraction >= 1.0 or self.random() < self.fraction:
                try:
                    if log.isEnabledFor(logging.INFO):  # a record made directly: no caller lookup
                        line = dumps(self.record(request, resp, status, wall, t0, entry)).decode()
                        log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, line, (), None))
                except Exception:  # noqa: BLE001 - a record that cannot be made never fails the request
                    _serve_log.exception("access log: no record for %s %s", request.method, _clip(request.path))

    def label(self, name: Any) -> "str | None":
        """A model name as it may be logged: configured names and router strings of a served
        router as they are, any other name as "other"."""
        if not isinstance(name, str):
            return None
        if name in self.models:
            return _clip(name)
        if name.startswith(PREFIX) and len(name) <= 128:
            known = self._router_strings.get(name)
            if known is None:
                try:
                    known = parse_model_string(name).router in self.routers
                except ValueError:
                    known = False
                if len(self._router_strings) >= 1024:
                    self._router_strings.clear()
                self._router_strings[name] = known
            if known:
                return name
        return "other"

    def record(self, request: web.Request, resp, status: int, wall: float, t0: float, entry: list) -> dict:
        now, second = time.perf_counter(), int(wall)
        if second != self._second:  # the date and time to the second, formatted once a second
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        rec: dict[str, Any] = {
            "ts": f"{self._stamp}.{min(999, int((wall - second) * 1000.0)):03d}Z",
            "id": entry[0],
            "method": _clip(request.method, 16),
            "path": _clip(request.path, 256),
            "status": status,
            "latency_ms": round((now - t0) * 1000.0, 3),
        }
        model, router, stream = request.get(_BODY, (None, None, False))
        rec["stream"] = stream
        if (label := self.label(model)) is not None:
            rec["model"] = label
        if isinstance(router, str) and router in self.routers:
            rec["router"] = router
        if resp is not None:
            self._from_response(rec, resp, status)
            if stream and entry[1]:
                rec["first_byte_ms"] = round((entry[1] - t0) * 1000.0, 3)
        if entry[2] is not None:
            rec["upstream_request_id"] = _clip(entry[2], 64)
        if request.remote:
            rec["client"] = _clip(request.remote, 64)
        return rec

    def _from_response(self, rec: dict, resp, status: int) -> None:
        headers = resp.headers
        if (routed := headers.get("x-fastroute-model")) is not None:
            rec["routed_to"] = self.label(routed)
        for header, key, convert in _HEADERS:
            if (value := headers.get(header)) is not None:
                rec[key] = convert(value)
        body = resp.body if isinstance(resp, web.Response) else None
        if isinstance(body, (bytes, bytearray)):
            rec["bytes_out"] = len(body)
        elif resp.prepared:
            rec["bytes_out"] = resp.body_length
        if not isinstance(body, (bytes, bytearray)) or len(body) > _MAX_PARSED:
            return
        if status >= 400:
            err = _loads(body)
            err = err.get("error") if isinstance(err, dict) else None
            if isinstance(err, dict):
                for key in ("type", "code"):
                    if isinstance(err.get(key), str):
                        rec[f"error_{key}"] = _clip(err[key], 64)
        elif rec["path"] == "/v1/route" and status == 200:
            self._route_answer(rec, _loads(body))

    def _route_answer(self, rec: dict, answer: Any) -> None:
        """A /v1/route answer (server-made): its router and threshold or profile, and how many
        decisions; with one, the decision itself."""
        if not isinstance(answer, dict) or not isinstance(answer.get("decisions"), list):
            return
        if "profile" in answer:
            rec["profile"] = answer["profile"]
        else:
            rec["router"], rec["threshold"] = answer.get("router"), answer.get("threshold")
        rec["decisions"] = len(answer["decisions"])
        if len(answer["decisions"]) == 1 and isinstance(one := answer["decisions"][0], dict):
            rec["routed_to"] = self.label(one.get("model"))
            for key in ("win_rate", "quality", "cost_usd"):
                if key in one:
                    rec[key] = one[key]


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
