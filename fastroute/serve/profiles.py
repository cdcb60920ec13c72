"""Routing profiles in the server: N candidate models with prices behind one router,
addressed by the profile's name as the request's `model`.

An upstreams file may hold them beside its models::

    [profiles."cheap-and-good"]
    router = "sw_ranking"               # a router name, a default's name or a bundle directory
    policy = "max_value"                # or "within_margin", "under_budget"
    value = 20.0                        # lam, the margin or the budget (USD) of the policy
    candidates = [{ name = "gpt-4o" , scored_as = "gpt-4-1106-preview" }, { name = "gpt-4o-mini", scored_as = "mixtral-8x7b-instruct-v0.1" }]

A candidate's prices default to its [models."<name>"] entry's price_per_1m_input /
price_per_1m_output, and its scored_as to that entry's scored_as; `--profile NAME_OR_FILE`
adds a shipped profile (e.g. `routerbench`) or a JSON one. /v1/route answers each prompt
with the chosen model, its predicted quality and expected cost; a chat completion to the
profile goes to the chosen candidate's upstream.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from .config import CONFIG, METRICS, ServeConfig
from .errors import APIError, bad_request, server_error
from .upstreams import Upstream

log = logging.getLogger("fastroute.serve")


def profiles_from_upstreams(doc: dict, path: "str | Path", upstreams: dict[str, Upstream]) -> dict[str, Any]:
    """The [profiles.*] tables of an upstreams file, as RoutingProfiles."""
    from ..profile import profile_from_dict

    tables = doc.get("profiles", {})
    if not isinstance(tables, dict):
        raise ValueError(f'{path}: expected [profiles."<name>"] tables')
    out = {}
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("candidates"), list):
            raise ValueError(f"{path}: profile {name!r} needs a list of candidates")
        table = dict(table, candidates=[_with_upstream_defaults(c, upstreams) for c in table["candidates"]])
        out[name] = profile_from_dict(table, f"{path}: profile {name!r}", base_dir=Path(path).parent)
    return out


def _with_upstream_defaults(candidate: Any, upstreams: dict[str, Upstream]) -> Any:
    name = candidate.get("name") if isinstance(candidate, dict) else None
    up = upstreams.get(name) if isinstance(name, str) else None
    if up is None:
        return candidate
    defaults = {"input_price": up.price_per_1m_input, "output_price": up.price_per_1m_output, "scored_as": up.scored_as}
    return {**{k: v for k, v in defaults.items() if v is not None}, **candidate}


def check_profile_names(cfg: ServeConfig) -> None:
    """A profile's name is a `model`: it may not also name an upstream model or a router."""
    for name in cfg.profiles:
        if name in cfg.upstreams or name.startswith("router-"):
            raise ValueError(f"profile {name!r} has the name of an upstream model or a router model string")


# Profiles score on their own thread, so that a burst of them never waits in front of the
# routers' micro-batches; prompts waiting for it are bounded by max_queue, as the routers' are.
PROFILE_EXECUTOR = web.AppKey("profile_executor", concurrent.futures.ThreadPoolExecutor)
PROFILE_PENDING = web.AppKey("profile_pending", list)


def attach(app: web.Application) -> None:
    """The profiles' executor and queue counter (create_app calls it)."""
    app[PROFILE_EXECUTOR] = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="fastroute-profile")
    app[PROFILE_PENDING] = [0]

    async def close(app: web.Application):
        yield
        app[PROFILE_EXECUTOR].shutdown(wait=False, cancel_futures=True)

    app.cleanup_ctx.append(close)


async def choose(app: web.Application, name: str, texts: list[str]) -> list:
    """The profile's decisions for `texts`, scored off the event loop; a 503 when more than
    max_queue prompts already wait for the profiles."""
    cfg = app[CONFIG]
    profile, pending = cfg.profiles[name], app[PROFILE_PENDING]
    if pending[0] + len(texts) > cfg.max_queue:
        raise APIError(
            503,
            "the routing queue is full; retry shortly",
            "server_overloaded",
            headers={"Retry-After": str(cfg.retry_after)},
        )
    pending[0] += len(texts)
    t0 = time.perf_counter()
    try:
        decisions = await asyncio.get_running_loop().run_in_executor(app[PROFILE_EXECUTOR], profile.choose, texts)
    except ValueError as exc:  # this request's own prompts cannot be scored
        raise bad_request(f"cannot route this request: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a scoring failure of this request only
        log.error("profile %s failed on a request: %s", name, type(exc).__name__, exc_info=exc)
        raise server_error(f"routing failed ({type(exc).__name__}); the server log has the details") from None
    finally:
        pending[0] -= len(texts)
    metrics = app[METRICS]
    metrics.routing_latency.observe(time.perf_counter() - t0, router=name)
    for d in decisions:
        metrics.decisions.inc(router=name, model=metrics.model(d.model))
    return decisions


def route_response(name: str, profile: Any, decisions: list) -> web.Response:
    return web.json_response(
        {
            "object": "route",
            "profile": name,
            "policy": profile.policy,
            "value": profile.value,
            "decisions": [{"model": d.model, "quality": d.quality, "cost_usd": d.cost} for d in decisions],
        }
    )


def model_entries(cfg: ServeConfig) -> list[dict]:
    """/v1/models entries of the profiles."""
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
        for name, p in sorted(cfg.profiles.items())
    ]
