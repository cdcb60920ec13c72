"""One access-log record (access_log.py has the design and the list of fields): what is
taken from the request, the decision and the answer, and the model labels that keep names a
client chose out of the log. The decision and the bytes written are read from the request's
Outcome (outcome.py), so a record made after the client hung up still has them."""

from __future__ import annotations

import time
from typing import Any, Callable

from aiohttp import web

from ...decision.model_string import PREFIX, parse_model_string
from ...decision.validation import loads_strict
from .config import KNOWN_PATHS, ServeConfig
from .outcome import OUTCOME, PREPARED

_Key = getattr(web, "RequestKey", None)  # aiohttp >= 3.12; plain strings before
# request key: (model, router, stream) as the request body named them (note_body)
BODY = _Key("fastroute_access_body", tuple) if _Key else "fastroute_access_body"
_MAX_PARSED = 64 * 1024  # the largest answer body read back for an error's type or a route's decisions
_HEADERS: tuple[tuple[str, str, Callable[[str], Any]], ...] = (
    ("x-fastroute-router", "router", str),
    ("x-fastroute-win-rate", "win_rate", float),
    ("x-fastroute-profile", "profile", str),
    ("x-fastroute-quality", "quality", float),
    ("x-fastroute-cost-usd", "cost_usd", float),
)


def note_body(request: web.Request, body: dict) -> None:
    """Called by a handler (only when the log is on) with the parsed request body."""
    request[BODY] = (body.get("model"), body.get("router"), body.get("stream") is True)


def clip(text: str, n: int = 128) -> str:
    """At most `n` characters, ASCII (anything else escaped)."""
    text = text[:n]
    return text if text.isascii() else text.encode("ascii", "backslashreplace").decode("ascii")


def _loads(payload: "bytes | bytearray") -> Any:
    """An answer body's JSON (the server's own loader), or None when it is not JSON."""
    try:
        return loads_strict(bytes(payload))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError are ValueErrors too
        return None


class Records:
    """Makes the records of one app's access log."""

    def __init__(self, cfg: ServeConfig) -> None:
        self.models = cfg.model_names() | set(cfg.decision.profiles)
        self.routers = set(cfg.decision.routers)
        self._router_strings: dict[str, bool] = {}
        self._second, self._stamp = -1, ""

    def label(self, name: Any) -> "str | None":
        """A model name as it may be logged: configured names and router strings of a served
        router as they are, any other name as "other"."""
        if not isinstance(name, str):
            return None
        if name in self.models:
            return clip(name)
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

    def make(
        self, request: web.Request, resp: "web.StreamResponse | None", status: int, wall: float, t0: float, entry: list
    ) -> dict:
        """The record of `request`; `resp` is None when the handler was cancelled or raised,
        `entry` is [request id, time of the first byte out, the upstream's x-request-id]."""
        now, second = time.perf_counter(), int(wall)
        if second != self._second:  # the date and time to the second, formatted once a second
            self._second, self._stamp = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        rec: dict[str, Any] = {
            "ts": f"{self._stamp}.{min(999, int((wall - second) * 1000.0)):03d}Z",
            "id": entry[0],
            "method": clip(request.method, 16),
            "path": request.path if request.path in KNOWN_PATHS else "other",  # as the metrics label it
            "status": status,
            "latency_ms": round((now - t0) * 1000.0, 3),
        }
        model, router, stream = request.get(BODY, (None, None, False))
        rec["stream"] = stream
        if (label := self.label(model)) is not None:
            rec["model"] = label
        if isinstance(router, str) and router in self.routers:
            rec["router"] = router
        state = request.get(OUTCOME)
        headers = state.headers if state is not None and state.headers else getattr(resp, "headers", None)
        if headers:
            self._decision(rec, headers)
        body = resp.body if isinstance(resp, web.Response) else None
        if isinstance(body, (bytes, bytearray)):
            rec["bytes_out"] = len(body)
            if len(body) <= _MAX_PARSED:
                self._from_body(rec, body, status)
        elif state is not None and PREPARED in request:  # a stream: its bytes as they were written
            rec["bytes_out"] = state.sent
        elif resp is not None and resp.prepared:
            rec["bytes_out"] = resp.body_length
        if state is not None and state.error is not None:  # a started stream ended by an error event
            rec["error_type"] = clip(state.error[0], 64)
            if state.error[1] is not None:
                rec["error_code"] = clip(state.error[1], 64)
        if stream and entry[1]:
            rec["first_byte_ms"] = round((entry[1] - t0) * 1000.0, 3)
        if entry[2] is not None:
            rec["upstream_request_id"] = clip(entry[2], 64)
        if request.remote:
            rec["client"] = clip(request.remote, 64)
        return rec

    def _decision(self, rec: dict, headers: Any) -> None:
        """The routed model and why, from the x-fastroute-* headers."""
        if (routed := headers.get("x-fastroute-model")) is not None:
            rec["routed_to"] = self.label(routed)
        for header, key, convert in _HEADERS:
            if (value := headers.get(header)) is not None:
                rec[key] = convert(value)

    def _from_body(self, rec: dict, body: "bytes | bytearray", status: int) -> None:
        """An error answer's type and code; a /v1/route answer's decisions."""
        if status >= 400:
            err = _loads(body)
            err = err.get("error") if isinstance(err, dict) else None
            if isinstance(err, dict):
                for key in ("type", "code"):
                    if isinstance(err.get(key), str):
                        rec[f"error_{key}"] = clip(err[key], 64)
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
