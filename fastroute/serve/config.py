"""The server's configuration and the keys under which the app holds its shared state."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

from .errors import bad_request
from .metrics import Registry
from .upstreams import Upstream


@dataclass(frozen=True)
class Timeouts:
    connect: float
    idle: float
    total: "float | None" = None

    def client(self) -> ClientTimeout:
        return ClientTimeout(total=self.total, connect=self.connect, sock_read=self.idle)


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
    inline_below: float = 0.0005  # seconds: a batch expected to score faster runs on the loop's thread
    upstream_timeout: float = 60.0  # longest silence from an upstream (idle read), not a total
    connect_timeout: float = 10.0
    client_timeout: float = 15.0  # for a client to send a request's head, and again its body
    metrics_auth: bool = False  # /metrics needs the API key too
    retry_after: int = 1
    profiles: dict[str, Any] = field(default_factory=dict)  # name -> RoutingProfile (serve/profiles.py)
    access_log: float = 0.0  # share of requests logged (access_log.py); 0: off, else every 5xx too

    def upstream_for(self, model: str) -> Upstream:
        up = self.upstreams.get(model, self.default_upstream)
        if up is None:
            known = sorted(self.upstreams)
            raise bad_request(f"no upstream serves model {model!r}" + (f"; known: {known}" if known else ""), "model")
        return up

    def model_names(self) -> set[str]:
        """Every model name this server is configured with (the bounded metric labels)."""
        names = {self.strong_model, self.weak_model, *self.upstreams}
        for r in self.routers.values():
            names.update(x for x in getattr(r, "targets", (r.strong_model, r.weak_model)) if x)
        for p in self.profiles.values():
            names.update(p.names)
        return names


CONFIG = web.AppKey("config", ServeConfig)
METRICS = web.AppKey("metrics", Registry)
SESSION = web.AppKey("session", ClientSession)
KNOWN_PATHS = {"/v1/chat/completions", "/v1/route", "/v1/models", "/health", "/metrics"}
