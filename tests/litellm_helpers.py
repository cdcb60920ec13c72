"""Shared by the LiteLLM plug-in tests and benchmarks/litellm_overhead.py: LiteLLM kept offline,
prompts that fastroute sends to each side (with the threshold that splits them, computed from
the router's own win rates), and the LiteLLM proxy started as a process on a loopback port."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

# LiteLLM fetches its cost map and checks for releases at start-up unless told not to.
OFFLINE_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_OFFLINE_MODE": "true",
    "LITELLM_DISABLE_LATEST_RELEASE_CHECK": "true",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
    "DISABLE_ADMIN_UI": "True",
}
for _k, _v in OFFLINE_ENV.items():
    os.environ.setdefault(_k, _v)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "litellm"

PROMPTS = [
    "hi",
    "thanks!",
    "What's 2+2?",
    "Tell me a joke about cats.",
    "Translate 'good morning' to French.",
    "Name three colors.",
    "Write a haiku about the sea.",
    "Prove that there are infinitely many primes of the form 4k+3.",
    "Derive the closed form of the Black-Scholes price of a European call option, step by step.",
    "Implement a lock-free multi-producer multi-consumer queue in C++ and prove it linearizable.",
    "Explain the difference between a monad and an applicative functor with Haskell examples.",
    "Design a distributed consensus protocol tolerant to Byzantine faults and analyze its message complexity.",
    "Solve the differential equation y'' + 4y' + 4y = e^{-2x} sin x and verify the solution.",
    "Write a Rust function that parses RFC 3339 timestamps without allocation, with tests.",
]


def split_prompts(router) -> tuple[float, list[str], list[str]]:
    """A threshold halfway between the router's win rates on PROMPTS, so that both sides get
    chosen, and the prompts it sends to the strong and to the weak model (the router's own
    decide(), in process)."""
    rates = [float(x) for x in router.win_rates(PROMPTS)]
    ordered = sorted(set(rates))
    if len(ordered) < 2:
        raise AssertionError(f"the router gives every prompt the same win rate ({ordered})")
    gaps = [(b - a, a, b) for a, b in zip(ordered, ordered[1:])]
    mid = len(gaps) // 2  # the widest gap near the middle keeps both sides populated
    gap, lo, hi = max(gaps[max(0, mid - 3) : mid + 4])
    # far from every win rate, so that no decision hangs on rounding (a batch of one and a
    # batch of many may differ in the last bits)
    assert gap > 1e-3, f"no clear gap between the win rates near the middle: {ordered}"
    threshold = float(f"{(lo + hi) / 2:.6f}")
    chosen = router.decide(rates, threshold)
    strong = [p for p, m in zip(PROMPTS, chosen) if m == router.strong_target]
    weak = [p for p, m in zip(PROMPTS, chosen) if m == router.weak_target]
    assert strong and weak, (threshold, rates)
    return threshold, strong, weak


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiteLLMProxy:
    """`litellm --config CONFIG --port PORT` as a child process (cwd: the config's folder),
    ready once /health/liveliness answers; stopped by its pid."""

    def __init__(self, config: Path, env: dict[str, str], log: Path, timeout: float = 90.0) -> None:
        self.config, self.timeout = Path(config), timeout
        self.port = free_port()
        self.master_key = "sk-" + secrets.token_hex(32)
        self.env = {
            **os.environ,
            **OFFLINE_ENV,
            "LITELLM_MASTER_KEY": self.master_key,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            **env,
        }
        self.proc: "subprocess.Popen | None" = None
        self.log = Path(log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> "LiteLLMProxy":
        exe = Path(sys.executable).with_name("litellm")
        cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "litellm_cli.main"]
        cmd += ["--config", str(self.config), "--host", "127.0.0.1", "--port", str(self.port)]
        self._log = open(self.log, "wb")
        self.proc = subprocess.Popen(
            cmd, cwd=self.config.parent, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.__exit__()
                raise RuntimeError(f"the LiteLLM proxy exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/health/liveliness", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError(f"the LiteLLM proxy was not ready within {self.timeout:g} s:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


def anthropic_stub_app(record: list):
    """A stub of Anthropic's Messages API (POST /v1/messages), plain and streamed: the reply
    echoes the last user message's text; each request is recorded with its headers."""
    import asyncio
    import json

    from aiohttp import web

    def last_user_text(messages: list) -> str:
        for m in reversed(messages):
            if m.get("role") == "user":
                c = m.get("content")
                return c if isinstance(c, str) else "".join(p.get("text", "") for p in c if p.get("type") == "text")
        return ""

    async def messages(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        record.append({"body": body, "headers": dict(request.headers)})
        reply = f"echo: {last_user_text(body.get('messages', []))}"
        usage = {"input_tokens": 3, "output_tokens": 5}
        message = {"id": "msg_stub", "type": "message", "role": "assistant", "model": body["model"]}
        if not body.get("stream"):
            content = [{"type": "text", "text": reply}]
            return web.json_response({**message, "content": content, "stop_reason": "end_turn", "usage": usage})
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        half = len(reply) // 2
        events = [
            ("message_start", {"message": {**message, "content": [], "stop_reason": None, "usage": usage}}),
            ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
            *[
                ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": piece}})
                for piece in (reply[:half], reply[half:])
            ],
            ("content_block_stop", {"index": 0}),
            ("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": usage}),
            ("message_stop", {}),
        ]
        for name, data in events:
            await resp.write(f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n".encode())
            await asyncio.sleep(0.005)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    return app
