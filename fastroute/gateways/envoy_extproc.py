"""Envoy external processor (ext_proc): fastroute's routing inside Envoy.

Envoy keeps the connections, TLS, retries and load balancing; for each request it opens a
gRPC stream (`envoy.service.ext_proc.v3.ExternalProcessor/Process`) and sends the request's
headers, then its buffered body. This service parses the OpenAI chat-completions body, asks
the decision core where it goes (`RoutingCore.decide_chat`, the same call fastroute's own
server makes), and answers with the body's `model` rewritten and `x-fastroute-*` headers set
and the route cache cleared, so that an Envoy route matching `x-fastroute-model` picks the
upstream cluster. A request the core refuses is answered by Envoy at once with the status and
JSON error fastroute's server gives. Requests that are not chat completions pass untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any, AsyncIterator, Callable

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc

from ..serve.config import ServeConfig
from ..serve.core import RoutingCore
from ..serve.errors import APIError, server_error
from ..serve.json_io import dumps
from ..serve.validation import parse_json
from . import envoy_messages as msg

log = logging.getLogger("fastroute.extproc")

_WANTED = frozenset({":method", ":path", "content-type"})
# A buffered chat body travels in one gRPC message each way: allow long conversations (Envoy's
# own buffer limit, per_connection_buffer_limit_bytes, bounds it before it gets here).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),  # a second processor on the same port fails instead of sharing it
]
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


class ExtProcServicer:
    """One gRPC stream per HTTP request; the routing state is the core's, shared by all."""

    def __init__(self, core: RoutingCore) -> None:
        self.core = core

    async def Process(self, requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:  # noqa: N802 - gRPC's name
        """Answers each message Envoy sends for one request, in order."""
        chat: "bool | None" = None  # None: no headers seen yet
        charset = None
        async for request in requests:
            kind = request.WhichOneof("request")
            if kind == "request_headers":
                h = msg.header_values(request.request_headers, _WANTED)
                chat = is_chat_completion(h.get(":method"), h.get(":path"))
                charset = _charset(h.get("content-type", ""))
                if chat and request.request_headers.end_of_stream:  # a chat request with no body
                    yield await self.decide(b"", charset)
                    return
                yield msg.continue_unchanged(kind)
            elif kind == "request_body" and chat is not False:
                if chat is None or not request.request_body.end_of_stream:
                    yield msg.immediate(_misconfigured())
                    return
                answer = await self.decide(request.request_body.body, charset)
                yield answer
                if answer.HasField("immediate_response"):
                    return
            elif kind is not None:
                yield msg.continue_unchanged(kind)

    async def decide(self, raw: bytes, charset: "str | None" = None) -> Any:
        """The answer to a whole chat body: routed (body and headers) or an immediate error."""
        try:
            body = parse_json(raw, charset)
            decision = await self.core.decide_chat(body)
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


async def start(core: RoutingCore, host: str = "127.0.0.1", port: int = 50051) -> tuple[Any, int]:
    """Starts the gRPC server on `host:port` (0: a free port); returns it and the bound port."""
    server = grpc.aio.server(options=SERVER_OPTIONS)
    pb_grpc.add_ExternalProcessorServicer_to_server(ExtProcServicer(core), server)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise OSError(f"cannot listen on {address}: {exc} (is another process using the port?)") from None
    await server.start()
    return server, bound


async def serve(cfg: ServeConfig, host: str, port: int, on_ready: "Callable[[int], None] | None" = None) -> None:
    """Runs the processor until SIGINT or SIGTERM, then drains streams in flight for up to
    STOP_GRACE_S seconds and stops the scoring threads."""
    core = RoutingCore(cfg)
    try:
        server, bound = await start(core, host, port)
    except BaseException:
        await core.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    if on_ready is not None:
        on_ready(bound)
    try:
        await stop.wait()
    finally:
        await server.stop(STOP_GRACE_S)
        await core.close()


def run(cfg: ServeConfig, host: str = "127.0.0.1", port: int = 50051) -> None:
    """`fastroute extproc`: serve() on uvloop when it is installed."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass

    def ready(bound: int) -> None:
        print(
            f"fastroute extproc: routers {sorted(cfg.routers)}; profiles {sorted(cfg.profiles)}; "
            f"listening on {host}:{bound} (gRPC envoy.service.ext_proc.v3.ExternalProcessor)",
            flush=True,
        )

    asyncio.run(serve(cfg, host, port, ready))
