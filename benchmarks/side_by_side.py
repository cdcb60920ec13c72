"""Serving overhead side by side, in one run, on loopback: every way to put fastroute in front
of models, each beside the ceiling it is measured against.

    ceiling                      measured path
    minimal aiohttp handler      fastroute /v1/route (mf, sw_ranking)
    stub upstream, direct        fastroute proxied completion (router-mf-0.5)
    Envoy -> stub                Envoy + fastroute ext_proc -> stub
    LiteLLM proxy -> stub        LiteLLM proxy + fastroute plug-in -> stub

Each row: requests/s and p50/p99 at concurrency 1, 16 and 64 (closed loop, `loadgen.py`),
and the difference to its ceiling. Every server is its own process; the load generator runs
in this one, so on a small machine all of them share the cores (the numbers are lower bounds
for a dedicated host). `python benchmarks/side_by_side.py [--seconds S] [--json OUT]`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable, NamedTuple

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import LoadResult, build_request, run_load  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONCURRENCY = (1, 16, 64)
# Short chat prompts (~40 characters): the routing compute is small, the stack is what is measured.
TEMPLATES = (
    "Write a short poem about {}.",
    "Explain {} to a five-year-old.",
    "What are the economic effects of {}?",
    "Translate '{}' into French.",
    "Debug my code that computes {}.",
)


def prompts(n: int) -> list[str]:
    return [TEMPLATES[i % len(TEMPLATES)].format(f"topic {i}") for i in range(n)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}: {out[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up within {timeout:g} s")


class Measured(NamedTuple):
    """One measured path: its name, the ceiling row it is compared with, and its requests."""

    name: str
    ceiling: "str | None"
    port: int
    build: Callable[[int, str], bytes]  # (port, prompt) -> raw HTTP request


class Stack(contextlib.ExitStack):
    """The processes of one run, stopped together."""

    def start(self, cmd: list[str], ready_url: str, env: "dict | None" = None) -> subprocess.Popen:
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
        )
        self.callback(_stop, proc)
        wait_http(ready_url, proc)
        return proc


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def chat(model: str, headers: "dict[str, str] | None" = None, path: str = "/v1/chat/completions"):
    def build(port: int, prompt: str) -> bytes:
        body = {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": 16}
        return build_request("127.0.0.1", port, path, body, headers)

    return build


def route(router: str):
    def build(port: int, prompt: str) -> bytes:
        return build_request("127.0.0.1", port, "/v1/route", {"router": router, "threshold": 0.5, "prompt": prompt})

    return build


def fastroute_paths(stack: Stack) -> list[Measured]:
    """The minimal handler, the stub upstream and fastroute's own server."""
    py = sys.executable
    minimal, stub, server = free_port(), free_port(), free_port()
    stack.start([py, str(HERE / "minimal_handler.py"), str(minimal)], f"http://127.0.0.1:{minimal}/health")
    stack.start([py, str(HERE / "stub_upstream.py"), str(stub)], f"http://127.0.0.1:{stub}/health")
    stack.start(
        [py, "-m", "fastroute.cli", "serve", "--routers", "mf", "sw_ranking"]
        + ["--base-url", f"http://127.0.0.1:{stub}/v1", "--port", str(server)],
        f"http://127.0.0.1:{server}/health",
    )
    return [
        Measured("minimal aiohttp handler (ceiling)", None, minimal, route("mf")),
        Measured("fastroute /v1/route, mf", "minimal aiohttp handler (ceiling)", server, route("mf")),
        Measured("fastroute /v1/route, sw_ranking", "minimal aiohttp handler (ceiling)", server, route("sw_ranking")),
        Measured("stub upstream, direct (ceiling)", None, stub, chat("gpt-4-1106-preview")),
        Measured("fastroute proxied completion, mf", "stub upstream, direct (ceiling)", server, chat("router-mf-0.5")),
    ]


GATEWAYS: list[Callable[[Stack, int], list[Measured]]] = []  # more paths: (stack, stub port) -> paths


def measure(path: Measured, concurrency: int, seconds: float) -> LoadResult:
    n = 3000 if concurrency == 1 else 40000
    reqs = [path.build(path.port, p) for p in prompts(n)]
    return asyncio.run(run_load("127.0.0.1", path.port, reqs, concurrency, time_limit=seconds))


def run(seconds: float = 5.0, concurrency: tuple[int, ...] = CONCURRENCY) -> list[dict]:
    """Every path at every concurrency; rows carry their ceiling's figures beside their own."""
    rows: list[dict] = []
    with Stack() as stack:
        paths = fastroute_paths(stack)
        stub_port = paths[3].port
        for add in GATEWAYS:
            paths += add(stack, stub_port)
        for c in concurrency:
            by_name: dict[str, dict] = {}
            for path in paths:
                r = measure(path, c, seconds)
                row = {"path": path.name, **r.summary()}
                if path.ceiling in by_name:
                    base = by_name[path.ceiling]
                    row["share_of_ceiling"] = round(row["requests_per_s"] / base["requests_per_s"], 3)
                    row["added_p50_ms"] = round(row["p50_ms"] - base["p50_ms"], 3)
                    row["added_p99_ms"] = round(row["p99_ms"] - base["p99_ms"], 3)
                by_name[path.name] = row
                rows.append(row)
                print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    out = [
        "| path | concurrency | requests/s | p50 / p99 ms | share of ceiling | added p50 / p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r["path"], r["concurrency"])):
        share = f"{100 * r['share_of_ceiling']:.0f}%" if "share_of_ceiling" in r else "—"
        added = f"{r['added_p50_ms']:.3f} / {r['added_p99_ms']:.3f}" if "added_p50_ms" in r else "—"
        out.append(
            f"| {r['path']} | {r['concurrency']} | {r['requests_per_s']:,.0f} | "
            f"{r['p50_ms']:.3f} / {r['p99_ms']:.3f} | {share} | {added} |"
        )
    return "\n".join(out)


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if "model name" in line
        ),
        platform.processor(),
    )
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="time limit per row (default 5)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    rows = run(args.seconds)
    print(f"\n{machine()}\n\n{markdown(rows)}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
