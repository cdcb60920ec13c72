"""Forwarding one chat completion to its upstream, and turning every way that can fail into
an answer the client can read.

Before a response has started: a JSON error (502 connect/cut/bad body, 504 no byte within
the idle timeout; the upstream's own 4xx/5xx relayed with its status, its body masked).
After a stream has started: the stream ends with an SSE `data: {"error": ...}` event and
`data: [DONE]` (only whole events are ever forwarded, so the error event is never glued to
half of one). A client that hangs up cancels the upstream call (a 499, unless the stream's
last event had gone out: see outcome.py).

Timeouts: `connect` to open the connection, `idle` (sock_read) for the longest silence from
the upstream; no total, so a long, healthy generation is never cut.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

import aiohttp
from aiohttp import ClientConnectorError, ClientError, ClientPayloadError, ClientSession, ServerDisconnectedError, web

from ...decision.errors import APIError
from ...decision.json_io import dumps
from ...decision.metrics import Registry
from ...decision.targets import Upstream
from ...decision.validation import loads_strict
from .body_io import MAX_EVENT_BYTES, EventTooLarge, events_end, next_chunk, read_all
from .config import Timeouts
from .outcome import PREPARED, hung_up, outcome
from .redact import mask, response_headers

log = logging.getLogger("fastroute.serve")
_CONNECT_TIMEOUT = getattr(aiohttp, "ConnectionTimeoutError", ())  # aiohttp >= 3.10


class _Call:
    def __init__(
        self,
        request: web.Request,
        session: ClientSession,
        metrics: Registry,
        upstream: Upstream,
        model: str,
        timeouts: Timeouts,
        extra_headers: dict,
    ) -> None:
        self.request, self.session, self.metrics, self.upstream = request, session, metrics, upstream
        self.model, self.label, self.timeouts, self.extra_headers = model, metrics.model(model), timeouts, extra_headers

    def fail(self, status: int, kind: str, message: str, code: str) -> APIError:
        self.metrics.upstream_errors.inc(model=self.label, status=kind)
        type_ = "upstream_timeout" if status == 504 else "upstream_error"
        return APIError(
            status, f"upstream {self.upstream.display}: {message}", type_, code=code, headers=self.extra_headers
        )

    def transport_error(self, exc: BaseException, started: bool) -> APIError:
        prefix = "stream_" if started else ""
        if _CONNECT_TIMEOUT and isinstance(exc, _CONNECT_TIMEOUT):
            return self.fail(
                504, "timeout", f"could not connect within {self.timeouts.connect:g} s", "upstream_timeout"
            )
        if isinstance(exc, asyncio.TimeoutError):
            return self.fail(
                504,
                prefix + "timeout",
                f"sent nothing for {self.timeouts.idle:g} s" + (" (the stream stalled)" if started else ""),
                "upstream_timeout",
            )
        if isinstance(exc, ClientConnectorError):
            return self.fail(
                502, "connect", f"could not connect ({type(exc.os_error).__name__})", "upstream_unreachable"
            )
        if isinstance(exc, (ClientPayloadError, ServerDisconnectedError)):
            return self.fail(
                502,
                prefix + "cut",
                f"the connection broke before the answer was complete ({type(exc).__name__})",
                "upstream_cut",
            )
        return self.fail(
            502, prefix + "cut" if started else "connect", f"request failed ({type(exc).__name__})", "upstream_error"
        )

    def error_response(self, status: int, payload: bytes, headers) -> web.Response:
        """The upstream's own error, relayed with its status, as JSON, with secrets masked."""
        self.metrics.upstream_errors.inc(model=self.label, status=str(status))
        try:
            body = loads_strict(payload)
            ok = isinstance(body, dict) and isinstance(body.get("error"), (dict, str))
        except ValueError:
            ok = False
        if not ok:
            text = payload[:600].decode("utf-8", "replace")
            body = APIError(
                status,
                f"upstream {self.upstream.display} answered {status}: {text[:300]}",
                "upstream_error",
                code="upstream_http_error",
            ).body()
        # Masked after serialising: a key the upstream wrote with JSON escapes is plain text by now.
        text = mask(json.dumps(body, ensure_ascii=True), self.upstream.secrets())
        out = {**response_headers(headers), **self.extra_headers}
        out.pop("Content-Type", None), out.pop("content-type", None)
        return web.Response(text=text, status=status, content_type="application/json", headers=out)

    async def complete(self, forwarded: dict) -> web.Response:
        t0 = time.perf_counter()
        try:
            async with self._post(forwarded) as up:
                payload = await read_all(up, self.timeouts.idle)
                status, headers = up.status, up.headers
        except (asyncio.TimeoutError, ClientError) as exc:
            raise self.transport_error(exc, started=False) from None
        self.metrics.upstream_latency.observe(time.perf_counter() - t0, model=self.label)
        if status >= 400:
            return self.error_response(status, payload, headers)
        try:
            parsed = loads_strict(payload)
        except ValueError:  # UnicodeDecodeError included
            parsed = None
        if status != 200 or not isinstance(parsed, dict):
            raise self.fail(
                502, "bad_response", f"answered {status} with a body that is not a JSON object", "upstream_bad_response"
            )
        account_usage(self.metrics, self.upstream, self.label, parsed)
        return web.Response(
            body=payload,
            status=200,
            content_type="application/json",
            headers={
                **{k: v for k, v in response_headers(headers).items() if k.lower() != "content-type"},
                **self.extra_headers,
            },
        )

    async def stream(self, forwarded: dict) -> web.StreamResponse:
        t0 = time.perf_counter()
        try:
            async with self._post(forwarded) as up:
                if up.status != 200 or up.content_type != "text/event-stream":
                    payload = await read_all(up, self.timeouts.idle)
                    if up.status >= 400:
                        return self.error_response(up.status, payload, up.headers)
                    raise self.fail(
                        502,
                        "bad_response",
                        f"answered {up.status} ({up.content_type}) to a streaming request, not an event stream",
                        "upstream_bad_response",
                    )
                return await self._relay(up, t0)
        except (asyncio.TimeoutError, ClientError) as exc:
            if PREPARED in self.request:  # raised while answering the client: not the upstream's fault
                if isinstance(exc, ConnectionResetError):
                    hung_up(self.request)
                    return self.request[PREPARED]
                raise
            raise self.transport_error(exc, started=False) from None

    async def _relay(self, up, t0: float) -> web.StreamResponse:
        resp = web.StreamResponse(status=200, headers={**response_headers(up.headers), **self.extra_headers})
        resp.content_type = "text/event-stream"
        pending, state = b"", outcome(self.request)  # state: bytes sent, and whether the last event went out
        chunks = up.content.iter_any().__aiter__()
        try:
            await resp.prepare(self.request)
            self.request[PREPARED] = resp
            try:
                while (chunk := await next_chunk(chunks, self.timeouts.idle)) is not None:
                    scanned = max(0, len(pending) - 3)
                    pending += chunk
                    end = events_end(pending, scanned)
                    if end:
                        await state.write(resp, pending[:end])  # ends the answer at `data: [DONE]`
                        pending = pending[end:]
                    elif len(pending) > MAX_EVENT_BYTES:
                        raise EventTooLarge
                await state.write(resp, pending, last=True)  # the upstream's end of stream
            except (asyncio.TimeoutError, ClientError, EventTooLarge) as exc:
                if isinstance(exc, ConnectionResetError):  # the client's side, not the upstream's
                    raise
                err = (
                    self.fail(
                        502,
                        "stream_bad_response",
                        f"sent an event over {MAX_EVENT_BYTES} bytes",
                        "upstream_bad_response",
                    )
                    if isinstance(exc, EventTooLarge)
                    else self.transport_error(exc, started=True)
                )
                log.warning("stream from %s for %s ended early: %s", self.upstream.display, self.label, err.message)
                state.failed(self.request, err.status, err.type, err.code)
                await state.write(resp, err.sse_event(), last=True)
            else:
                self.metrics.upstream_latency.observe(time.perf_counter() - t0, model=self.label)
            await resp.write_eof()
        except ConnectionResetError:  # the client hung up (aiohttp's ClientConnectionResetError is one too)
            hung_up(self.request)
        return resp

    def _post(self, forwarded: dict):
        headers = {"Content-Type": "application/json", **self.upstream.headers()}
        for name in ("OpenAI-Organization", "OpenAI-Project"):
            if name in self.request.headers:
                headers[name] = self.request.headers[name]
        return self.session.post(
            self.upstream.chat_url,
            data=dumps(forwarded),  # parse_json let no NaN or infinity in
            headers=headers,
            timeout=self.timeouts.client(),
            allow_redirects=False,
        )


async def forward(
    request: web.Request,
    session: ClientSession,
    metrics: Registry,
    upstream: Upstream,
    model: str,
    forwarded: dict,
    stream: bool,
    timeouts: Timeouts,
    extra_headers: dict,
) -> web.StreamResponse:
    """Sends `forwarded` to `upstream` and answers the client (see the module docstring)."""
    call = _Call(request, session, metrics, upstream, model, timeouts, extra_headers)
    return await (call.stream(forwarded) if stream else call.complete(forwarded))


def account_usage(metrics: Registry, upstream: Upstream, label: str, payload: dict) -> None:
    """Counts the tokens an upstream reports and, with the upstreams file's prices, their cost."""
    usage = payload.get("usage")
    if not isinstance(usage, dict):
        return
    tin, tout = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    # Counters only go up by sane amounts: non-negative integers (not booleans), else not counted.
    if not all(type(n) is int and 0 <= n < 2**53 for n in (tin, tout)):
        return
    metrics.tokens.inc(tin, model=label, kind="input")
    metrics.tokens.inc(tout, model=label, kind="output")
    if upstream.price_per_1m_input is not None or upstream.price_per_1m_output is not None:
        cost = (tin * (upstream.price_per_1m_input or 0.0) + tout * (upstream.price_per_1m_output or 0.0)) / 1e6
        metrics.cost.inc(cost, model=label)
