"""`fastroute learn` end to end, offline: three OpenAI-compatible stand-ins on loopback (a strong
model, a weak model and a judge) and 800 logged requests, then the whole pipeline.

    python examples/learn/offline_demo.py [--workdir learn-demo] [--prompts 800]

The judge prefers the strong model's answer on technical tasks, the weak one's on small talk,
and neither on look-ups; prompt length says nothing about which is which. The report (in
WORKDIR/report/report.md) shows what the learned router recovers of that, against prompt
length, random and the oracle. With real upstreams, the same command runs against your
upstreams file: see the README's "Your own traffic".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import threading
from pathlib import Path

TASKS = {
    "technical": [
        "Write a Python function that {v} a {d} of {n} and state its time complexity.",
        "Prove that the {d} algorithm that {v} {n} always terminates.",
        "Debug my C++ code that {v} a {d} of {n}; it crashes on large inputs.",
    ],
    "lookup": [
        "What is the usual English word for a {d} of {n}, as in dictionaries?",
        "Translate the phrase 'a {d} of {n}' into French and into German.",
    ],
    "smalltalk": [
        "Say hi back, I just wanted to chat about {n} for a minute or two, ok?",
        "Thanks a lot for the help with the {d} of {n} yesterday, you rock!",
    ],
}
WORDS = {
    "v": ["sorts", "merges", "counts", "filters", "ranks"],
    "n": ["invoices", "sensor readings", "tickets", "emails", "recipes"],
    "d": ["list", "tree", "queue", "table", "graph"],
}
JUDGED = re.compile(r"\[Request\]\n(.*)\n\n\[Answer A\]\n(.*)\n\[End of answer A\]", re.S)


def make_logs(path: Path, n: int, seed: int = 0) -> dict[str, str]:
    rng = random.Random(seed)
    kinds: dict[str, str] = {}
    with open(path, "w", encoding="utf-8") as fh:
        while len(kinds) < n:
            kind = rng.choices(list(TASKS), weights=[0.35, 0.5, 0.15])[0]
            text = rng.choice(TASKS[kind]).format(**{k: rng.choice(v) for k, v in WORDS.items()}) + f" (#{len(kinds)})"
            kinds[text] = kind
            request = {"model": "smart", "messages": [{"role": "user", "content": text}]}
            fh.write(json.dumps({"ts": len(kinds), "request": request}) + "\n")
    return kinds


def stand_ins(kinds: dict[str, str]):
    from aiohttp import web

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        user = body["messages"][-1]["content"]
        if body["model"] == "demo-judge":
            m = JUDGED.search(user)
            better = {"technical": "demo-strong", "smalltalk": "demo-weak"}.get(kinds.get(m.group(1), "") if m else "")
            text = "[[C]]" if better is None else "[[A]]" if m.group(2).startswith(better) else "[[B]]"
        else:
            text = f"{body['model']} answers: {user[:60]}"
        usage = {"prompt_tokens": len(user) // 4 + 8, "completion_tokens": len(text) // 4 + 1}
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": text}}], "usage": usage})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def serve_in_thread(app) -> int:
    from aiohttp import web

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    async def start() -> int:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        return site._server.sockets[0].getsockname()[1]

    return asyncio.run_coroutine_threadsafe(start(), loop).result(10)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", type=Path, default=Path("learn-demo"))
    p.add_argument("--prompts", type=int, default=800)
    args = p.parse_args()
    from fastroute.cli import main as fastroute

    args.workdir.mkdir(parents=True, exist_ok=True)
    kinds = make_logs(args.workdir / "requests.jsonl", args.prompts)
    port = serve_in_thread(stand_ins(kinds))
    prices = {"demo-strong": (10.0, 30.0), "demo-weak": (0.5, 1.5), "demo-judge": (5.0, 15.0)}
    toml = "".join(
        f'[models."{m}"]\nbase_url = "http://127.0.0.1:{port}/v1"\nprice_per_1m_input = {i}\nprice_per_1m_output = {o}\n'
        for m, (i, o) in prices.items()
    )
    (args.workdir / "upstreams.toml").write_text(toml)
    return fastroute(
        ["learn", "run", "--workdir", str(args.workdir / "work"), "--prompts", str(args.workdir / "requests.jsonl")]
        + ["--upstreams", str(args.workdir / "upstreams.toml"), "--strong-model", "demo-strong"]
        + ["--weak-model", "demo-weak", "--judge-model", "demo-judge", "--budget-usd", "50", "--bootstrap", "200"]
    )


if __name__ == "__main__":
    raise SystemExit(main())
