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
import concurrent.futures
import logging
import time

from aiohttp import ClientSession, TCPConnector, web

from ..model_string import PREFIX
from . import profiles
from .batcher import MicroBatcher, Overloaded
from .config import BATCHERS, CONFIG, EXECUTOR, METRICS, SESSION, ServeConfig, Timeouts
from .errors import APIError, bad_request, server_error
from .messages import ROUTE_ON, routing_text
from .metrics import Registry
from .middleware import errors_and_auth
from .proxy import forward
from .request_body import json_body, router_and_threshold, texts_to_route
from .validation import json_bool, model_name

log = logging.getLogger("fastroute.serve")


async def _decide(app: web.Application, router: str, texts: list[str]):
    t0 = time.perf_counter()
    try:
        p = await app[BATCHERS][router].submit(texts)
    except Overloaded:
        raise APIError(
            503,
            "the routing queue is full; retry shortly",
            "server_overloaded",
            headers={"Retry-After": str(app[CONFIG].retry_after)},
        ) from None
    except ValueError as exc:  # this request's own prompts cannot be scored (batcher.py isolates it)
        raise bad_request(f"cannot route this request: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a scoring failure of this request only
        log.error("router %s failed on a request: %s", router, type(exc).__name__, exc_info=exc)
        raise server_error(f"routing failed ({type(exc).__name__}); the server log has the details") from None
    app[METRICS].routing_latency.observe(time.perf_counter() - t0, router=router)
    return p


async def route_handler(request: web.Request) -> web.Response:
    cfg: ServeConfig = request.app[CONFIG]
    body = await json_body(request)
    if isinstance(body.get("model"), str) and body["model"] in cfg.profiles:
        route_on = body.get("route_on", cfg.route_on)
        if route_on not in ROUTE_ON:
            raise bad_request(f"route_on must be one of {ROUTE_ON}", "route_on")
        name = body["model"]
        decisions = await profiles.choose(request.app, name, texts_to_route(cfg, body, route_on))
        return profiles.route_response(name, cfg.profiles[name], decisions)
    router, t = router_and_threshold(
        cfg, body.get("model"), body.get("router"), body.get("threshold"), body.get("strong_pct")
    )
    route_on = body.get("route_on", cfg.route_on)
    if route_on not in ROUTE_ON:
        raise bad_request(f"route_on must be one of {ROUTE_ON}", "route_on")
    texts = texts_to_route(cfg, body, route_on)
    r = cfg.routers[router]
    p = await _decide(request.app, router, texts)
    models = r.decide(p, t)
    metrics = request.app[METRICS]
    for m in models:
        metrics.decisions.inc(router=router, model=metrics.model(m))
    return web.json_response(
        {
            "object": "route",
            "router": router,
            "threshold": t,
            "decisions": [{"model": m, "win_rate": float(x)} for m, x in zip(models, p.tolist())],
        }
    )


async def chat_handler(request: web.Request) -> web.StreamResponse:
    cfg: ServeConfig = request.app[CONFIG]
    body = await json_body(request)
    if body.get("model") in (None, ""):
        raise bad_request("'model' is required", "model")
    model = model_name(body["model"])
    if "messages" not in body:
        raise bad_request("'messages' is required", "messages")
    stream = json_bool(body, "stream")
    metrics = request.app[METRICS]
    if model.startswith(PREFIX):
        router, t = router_and_threshold(cfg, model, None, None)
        text = routing_text(body["messages"], cfg.route_on)
        p = await _decide(request.app, router, [text])
        chosen = cfg.routers[router].decide(p, t)[0]
        metrics.decisions.inc(router=router, model=metrics.model(chosen))
        extra_headers = {
            "x-fastroute-model": chosen,
            "x-fastroute-win-rate": f"{float(p[0]):.6f}",
            "x-fastroute-router": router,
        }
    elif model in cfg.profiles:
        d = (await profiles.choose(request.app, model, [routing_text(body["messages"], cfg.route_on)]))[0]
        chosen = d.model
        extra_headers = {
            "x-fastroute-model": chosen,
            "x-fastroute-quality": f"{d.quality:.6f}",
            "x-fastroute-cost-usd": f"{d.cost:.8f}",
            "x-fastroute-profile": model,
        }
    else:
        routing_text(body["messages"], "conversation")  # validates the messages
        chosen = model
        extra_headers = {"x-fastroute-model": chosen}
    upstream = cfg.upstream_for(chosen)
    timeouts = Timeouts(connect=cfg.connect_timeout, idle=cfg.upstream_timeout)
    return await forward(
        request,
        request.app[SESSION],
        metrics,
        upstream,
        chosen,
        dict(body, model=chosen),
        stream,
        timeouts,
        extra_headers,
    )


async def models_handler(request: web.Request) -> web.Response:
    cfg: ServeConfig = request.app[CONFIG]
    data = []
    for name, r in sorted(cfg.routers.items()):
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
    data += profiles.model_entries(cfg)
    data += [{"id": m, "object": "model", "owned_by": "upstream"} for m in sorted(cfg.upstreams)]
    return web.json_response({"object": "list", "data": data})


async def health_handler(request: web.Request) -> web.Response:
    cfg: ServeConfig = request.app[CONFIG]
    return web.json_response(
        {
            "status": "ok",
            "routers": sorted(cfg.routers),
            "queued": {k: b.waiting for k, b in request.app[BATCHERS].items()},
        }
    )


async def metrics_handler(request: web.Request) -> web.Response:
    """Copies the values on the loop (cheap, bounded), formats them in a thread."""
    registry = request.app[METRICS]
    text = await asyncio.get_running_loop().run_in_executor(None, registry.render, registry.snapshot())
    return web.Response(
        text=text, content_type="text/plain", charset="utf-8", headers={"X-Content-Type-Options": "nosniff"}
    )


def create_app(cfg: ServeConfig) -> web.Application:
    if cfg.route_on not in ROUTE_ON:
        raise ValueError(f"route_on must be one of {ROUTE_ON}")
    if cfg.metrics_auth and cfg.api_keys is None:
        raise ValueError("metrics_auth needs API keys (--api-keys-file)")
    for name in ("upstream_timeout", "connect_timeout", "client_timeout"):
        if not getattr(cfg, name) > 0:
            raise ValueError(f"{name} must be > 0 seconds")
    app = web.Application(middlewares=[errors_and_auth], client_max_size=32 * 2**20)
    app[CONFIG] = cfg
    app[METRICS] = Registry(cfg.model_names())
    app[EXECUTOR] = concurrent.futures.ThreadPoolExecutor(
        max_workers=max(1, len(cfg.routers)), thread_name_prefix="fastroute-score"
    )
    app[BATCHERS] = {
        name: MicroBatcher(r, app[EXECUTOR], cfg.max_batch, cfg.max_wait, cfg.max_queue)
        for name, r in cfg.routers.items()
    }

    async def session_ctx(app: web.Application):
        app[SESSION] = ClientSession(connector=TCPConnector(limit=0, ttl_dns_cache=300))
        yield
        await app[SESSION].close()
        for batcher in app[BATCHERS].values():
            await batcher.close()
        app[EXECUTOR].shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.append(session_ctx)
    profiles.attach(app)
    app.router.add_post("/v1/chat/completions", chat_handler)
    app.router.add_post("/v1/route", route_handler)
    app.router.add_get("/v1/models", models_handler)
    app.router.add_get("/health", health_handler)
    app.router.add_get("/metrics", metrics_handler)
    return app
