"""What a decision is made with: the routers and profiles served, the models they route to,
and how requests are batched. Shared by every front door; their own settings (listening,
upstream calls, keys) live beside them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .messages import ROUTE_ON


@dataclass
class DecisionConfig:
    routers: dict[str, Any]  # name -> Router
    strong_model: str
    weak_model: str
    profiles: dict[str, Any] = field(default_factory=dict)  # name -> RoutingProfile (fastroute.profile)
    known_models: frozenset[str] = frozenset()  # other configured model names (an upstreams file's)
    route_on: str = "last_user"
    max_batch: int = 256
    max_wait: float = 0.0
    max_queue: int = 4096
    inline_below: float = 0.0005  # seconds: a batch expected to score faster runs on the caller's thread
    retry_after: int = 1  # seconds, sent with a 503 when the routing queue is full

    def __post_init__(self) -> None:
        if self.route_on not in ROUTE_ON:
            raise ValueError(f"route_on must be one of {ROUTE_ON}")

    def model_names(self) -> set[str]:
        """Every model name this configuration knows (the bounded metric labels)."""
        names = {self.strong_model, self.weak_model, *self.known_models}
        for r in self.routers.values():
            names.update(x for x in getattr(r, "targets", (r.strong_model, r.weak_model)) if x)
        for p in self.profiles.values():
            names.update(p.names)
        return names
