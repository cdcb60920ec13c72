"""LiteLLM routing plug-in: fastroute's decision inside `litellm.Router` and the LiteLLM proxy.

LiteLLM (>= 1.92) runs `Router(plugins=[...])` before it picks a deployment: each plug-in
gets a `RoutingContext` holding the request's messages, its metadata (`model_group`: the
model name the caller asked for) and `candidate_models`, the `litellm_params.model` of every
deployment of that group, and returns it narrowed. This plug-in asks the decision layer
(`Decider.decide_chat`, the call fastroute's own server makes) which model the request
goes to, and keeps the candidates serving that model. So one model group lists the strong
and the weak deployments, and is named as a fastroute model (`router-mf-0.5`,
`router-mf-50%`, a profile's name) or mapped to one with `groups`:

    plugin = FastrouteRoutingPlugin("mf", strong_model="openai/gpt-4o",
                                    weak_model="groq/llama-3.1-8b-instant")
    router = litellm.Router(model_list=[...two deployments named "router-mf-0.5"...],
                            plugins=[plugin])

Other groups pass untouched. When routing fails the request fails with a LiteLLM exception
carrying fastroute's status and message (fail-closed), or, with `fail_open=True`, goes on
with the unnarrowed candidates (Envoy's `failure_mode_allow`). The decision is recorded in
the request's metadata (`routing_plugin_signals["fastroute"]`: the x-fastroute-* headers);
the proxy sends them with the response with `response_headers` in `litellm_settings.callbacks`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any, Mapping, Sequence

from litellm.integrations.custom_logger import CustomLogger

from ..decision.build import build_decision
from ..decision.config import DecisionConfig
from ..decision.decider import Decider
from ..decision.errors import APIError, server_error
from ..decision.metrics import Registry
from ..decision.request import is_routed, router_and_threshold
from ..decision.targets import read_upstreams

log = logging.getLogger("fastroute.litellm")

SIGNAL = "fastroute"  # the key of the decision in the context's signals
__all__ = [
    "SIGNAL",
    "FastrouteHeaders",
    "FastrouteRoutingPlugin",
    "decision_headers",
    "response_headers",
    "routing_exception",
]


class FastrouteRoutingPlugin:
    """A LiteLLM `RoutingPlugin` (async `run(context)`) that narrows a fastroute-routed model
    group's candidates to the deployments of the model fastroute chooses."""

    def __init__(
        self,
        routers: "str | Sequence[str]" = "mf",
        strong_model: "str | None" = None,
        weak_model: "str | None" = None,
        *,
        profiles: "Sequence[str] | None" = None,
        groups: "Mapping[str, str] | None" = None,
        candidates: "Mapping[str, str | Sequence[str]] | None" = None,
        fail_open: bool = False,
        backend: "str | None" = None,
        scored_as: "Mapping[str, str] | None" = None,
        upstreams_file: "str | None" = None,
        **options: Any,
    ) -> None:
        """`routers`: router names or bundle directories (fastroute.load_router); `strong_model`
        / `weak_model`: the models fastroute decides between (default: each router's pair);
        `profiles`: routing profiles (names or JSON files). `groups` maps a LiteLLM
        model group to the fastroute model that routes it ("router-mf-50%", a profile name);
        groups named as one route as themselves. `candidates` maps a model fastroute chooses
        to the `litellm_params.model` names serving it (default: the same name, or it behind
        a provider prefix: "openai/gpt-4o" serves "gpt-4o"). `upstreams_file`: an upstreams
        file whose prices, scored_as and [profiles.*] are used (its base URLs are LiteLLM's
        business). `options` go to DecisionConfig (route_on, max_batch, max_queue, ...)."""
        cfg = build_decision(
            [routers] if isinstance(routers, str) else list(routers),
            strong_model,
            weak_model,
            backend=backend,
            scored_as=dict(scored_as or {}),
            profiles=list(profiles or []),
            upstreams=read_upstreams(upstreams_file) if upstreams_file is not None else None,
            **options,
        )
        self._setup(cfg, groups, candidates, fail_open)

    @classmethod
    def from_config(
        cls,
        cfg: DecisionConfig,
        *,
        groups: "Mapping[str, str] | None" = None,
        candidates: "Mapping[str, str | Sequence[str]] | None" = None,
        fail_open: bool = False,
    ) -> "FastrouteRoutingPlugin":
        """The plug-in over an already built DecisionConfig (fastroute.decision.build_decision)."""
        self = cls.__new__(cls)
        self._setup(cfg, groups, candidates, fail_open)
        return self

    def _setup(
        self,
        cfg: DecisionConfig,
        groups: "Mapping[str, str] | None",
        candidates: "Mapping[str, str | Sequence[str]] | None",
        fail_open: bool,
    ) -> None:
        self.cfg, self.fail_open = cfg, bool(fail_open)
        self.groups = dict(groups or {})
        for group, model in self.groups.items():
            if not is_routed(cfg, model):
                raise ValueError(
                    f"groups[{group!r}] = {model!r} is not a fastroute model: give router-<router>-<threshold>, "
                    f"router-<router>-<percent>% or a profile's name ({sorted(cfg.profiles)})"
                )
            if model not in cfg.profiles:
                try:
                    router_and_threshold(cfg, model, None, None)
                except APIError as exc:
                    raise ValueError(f"groups[{group!r}]: {exc.message}") from None
        self.candidates = {k: [v] if isinstance(v, str) else list(v) for k, v in (candidates or {}).items()}
        self.metrics = Registry(cfg.model_names())  # one registry for every event loop's decider
        self._deciders: dict[int, tuple[asyncio.AbstractEventLoop, Decider]] = {}
        self._lock = threading.Lock()

    def fastroute_model(self, group: object) -> "str | None":
        """The fastroute model that routes LiteLLM model group `group`; None: not routed."""
        if not isinstance(group, str):
            return None
        model = self.groups.get(group, group)
        return model if is_routed(self.cfg, model) else None

    def decider(self) -> Decider:
        """The Decider of the running event loop. Its micro-batchers bind futures to
        one loop, and the SDK may be driven from several (asyncio.run per call): each loop
        gets its own decider over the same loaded routers; those of closed loops are dropped."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._deciders.get(id(loop))
            if entry is not None and entry[0] is loop:
                return entry[1]
            for key, (old, decider) in list(self._deciders.items()):
                if old.is_closed():
                    del self._deciders[key]
                    decider.shutdown()
            decider = Decider(self.cfg, self.metrics)
            self._deciders[id(loop)] = (loop, decider)
            return decider

    def serving(self, decision: str, available: Sequence[str]) -> list[str]:
        """The candidate models (litellm_params.model) that serve `decision`."""
        if decision in self.candidates:
            wanted = set(self.candidates[decision])
            return [c for c in available if c in wanted]
        return [c for c in available if c == decision or c.endswith("/" + decision)]

    async def run(self, context: Any) -> Any:
        """LiteLLM's RoutingPlugin hook: narrow `context.candidate_models` to fastroute's choice."""
        group = context.metadata.get("model_group")
        model = self.fastroute_model(group)
        if model is None:
            return context  # not a fastroute-routed group: untouched
        available = list(context.candidate_models)
        try:
            decision = await self.decider().decide_chat({"model": model, "messages": context.structured_messages})
            keep = self.serving(decision.model, available)
            if not keep:
                raise server_error(
                    f"fastroute chose {decision.model!r}, but no deployment of model group {group!r} serves it "
                    f"(candidate models: {available}); name a deployment's litellm_params.model after it, "
                    f"or map it with candidates={{{decision.model!r}: [...]}}"
                )
        except APIError as exc:
            if not self.fail_open:
                raise routing_exception(exc, str(group)) from None
            log.warning("fastroute could not route a request to %s (%s); fail_open: unnarrowed", group, exc.message)
            context.signals[SIGNAL] = {"x-fastroute-error": exc.message}
            return context
        context.candidate_models = keep
        context.signals[SIGNAL] = dict(decision.headers)
        return context

    async def aclose(self) -> None:
        """Stops the running loop's decider (its batchers and scoring threads)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._deciders.pop(id(loop), None)
        if entry is not None and entry[0] is loop:
            await entry[1].close()


class FastrouteHeaders(CustomLogger):
    """A LiteLLM proxy callback that sends the x-fastroute-* headers of a request's decision
    with its response (`litellm_settings.callbacks: [fastroute.frontends.litellm_plugin.response_headers]`)."""

    async def async_post_call_response_headers_hook(
        self,
        data: dict,
        user_api_key_dict: Any,
        response: Any,
        request_headers: "dict[str, str] | None" = None,
        litellm_call_info: "dict[str, Any] | None" = None,
    ) -> "dict[str, str] | None":
        """The proxy's response-header hook: the x-fastroute-* headers the routing plug-in
        recorded on this request (none for a request it did not route)."""
        return decision_headers(data)


response_headers = FastrouteHeaders()


def decision_headers(request: Mapping[str, Any]) -> "dict[str, str] | None":
    """The x-fastroute-* headers the plug-in recorded on a LiteLLM request (its metadata)."""
    for key in ("metadata", "litellm_metadata"):
        metadata = request.get(key)
        if isinstance(metadata, Mapping):
            signals = metadata.get("routing_plugin_signals")
            if isinstance(signals, Mapping) and isinstance(signals.get(SIGNAL), Mapping):
                return {str(k): str(v) for k, v in signals[SIGNAL].items()}
    return None


def routing_exception(exc: APIError, group: str) -> Exception:
    """fastroute's refusal as the LiteLLM exception of the same status (400, 503 or 500),
    which the proxy answers with that status and fastroute's message."""
    import litellm

    message = f"fastroute could not route this request: {exc.message}"
    if exc.status == 503:
        return litellm.ServiceUnavailableError(message=message, llm_provider="fastroute", model=group)
    if exc.status >= 500:
        return litellm.InternalServerError(message=message, llm_provider="fastroute", model=group)
    return litellm.BadRequestError(message=message, model=group, llm_provider="fastroute")
