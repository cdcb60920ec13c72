"""The OpenAI-compatible routing server (aiohttp).

POST /v1/chat/completions  `model` = router-<router>-<threshold> (routed) or an upstream
                           model (passed through); every other field is forwarded as is,
                           `stream: true` is proxied event by event (see proxy.py).
POST /v1/route             decisions only: {"prompt" | "prompts" | "messages" | "messages_batch",
                           "router", "threshold" | "strong_pct"} or {"model": "router-mf-0.3", ...}
                           (or "router-mf-50%": a share of strong calls, calibrated).
A router routes to its targets (any names: `--strong-model` / `--weak-model`); decisions,
the `x-fastroute-model` header and the upstream call all use those names.
GET  /v1/models, /health, /metrics (Prometheus; behind the API key with `metrics_auth`).

Every answer that is not a success is an OpenAI-style JSON error (see errors.py); requests
are validated whole (validation.py) before they join a batch or reach an upstream.
"""

from __future__ import annotations

import asyncio

from aiohttp import ClientSession, TCPConnector, web

from ...decision.decider import Decider
from ...decision.metrics import Registry
from ...decision.model_string import PREFIX
from ...decision.validation import json_bool
from . import access_log
from .config import CONFIG, METRICS, SESSION, ServeConfig, Timeouts
from .middleware import errors_and_auth
from .outcome import outcome
from .proxy import forward
from .request_body import json_body
from .responses import json_response

DECIDER = web.AppKey("decider", Decider)


async def route_handler(request: web.Request) -> web.Response:
    body = await json_body(request)
    if request.app[CONFIG].access_log:
        access_log.note_body(request, body)
    return json_response(await request.app[DECIDER].route(body))


async def chat_handler(request: web.Request) -> web.StreamResponse:
    cfg: ServeConfig = request.app[CONFIG]
    body = await json_body(request)
    if cfg.access_log:
        access_log.note_body(request, body)
    decision = await request.app[DECIDER].decide_chat(body)
    outcome(request).headers = decision.headers  # kept for the access log, should the client hang up
    stream = json_bool(body, "stream")
    upstream = cfg.upstream_for(decision.model)
    timeouts = Timeouts(connect=cfg.connect_timeout, idle=cfg.upstream_timeout)
    return await forward(
        request,
        request.app[SESSION],
        request.app[METRICS],
        upstream,
        decision.model,
        dict(body, model=decision.model),
        stream,
        timeouts,
        decision.headers,
    )


async def models_handler(request: web.Request) -> web.Response:
    cfg: ServeConfig = request.app[CONFIG]
    data = []
    for name, r in sorted(cfg.decision.routers.items()):
        calibrated = getattr(r, "win_rate_quantiles", None) is not None
        strong, weak = getattr(r, "targets", (r.strong_model, r.weak_model))
        data.append(
            {
                "id": f"{PREFIX}{name}-50%" if calibrated else f"{PREFIX}{name}-0.5",
                "object": "model",
                "owned_by": "fastroute",
                "router": name,
                "strong_model": strong,
                "weak_model": weak,
                "scored_pair": [r.strong_model, r.weak_model],
                "note": f"router-{name}-<threshold> (a raw threshold in [0, 1])"
                + (
                    f" or router-{name}-<percent>% (a share of strong calls; 50% is threshold {r.threshold_for(0.5):.5f})"
                    if calibrated
                    else "; no stored calibration, so no router-<router>-<percent>%"
                ),
            }
        )
    data += profile_entries(cfg.decision.profiles)
    data += [{"id": m, "object": "model", "owned_by": "upstream"} for m in sorted(cfg.upstreams)]
    return web.json_response({"object": "list", "data": data})


def profile_entries(profiles: dict) -> list[dict]:
    """/v1/models entries of the routing profiles."""
    return [
        {
            "id": name,
            "object": "model",
            "owned_by": "fastroute",
            "profile": name,
            "policy": p.policy,
            "value": p.value,
            "candidates": [
                {"model": c.name, "input_price": c.input_price, "output_price": c.output_price} for c in p.candidates
            ],
        }
        for name, p in sorted(profiles.items())
    ]


async def health_handler(request: web.Request) -> web.Response:
    cfg: ServeConfig = request.app[CONFIG]
    routers = sorted(cfg.decision.routers)
    return web.json_response({"status": "ok", "routers": routers, "queued": request.app[DECIDER].queued()})


async def metrics_handler(request: web.Request) -> web.Response:
    """Copies the values on the loop (cheap, bounded), formats them in a thread."""
    registry = request.app[METRICS]
    text = await asyncio.get_running_loop().run_in_executor(None, registry.render, registry.snapshot())
    return web.Response(
        text=text, content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"}
    )


def create_app(cfg: ServeConfig) -> web.Application:
    if cfg.metrics_auth and cfg.api_keys is None:
        raise ValueError("metrics_auth needs API keys (--api-keys-file)")
    for name in ("upstream_timeout", "connect_timeout", "client_timeout"):
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{name} must be > 0 seconds")
    access_log.check_fraction(cfg.access_log)
    app = web.Application(middlewares=[errors_and_auth], client_max_size=32 * 2**20)
    access_log.install(app, cfg)  # nothing at all when the access log is off
    app[CONFIG] = cfg
    app[METRICS] = Registry(cfg.model_names())
    app[DECIDER] = Decider(cfg.decision, app[METRICS])

    async def session_ctx(app: web.Application):
        app[SESSION] = ClientSession(connector=TCPConnector(limit=0, ttl_dns_cache=300))
        yield
        await app[SESSION].close()
        await app[DECIDER].close()

    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/v1/chat/completions", chat_handler)
    app.router.add_post("/v1/route", route_handler)
    app.router.add_get("/v1/models", models_handler)
    app.router.add_get("/health", health_handler)
    app.router.add_get("/metrics", metrics_handler)
    return app
