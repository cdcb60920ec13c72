"""The one decision core behind every front door: fastroute's own server, the Envoy external
processor and the LiteLLM plug-in turn their protocol into `decide_chat(body)` (or
`route(body)`) and back, and hold no routing logic of their own.

It owns the micro-batchers of the routers (scored in a worker thread, so the event loop never
blocks), the profiles' own scoring thread, and the metrics. Every problem with a request is an
APIError with an HTTP status and a message naming the field; a front door maps it onto its own
protocol (a JSON error, an Envoy immediate response, an exception in LiteLLM).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import NamedTuple

import numpy as np

from ..model_string import PREFIX
from .batcher import MicroBatcher, Overloaded
from .config import ServeConfig
from .errors import APIError, bad_request, server_error
from .messages import ROUTE_ON, routing_text
from .metrics import Registry
from .request_body import router_and_threshold, texts_to_route
from .validation import json_bool, model_name

log = logging.getLogger("fastroute.serve")


class ChatDecision(NamedTuple):
    """Where one chat request goes: `model` (the upstream model to call), the `x-fastroute-*`
    headers that tell why, and whether a router or profile chose it (False: passed through)."""

    model: str
    headers: dict[str, str]
    routed: bool


class RoutingCore:
    """Routers and profiles of one ServeConfig, shared by concurrent requests of one event loop."""

    def __init__(self, cfg: ServeConfig, metrics: "Registry | None" = None) -> None:
        if cfg.route_on not in ROUTE_ON:
            raise ValueError(f"route_on must be one of {ROUTE_ON}")
        self.cfg = cfg
        self.metrics = metrics if metrics is not None else Registry(cfg.model_names())
        self.executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, len(cfg.routers)), thread_name_prefix="fastroute-score"
        )
        self.batchers = {
            name: MicroBatcher(r, self.executor, cfg.max_batch, cfg.max_wait, cfg.max_queue, cfg.inline_below)
            for name, r in cfg.routers.items()
        }
        # Profiles score on their own thread, so that a burst of them never waits in front of
        # the routers' micro-batches; prompts waiting for it are bounded by max_queue too.
        self.profile_executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="fastroute-profile"
        )
        self.profile_pending = 0
        self._model_strings: dict[str, tuple[str, float]] = {}

    def _overloaded(self) -> APIError:
        return APIError(
            503,
            "the routing queue is full; retry shortly",
            "server_overloaded",
            headers={"Retry-After": str(self.cfg.retry_after)},
        )

    async def win_rates(self, router: str, texts: list[str]) -> np.ndarray:
        """The router's win rates for `texts`, batched with concurrent requests."""
        t0 = time.perf_counter()
        try:
            p = await self.batchers[router].submit(texts)
        except Overloaded:
            raise self._overloaded() from None
        except ValueError as exc:  # this request's own prompts cannot be scored (batcher.py isolates it)
            raise bad_request(f"cannot route this request: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a scoring failure of this request only
            log.error("router %s failed on a request: %s", router, type(exc).__name__, exc_info=exc)
            raise server_error(f"routing failed ({type(exc).__name__}); the server log has the details") from None
        self.metrics.routing_latency.observe(time.perf_counter() - t0, router=router)
        return p

    async def choose(self, name: str, texts: list[str]) -> list:
        """The profile's decisions for `texts`, scored off the event loop; a 503 when more than
        max_queue prompts already wait for the profiles."""
        profile = self.cfg.profiles[name]
        if self.profile_pending + len(texts) > self.cfg.max_queue:
            raise self._overloaded()
        self.profile_pending += len(texts)
        t0 = time.perf_counter()
        try:
            loop = asyncio.get_running_loop()
            decisions = await loop.run_in_executor(self.profile_executor, profile.choose, texts)
        except ValueError as exc:  # this request's own prompts cannot be scored
            raise bad_request(f"cannot route this request: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - a scoring failure of this request only
            log.error("profile %s failed on a request: %s", name, type(exc).__name__, exc_info=exc)
            raise server_error(f"routing failed ({type(exc).__name__}); the server log has the details") from None
        finally:
            self.profile_pending -= len(texts)
        self.metrics.routing_latency.observe(time.perf_counter() - t0, router=name)
        for d in decisions:
            self.metrics.decisions.inc(router=name, model=self.metrics.model(d.model))
        return decisions

    def _model_string(self, model: str) -> tuple[str, float]:
        """The router and threshold a router-<router>-<threshold|percent%> model names, parsed
        (and a share calibrated) once per distinct string: clients send the same few."""
        hit = self._model_strings.get(model)
        if hit is None:
            hit = router_and_threshold(self.cfg, model, None, None)  # raises for a bad one: never cached
            if len(self._model_strings) >= 1024:
                self._model_strings.clear()
            self._model_strings[model] = hit
        return hit

    async def decide_chat(self, body: dict) -> ChatDecision:
        """Where a chat completion request goes. `model` is router-<router>-<threshold> (or
        -<percent>%), a profile's name, or an upstream model (passed through; its messages
        are still validated)."""
        cfg = self.cfg
        if body.get("model") in (None, ""):
            raise bad_request("'model' is required", "model")
        model = model_name(body["model"])
        if "messages" not in body:
            raise bad_request("'messages' is required", "messages")
        json_bool(body, "stream")  # validated before any routing work
        if model.startswith(PREFIX):
            router, t = self._model_string(model)
            p = await self.win_rates(router, [routing_text(body["messages"], cfg.route_on)])
            chosen = cfg.routers[router].decide(p, t)[0]
            self.metrics.decisions.inc(router=router, model=self.metrics.model(chosen))
            headers = {
                "x-fastroute-model": chosen,
                "x-fastroute-win-rate": f"{float(p[0]):.6f}",
                "x-fastroute-router": router,
            }
            return ChatDecision(chosen, headers, True)
        if model in cfg.profiles:
            d = (await self.choose(model, [routing_text(body["messages"], cfg.route_on)]))[0]
            headers = {
                "x-fastroute-model": d.model,
                "x-fastroute-quality": f"{d.quality:.6f}",
                "x-fastroute-cost-usd": f"{d.cost:.8f}",
                "x-fastroute-profile": model,
            }
            return ChatDecision(d.model, headers, True)
        routing_text(body["messages"], "conversation")  # validates the messages
        return ChatDecision(model, {"x-fastroute-model": model}, False)

    async def route(self, body: dict) -> dict:
        """The answer of /v1/route: decisions only, for one prompt or many."""
        cfg = self.cfg
        name = body.get("model")
        if isinstance(name, str) and name in cfg.profiles:
            profile = cfg.profiles[name]
            decisions = await self.choose(name, texts_to_route(cfg, body, _route_on(cfg, body)))
            return {
                "object": "route",
                "profile": name,
                "policy": profile.policy,
                "value": profile.value,
                "decisions": [{"model": d.model, "quality": d.quality, "cost_usd": d.cost} for d in decisions],
            }
        router, t = router_and_threshold(cfg, name, body.get("router"), body.get("threshold"), body.get("strong_pct"))
        texts = texts_to_route(cfg, body, _route_on(cfg, body))
        p = await self.win_rates(router, texts)
        models = cfg.routers[router].decide(p, t)
        for m in models:
            self.metrics.decisions.inc(router=router, model=self.metrics.model(m))
        return {
            "object": "route",
            "router": router,
            "threshold": t,
            "decisions": [{"model": m, "win_rate": x} for m, x in zip(models, p.tolist())],
        }

    def queued(self) -> dict[str, int]:
        return {k: b.waiting for k, b in self.batchers.items()}

    async def close(self) -> None:
        """Answers what still waits with a 503 and stops the scoring threads."""
        for batcher in self.batchers.values():
            await batcher.close()
        self.shutdown()

    def shutdown(self) -> None:
        """Stops the scoring threads; callable without the event loop (e.g. once it has closed)."""
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.profile_executor.shutdown(wait=False, cancel_futures=True)


def _route_on(cfg: ServeConfig, body: dict) -> str:
    route_on = body.get("route_on", cfg.route_on)
    if route_on not in ROUTE_ON:
        raise bad_request(f"route_on must be one of {ROUTE_ON}", "route_on")
    return route_on
