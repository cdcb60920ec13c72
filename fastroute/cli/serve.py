"""fastroute serve: the OpenAI-compatible routing server."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import (
    add_backend_argument,
    add_served_routers,
    add_server_options,
    add_target_arguments,
    routing_options,
    server_environment,
)


def fraction(text: str) -> float:
    """--access-log's value: a number in [0, 1], else an argparse error that says so."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction in [0, 1] (0: off, 1: every request)")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_served_routers(p, default="sw_ranking")
    add_target_arguments(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--base-url",
        default=None,
        help="one OpenAI-compatible endpoint for every model (default: $OPENAI_BASE_URL, for the models "
        "the upstreams file does not list)",
    )
    g.add_argument(
        "--upstreams",
        type=Path,
        default=None,
        metavar="FILE",
        help="TOML file: model -> base_url, api_key_env, prices, scored_as (default: none, every model "
        "goes to --base-url)",
    )
    p.add_argument(
        "--route-only", action="store_true", help="serve /v1/route without any upstream (else one is required)"
    )
    p.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key for --base-url"
    )
    p.add_argument(
        "--api-keys-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="require one of these bearer keys (one per line) from clients (default: none, no key needed)",
    )
    add_server_options(
        p, port=6060, port_help="TCP port to listen on", profile_note="; [profiles.*] in --upstreams too"
    )
    p.add_argument("--max-wait-ms", type=float, default=0.0, help="hold a batch open this long to fill it")
    p.add_argument(
        "--upstream-timeout",
        type=float,
        default=60.0,
        help="longest silence from an upstream, in seconds (504, or an error event ending a stream); "
        "not a total: a long generation that keeps sending is never cut",
    )
    p.add_argument("--connect-timeout", type=float, default=10.0, help="seconds to connect to an upstream")
    p.add_argument(
        "--client-timeout",
        type=float,
        default=15.0,
        help="seconds a client may take to send a request's head (else the connection is closed), "
        "and again its body (else 408)",
    )
    p.add_argument("--metrics-auth", action="store_true", help="/metrics needs an API key too (with --api-keys-file)")
    p.add_argument(
        "--access-log",
        type=fraction,
        default=0,
        metavar="FRACTION",
        help="log this share of requests, one JSON line each (status, latency, the decision; never a prompt "
        "or key), to stdout unless the 'fastroute.access' logger is configured; every 5xx is logged while "
        "it is on; 1: every request (default: 0: off)",
    )
    add_backend_argument(p)


INSTALL_HINT = "fastroute serve: the server needs the 'serve' extra: pip install 'fastroute[serve]'"


def run(args: argparse.Namespace) -> int:
    import sys

    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:
        print(f"{INSTALL_HINT} ({exc})", file=sys.stderr)
        return 2

    server_environment()
    from ..frontends.http.server import build_config
    from ..frontends.http.server import run as serve

    cfg = build_config(
        args.routers,
        args.strong_model,
        args.weak_model,
        upstreams_file=args.upstreams,
        **routing_options(args),
        base_url=args.base_url,
        api_key_env=args.api_key_env,
        api_keys_file=args.api_keys_file,
        route_only=args.route_only,
        max_wait=args.max_wait_ms / 1000.0,
        upstream_timeout=args.upstream_timeout,
        connect_timeout=args.connect_timeout,
        client_timeout=args.client_timeout,
        metrics_auth=args.metrics_auth,
        access_log=float(args.access_log),
    )
    serve(cfg, args.host, args.port)
    return 0
