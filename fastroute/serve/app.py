"""The OpenAI-compatible routing server (aiohttp).

POST /v1/chat/completions  `model` = router-<router>-<threshold> (routed) or an upstream
                           model (passed through); every other field is forwarded as is,
                           `stream: true` is proxied chunk by chunk.
POST /v1/route             decisions only: {"prompt" | "prompts" | "messages" | "messages_batch",
                           "router", "threshold"} or {"model": "router-mf-0.3", ...}.
GET  /v1/models, /health, /metrics (Prometheus).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector, web

from ..model_string import PREFIX, parse_router_model
from .batcher import MicroBatcher, Overloaded
from .errors import APIError, bad_request
from .messages import ROUTE_ON, routing_text
from .metrics import Registry
from .upstreams import Upstream

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding",
               "proxy-authenticate", "proxy-authorization", "te", "trailers", "upgrade"}


@dataclass
class ServeConfig:
    routers: dict[str, Any]  # name -> Router
    strong_model: str
    weak_model: str
    upstreams: dict[str, Upstream] = field(default_factory=dict)
    default_upstream: "Upstream | None" = None  # for models not listed in `upstreams`
    api_keys: "frozenset[str] | None" = None
    route_on: str = "last_user"
    max_batch: int = 256
    max_wait: float = 0.0
    max_queue: int = 4096
    upstream_timeout: float = 60.0
    retry_after: int = 1

    def upstream_for(self, model: str) -> Upstream:
        up = self.upstreams.get(model, self.default_upstream)
        if up is None:
            known = sorted(self.upstreams)
            raise bad_request(f"no upstream serves model {model!r}" + (f"; known: {known}" if known else ""), "model")
        return up


CONFIG = web.AppKey("config", ServeConfig)
BATCHERS = web.AppKey("batchers", dict)
METRICS = web.AppKey("metrics", Registry)
SESSION = web.AppKey("session", ClientSession)
EXECUTOR = web.AppKey("executor", concurrent.futures.ThreadPoolExecutor)


def _error_response(err: APIError) -> web.Response:
    return web.json_response(err.body(), status=err.status, headers=err.headers)


@web.middleware
async def errors_and_auth(request: web.Request, handler):
    cfg: ServeConfig = request.app[CONFIG]
    status = 500
    try:
        if cfg.api_keys is not None and request.path.startswith("/v1/"):
            auth = request.headers.get("Authorization", "")
            if not auth.startswith("Bearer ") or auth[len("Bearer "):].strip() not in cfg.api_keys:
                raise APIError(401, "missing or invalid API key (send 'Authorization: Bearer <key>')",
                               "authentication_error", code="invalid_api_key")
        resp = await handler(request)
        status = resp.status
        return resp
    except APIError as err:
        status = err.status
        return _error_response(err)
    except web.HTTPException as exc:
        status = exc.status
        return _error_response(APIError(exc.status, exc.reason or "error", "invalid_request_error"))
    finally:
        request.app[METRICS].requests.inc(endpoint=request.path if request.path in KNOWN_PATHS else "other",
                                          status=str(status))


async def _json_body(request: web.Request) -> dict:
    try:
        body = await request.json(loads=json.loads)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise bad_request("the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def _router_and_threshold(cfg: ServeConfig, model: "str | None", router: "str | None", threshold: Any):
    if model is not None:
        try:
            router, threshold = parse_router_model(model)
        except ValueError as exc:
            raise bad_request(str(exc), "model") from None
    if router is None or threshold is None:
        raise bad_request("give 'model' as router-<router>-<threshold>, or 'router' and 'threshold'")
    if router not in cfg.routers:
        raise bad_request(f"unknown router {router!r}; this server has {sorted(cfg.routers)}", "model")
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        raise bad_request(f"threshold {threshold!r} is not a number", "threshold") from None
    if not 0.0 <= t <= 1.0:
        raise bad_request(f"threshold must be in [0, 1], got {threshold!r}", "threshold")
    return router, t


async def _decide(app: web.Application, router: str, texts: list[str]):
    t0 = time.perf_counter()
    try:
        p = await app[BATCHERS][router].submit(texts)
    except Overloaded:
        raise APIError(503, "the routing queue is full; retry shortly", "server_overloaded",
                       headers={"Retry-After": str(app[CONFIG].retry_after)}) from None
    app[METRICS].routing_latency.observe(time.perf_counter() - t0, router=router)
    return p


async def route_handler(request: web.Request) -> web.Response:
    cfg: ServeConfig = request.app[CONFIG]
    body = await _json_body(request)
    router, t = _router_and_threshold(cfg, body.get("model"), body.get("router"), body.get("threshold"))
    route_on = body.get("route_on", cfg.route_on)
    if route_on not in ROUTE_ON:
        raise bad_request(f"route_on must be one of {ROUTE_ON}", "route_on")
    if "prompts" in body:
        texts = body["prompts"]
        if not isinstance(texts, list) or not all(isinstance(x, str) for x in texts):
            raise bad_request("'prompts' must be a list of strings", "prompts")
    elif "prompt" in body:
        if not isinstance(body["prompt"], str):
            raise bad_request("'prompt' must be a string", "prompt")
        texts = [body["prompt"]]
    elif "messages_batch" in body:
        batch = body["messages_batch"]
        if not isinstance(batch, list):
            raise bad_request("'messages_batch' must be a list of message lists", "messages_batch")
        texts = [routing_text(m, route_on) for m in batch]
    elif "messages" in body:
        texts = [routing_text(body["messages"], route_on)]
    else:
        raise bad_request("give 'prompt', 'prompts', 'messages' or 'messages_batch'")
    if not texts:
        raise bad_request("no prompts to route")
    r = cfg.routers[router]
    p = await _decide(request.app, router, texts)
    models = r.decide(p, t)
    for m in models:
        request.app[METRICS].decisions.inc(router=router, model=m)
    return web.json_response({"object": "route", "router": router, "threshold": t,
                              "decisions": [{"model": m, "win_rate": float(x)} for m, x in zip(models, p.tolist())]})


def _forward_headers(upstream: Upstream, request: web.Request) -> dict[str, str]:
    headers = {"Content-Type": "application/json", **upstream.headers()}
    for name in ("OpenAI-Organization", "OpenAI-Project"):
        if name in request.headers:
            headers[name] = request.headers[name]
    return headers


def _copy_headers(src) -> dict[str, str]:
    return {k: v for k, v in src.items() if k.lower() not in HOP_HEADERS}


async def chat_handler(request: web.Request) -> web.StreamResponse:
    cfg: ServeConfig = request.app[CONFIG]
    body = await _json_body(request)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' is required", "model")
    if "messages" not in body:
        raise bad_request("'messages' is required", "messages")
    extra_headers: dict[str, str] = {}
    if model.startswith(PREFIX):
        router, t = _router_and_threshold(cfg, model, None, None)
        text = routing_text(body["messages"], cfg.route_on)
        p = await _decide(request.app, router, [text])
        chosen = cfg.routers[router].decide(p, t)[0]
        request.app[METRICS].decisions.inc(router=router, model=chosen)
        extra_headers = {"x-fastroute-model": chosen, "x-fastroute-win-rate": f"{float(p[0]):.6f}",
                         "x-fastroute-router": router}
    else:
        routing_text(body["messages"], "conversation")  # validates the messages
        chosen = model
        extra_headers = {"x-fastroute-model": chosen}
    upstream = cfg.upstream_for(chosen)
    forwarded = dict(body, model=chosen)
    url = f"{upstream.base_url}/chat/completions"
    session = request.app[SESSION]
    metrics = request.app[METRICS]
    t0 = time.perf_counter()
    try:
        async with session.post(url, json=forwarded, headers=_forward_headers(upstream, request),
                                timeout=ClientTimeout(total=cfg.upstream_timeout)) as up:
            if up.status >= 400 or not body.get("stream"):
                payload = await up.read()
                metrics.upstream_latency.observe(time.perf_counter() - t0, model=chosen)
                if up.status >= 400:
                    metrics.upstream_errors.inc(model=chosen, status=str(up.status))
                else:
                    _account_usage(metrics, upstream, chosen, payload)
                headers = {**_copy_headers(up.headers), **extra_headers}
                return web.Response(body=payload, status=up.status, headers=headers)
            resp = web.StreamResponse(status=up.status, headers={**_copy_headers(up.headers), **extra_headers})
            resp.content_type = up.content_type or "text/event-stream"
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            metrics.upstream_latency.observe(time.perf_counter() - t0, model=chosen)
            return resp
    except asyncio.TimeoutError:
        metrics.upstream_errors.inc(model=chosen, status="timeout")
        raise APIError(504, f"upstream {url} did not answer within {cfg.upstream_timeout:g} s",
                       "upstream_timeout", headers=extra_headers) from None
    except ClientError as exc:
        metrics.upstream_errors.inc(model=chosen, status="connection")
        raise APIError(502, f"upstream {url} failed: {type(exc).__name__}: {exc}", "upstream_error",
                       headers=extra_headers) from None


def _account_usage(metrics: Registry, upstream: Upstream, model: str, payload: bytes) -> None:
    """Counts the tokens an upstream reports and, with the upstreams file's prices, their cost."""
    try:
        usage = json.loads(payload).get("usage") or {}
        tin, tout = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    except (ValueError, TypeError, AttributeError):
        return
    metrics.tokens.inc(tin, model=model, kind="input")
    metrics.tokens.inc(tout, model=model, kind="output")
    if upstream.price_per_1m_input is not None or upstream.price_per_1m_output is not None:
        cost = (tin * (upstream.price_per_1m_input or 0.0) + tout * (upstream.price_per_1m_output or 0.0)) / 1e6
        metrics.cost.inc(cost, model=model)


async def models_handler(request: web.Request) -> web.Response:
    cfg: ServeConfig = request.app[CONFIG]
    data = []
    for name, r in sorted(cfg.routers.items()):
        t = r.threshold_for(0.5) if getattr(r, "win_rate_quantiles", None) is not None else 0.5
        data.append({"id": f"{PREFIX}{name}-{round(t, 5)}", "object": "model", "owned_by": "fastroute",
                     "router": name, "strong_model": r.strong_model, "weak_model": r.weak_model,
                     "note": f"any threshold in [0, 1] works: router-{name}-<threshold>"})
    data += [{"id": m, "object": "model", "owned_by": "upstream"} for m in sorted(cfg.upstreams)]
    return web.json_response({"object": "list", "data": data})


async def health_handler(request: web.Request) -> web.Response:
    cfg: ServeConfig = request.app[CONFIG]
    return web.json_response({"status": "ok", "routers": sorted(cfg.routers),
                              "queued": {k: b.waiting for k, b in request.app[BATCHERS].items()}})


async def metrics_handler(request: web.Request) -> web.Response:
    return web.Response(text=request.app[METRICS].render(), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


KNOWN_PATHS = {"/v1/chat/completions", "/v1/route", "/v1/models", "/health", "/metrics"}


def create_app(cfg: ServeConfig) -> web.Application:
    if cfg.route_on not in ROUTE_ON:
        raise ValueError(f"route_on must be one of {ROUTE_ON}")
    app = web.Application(middlewares=[errors_and_auth], client_max_size=32 * 2**20)
    app[CONFIG] = cfg
    app[METRICS] = Registry()
    app[EXECUTOR] = concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(cfg.routers)),
                                                          thread_name_prefix="fastroute-score")
    app[BATCHERS] = {name: MicroBatcher(r, app[EXECUTOR], cfg.max_batch, cfg.max_wait, cfg.max_queue)
                     for name, r in cfg.routers.items()}

    async def session_ctx(app: web.Application):
        app[SESSION] = ClientSession(connector=TCPConnector(limit=0, ttl_dns_cache=300))
        yield
        await app[SESSION].close()
        app[EXECUTOR].shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/v1/chat/completions", chat_handler)
    app.router.add_post("/v1/route", route_handler)
    app.router.add_get("/v1/models", models_handler)
    app.router.add_get("/health", health_handler)
    app.router.add_get("/metrics", metrics_handler)
    return app
