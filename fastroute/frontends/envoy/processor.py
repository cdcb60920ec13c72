"""Envoy external processor (ext_proc): fastroute's routing inside Envoy.

Envoy keeps the connections, TLS, retries and load balancing; for each request it opens a
gRPC stream (`envoy.service.ext_proc.v3.ExternalProcessor/Process`) and sends the request's
headers, then its buffered body. This service parses the OpenAI chat-completions body, asks
the decision layer where it goes (`Decider.decide_chat`, the same call fastroute's own
server makes), and answers with the body's `model` rewritten and `x-fastroute-*` headers set
and the route cache cleared, so that an Envoy route matching `x-fastroute-model` picks the
upstream cluster. A request the decision refuses is answered by Envoy at once with the status and
JSON error fastroute's server gives. Requests that are not chat completions pass untouched.

This module is the protocol's state machine, one `Exchange` per stream, and knows no gRPC
library: the transports (grpclib_transport.py, grpcio_transport.py) only carry its messages, and
service.py runs one of them.
"""

from __future__ import annotations

import logging
from typing import Any

from ...decision.decider import Decider
from ...decision.errors import APIError, server_error
from ...decision.json_io import dumps
from ...decision.validation import parse_json
from . import messages as msg

log = logging.getLogger("fastroute.extproc")

SERVICE = "envoy.service.ext_proc.v3.ExternalProcessor"
METHOD = f"/{SERVICE}/Process"
_WANTED = frozenset({":method", ":path", "content-type"})
# A buffered chat body travels in one gRPC message each way: allow long conversations (Envoy's
# own buffer limit, per_connection_buffer_limit_bytes, bounds it before it gets here).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
STOP_GRACE_S = 5.0


def is_chat_completion(method: "str | None", path: "str | None") -> bool:
    """A POST to .../chat/completions (any prefix, any query): the requests that are routed."""
    if method != "POST" or not path:
        return False
    return path.partition("?")[0].rstrip("/").endswith("/chat/completions")


def _charset(content_type: str) -> "str | None":
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset":
            return value.strip().strip('"') or None
    return None


class Exchange:
    """One gRPC stream, that is one HTTP request: `await answer(request)` for each message
    Envoy sends, in order; once `done` is true the transport ends the stream (OK) without
    reading on. An exception out of answer() is a bug or a decision failure: the transport ends
    the stream with a gRPC error, and Envoy's failure_mode_allow decides (open or closed)."""

    __slots__ = ("decider", "chat", "charset", "done")

    def __init__(self, decider: Decider) -> None:
        self.decider = decider
        self.chat: "bool | None" = None  # None: no headers seen yet
        self.charset: "str | None" = None
        self.done = False

    async def answer(self, request: Any) -> Any:
        kind = request.WhichOneof("request")
        if kind == "request_headers":
            h = msg.header_values(request.request_headers, _WANTED)
            self.chat = chat = is_chat_completion(h.get(":method"), h.get(":path"))
            self.charset = _charset(h.get("content-type", ""))
            if chat and request.request_headers.end_of_stream:  # a chat request with no body
                self.done = True
                return await decide(self.decider, b"", self.charset)
            return msg.continue_unchanged(kind)
        if kind == "request_body" and self.chat is not False:
            if self.chat is None or not request.request_body.end_of_stream:
                self.done = True
                return msg.immediate(_misconfigured())
            answer = await decide(self.decider, request.request_body.body, self.charset)
            self.done = answer.HasField("immediate_response")
            return answer
        if kind is None:
            raise ValueError("a ProcessingRequest without a request")
        return msg.continue_unchanged(kind)


async def decide(decider: Decider, raw: bytes, charset: "str | None" = None) -> Any:
    """The answer to a whole chat body: routed (body and headers) or an immediate error."""
    try:
        body = parse_json(raw, charset)
        decision = await decider.decide_chat(body)
    except APIError as exc:
        return msg.immediate(exc)
    if not decision.routed and decision.model == body.get("model"):
        return msg.routed(decision.headers, None)  # passed through: the body is left as sent
    return msg.routed(decision.headers, dumps(dict(body, model=decision.model)))  # parse_json let no NaN in


def _misconfigured() -> APIError:
    """A body without its headers first, or in pieces: routing needs both whole (Envoy applies
    header mutations only while the headers are still held), so the request is refused loudly
    rather than sent on unrouted."""
    log.error("Envoy's ext_proc filter must send request headers (SEND) and the whole body (BUFFERED)")
    return server_error(
        "the gateway is misconfigured: fastroute's ext_proc filter needs request_header_mode SEND "
        "and request_body_mode BUFFERED"
    )


def address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def port_in_use(host: str, port: int, exc: BaseException) -> OSError:
    """The error both transports raise when they cannot listen."""
    return OSError(f"cannot listen on {address(host, port)}: {exc} (is another process using the port?)")
