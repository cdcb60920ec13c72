"""The ext_proc service on grpclib: pure-asyncio gRPC (HTTP/2 by the h2 library) that runs in
the event loop itself, with no poller thread to hop to and back for each message, which is
why it adds less to a request than grpc.aio (benchmarks/envoy_overhead.py). A thin carrier of
processor.py's messages, as grpcio_transport.py is."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from grpclib.const import Cardinality, Handler, Status
from grpclib.exceptions import GRPCError
from grpclib.server import Server

from ...decision.decider import Decider
from .processor import METHOD, Exchange, port_in_use


class ExtProcHandler:
    """grpclib's handler of the Process method: counts the streams in flight so that stop()
    can let them finish, and refuses new ones (UNAVAILABLE: Envoy's failure_mode_allow then
    decides) once it is stopping."""

    def __init__(self, decider: Decider) -> None:
        self.decider = decider
        self.active = 0
        self.stopping = False

    def __mapping__(self) -> dict[str, Handler]:
        return {METHOD: Handler(self.process, Cardinality.STREAM_STREAM, pb.ProcessingRequest, pb.ProcessingResponse)}

    async def process(self, stream: Any) -> None:
        if self.stopping:
            raise GRPCError(Status.UNAVAILABLE, "fastroute extproc is shutting down")
        self.active += 1
        try:
            exchange = Exchange(self.decider)
            send = stream.send_message
            async for request in stream:
                await send(await exchange.answer(request))
                if exchange.done:
                    return
        finally:
            self.active -= 1


class GrpclibServer:
    """A started grpclib server: `port`, and stop(grace) as GrpcioServer's."""

    def __init__(self, server: Server, handler: ExtProcHandler, port: int) -> None:
        self.server = server
        self.handler = handler
        self.port = port

    async def stop(self, grace: "float | None") -> None:
        self.handler.stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (grace or 0.0)
        while self.handler.active and loop.time() < deadline:
            await asyncio.sleep(0.01)
        self.server.close()  # cancels what is still in flight
        await self.server.wait_closed()


def _bound_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (not listening yet): bound here, not by grpclib, so that a
    port in use is reported clearly and port 0's choice can be read back."""
    try:
        family, kind, proto, _, sockaddr = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise port_in_use(host, port, exc) from None
    try:
        # As asyncio's own servers: a restart may reuse a port whose old connections linger in
        # TIME_WAIT; a port another process listens on still fails (no SO_REUSEPORT).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(sockaddr)
    except OSError as exc:
        sock.close()
        raise port_in_use(host, port, exc) from None
    return sock


async def start(decider: Decider, host: str, port: int) -> GrpclibServer:
    handler = ExtProcHandler(decider)
    server = Server([handler])
    sock = _bound_socket(host, port)
    bound = sock.getsockname()[1]
    await server.start(sock=sock)
    return GrpclibServer(server, handler, bound)
