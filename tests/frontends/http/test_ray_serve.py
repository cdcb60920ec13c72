"""fastroute on Ray Serve (fastroute/cluster/serve_deployment.py): two replicas on the local
two-node Ray cluster, behind Serve's HTTP proxy on a free loopback port, calling a stub
upstream on loopback. The real `openai` client sends the requests; decisions, win rates,
errors and streams are compared with the in-process router and fastroute's own server."""

from __future__ import annotations

import importlib.util
import json
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai", reason="the serve extra is not installed")

from fastroute import load_router  # noqa: E402
from fastroute.frontends.http.server import build_config  # noqa: E402

from paths import ROOT  # noqa: E402
from ray_helpers import require_ray  # noqa: E402
from serve_helpers import fastroute_server, raw_request  # noqa: E402

pytestmark = pytest.mark.external  # a local Ray cluster

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
PROMPTS = [
    "Prove that sqrt(2) is irrational.",
    "hi",
    "What is the capital of France?",
    "Write a Rust lock-free queue with hazard pointers and explain the memory ordering.",
    "thanks!",
    "Derive the Black-Scholes PDE from first principles.",
    "Tell me a joke",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _options(upstream) -> dict:
    return {"strong_model": STRONG, "weak_model": WEAK, "base_url": f"{upstream.url}/v1", "api_key_env": None}


@pytest.fixture(scope="module")
def router():
    return load_router("mf", strong_model=STRONG, weak_model=WEAK)


@pytest.fixture(scope="module")
def local(upstream):
    """fastroute's own server, in-process, with the same options as the replicas."""
    with fastroute_server(build_config(["mf"], **_options(upstream))) as srv:
        yield srv


@pytest.fixture(scope="module")
def serve_port(ray_cluster, upstream):
    """The port of Serve's HTTP proxy, fastroute deployed behind it with two replicas."""
    from ray import serve

    from fastroute.frontends.http.ray_serve import build_app

    port = _free_port()
    t0 = time.monotonic()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    try:
        app = build_app(["mf"], num_replicas=2, num_cpus=0.5, **_options(upstream))
        serve.run(app, name="fastroute", route_prefix="/")
        print(f"serve deployed in {time.monotonic() - t0:.1f} s")
        yield port
    finally:
        serve.shutdown()


def _client(port: int):
    return openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused", max_retries=0, timeout=60)


@pytest.mark.parametrize("model", ["router-mf-50%", "router-mf-0.72"])
def test_chat_completions_routed_as_in_process(serve_port, upstream, router, model):
    t = router.threshold_for(0.5) if model.endswith("%") else 0.72
    client = _client(serve_port)
    expected = router.decide(router.win_rates(PROMPTS), t)
    for prompt, want in zip(PROMPTS, expected):
        raw = client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "user", "content": prompt}], max_tokens=5
        )
        completion = raw.parse()
        assert upstream.record[-1]["body"]["model"] == want == completion.model == raw.headers["x-fastroute-model"]
        assert completion.choices[0].message.content == f"echo: {prompt}"
        assert float(raw.headers["x-fastroute-win-rate"]) == pytest.approx(router.win_rates([prompt])[0], abs=1e-6)
    if model == "router-mf-0.72":
        assert set(expected) == {STRONG, WEAK}  # both targets exercised


def test_streamed_chat_completion(serve_port, upstream, router):
    prompt = PROMPTS[3]
    want = router.decide(router.win_rates([prompt]), 0.72)[0]
    stream = _client(serve_port).chat.completions.create(
        model="router-mf-0.72", messages=[{"role": "user", "content": prompt}], stream=True
    )
    chunks = list(stream)
    assert len(chunks) >= 4 and chunks[-1].choices[0].finish_reason == "stop"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == f"echo: {prompt}"
    assert {c.model for c in chunks} == {want} and upstream.record[-1]["body"]["model"] == want
    assert upstream.record[-1]["body"]["stream"] is True


def test_route_win_rates_and_decisions_equal_in_process(serve_port, router):
    for extra, t in (({"threshold": 0.72}, 0.72), ({"strong_pct": 0.5}, router.threshold_for(0.5))):
        body = {"prompts": PROMPTS, "router": "mf", **extra}
        status, _, payload = _post(serve_port, "/v1/route", json.dumps(body).encode())
        assert status == 200, payload
        out = json.loads(payload)
        p = router.win_rates(PROMPTS)
        np.testing.assert_allclose([d["win_rate"] for d in out["decisions"]], p, rtol=0, atol=1e-9)
        assert [d["model"] for d in out["decisions"]] == list(router.decide(p, t))
        assert out["threshold"] == pytest.approx(t, abs=1e-12)


ERRORS = [
    ("/v1/route", b'{"prompt": "hi", "router": '),  # bad JSON
    ("/v1/route", b'{"prompt": "hi", "router": "nope", "threshold": 0.5}'),  # unknown router
    ("/v1/route", b'{"prompt": "hi", "router": "mf", "threshold": 1.5}'),  # bad threshold
    ("/v1/route", b"[1, 2]"),  # not an object
    ("/v1/chat/completions", b'{"model": "router-mf-2", "messages": [{"role": "user", "content": "x"}]}'),
    ("/v1/chat/completions", b'{"model": "router-nope-0.5", "messages": [{"role": "user", "content": "x"}]}'),
    ("/v1/chat/completions", b'{"model": "router-mf-0.5"}'),  # no messages
    ("/v1/nowhere", b"{}"),  # 404
    ("/v1/chat/completions", b'{"model": "router-mf-0.5", "messages": [{"role": "user", "content": "__429__"}]}'),
]


def _post(port: int, path: str, body: bytes) -> tuple[int, dict, bytes]:
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    return raw_request(port, f"{head}Content-Length: {len(body)}\r\nConnection: close\r\n", body)


@pytest.mark.parametrize("path,body", ERRORS)
def test_errors_as_fastroute_serve(serve_port, local, path, body):
    got, want = _post(serve_port, path, body), _post(local.port, path, body)
    assert got[0] == want[0] and got[0] >= 400
    assert json.loads(got[2]) == json.loads(want[2])
    assert got[1]["content-type"] == want[1]["content-type"]


def test_openai_client_errors(serve_port):
    with pytest.raises(openai.BadRequestError, match="threshold"):
        _client(serve_port).chat.completions.create(model="router-mf-7", messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize("path", ["/v1/models", "/health"])
def test_models_and_health_as_fastroute_serve(serve_port, local, path):
    got = raw_request(serve_port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
    want = raw_request(local.port, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
    assert got[0] == want[0] == 200 and json.loads(got[2]) == json.loads(want[2])
    added = set(got[1]) - set(want[1])  # every header of fastroute's own answer is kept
    assert "x-fastroute-replica" in added and added <= {"x-fastroute-replica", "x-request-id"}, added
    assert {k: v for k, v in got[1].items() if k not in added | {"date"}} == {
        k: v for k, v in want[1].items() if k != "date"
    }


def test_requests_spread_over_both_replicas(serve_port):
    def one(_):
        return raw_request(serve_port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")[1]

    with ThreadPoolExecutor(8) as pool:
        replicas = {h["x-fastroute-replica"] for h in pool.map(one, range(48))}
    assert len(replicas) == 2, replicas


def _example():
    path = ROOT / "examples" / "ray" / "serve_fastroute.py"
    spec = importlib.util.spec_from_file_location("serve_fastroute", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_app_settings_and_refusals():
    """Replicas, autoscaling and actor options reach Serve; bad options fail on the driver."""
    require_ray()
    from fastroute.frontends.http.ray_serve import build_app, config_factory

    fixed = build_app(["mf"], num_replicas=3, num_cpus=0.5, route_only=True)._bound_deployment
    assert fixed._deployment_config.num_replicas == 3 and fixed.ray_actor_options["num_cpus"] == 0.5
    # set before the replica's process starts (numpy reads OpenBLAS's thread count at import)
    assert fixed.ray_actor_options["runtime_env"]["env_vars"]["OPENBLAS_NUM_THREADS"] == "1"
    mine = build_app(
        ["mf"], ray_actor_options={"runtime_env": {"env_vars": {"FASTROUTE_NUM_THREADS": "2"}}}, route_only=True
    )
    assert mine._bound_deployment.ray_actor_options["runtime_env"]["env_vars"]["FASTROUTE_NUM_THREADS"] == "2"
    assert fixed.max_ongoing_requests == 256 and fixed.name == "fastroute"
    auto = {"min_replicas": 1, "max_replicas": 4, "target_ongoing_requests": 8}
    scaled = build_app(["mf"], autoscaling_config=auto, route_only=True)._bound_deployment
    cfg = scaled._deployment_config.autoscaling_config
    assert (cfg.min_replicas, cfg.max_replicas, cfg.target_ongoing_requests) == (1, 4, 8)
    with pytest.raises(ValueError, match="not both"):
        build_app(["mf"], num_replicas=2, autoscaling_config=auto)
    with pytest.raises(TypeError, match="bse_url"):
        build_app(["mf"], bse_url="http://x/v1")
    with pytest.raises(TypeError, match="api_keys_file"):
        config_factory(["mf"], api_keys=frozenset({"sk-1"}))
    cfg = config_factory("mf", route_only=True, max_batch=8)()  # what each replica runs
    assert sorted(cfg.decision.routers) == ["mf"] and cfg.decision.max_batch == 8
    example = _example().app({"routers": "mf", "route_only": "true", "min_replicas": "1", "max_replicas": "3"})
    cfg = example._bound_deployment._deployment_config.autoscaling_config
    assert (cfg.min_replicas, cfg.max_replicas, cfg.target_ongoing_requests) == (1, 3, 32)


def _hung_up_count(port: int) -> int:
    """fastroute_requests_total{status="499"} summed over the replicas (each counts its own)."""
    seen: dict[str, int] = {}
    for _ in range(60):
        _, headers, text = raw_request(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n")
        seen[headers["x-fastroute-replica"]] = sum(
            int(float(line.rsplit(" ", 1)[1]))
            for line in text.decode().splitlines()
            if line.startswith("fastroute_requests_total{") and 'status="499"' in line
        )
        if len(seen) == 2:
            break
    assert len(seen) == 2, seen
    return sum(seen.values())


def test_client_hang_up_cancels_as_fastroute_serve(serve_port, upstream):
    """A client gone mid-request: Serve cancels the replica's call, the bridge closes the app's
    connection, the app cancels its handler and counts a 499, as `fastroute serve` does."""
    before, sent = _hung_up_count(serve_port), len(upstream.record)
    body = json.dumps(
        {"model": "router-mf-0.5", "messages": [{"role": "user", "content": "__sleep__"}], "stream": True}
    ).encode()
    with socket.create_connection(("127.0.0.1", serve_port)) as s:
        head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n\r\n"
        s.sendall(head.encode() + body)
        deadline = time.monotonic() + 10
        while len(upstream.record) == sent and time.monotonic() < deadline:  # the upstream has it
            time.sleep(0.05)
    deadline = time.monotonic() + 10
    while _hung_up_count(serve_port) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _hung_up_count(serve_port) == before + 1
