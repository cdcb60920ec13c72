"""The one decision behind every front door: fastroute's own server, the Envoy external
processor, the LiteLLM plug-in, Ray Serve replicas and the Controller turn their protocol into
`decide_chat(body)` (or `route(body)`) and back, and hold no routing logic of their own.

`Decider` owns the micro-batchers of the routers (scored in a worker thread, so an event loop
never blocks), the profiles' own scoring thread, and the metrics; `decide_chat_now` is the
same decision made on the caller's thread, for callers without an event loop. Every problem
with a request is an APIError with an HTTP status and a message naming the field; a front
door maps it onto its own protocol (a JSON error, an Envoy immediate response, an exception).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from typing import Any, Mapping, NamedTuple

import numpy as np

from .batcher import MicroBatcher, Overloaded
from .config import DecisionConfig
from .errors import APIError, bad_request, server_error
from .metrics import Registry
from .request import (
    PASSED,
    PROFILE,
    ChatTarget,
    ModelStrings,
    chat_target,
    route_on_of,
    router_and_threshold,
    texts_to_route,
)

log = logging.getLogger("fastroute.serve")


class ChatDecision(NamedTuple):
    """Where one chat request goes: `model` (the upstream model to call), the `x-fastroute-*`
    headers that tell why, whether a router or profile chose it (False: passed through), and
    which router or profile did (`by`)."""

    model: str
    headers: dict[str, str]
    routed: bool
    by: "str | None" = None


def routed_decision(router: str, model: str, win_rate: float) -> ChatDecision:
    headers = {"x-fastroute-model": model, "x-fastroute-win-rate": f"{win_rate:.6f}", "x-fastroute-router": router}
    return ChatDecision(model, headers, True, router)


def profile_decision(profile: str, d: Any) -> ChatDecision:
    headers = {
        "x-fastroute-model": d.model,
        "x-fastroute-quality": f"{d.quality:.6f}",
        "x-fastroute-cost-usd": f"{d.cost:.8f}",
        "x-fastroute-profile": profile,
    }
    return ChatDecision(d.model, headers, True, profile)


def passed_decision(model: str) -> ChatDecision:
    return ChatDecision(model, {"x-fastroute-model": model}, False)


def _own_failure(what: str, name: str, exc: Exception) -> APIError:
    """A scoring failure of this request only: a 400 for prompts that cannot be scored, else a
    500 whose details go to the log, never to the client."""
    if isinstance(exc, ValueError):
        return bad_request(f"cannot route this request: {exc}")
    log.error("%s %s failed on a request: %s", what, name, type(exc).__name__, exc_info=exc)
    return server_error(f"routing failed ({type(exc).__name__}); the server log has the details")


def decide_chat_now(
    cfg: DecisionConfig, body: Mapping[str, Any], strings: ModelStrings, *, pass_through: bool = True
) -> ChatDecision:
    """Decider.decide_chat on the caller's thread, unbatched and without metrics, for callers
    with no event loop of their own (the Controller). A request's problems are APIErrors as
    there; a scoring failure is raised as the router raised it (the caller called it)."""
    target = chat_target(cfg, body, strings, pass_through=pass_through)
    if target.kind == PASSED:
        return passed_decision(target.name)
    if target.kind == PROFILE:
        return profile_decision(target.name, cfg.profiles[target.name].choose([target.text])[0])
    router = cfg.routers[target.name]
    p = router.win_rates([target.text])
    return routed_decision(target.name, router.decide(p, target.threshold)[0], float(p[0]))


class Decider:
    """Routers and profiles of one DecisionConfig, shared by concurrent requests of one event loop."""

    def __init__(self, cfg: DecisionConfig, metrics: "Registry | None" = None) -> None:
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
        self.model_strings = ModelStrings(cfg)

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
        except Exception as exc:  # noqa: BLE001 - this request's own (batcher.py isolates it)
            raise _own_failure("router", router, exc) from None
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
        except Exception as exc:  # noqa: BLE001 - a scoring failure of this request only
            raise _own_failure("profile", name, exc) from None
        finally:
            self.profile_pending -= len(texts)
        self.metrics.routing_latency.observe(time.perf_counter() - t0, router=name)
        for d in decisions:
            self.metrics.decisions.inc(router=name, model=self.metrics.model(d.model))
        return decisions

    async def decide_chat(self, body: Mapping[str, Any]) -> ChatDecision:
        """Where a chat completion request goes (request.chat_target says what `model` may be)."""
        target: ChatTarget = chat_target(self.cfg, body, self.model_strings)
        if target.kind == PASSED:
            return passed_decision(target.name)
        if target.kind == PROFILE:
            return profile_decision(target.name, (await self.choose(target.name, [target.text]))[0])
        p = await self.win_rates(target.name, [target.text])
        chosen = self.cfg.routers[target.name].decide(p, target.threshold)[0]
        self.metrics.decisions.inc(router=target.name, model=self.metrics.model(chosen))
        return routed_decision(target.name, chosen, float(p[0]))

    async def route(self, body: Mapping[str, Any]) -> dict:
        """The answer of /v1/route: decisions only, for one prompt or many."""
        cfg = self.cfg
        name = body.get("model")
        if isinstance(name, str) and name in cfg.profiles:
            profile = cfg.profiles[name]
            decisions = await self.choose(name, texts_to_route(cfg, body, route_on_of(cfg, body)))
            return {
                "object": "route",
                "profile": name,
                "policy": profile.policy,
                "value": profile.value,
                "decisions": [{"model": d.model, "quality": d.quality, "cost_usd": d.cost} for d in decisions],
            }
        router, t = router_and_threshold(cfg, name, body.get("router"), body.get("threshold"), body.get("strong_pct"))
        texts = texts_to_route(cfg, body, route_on_of(cfg, body))
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
