"""OpenAI-compatible stubs on loopback for `fastroute learn`: a strong model, a weak model and
a judge, in one aiohttp server (dispatched on the request's `model`), with a hidden rule the
pipeline must learn and the faults it must survive.

The rule: every prompt has a kind. On kind "S" (technical tasks) the judge prefers the strong
answer, on "W" (small talk) the weak one, on "T" (look-ups) neither. Prompt length says
nothing about the kind: every prompt ends with a context clause drawn from one shared pool.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

STRONG, WEAK, JUDGE = "stub-strong", "stub-weak", "stub-judge"

S_TASKS = [
    "Write a Python function that {v} a {d} of {n} and give its time complexity.",
    "Prove that the {d} algorithm that {v} {n} always terminates, step by step.",
    "Derive a closed form for the number of ways to arrange {n} in a {d}, with a proof.",
    "Debug this C++ code that {v} a {d} of {n}; it segfaults on large inputs.",
    "Design a lock-free {d} that {v} {n} concurrently and argue its correctness.",
]
T_TASKS = [
    "What is the usual English word for a {d} of {n}, the one in dictionaries?",
    "Translate the phrase 'a {d} of {n}' into French, and into German as well.",
    "Give me one common synonym for the verb that {v} {n}, a single word only.",
    "Which year was the very first {d} for {n} sold in ordinary high street shops?",
]
W_TASKS = [
    "Say hi back to me, I just wanted to chat about {n} a little bit today, ok?",
    "Thanks so much for all the help with the {d} of {n} yesterday, you rock!",
    "Good morning to you! Tell me something nice and cheerful about {n} please.",
]
VERBS = ["sorts", "merges", "counts", "reverses", "filters", "groups", "ranks", "hashes"]
THINGS = ["apples", "invoices", "sensor readings", "train tickets", "chess moves", "song titles", "emails", "recipes"]
SHAPES = ["list", "tree", "queue", "stack", "table", "graph", "heap", "ring buffer"]
CONTEXT = [
    "",
    " I am asking for a friend.",
    " This is for a small project at work that I have been putting off for weeks now.",
    " My manager asked me about it this morning and I did not know what to say at all.",
    " Please keep it short.",
    " It came up over dinner last night and we could not agree, so settle it for us please.",
]


def make_prompts(n: int, seed: int = 0, shares: tuple[float, float, float] = (0.35, 0.55, 0.10)) -> dict[str, str]:
    """{prompt: kind} for n distinct prompts."""
    rng = np.random.default_rng(seed)
    out: dict[str, str] = {}
    kinds = {"S": S_TASKS, "T": T_TASKS, "W": W_TASKS}
    while len(out) < n:
        kind = str(rng.choice(["S", "T", "W"], p=list(shares)))
        t = kinds[kind][int(rng.integers(len(kinds[kind])))]
        text = t.format(v=rng.choice(VERBS), n=rng.choice(THINGS), d=rng.choice(SHAPES)) + str(rng.choice(CONTEXT))
        text += f" (#{len(out)})"
        out.setdefault(text, kind)
    return out


@dataclass
class StubWorld:
    kinds: dict[str, str]  # prompt -> S | T | W
    always_fail: set = field(default_factory=set)  # (model, prompt): HTTP 500 on every attempt
    garbage_always: set = field(default_factory=set)  # (model, prompt): 200 with a body that is not a completion
    once_429: set = field(default_factory=set)  # (model, prompt): 429 + Retry-After on the first attempt
    once_garbage: set = field(default_factory=set)  # (model, prompt): garbage on the first attempt
    once_503: set = field(default_factory=set)  # prompts whose first judge call gets a 503
    off_format: set = field(default_factory=set)  # prompts the judge answers without a verdict
    position_biased: set = field(default_factory=set)  # prompts the judge always answers [[A]]
    references: dict = field(default_factory=dict)  # prompt -> reference: the strong model always gets it,
    # the weak model only off kind S
    bill_bytes: bool = False  # report usage as the most it can be (UTF-8 bytes in, max_tokens out)
    hits: Counter = field(default_factory=Counter)  # (model, prompt) -> requests
    served: Counter = field(default_factory=Counter)  # (model, prompt) -> 200 completions
    base_url: str = ""

    def total_hits(self) -> int:
        return sum(self.hits.values())


def _completion(text: str, n_in: int, n_out: int) -> dict:
    return {
        "id": "stub",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out},
    }


_JUDGED = re.compile(
    r"\[Request\]\n(.*)\n\n\[Answer A\]\n(.*)\n\[End of answer A\]\n\n\[Answer B\]\n(.*)\n\[End of answer B\]", re.S
)


def _verdict(world: StubWorld, user: str) -> tuple[str, str]:
    m = _JUDGED.search(user)
    if m is None:
        return "", "I cannot read this request."
    prompt, a, b = m.groups()
    if prompt in world.off_format:
        return prompt, "Both answers have merits; on balance the first one seems better to me."
    if prompt in world.position_biased:
        return prompt, "The first answer is better.\n[[A]]"
    better = {"S": STRONG, "W": WEAK}.get(world.kinds.get(prompt, "T"))
    if better is None:
        return prompt, "They are equally good.\n[[C]]"
    return prompt, "[[A]]" if a.startswith(better) else "[[B]]"


async def _handle(world: StubWorld, request):
    from aiohttp import web

    body = await request.json()
    model, messages = body["model"], body["messages"]
    user = messages[-1]["content"]
    if model == JUDGE:
        prompt, text = _verdict(world, user)
        key = (JUDGE, prompt)
        world.hits[key] += 1
        if prompt in world.once_503 and world.hits[key] == 1:
            return web.Response(status=503, text="overloaded")
    else:
        key = (model, user)
        world.hits[key] += 1
        if key in world.always_fail:
            return web.Response(status=500, text="internal error")
        if key in world.garbage_always or (key in world.once_garbage and world.hits[key] == 1):
            return web.Response(status=200, text="<html>gateway hiccup</html>", content_type="text/html")
        if key in world.once_429 and world.hits[key] == 1:
            return web.Response(status=429, text="slow down", headers={"Retry-After": "0"})
        text = f"{model} says: an answer to '{user[:40]}'"
        if user in world.references:
            right = model == STRONG or world.kinds[user] != "S"
            text += f"\nANSWER: {world.references[user] if right else 'unsure'}"
    world.served[key] += 1
    if world.bill_bytes:
        n_in = 8 * (len(messages) + 1) + sum(len(m["content"].encode()) for m in messages)
        n_out = int(body["max_tokens"])
    else:
        n_in, n_out = max(1, sum(len(m["content"]) for m in messages) // 4), max(1, len(text) // 4)
    return web.json_response(_completion(text, n_in, n_out))


class StubServer:
    """Runs the stubs on 127.0.0.1 in a thread of their own, for in-process and subprocess clients."""

    def __init__(self, world: StubWorld) -> None:
        self.world = world
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> StubWorld:
        from aiohttp import web

        self.thread.start()

        async def start():
            app = web.Application()

            async def handle(request):
                return await _handle(self.world, request)

            app.router.add_post("/v1/chat/completions", handle)
            self.runner = web.AppRunner(app, access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            return site._server.sockets[0].getsockname()[1]

        port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(10)
        self.world.base_url = f"http://127.0.0.1:{port}/v1"
        return self.world

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def upstreams_toml(world: StubWorld, prices: "dict[str, tuple[float, float]] | None" = None) -> str:
    lines = []
    for m in (STRONG, WEAK, JUDGE):
        lines += [f'[models."{m}"]', f'base_url = "{world.base_url}"']
        if prices and m in prices:
            lines += [f"price_per_1m_input = {prices[m][0]}", f"price_per_1m_output = {prices[m][1]}"]
    return "\n".join(lines) + "\n"


def write_prompts(path, prompts) -> None:
    """As a gateway logs them: chat-completions request bodies, one JSON object a line."""
    with open(path, "w", encoding="utf-8") as fh:
        for p in prompts:
            fh.write(
                json.dumps({"ts": 0, "request": {"model": "x", "messages": [{"role": "user", "content": p}]}}) + "\n"
            )
