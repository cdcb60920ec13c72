"""Starts the routing server: loads routers, warms them up, runs aiohttp (uvloop if installed)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from .app import create_app
from .config import ServeConfig
from .upstreams import Upstream, load_upstreams


def read_api_keys(path: "str | Path") -> frozenset[str]:
    keys = frozenset(
        line.strip()
        for line in Path(path).read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    if not keys:
        raise ValueError(f"{path}: no API keys (one per line)")
    return keys


def build_config(
    routers: list[str],
    strong_model: str,
    weak_model: str,
    *,
    base_url: "str | None" = None,
    api_key_env: "str | None" = None,
    upstreams_file: "str | Path | None" = None,
    api_keys_file: "str | Path | None" = None,
    backend: "str | None" = None,
    **options,
) -> ServeConfig:
    from ..loader import is_router_name, load_router

    if base_url and upstreams_file:
        raise ValueError("give --base-url or --upstreams, not both")
    loaded = {}
    for spec in routers:
        r = load_router(spec, strong_model=strong_model, weak_model=weak_model, backend=backend)
        name = spec if is_router_name(spec) or "/" not in spec else Path(spec).name
        if r.embedder_spec is not None:
            r.win_rates(["warm-up"])  # load the embedder now, not on the first request
        loaded[name] = r
    return ServeConfig(
        routers=loaded,
        strong_model=strong_model,
        weak_model=weak_model,
        upstreams=load_upstreams(upstreams_file) if upstreams_file else {},
        default_upstream=Upstream(base_url.rstrip("/"), api_key_env) if base_url else None,
        api_keys=read_api_keys(api_keys_file) if api_keys_file else None,
        **options,
    )


def run(cfg: ServeConfig, host: str = "127.0.0.1", port: int = 6060) -> None:
    from aiohttp import web

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    web.run_app(
        create_app(cfg),
        host=host,
        port=port,
        **runner_options(cfg),
        print=lambda msg: print(f"fastroute serve: routers {sorted(cfg.routers)}; {msg}", flush=True),
    )


def runner_options(cfg: ServeConfig) -> dict:
    """aiohttp runner settings the server needs: cancel a handler when its client hangs up,
    and close a connection whose request head has not arrived within the header timeout."""
    return {"access_log": None, "handler_cancellation": True, "keepalive_timeout": cfg.client_timeout}
