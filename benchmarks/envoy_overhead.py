"""What fastroute's Envoy external processor adds to a request: the same Envoy config
(examples/envoy/envoy.yaml) with and without its ext_proc filter, in front of the same stub
upstream, one closed loop of keep-alive HTTP requests per path, rounds interleaved so that
drift hits every path alike. The direct path (client -> stub) is the floor; a null processor
(answering every message at once, changing nothing) is the floor of a Python ext_proc on each
gRPC transport: grpclib (pure asyncio, on uvloop) and grpcio (grpc.aio). `fastroute extproc`
runs once per transport (--transport).

    .venv/bin/python benchmarks/envoy_overhead.py [--requests 1000] [--concurrency 1 16]
        [--transports grpclib grpcio] [--json out.json]

Everything runs on loopback as separate processes (stub upstream, `fastroute extproc`, two
Envoys with --concurrency 1), so on a small machine they share its cores with the client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from loadgen import build_request, run_load  # noqa: E402

from envoy_helpers import ENVOY_YAML, Envoy, ExtProc, envoy_config, free_port, slow_processor, without_ext_proc  # noqa: E402

PROMPTS = [
    "What is the capital of France?",
    "Prove that there are infinitely many primes.",
    "Write a haiku about autumn leaves falling.",
    "Explain TCP slow start in two sentences.",
]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s")


def requests_for(port: int, model: str) -> list[bytes]:
    return [
        build_request(
            "127.0.0.1", port, "/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": p}]}
        )
        for p in PROMPTS
    ]


async def measure(paths: dict[str, int], model: str, n: int, concurrency: int, rounds: int) -> dict[str, np.ndarray]:
    """Latencies (s) per path: `rounds` interleaved rounds of n / rounds requests each."""
    out: dict[str, list[float]] = {name: [] for name in paths}
    per_round = max(1, n // rounds)
    for _ in range(rounds):
        for name, port in paths.items():
            reqs = requests_for(port, model) * (per_round // len(PROMPTS) + 1)
            result = await run_load("127.0.0.1", port, reqs[:per_round], concurrency, time_limit=120.0, warmup=20)
            if result.errors:
                raise RuntimeError(f"{name}: {result.errors} requests failed")
            out[name].extend(result.latencies.tolist())
    return {name: np.array(v) for name, v in out.items()}


def ext_args(args: argparse.Namespace) -> list[str]:
    return ["--routers", *args.routers, "--strong-model", "gpt-4o", "--weak-model", "gpt-4o-mini"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1000, help="requests per path and concurrency")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1])
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds per path")
    ap.add_argument("--model", default="router-mf-0.5", help="the model the requests name")
    ap.add_argument("--routers", nargs="+", default=["mf"])
    ap.add_argument("--transports", nargs="+", choices=["grpclib", "grpcio"], default=["grpclib", "grpcio"])
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()

    stub_port = free_port()
    stub = subprocess.Popen([sys.executable, str(HERE / "stub_upstream.py"), str(stub_port)])
    exts: dict[str, ExtProc] = {}
    nulls: dict[str, subprocess.Popen] = {}
    envoys: list[Envoy] = []
    try:
        processors: dict[str, int] = {}  # the path's name -> the processor's port
        for t in args.transports:
            null, processors[f"null_proc[{t}]"] = slow_processor(0.0, t)
            nulls[t] = null
        for t in args.transports:
            ext = exts[t] = ExtProc(*ext_args(args), "--transport", t)
            processors[f"ext_proc[{t}]"] = ext.wait_ready().port or 0
        wait_port(stub_port)
        text = ENVOY_YAML.read_text()
        upstream = {"strong": stub_port, "weak": stub_port}
        paths = {"direct": stub_port}
        configs = {"envoy": envoy_config({"extproc": 0, **upstream}, text=without_ext_proc(text))}
        for name, port in processors.items():
            configs[f"envoy+{name}"] = envoy_config({"extproc": port, **upstream}, text=text)
        for config in configs.values():
            envoys.append(Envoy(config).start())
        for name, e in zip(configs, envoys):
            paths[name] = e.wait_ready().port or 0
        results = []
        for c in args.concurrency:
            lat = asyncio.run(measure(paths, args.model, args.requests, c, args.rounds))
            row: dict = {"concurrency": c}
            for name, x in lat.items():
                row[name] = {
                    "n": int(x.size),
                    "p50_ms": 1e3 * np.percentile(x, 50),
                    "p99_ms": 1e3 * np.percentile(x, 99),
                }
            for name in processors:
                for q in ("p50_ms", "p99_ms"):
                    row[f"{name}_adds_{q}"] = row[f"envoy+{name}"][q] - row["envoy"][q]
            results.append(row)
            print(f"concurrency {c}:")
            for name in paths:
                r = row[name]
                print(f"  {name:24s} p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  n={r['n']}")
            for name in processors:
                p50, p99 = row[name + "_adds_p50_ms"], row[name + "_adds_p99_ms"]
                print(f"  {name + ' adds':24s} p50 {p50:.3f} ms  p99 {p99:.3f} ms")
        if args.json:
            meta = {"machine": platform.processor() or platform.machine(), "python": platform.python_version()}
            args.json.write_text(json.dumps({"meta": meta, "model": args.model, "results": results}, indent=2))
    finally:
        for e in envoys:
            e.stop()
        for ext in exts.values():
            ext.stop()
        for null in nulls.values():
            null.terminate()
        stub.terminate()
        stub.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
