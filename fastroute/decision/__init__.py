"""The decision every front door calls, without any transport: what a request's `model`
means (a router at a threshold, a routing profile, a model passed through), the texts it
routes on, batching, validation, errors and metrics.

It imports no aiohttp, grpc, litellm or ray (tests/test_architecture.py checks it), so it
loads wherever fastroute does; the front doors (fastroute.frontends) turn their protocols
into these calls and back:

    cfg = build_decision(["mf"])                        # or DecisionConfig(routers=..., ...)
    decision = await Decider(cfg).decide_chat(body)     # batched, for an event loop
    decision = decide_chat_now(cfg, body, ModelStrings(cfg))  # on the caller's thread
"""

from .build import build_decision
from .config import DecisionConfig
from .decider import ChatDecision, Decider, decide_chat_now
from .errors import APIError
from .request import ModelStrings

__all__ = ["APIError", "ChatDecision", "Decider", "DecisionConfig", "ModelStrings", "build_decision", "decide_chat_now"]
