"""fastroute extproc: an Envoy external processor (gRPC) that routes requests inside Envoy.

Envoy calls it for each request (the ext_proc filter, examples/envoy/envoy.yaml), and routes
to the upstream cluster named by the `x-fastroute-model` header it sets."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (
    add_backend_argument,
    add_served_routers,
    add_server_options,
    add_target_arguments,
    decision_config,
    server_environment,
)

INSTALL_HINT = (
    "fastroute extproc: the Envoy external processor needs the 'envoy' extra (grpclib, grpcio, xds-protos): "
    "pip install 'fastroute[envoy]'"
)
# Kept here, not imported from fastroute.frontends.envoy.service, so that the parser loads no front door.
TRANSPORTS = ("grpclib", "grpcio")
NEEDS = {"grpclib": "grpclib", "grpcio": "grpc"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_served_routers(p, default="sw_ranking")
    add_target_arguments(p)
    p.add_argument(
        "--upstreams",
        type=Path,
        default=None,
        help="the TOML file of `fastroute serve`: its models' prices, scored_as and [profiles.*] are used; "
        "its base_urls are never called (Envoy's clusters are the upstreams) (default: none)",
    )
    add_server_options(p, port=50051, port_help="gRPC port to listen on (0 picks a free one)")
    p.add_argument(
        "--transport",
        choices=TRANSPORTS,
        default=TRANSPORTS[0],
        help="the gRPC library that serves Envoy: grpclib (pure asyncio, runs in the event loop: the "
        "fastest) or grpcio (grpc.aio); the messages are the same (default: %(default)s)",
    )
    add_backend_argument(p)


def run(args: argparse.Namespace) -> int:
    import importlib
    import sys

    try:
        importlib.import_module(NEEDS[args.transport])
        from envoy.service.ext_proc.v3 import external_processor_pb2  # noqa: F401
    except ImportError as exc:
        other = next(t for t in TRANSPORTS if t != args.transport)
        print(f"{INSTALL_HINT} (or try --transport {other}) ({exc})", file=sys.stderr)
        return 2

    server_environment()  # as for `fastroute serve`
    from ..frontends.envoy.service import run as serve_extproc

    cfg = decision_config(args)
    serve_extproc(cfg, args.host, args.port, args.transport)
    return 0
