"""Serving overhead side by side, in one run, on loopback: every way to put fastroute in front
of models, each beside the ceiling it is measured against.

    ceiling                      measured path
    minimal aiohttp handler      fastroute /v1/route (mf, sw_ranking)
    stub upstream, direct        a bare aiohttp proxy (the stack's own cost), fastroute proxied
                                 completion (router-mf-0.5)
    Envoy -> stub                Envoy + fastroute ext_proc -> stub, Envoy + fastroute's dynamic
                                 module (in the proxy, mf and sw_ranking) -> stub
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
    minimal, stub, server, bare = free_port(), free_port(), free_port(), free_port()
    stack.start([py, str(HERE / "minimal_handler.py"), str(minimal)], f"http://127.0.0.1:{minimal}/health")
    stack.start([py, str(HERE / "stub_upstream.py"), str(stub)], f"http://127.0.0.1:{stub}/health")
    upstream = f"http://127.0.0.1:{stub}/v1/chat/completions"
    stack.start([py, str(HERE / "bare_proxy.py"), str(bare), upstream], f"http://127.0.0.1:{bare}/health")
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
        Measured("bare aiohttp proxy -> stub", "stub upstream, direct (ceiling)", bare, chat("gpt-4-1106-preview")),
        Measured("fastroute proxied completion, mf", "stub upstream, direct (ceiling)", server, chat("router-mf-0.5")),
    ]


def litellm_paths(stack: Stack, stub: int) -> list[Measured]:
    """The LiteLLM proxy with the shipped examples/litellm/config.yaml (fastroute's plug-in on
    the "smart" group) and the same model list without the plug-in, both in front of the stub."""
    import tempfile

    sys.path.insert(0, str(ROOT / "tests"))
    from litellm_overhead import KEYS, variant

    from litellm_helpers import EXAMPLE, LiteLLMProxy

    base = f"http://127.0.0.1:{stub}/v1"
    env = {**KEYS, "STRONG_API_BASE": base, "WEAK_API_BASE": base, "FASTROUTE_MODEL": "router-mf-50%"}
    folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
    plain = variant(EXAMPLE / "config.yaml", folder, ("router_settings", "litellm_settings"))
    without = stack.enter_context(LiteLLMProxy(plain, env, folder / "without.log"))
    with_plugin = stack.enter_context(LiteLLMProxy(EXAMPLE / "config.yaml", env, folder / "with.log"))
    return [
        Measured(
            "LiteLLM proxy -> stub (ceiling)",
            None,
            without.port,
            chat("smart", {"Authorization": f"Bearer {without.master_key}"}),
        ),
        Measured(
            "LiteLLM proxy + fastroute plug-in -> stub",
            "LiteLLM proxy -> stub (ceiling)",
            with_plugin.port,
            chat("smart", {"Authorization": f"Bearer {with_plugin.master_key}"}),
        ),
    ]


ENVOY_WORKERS = int(os.environ.get("FASTROUTE_BENCH_ENVOY_WORKERS", "1"))  # every Envoy of the run alike


def envoy_paths(stack: Stack, stub: int) -> list[Measured]:
    """Envoy with the shipped examples/envoy/envoy.yaml (ext_proc filter -> `fastroute extproc`,
    mf, default transport), the same config without the filter, and Envoy with fastroute's
    dynamic module (`fastroute envoy-module --envoy-config`), all in front of the stub."""
    sys.path.insert(0, str(ROOT / "tests"))
    import fastroute.native as native
    from fastroute.native.envoy_config import envoy_config as module_config

    from envoy_helpers import ENVOY_YAML, Envoy, ExtProc, envoy_config, without_ext_proc

    ext = ExtProc("--routers", "mf", "--strong-model", "gpt-4o", "--weak-model", "gpt-4o-mini")
    stack.callback(ext.stop)
    port = ext.wait_ready().port or 0
    text, upstream = ENVOY_YAML.read_text(), {"strong": stub, "weak": stub}
    plain = Envoy(
        envoy_config({"extproc": 0, **upstream}, text=without_ext_proc(text)), concurrency=ENVOY_WORKERS
    ).start()
    stack.callback(plain.stop)
    filtered = Envoy(envoy_config({"extproc": port, **upstream}, text=text), concurrency=ENVOY_WORKERS).start()
    stack.callback(filtered.stop)
    paths = [
        Measured("Envoy -> stub (ceiling)", None, plain.wait_ready().port or 0, chat("router-mf-0.5")),
        Measured(
            "Envoy + fastroute ext_proc -> stub",
            "Envoy -> stub (ceiling)",
            filtered.wait_ready().port or 0,
            chat("router-mf-0.5"),
        ),
    ]
    if native.missing(native.ENVOY_MODULE):
        print(f"skipping the dynamic module: {native.missing(native.ENVOY_MODULE)}", file=sys.stderr)
        return paths
    models = {"gpt-4o": f"127.0.0.1:{stub}", "gpt-4o-mini": f"127.0.0.1:{stub}"}
    cfg = module_config(
        native.decider_config(["mf", "sw_ranking"], "gpt-4o", "gpt-4o-mini"), models, listen_port=0, admin_port=0
    )
    env = {"ENVOY_DYNAMIC_MODULES_SEARCH_PATH": str(native.library_path().parent)}
    module = Envoy(cfg, env=env, concurrency=ENVOY_WORKERS).start()
    stack.callback(module.stop)
    port = module.wait_ready().port or 0
    return paths + [
        Measured("Envoy + fastroute module, mf -> stub", "Envoy -> stub (ceiling)", port, chat("router-mf-0.5")),
        Measured(
            "Envoy + fastroute module, sw_ranking -> stub",
            "Envoy -> stub (ceiling)",
            port,
            chat("router-sw_ranking-0.5"),
        ),
    ]


GATEWAYS: list[Callable[[Stack, int], list[Measured]]] = [envoy_paths, litellm_paths]  # (stack, stub port) -> paths


def measure(path: Measured, concurrency: int, seconds: float) -> LoadResult:
    n = 3000 if concurrency == 1 else 40000
    reqs = [path.build(path.port, p) for p in prompts(n)]
    return asyncio.run(run_load("127.0.0.1", path.port, reqs, concurrency, time_limit=seconds))


def run(seconds: float = 5.0, concurrency: tuple[int, ...] = CONCURRENCY, only: "str | None" = None) -> list[dict]:
    """Every path at every concurrency; rows carry their ceiling's figures beside their own.
    Each group (fastroute's own server, Envoy, LiteLLM) runs with only its own processes up
    (the stub upstream stays), so an idle gateway's background work never weighs on another's."""
    rows: list[dict] = []
    with Stack() as base:
        own = fastroute_paths(base)
        stub_port = own[3].port
        groups: list[Callable[[Stack], list[Measured]]] = [lambda stack: own] if only in (None, "fastroute") else []
        groups += [
            lambda stack, add=add: add(stack, stub_port)
            for add in GATEWAYS
            if only in (None, add.__name__.split("_")[0])
        ]
        for group in groups:
            with Stack() as stack:
                paths = group(stack)
                for c in concurrency:
                    by_name: dict[str, dict] = {}
                    for path in paths:
                        r = measure(path, c, seconds)
                        row = {"path": path.name, **r.summary()}
                        if path.ceiling in by_name:
                            ceiling = by_name[path.ceiling]
                            row["share_of_ceiling"] = round(row["requests_per_s"] / ceiling["requests_per_s"], 3)
                            row["added_p50_ms"] = round(row["p50_ms"] - ceiling["p50_ms"], 3)
                            row["added_p99_ms"] = round(row["p99_ms"] - ceiling["p99_ms"], 3)
                        by_name[path.name] = row
                        rows.append(row)
                        print(json.dumps(row), flush=True)
    return rows


def markdown(rows: list[dict]) -> str:
    out = [
        "| path | concurrency | requests/s | p50 / p99 ms | share of ceiling | added p50 / p99 ms |",
        "|---|---|---|---|---|---|",
    ]
    order = {name: i for i, name in enumerate(dict.fromkeys(r["path"] for r in rows))}
    for r in sorted(rows, key=lambda r: (order[r["path"]], r["concurrency"])):
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
    parser.add_argument("--only", choices=["fastroute", "envoy", "litellm"], default=None, help="one group only")
    args = parser.parse_args()
    rows = run(args.seconds, only=args.only)
    print(f"\n{machine()}\n\n{markdown(rows)}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
