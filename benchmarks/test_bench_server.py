"""The routing server under load, on loopback only, bounded in requests and time:
route-only decisions/s and p50/p99 latency at concurrency 1, 16 and 64, and the latency
routing adds to a proxied completion (fastroute -> stub upstream vs the stub directly).

The server and the stub upstream run as separate processes; the load generator
(`loadgen.py`) is a lean raw-socket client in this process. All three share the machine's
cores, so on the 2-core dev VM the numbers are a lower bound for a dedicated server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("aiohttp")
from loadgen import build_request, run_load  # noqa: E402
from side_by_side import free_port, wait_http  # noqa: E402

HERE = Path(__file__).resolve().parent
TEMPLATES = [
    "Prove that {} has no rational solutions.",
    "Write a short poem about {}.",
    "Explain {} to a five-year-old.",
    "Debug this code that computes {}.",
    "hi {}",
    "Translate '{}' into French and German.",
    "What are the economic effects of {}?",
]


@pytest.fixture(scope="module")
def stack():
    stub_port, port = free_port(), free_port()
    stub = subprocess.Popen(
        [sys.executable, str(HERE / "stub_upstream.py"), str(stub_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fastroute.cli",
            "serve",
            "--routers",
            "sw_ranking",
            "mf",
            "--base-url",
            f"http://127.0.0.1:{stub_port}/v1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_http(f"http://127.0.0.1:{stub_port}/v1/chat/completions", stub)
        wait_http(f"http://127.0.0.1:{port}/health", server)
        yield {"stub": stub_port, "server": port}
    finally:
        for p in (server, stub):
            p.terminate()
            p.wait(10)


def _prompts(n: int) -> list[str]:
    return [TEMPLATES[i % len(TEMPLATES)].format(f"topic {i} " + "detail " * (i % 9)) for i in range(n)]


@pytest.mark.parametrize("router", ["sw_ranking", "mf"])
@pytest.mark.parametrize("concurrency", [1, 16, 64])
def test_route_only(benchmark, stack, router, concurrency):
    n = 3000 if concurrency == 1 else 30000
    reqs = [
        build_request("127.0.0.1", stack["server"], "/v1/route", {"router": router, "threshold": 0.5, "prompt": p})
        for p in _prompts(n)
    ]
    result = benchmark.pedantic(
        lambda: asyncio.run(run_load("127.0.0.1", stack["server"], reqs, concurrency, time_limit=8.0)),
        rounds=1,
        iterations=1,
    )
    benchmark.group = "server: route-only decisions"
    benchmark.extra_info.update(router=router, **result.summary())
    assert result.errors == 0


def test_proxied_completion_added_latency(benchmark, stack):
    prompts = _prompts(2000)

    def body(model, p):
        return {"model": model, "messages": [{"role": "user", "content": p}], "max_tokens": 16}

    direct = [
        build_request("127.0.0.1", stack["stub"], "/v1/chat/completions", body("gpt-4-1106-preview", p))
        for p in prompts
    ]
    routed = [
        build_request("127.0.0.1", stack["server"], "/v1/chat/completions", body("router-sw_ranking-0.5", p))
        for p in prompts
    ]
    d = asyncio.run(run_load("127.0.0.1", stack["stub"], direct, 1, time_limit=8.0))
    r = benchmark.pedantic(
        lambda: asyncio.run(run_load("127.0.0.1", stack["server"], routed, 1, time_limit=8.0)), rounds=1, iterations=1
    )
    benchmark.group = "server: proxied completion"
    benchmark.extra_info.update(
        direct_p50_ms=round(1e3 * d.percentile(50), 3),
        routed_p50_ms=round(1e3 * r.percentile(50), 3),
        added_p50_ms=round(1e3 * (r.percentile(50) - d.percentile(50)), 3),
        direct_p99_ms=round(1e3 * d.percentile(99), 3),
        routed_p99_ms=round(1e3 * r.percentile(99), 3),
    )
    assert r.errors == 0 and d.errors == 0
    print(json.dumps(benchmark.extra_info))
