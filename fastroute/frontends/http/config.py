"""The HTTP server's configuration: the decision it serves (decision.DecisionConfig) and its
own settings (where each model is called, timeouts, client keys, the access log), and the
keys under which the app holds its shared state."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import ClientSession, ClientTimeout, web

from ...decision.config import DecisionConfig
from ...decision.errors import bad_request
from ...decision.metrics import Registry
from ...decision.targets import Upstream


@dataclass(frozen=True)
class Timeouts:
    connect: float
    idle: float
    total: "float | None" = None

    def client(self) -> ClientTimeout:
        return ClientTimeout(total=self.total, connect=self.connect, sock_read=self.idle)


@dataclass
class ServeConfig:
    decision: DecisionConfig
    upstreams: dict[str, Upstream] = field(default_factory=dict)
    default_upstream: "Upstream | None" = None  # for models not listed in `upstreams`
    api_keys: "frozenset[str] | None" = None
    upstream_timeout: float = 60.0  # longest silence from an upstream (idle read), not a total
    connect_timeout: float = 10.0
    client_timeout: float = 15.0  # for a client to send a request's head, and again its body
    metrics_auth: bool = False  # /metrics needs the API key too
    access_log: float = 0.0  # share of requests logged (access_log.py); 0: off, else every 5xx too

    def upstream_for(self, model: str) -> Upstream:
        up = self.upstreams.get(model, self.default_upstream)
        if up is None:
            known = sorted(self.upstreams)
            raise bad_request(f"no upstream serves model {model!r}" + (f"; known: {known}" if known else ""), "model")
        return up

    def model_names(self) -> set[str]:
        """Every model name this server is configured with (the bounded metric labels)."""
        return self.decision.model_names() | set(self.upstreams)


CONFIG = web.AppKey("config", ServeConfig)
METRICS = web.AppKey("metrics", Registry)
SESSION = web.AppKey("session", ClientSession)
KNOWN_PATHS = {"/v1/chat/completions", "/v1/route", "/v1/models", "/health", "/metrics"}
