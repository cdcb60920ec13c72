"""Starts the routing server: loads routers, warms them up, runs aiohttp (uvloop if installed)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import fields
from pathlib import Path

from ...decision.build import build_decision
from ...decision.targets import Upstream, read_upstreams
from .app import create_app
from .config import ServeConfig


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
    strong_model: "str | None" = None,
    weak_model: "str | None" = None,
    *,
    base_url: "str | None" = None,
    api_key_env: "str | None" = None,
    upstreams_file: "str | Path | None" = None,
    api_keys_file: "str | Path | None" = None,
    backend: "str | None" = None,
    scored_as: "dict[str, str] | None" = None,
    route_only: bool = False,
    profiles: "list[str] | None" = None,
    **options,
) -> ServeConfig:
    """The server's configuration: the decision (decision.build_decision, which takes the
    routing options: routers, targets, backend, scored_as, profiles, route_on, batching) and
    where each model is called. Models without an upstream of their own go to `base_url`,
    else to $OPENAI_BASE_URL; a strong or weak model with no upstream at all is refused here,
    unless `route_only` (only /v1/route is of use then). `options` are DecisionConfig's and
    ServeConfig's keywords."""
    if base_url and upstreams_file:
        raise ValueError("give --base-url or --upstreams, not both")
    served = {k: options.pop(k) for k in list(options) if k in SERVER_OPTIONS}
    upstreams = read_upstreams(upstreams_file) if upstreams_file else None
    decision = build_decision(
        routers, strong_model, weak_model, backend=backend, scored_as=scored_as, profiles=profiles,
        upstreams=upstreams, **options,
    )  # fmt: skip
    default = base_url or os.environ.get("OPENAI_BASE_URL") or None
    try:
        default_upstream = Upstream(default.rstrip("/"), api_key_env) if default else None
    except ValueError as exc:
        raise ValueError(f"{'--base-url' if base_url else 'OPENAI_BASE_URL'}: {exc}") from None
    cfg = ServeConfig(
        decision,
        upstreams=upstreams.models if upstreams is not None else {},
        default_upstream=default_upstream,
        api_keys=read_api_keys(api_keys_file) if api_keys_file else None,
        **served,
    )
    if not route_only:
        check_upstreams(cfg)
    return cfg


# ServeConfig's own keywords (the rest of build_config's options are the decision's).
SERVER_OPTIONS = frozenset(f.name for f in fields(ServeConfig)) - {
    "decision",
    "upstreams",
    "default_upstream",
    "api_keys",
}


def check_upstreams(cfg: ServeConfig) -> None:
    """Refuses a configuration in which a router's strong or weak model, or a profile's
    candidate, has no upstream."""
    if cfg.default_upstream is not None:
        return
    missing: dict[str, str] = {}
    for name, r in cfg.decision.routers.items():
        for role, target in zip(("strong", "weak"), r.targets):
            if target not in cfg.upstreams:
                missing.setdefault(target, f"{role} model of router {name}")
    for name, prof in cfg.decision.profiles.items():
        for target in prof.names:
            if target not in cfg.upstreams:
                missing.setdefault(target, f"candidate of profile {name}")
    if missing:
        listed = "; ".join(f"{m!r} ({why})" for m, why in missing.items())
        raise ValueError(
            f"no upstream serves {listed}: pass --base-url URL (one OpenAI-compatible endpoint for "
            f'every model), set OPENAI_BASE_URL, or give each a [models."<name>"] base_url in an '
            "--upstreams file (--route-only serves /v1/route without upstreams)"
        )


def run(cfg: ServeConfig, host: str = "127.0.0.1", port: int = 6060) -> None:
    from aiohttp import web

    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:
        pass
    app = create_app(cfg)  # validates cfg.access_log
    access_log_to_stdout(cfg)
    web.run_app(
        app,
        host=host,
        port=port,
        **runner_options(cfg),
        print=lambda msg: print(f"fastroute serve: routers {sorted(cfg.decision.routers)}; {msg}", flush=True),
    )


def access_log_to_stdout(cfg: ServeConfig) -> None:
    """With an access log (cfg.access_log > 0) and no handler of its own on the
    "fastroute.access" logger (none configured), its JSON lines go to stdout as they are."""
    logger = logging.getLogger("fastroute.access")
    if cfg.access_log > 0 and not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
        logger.propagate = False  # one line per request, not a second copy through the root logger
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)


def runner_options(cfg: ServeConfig) -> dict:
    """aiohttp runner settings the server needs: cancel a handler when its client hangs up,
    and close a connection whose request head has not arrived within the header timeout."""
    return {"access_log": None, "handler_cancellation": True, "keepalive_timeout": cfg.client_timeout}
