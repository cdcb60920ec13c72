"""The HTTP front door hosted by Ray Serve: fastroute's OpenAI-compatible server in replicas
behind Serve's HTTP proxy, fixed in number or autoscaled.

Each replica builds its ServeConfig from the options of `fastroute serve` (build_config's
keywords: routers, targets, base_url / upstreams_file, api_key_env, batching, timeouts...)
and runs fastroute's own aiohttp app (app.create_app) behind an ASGI bridge
(asgi_bridge.py), so every route, status code, JSON error and stream event is the server's
own, and the routing decisions are the decision layer's (decision.Decider). Upstream keys are read by each replica from
its environment (the variables `api_key_env` names), never passed through Serve's config.

    from ray import serve
    from fastroute.frontends.http.ray_serve import build_app

    serve.run(build_app(["mf"], base_url="http://llm:8000/v1", num_replicas=2), route_prefix="/")
"""

from __future__ import annotations

import functools
import inspect
import os
from typing import Any, Callable, Sequence

from ...decision.config import DecisionConfig
from ...decision.environment import SERVER_ENVIRONMENT
from .app import create_app
from .asgi_bridge import AiohttpBridge
from .config import ServeConfig
from .server import access_log_to_stdout, build_config, runner_options

try:
    from ray import serve
except ImportError as exc:  # pragma: no cover - the ray extra is missing
    raise ImportError(
        f"fastroute's Ray Serve deployment needs the 'ray' extra: pip install 'fastroute[ray]' ({exc})"
    ) from exc

__all__ = ["DEFAULT_MAX_ONGOING_REQUESTS", "REPLICA_HEADER", "FastrouteReplica", "build_app", "config_factory"]
REPLICA_HEADER = "x-fastroute-replica"  # on every answer: which replica served it
DEFAULT_MAX_ONGOING_REQUESTS = 256  # Serve's default (5) is for model inference; a router batches many

ConfigFactory = Callable[[], ServeConfig]


def config_factory(routers: Sequence[str] = ("sw_ranking",), **options: Any) -> ConfigFactory:
    """A picklable factory of the ServeConfig `fastroute serve` would build from the same
    options: `build_config(list(routers), **options)`, run on each replica. Unknown option
    names are refused here, on the driver, rather than in every replica."""
    if "api_keys" in options:  # clients' keys in the clear in Serve's config: never
        raise TypeError("clients' API keys come from a file on every node: api_keys_file=PATH, not api_keys")
    known = {
        *inspect.signature(build_config).parameters,
        *inspect.signature(ServeConfig).parameters,
        *inspect.signature(DecisionConfig).parameters,
    } - {"routers", "options", "decision", "upstreams", "default_upstream", "api_keys", "known_models"}
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown fastroute serve option(s) {unknown}; known: {sorted(known)}")
    if isinstance(routers, str):
        routers = [routers]
    return functools.partial(build_config, list(routers), **options)


@serve.ingress()  # the ASGI app comes from __serve_build_asgi_app__, once per replica
class FastrouteReplica:
    """One replica: its ServeConfig (routers loaded and warmed up) and fastroute's app."""

    def __init__(self, factory: ConfigFactory) -> None:
        for name, value in SERVER_ENVIRONMENT.items():
            os.environ.setdefault(name, value)
        self.cfg = factory()
        access_log_to_stdout(self.cfg)  # a replica's stdout goes to its Ray log
        self.replica = serve.get_replica_context().replica_id.unique_id

    def __serve_build_asgi_app__(self) -> AiohttpBridge:
        app = create_app(self.cfg)  # validates the config, as `fastroute serve` does
        return AiohttpBridge(app, runner_options(self.cfg), {REPLICA_HEADER: self.replica})


def _with_server_environment(actor_options: "dict[str, Any]") -> "dict[str, Any]":
    """The actor options with SERVER_ENVIRONMENT in the runtime env (the caller's own values
    win): set before the replica process starts, as numpy's OpenBLAS reads its thread count
    at import, which is before a replica's __init__ runs."""
    runtime_env = dict(actor_options.get("runtime_env") or {})
    runtime_env["env_vars"] = {**SERVER_ENVIRONMENT, **(runtime_env.get("env_vars") or {})}
    return {**actor_options, "runtime_env": runtime_env}


def build_app(
    routers: Sequence[str] = ("sw_ranking",),
    *,
    factory: "ConfigFactory | None" = None,
    num_replicas: "int | None" = None,
    autoscaling_config: "dict[str, Any] | None" = None,
    num_cpus: float = 1.0,
    ray_actor_options: "dict[str, Any] | None" = None,
    max_ongoing_requests: int = DEFAULT_MAX_ONGOING_REQUESTS,
    name: str = "fastroute",
    **options: Any,
) -> Any:
    """A Ray Serve Application serving fastroute's routes, for `serve.run(app, route_prefix="/")`.

    `routers` and `options` are `fastroute serve`'s (build_config's keywords, e.g.
    strong_model, weak_model, base_url, upstreams_file, api_key_env, route_only, max_batch,
    upstream_timeout); or pass `factory`, a picklable callable returning the ServeConfig.
    Replicas: `num_replicas` (default 1), or `autoscaling_config` (Serve's: min_replicas,
    max_replicas, target_ongoing_requests, ...); each reserves `num_cpus` CPUs
    (`ray_actor_options`, if given, is Serve's whole actor options instead)."""
    if factory is not None and options:
        raise TypeError(f"give `factory` or fastroute serve options ({sorted(options)}), not both")
    if num_replicas is not None and autoscaling_config is not None:
        raise ValueError("give num_replicas or autoscaling_config, not both")
    if max_ongoing_requests < 1:
        raise ValueError("max_ongoing_requests must be >= 1")
    settings: dict[str, Any] = {
        "name": name,
        "ray_actor_options": _with_server_environment(
            ray_actor_options if ray_actor_options is not None else {"num_cpus": num_cpus}
        ),
        "max_ongoing_requests": max_ongoing_requests,
    }
    if autoscaling_config is not None:
        settings["autoscaling_config"] = autoscaling_config
    else:
        settings["num_replicas"] = 1 if num_replicas is None else num_replicas
    deployment = serve.deployment(FastrouteReplica).options(**settings)
    return deployment.bind(factory if factory is not None else config_factory(routers, **options))
