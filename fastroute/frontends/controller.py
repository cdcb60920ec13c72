"""`Controller`: RouteLLM's drop-in for the OpenAI client, on fastroute's routers.

    client = Controller(routers=["mf"], strong_model="gpt-4-1106-preview",
                        weak_model="anyscale/mistralai/Mixtral-8x7B-Instruct-v0.1")
    client.chat.completions.create(model="router-mf-50%", messages=[...])  # or router-mf-<threshold>
    client.chat.completions.create(router="mf", threshold=0.789, messages=[...])

`strong_model` / `weak_model` are the models to call (any names, as in RouteLLM); each router
scores its own pair, or the models these names match (see fastroute.load_router; `scored_as`
maps a name to the model it is scored as). Routes on the last user message (as RouteLLM),
then calls any OpenAI-compatible endpoint through the `openai` client (or LiteLLM with
backend="litellm", for other providers), with the chosen name as `model`.

With backend="litellm" the names keep their provider prefix ("anthropic/claude-3-5-sonnet-20240620",
"openai/gpt-4o-mini"): LiteLLM reads the provider from it. `base_url` / `api_key` go to every
call, as in RouteLLM; models of different providers take their own with `litellm_params`:

    Controller(routers=["mf"], strong_model="anthropic/claude-3-5-sonnet-20240620",
               weak_model="openai/gpt-4o-mini", backend="litellm",
               litellm_params={"anthropic/claude-3-5-sonnet-20240620": {"api_key": KEY}})
"""

from __future__ import annotations

import threading
from collections import defaultdict
from types import SimpleNamespace
from typing import Any, Sequence

import numpy as np

from ..decision.config import DecisionConfig
from ..decision.decider import ChatDecision, decide_chat_now
from ..decision.errors import APIError
from ..decision.model_string import router_model
from ..decision.request import ModelStrings


class RoutingError(ValueError):
    """A bad router name, threshold or model string."""


class Controller:
    def __init__(
        self,
        routers: Sequence[str],
        strong_model: str,
        weak_model: str,
        config: "dict[str, dict[str, Any]] | None" = None,
        base_url: "str | None" = None,
        api_key: "str | None" = None,
        backend: str = "openai",
        route_on: str = "last_user",
        *,
        api_base: "str | None" = None,
        scored_as: "dict[str, str] | None" = None,
        progress_bar: bool = False,
        profiles: "dict[str, Any] | None" = None,
        litellm_params: "dict[str, dict[str, Any]] | None" = None,
    ) -> None:
        """`config` maps a router name to options: {"bundle": DIR} picks a bundle or checkpoint
        directory other than the default of that name (RouteLLM's {"checkpoint_path": DIR} too:
        a local directory, see the README on getting RouteLLM's checkpoints); {"backend": "numpy"} a kernel backend. `api_base` is RouteLLM's
        name for `base_url`; `progress_bar` is accepted for RouteLLM's signature and unused.
        `profiles` maps a model name to a routing profile (a RoutingProfile, a shipped profile's
        name such as "routerbench", or a JSON file): `create(model=<that name>, ...)` calls the
        candidate it chooses. `litellm_params` (backend="litellm") maps a model name to the
        keyword arguments LiteLLM gets for it (api_base, api_key, ...), over `base_url` and
        `api_key`."""
        from ..loader import load_router

        if backend not in ("openai", "litellm"):
            raise ValueError(f"backend must be 'openai' or 'litellm', got {backend!r}")
        if api_base is not None:
            if base_url is not None and base_url != api_base:
                raise ValueError("give base_url or api_base (RouteLLM's name for it), not both")
            base_url = api_base
        config = config or {}
        self.routers = {}
        for name in routers:
            opts = dict(config.get(name, {}))
            if "bundle" in opts and "checkpoint_path" in opts:
                raise ValueError(f"router {name!r}: give bundle or checkpoint_path (RouteLLM's name for it), not both")
            self.routers[name] = load_router(
                opts.pop("bundle", None) or opts.pop("checkpoint_path", name),
                strong_model=strong_model,
                weak_model=weak_model,
                backend=opts.pop("backend", None),
                scored_as=scored_as,
            )
            if opts:
                raise ValueError(f"unknown options for router {name!r}: {sorted(opts)}")
        from ..profile import RoutingProfile, load_profile

        self.profiles = {
            name: p if isinstance(p, RoutingProfile) else load_profile(p) for name, p in (profiles or {}).items()
        }
        self.litellm_params = self._check_litellm_params(litellm_params, backend)
        self.decision = DecisionConfig(self.routers, strong_model, weak_model, self.profiles, route_on=route_on)
        self._model_strings = ModelStrings(self.decision)
        self.strong_model, self.weak_model = strong_model, weak_model
        self.base_url, self.api_key, self.backend, self.route_on = base_url, api_key, backend, route_on
        self.model_counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._lock = threading.Lock()
        self._sync_client: Any = None  # openai.OpenAI, made on first use
        self._async_client: Any = None  # openai.AsyncOpenAI, made on first use
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.completion, acreate=self.acompletion))

    def _check_litellm_params(self, params: "dict[str, dict[str, Any]] | None", backend: str) -> dict:
        if not params:
            return {}
        if backend != "litellm":
            raise ValueError("litellm_params needs backend='litellm'")
        targets = {t for r in self.routers.values() for t in r.targets}
        targets.update(n for p in self.profiles.values() for n in p.names)
        for name, opts in params.items():
            if name not in targets:
                raise ValueError(
                    f"litellm_params names {name!r}, which is no model routed to; models: {sorted(targets)}"
                )
            if not isinstance(opts, dict) or "model" in opts:
                raise ValueError(
                    f"litellm_params[{name!r}] must be a dict of LiteLLM keyword arguments, without 'model'"
                )
        return {name: dict(opts) for name, opts in params.items()}

    def _litellm_kwargs(self, kwargs: dict) -> dict:
        """The routed call's keyword arguments for LiteLLM: the Controller's endpoint, that
        model's own `litellm_params`, then the caller's."""
        return {
            "api_base": self.base_url,
            "api_key": self.api_key,
            **self.litellm_params.get(kwargs["model"], {}),
            **kwargs,
        }

    # -- routing ------------------------------------------------------------
    def _decide(self, model: Any, messages: Any) -> ChatDecision:
        """The decision layer's choice for a router model string or a profile's name (any
        other model is refused: the Controller routes every call it makes)."""
        try:
            return decide_chat_now(
                self.decision, {"model": model, "messages": messages}, self._model_strings, pass_through=False
            )
        except APIError as exc:
            raise RoutingError(exc.message) from None

    def _router(self, router: str):
        if router not in self.routers:
            raise RoutingError(f"unknown router {router!r}; routers here: {sorted(self.routers)}")
        return self.routers[router]

    def _model_string(self, router: Any, threshold: Any) -> str:
        """RouteLLM's router= and threshold= as the model string they stand for."""
        self._router(router)
        try:
            return router_model(router, threshold)
        except ValueError as exc:
            raise RoutingError(str(exc)) from None

    def route(self, prompt: str, router: str, threshold: float) -> str:
        """The model `prompt` goes to (RouteLLM's Controller.route)."""
        try:
            name, t = self._model_strings(self._model_string(router, threshold))
        except APIError as exc:
            raise RoutingError(exc.message) from None
        r = self.routers[name]
        return r.decide(r.win_rates([prompt]), t)[0]

    def batch_win_rates(self, prompts: Sequence[str], router: str) -> np.ndarray:
        return self._router(router).win_rates(list(prompts))

    def batch_calculate_win_rate(self, prompts: Sequence[str], router: str) -> np.ndarray:
        """RouteLLM's name for batch_win_rates (it took a pandas Series: any sequence of str
        does, a Series included); returns a numpy array in the prompts' order."""
        return self.batch_win_rates(prompts, router)

    def _routed_model(self, kwargs: dict, router: "str | None", threshold: "float | None") -> str:
        if "model" not in kwargs:
            if router is None or threshold is None:
                raise RoutingError(
                    "give model='router-<router>-<threshold>' or 'router-<router>-<percent>%', or router= and threshold="
                )
            kwargs["model"] = self._model_string(router, threshold)
        if "messages" not in kwargs:
            raise RoutingError("messages are required")
        decision = self._decide(kwargs["model"], kwargs["messages"])
        with self._lock:
            self.model_counts[decision.by or ""][decision.model] += 1
        return decision.model

    # -- completions --------------------------------------------------------
    def _clients(self):
        if self.backend == "litellm":
            try:
                import litellm
            except ImportError as exc:
                raise ImportError("backend='litellm' needs litellm: pip install 'fastroute[litellm]'") from exc
            return litellm
        with self._lock:
            if self._sync_client is None:
                try:
                    from openai import AsyncOpenAI, OpenAI
                except ImportError as exc:
                    raise ImportError("the Controller needs the openai client: pip install 'fastroute[serve]'") from exc
                self._sync_client = OpenAI(base_url=self.base_url, api_key=self.api_key)
                self._async_client = AsyncOpenAI(base_url=self.base_url, api_key=self.api_key)
        return None

    def completion(self, *, router: "str | None" = None, threshold: "float | None" = None, **kwargs: Any):
        """OpenAI's chat.completions.create, with the model chosen by the router."""
        kwargs["model"] = self._routed_model(kwargs, router, threshold)
        litellm = self._clients()
        if litellm is not None:
            return litellm.completion(**self._litellm_kwargs(kwargs))
        return self._sync_client.chat.completions.create(**kwargs)

    async def acompletion(self, *, router: "str | None" = None, threshold: "float | None" = None, **kwargs: Any):
        kwargs["model"] = self._routed_model(kwargs, router, threshold)
        litellm = self._clients()
        if litellm is not None:
            return await litellm.acompletion(**self._litellm_kwargs(kwargs))
        return await self._async_client.chat.completions.create(**kwargs)
