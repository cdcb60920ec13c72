"""What fastroute's LiteLLM routing plug-in adds to a completion, at concurrency 1:

* proxy: the LiteLLM proxy with the shipped examples/litellm/config.yaml (plug-in on the
  "smart" group) and the same model list without `plugins` / `callbacks`, in front of the
  same stub upstream (benchmarks/stub_upstream.py, its own process), one keep-alive
  connection (benchmarks/loadgen.py), rounds interleaved so that drift hits both alike;
  direct to the stub is the floor;
* SDK: `litellm.Router(...).acompletion` in this process, with and without the plug-in.

    .venv/bin/python benchmarks/litellm_overhead.py [--requests 1000] [--rounds 4] [--json out.json]

Short chat prompts (~40 characters) routed by mf; the threshold sends about half to each side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from loadgen import build_request, run_load  # noqa: E402

from litellm_helpers import EXAMPLE, LiteLLMProxy, free_port  # noqa: E402  (sets LiteLLM's offline env)

PROMPTS = [
    "What's the capital of France, briefly?",
    "Prove that sqrt(2) is irrational, please.",
    "Write a limerick about a tired llama.",
    "Explain quicksort's worst case in a line.",
]
KEYS = {"OPENAI_API_KEY": "sk-strong", "TOGETHERAI_API_KEY": "sk-weak"}


def variant(config: Path, folder: Path, drop: tuple[str, ...]) -> Path:
    """The example's config without the sections `drop` names (next to the example's
    fastroute_routing.py, which LiteLLM loads from the config's folder)."""
    import shutil

    import yaml

    doc = yaml.safe_load(config.read_text())
    for key in drop:
        doc.pop(key, None)
    out = folder / "-".join(("config", *drop))
    out.mkdir()
    shutil.copy(config.parent / "fastroute_routing.py", out)
    (out / "config.yaml").write_text(yaml.safe_dump(doc))
    return out / "config.yaml"


def stub(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(HERE / "stub_upstream.py"), str(port)])
    for _ in range(100):
        try:
            body = json.dumps({"model": "m", "messages": []}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions", data=body, method="POST")
            urllib.request.urlopen(req, timeout=1).read()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise RuntimeError("the stub upstream did not start")


def summary(latencies: list[float]) -> dict:
    a = np.asarray(latencies)
    return {
        "n": int(a.size),
        "p50_ms": round(1e3 * float(np.median(a)), 3),
        "p99_ms": round(1e3 * float(np.percentile(a, 99)), 3),
    }


def measure_proxies(paths: dict[str, tuple[int, dict, str]], n: int, rounds: int) -> dict[str, dict]:
    """{name: (port, headers, model)} -> p50/p99 of n requests each, in interleaved rounds."""
    lat: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(rounds):
        for name, (port, headers, model) in paths.items():
            reqs = [
                build_request(
                    "127.0.0.1",
                    port,
                    "/v1/chat/completions",
                    {"model": model, "messages": [{"role": "user", "content": p}]},
                    headers,
                )  # fmt: skip
                for p in PROMPTS
            ]
            batch = [reqs[i % len(reqs)] for i in range(n // rounds)]
            res = asyncio.run(run_load("127.0.0.1", port, batch, 1, time_limit=600, warmup=20))
            if res.errors:
                raise RuntimeError(f"{name}: {res.errors} requests failed")
            lat[name].extend(res.latencies.tolist())
    return {k: summary(v) for k, v in lat.items()}


def measure_sdk(stub_url: str, n: int, rounds: int) -> dict[str, dict]:
    import litellm

    from fastroute.frontends.litellm_plugin import FastrouteRoutingPlugin

    strong, weak = "openai/gpt-4o", "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"
    models = [{"model_name": "smart", "litellm_params": {"model": m, "api_base": stub_url, "api_key": "k"}} for m in (strong, weak)]  # fmt: skip
    plugin = FastrouteRoutingPlugin("mf", strong, weak, groups={"smart": "router-mf-50%"})
    routers = {"sdk_without_plugin": litellm.Router(model_list=models), "sdk_with_plugin": litellm.Router(model_list=models, plugins=[plugin])}  # fmt: skip
    lat: dict[str, list[float]] = {k: [] for k in routers}

    async def run(router, count: int, out: list) -> None:
        for i in range(count):
            t0 = time.perf_counter()
            await router.acompletion(model="smart", messages=[{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}])
            out.append(time.perf_counter() - t0)

    async def plugin_alone(count: int, out: list) -> None:  # the plug-in's own work, no LiteLLM around it
        from litellm.types.router import RoutingContext

        for i in range(count):
            messages = [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]
            ctx = RoutingContext(
                raw_messages=messages,
                structured_messages=messages,
                candidate_models=[strong, weak],
                metadata={"model_group": "smart"},
            )
            t0 = time.perf_counter()
            await plugin.run(ctx)
            out.append(time.perf_counter() - t0)

    async def main() -> None:
        await plugin_alone(20, [])
        await plugin_alone(n, lat.setdefault("plugin_run_alone", []))
        for router in routers.values():
            await run(router, 20, [])  # warm-up
        for _ in range(rounds):
            for name, router in routers.items():
                await run(router, n // rounds, lat[name])

    asyncio.run(main())
    return {k: summary(v) for k, v in lat.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    port = free_port()
    upstream = stub(port)
    base = f"http://127.0.0.1:{port}/v1"
    env = {**KEYS, "STRONG_API_BASE": base, "WEAK_API_BASE": base, "FASTROUTE_MODEL": "router-mf-50%"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            plain = variant(EXAMPLE / "config.yaml", folder, ("router_settings", "litellm_settings"))
            no_headers = variant(EXAMPLE / "config.yaml", folder, ("litellm_settings",))
            with (
                LiteLLMProxy(EXAMPLE / "config.yaml", env, folder / "with.log") as w,
                LiteLLMProxy(plain, env, folder / "without.log") as wo,
                LiteLLMProxy(no_headers, env, folder / "no_headers.log") as nh,
            ):
                auth = {p: {"Authorization": f"Bearer {p.master_key}"} for p in (w, wo, nh)}
                results = measure_proxies(
                    {
                        "direct_to_stub": (port, {}, "gpt-4o"),
                        "proxy_without_plugin": (wo.port, auth[wo], "smart"),
                        "proxy_with_plugin_no_header_callback": (nh.port, auth[nh], "smart"),
                        "proxy_with_plugin": (w.port, auth[w], "smart"),
                    },
                    args.requests,
                    args.rounds,
                )
        results.update(measure_sdk(base, args.requests, args.rounds))
    finally:
        upstream.terminate()
        upstream.wait(10)
    results["plugin_adds_p50_ms"] = {
        "proxy": round(results["proxy_with_plugin"]["p50_ms"] - results["proxy_without_plugin"]["p50_ms"], 3),
        "sdk": round(results["sdk_with_plugin"]["p50_ms"] - results["sdk_without_plugin"]["p50_ms"], 3),
    }
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}"
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
