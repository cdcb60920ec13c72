"""Runs the ext_proc service (processor.py) on one of its two gRPC transports until
SIGINT or SIGTERM. Both carry the same messages from the same state machine; they differ only
in what they cost per message (benchmarks/envoy_overhead.py): grpclib runs in the event loop,
grpc.aio hops to grpc-core's poller thread and back."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any, Callable

from ...decision.config import DecisionConfig
from ...decision.decider import Decider
from .processor import STOP_GRACE_S, address

TRANSPORTS = ("grpclib", "grpcio")
DEFAULT_TRANSPORT = "grpclib"


async def start(
    decider: Decider, host: str = "127.0.0.1", port: int = 50051, transport: str = DEFAULT_TRANSPORT
) -> Any:
    """Starts the service on `host:port` (0: a free port); returns the started server, with
    its bound `port` and `await stop(grace)`. A port in use is an OSError naming it."""
    if transport == "grpclib":
        from . import grpclib_transport

        return await grpclib_transport.start(decider, host, port)
    if transport == "grpcio":
        from . import grpcio_transport

        return await grpcio_transport.start(decider, host, port)
    raise ValueError(f"unknown transport {transport!r}: one of {', '.join(TRANSPORTS)}")


async def serve(
    cfg: DecisionConfig,
    host: str,
    port: int,
    on_ready: "Callable[[int], None] | None" = None,
    transport: str = DEFAULT_TRANSPORT,
) -> None:
    """Runs the processor until SIGINT or SIGTERM, then drains streams in flight for up to
    STOP_GRACE_S seconds and stops the scoring threads."""
    decider = Decider(cfg)
    try:
        server = await start(decider, host, port, transport)
    except BaseException:
        await decider.close()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread
            loop.add_signal_handler(sig, stop.set)
    if on_ready is not None:
        on_ready(server.port)
    try:
        await stop.wait()
    finally:
        await server.stop(STOP_GRACE_S)
        await decider.close()


def run(cfg: DecisionConfig, host: str = "127.0.0.1", port: int = 50051, transport: str = DEFAULT_TRANSPORT) -> None:
    """`fastroute extproc`: serve() on uvloop when it is installed."""
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass

    def ready(bound: int) -> None:
        print(
            f"fastroute extproc: routers {sorted(cfg.routers)}; profiles {sorted(cfg.profiles)}; "
            f"listening on {address(host, bound)} (gRPC envoy.service.ext_proc.v3.ExternalProcessor, "
            f"transport {transport})",
            flush=True,
        )

    asyncio.run(serve(cfg, host, port, ready, transport))
