"""The decision layer runs where no transport library is installed: imported, and a chat
request decided (batched on an event loop and on the caller's thread), in a process where
importing aiohttp, grpc, grpclib, litellm, ray, openai or envoy's protos fails."""

from __future__ import annotations

import subprocess
import sys

BLOCKED = ("aiohttp", "grpc", "grpclib", "litellm", "ray", "openai", "envoy", "uvloop", "orjson")

SCRIPT = f"""
import importlib.abc, pkgutil, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {BLOCKED!r}:
            raise ImportError(f"{{name}} is blocked in this test")
        return None

sys.meta_path.insert(0, Blocked())
import fastroute.decision as d
for info in pkgutil.walk_packages(d.__path__, "fastroute.decision."):
    __import__(info.name)  # every module of the layer, not only what __init__ re-exports

import asyncio
from fastroute import load_router
from fastroute.decision import Decider, DecisionConfig, ModelStrings, decide_chat_now

cfg = DecisionConfig({{"length": load_router("length", strong_model="big", weak_model="small")}}, "big", "small")
body = {{"model": "router-length-0.5", "messages": [{{"role": "user", "content": "x" * 5000}}]}}

async def batched():
    decider = Decider(cfg)
    try:
        return await decider.decide_chat(body)
    finally:
        await decider.close()

a, b = asyncio.run(batched()), decide_chat_now(cfg, body, ModelStrings(cfg))
assert a == b and a.model == "big" and a.headers["x-fastroute-router"] == "length", (a, b)
loaded = sorted(m for m in sys.modules if m.partition(".")[0] in {BLOCKED!r})
assert loaded == [], loaded
print("ok", a.model)
"""


def test_the_decision_layer_needs_no_transport():
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["ok", "big"]


def test_the_blocker_blocks():
    """The check can fail: the same blocker makes an import of a front door fail."""
    code = SCRIPT.split("import fastroute.decision")[0] + "import fastroute.frontends.http.app\n"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "aiohttp is blocked" in res.stderr
