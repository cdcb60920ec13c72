"""The ext_proc service on grpcio's asyncio API (grpc.aio): a thin carrier of processor.py's
messages. grpc-core runs its own poller thread, so each message crosses threads twice; the
grpclib transport (grpclib_transport.py) avoids that and is the default."""

from __future__ import annotations

from typing import Any, AsyncIterator

import grpc
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc

from ...decision.decider import Decider
from .processor import MAX_MESSAGE_BYTES, Exchange, address, port_in_use

SERVER_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.so_reuseport", 0),  # a second processor on the same port fails instead of sharing it
]


class ExtProcServicer:
    """One gRPC stream per HTTP request; the routing state is the decider's, shared by all."""

    def __init__(self, decider: Decider) -> None:
        self.decider = decider

    async def Process(self, requests: AsyncIterator[Any], context: Any) -> AsyncIterator[Any]:  # noqa: N802 - gRPC's name
        exchange = Exchange(self.decider)
        async for request in requests:
            yield await exchange.answer(request)
            if exchange.done:
                return


class GrpcioServer:
    """A started grpc.aio server: `port`, and stop(grace) that refuses new streams and lets
    those in flight finish for up to `grace` seconds."""

    def __init__(self, server: Any, port: int) -> None:
        self.server = server
        self.port = port

    async def stop(self, grace: "float | None") -> None:
        await self.server.stop(grace)


async def start(decider: Decider, host: str, port: int) -> GrpcioServer:
    server = grpc.aio.server(options=SERVER_OPTIONS)
    pb_grpc.add_ExternalProcessorServicer_to_server(ExtProcServicer(decider), server)
    try:
        bound = server.add_insecure_port(address(host, port))
    except RuntimeError as exc:
        raise port_in_use(host, port, exc) from None
    await server.start()
    return GrpcioServer(server, bound)
