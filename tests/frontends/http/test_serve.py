"""The routing server with real parts: the real `openai` client talks to fastroute's server,
which talks to a real upstream HTTP server on loopback that records what it received."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai", reason="the serve extra is not installed")

from fastroute import RandomRouter, load_router  # noqa: E402
from fastroute.decision.targets import Upstream  # noqa: E402
from fastroute.frontends.http.app import create_app  # noqa: E402

from serve_helpers import BackgroundServer, post_json, serve_config  # noqa: E402

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"


@pytest.fixture(scope="module")
def routers():
    return {"sw_ranking": load_router("sw_ranking"), "mf": load_router("mf"), "random": RandomRouter(seed=0)}


def _server(routers, upstream, **options):
    cfg = serve_config(
        routers=routers,
        strong_model=STRONG,
        weak_model=WEAK,
        default_upstream=Upstream(f"{upstream.url}/v1", "STUB_UPSTREAM_KEY"),
        **options,
    )
    return BackgroundServer(create_app(cfg))


@pytest.fixture(scope="module")
def server(routers, upstream):
    with _server(routers, upstream, upstream_timeout=1.0) as srv:
        yield srv


def _client(server, key="unused"):
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=key, max_retries=0)


def _post(url, body, headers=None):
    return post_json(url, body, headers)


def test_routed_completion_with_openai_client(server, upstream, routers, monkeypatch):
    monkeypatch.setenv("STUB_UPSTREAM_KEY", "sk-upstream")
    client = _client(server)
    raw = client.chat.completions.with_raw_response.create(
        model="router-sw_ranking-0.0",
        messages=[
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "Prove that sqrt(2) is irrational."},
        ],
        temperature=0.3,
        max_tokens=50,
        extra_body={"custom_field": {"keep": [1, 2]}},
    )
    completion = raw.parse()
    assert completion.model == STRONG  # threshold 0: every prompt goes to the strong model
    assert completion.choices[0].message.content == "echo: Prove that sqrt(2) is irrational."
    assert raw.headers["x-fastroute-model"] == STRONG
    p = float(raw.headers["x-fastroute-win-rate"])
    assert p == pytest.approx(routers["sw_ranking"].win_rates(["Prove that sqrt(2) is irrational."])[0], abs=1e-6)
    sent = upstream.record[-1]
    assert sent["body"]["model"] == STRONG and sent["body"]["temperature"] == 0.3 and sent["body"]["max_tokens"] == 50
    assert sent["body"]["custom_field"] == {"keep": [1, 2]}  # every other field forwarded untouched
    assert sent["body"]["messages"][0] == {"role": "system", "content": "be brief"}
    assert sent["headers"]["Authorization"] == "Bearer sk-upstream"


def test_streamed_completion(server, upstream):
    client = _client(server)
    stream = client.chat.completions.create(
        model="router-mf-1.0", stream=True, messages=[{"role": "user", "content": "hello there"}]
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello there"
    assert len(chunks) >= 4 and all(c.model == WEAK for c in chunks)  # threshold 1: the weak model
    assert upstream.record[-1]["body"]["stream"] is True


def test_plain_model_is_passed_through(server, upstream):
    out = _client(server).chat.completions.create(
        model="some-upstream-model", messages=[{"role": "user", "content": "x"}]
    )
    assert out.model == "some-upstream-model" and upstream.record[-1]["body"]["model"] == "some-upstream-model"


def test_route_endpoint(server, routers):
    prompts = ["Prove Fermat's little theorem.", "hi", "Write a haiku about rain."]
    status, _, body = _post(f"{server.url}/v1/route", {"prompts": prompts, "router": "sw_ranking", "threshold": 0.5})
    assert status == 200 and len(body["decisions"]) == 3
    expected = routers["sw_ranking"].win_rates(prompts)
    np.testing.assert_allclose([d["win_rate"] for d in body["decisions"]], expected, atol=1e-9)
    assert [d["model"] for d in body["decisions"]] == routers["sw_ranking"].decide(expected, 0.5)
    status, _, body = _post(
        f"{server.url}/v1/route",
        {
            "model": "router-mf-0.5",
            "messages_batch": [
                [
                    {"role": "user", "content": "a"},
                    {"role": "assistant", "content": "b"},
                    {"role": "user", "content": "c"},
                ],
                [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            ],
        },
    )
    assert status == 200
    np.testing.assert_allclose(
        [d["win_rate"] for d in body["decisions"]], routers["mf"].win_rates(["c", "hi"]), atol=1e-9
    )
    status, _, body = _post(
        f"{server.url}/v1/route",
        {
            "model": "router-mf-0.5",
            "route_on": "conversation",
            "messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
        },
    )
    assert body["decisions"][0]["win_rate"] == pytest.approx(routers["mf"].win_rates(["user: a\nassistant: b"])[0])


@pytest.mark.parametrize(
    "body,status,fragment",
    [
        ({"model": "router-mf", "messages": [{"role": "user", "content": "x"}]}, 400, "router-<router>-<threshold>"),
        ({"model": "router-mf-1.5", "messages": [{"role": "user", "content": "x"}]}, 400, "must be in [0, 1]"),
        ({"model": "router-bert-0.5", "messages": [{"role": "user", "content": "x"}]}, 400, "unknown router 'bert'"),
        ({"model": "router-mf-0.5"}, 400, "'messages' is required"),
        ({"model": "router-mf-0.5", "messages": []}, 400, "non-empty list"),
        ({"model": "router-mf-0.5", "messages": [{"role": "assistant", "content": "x"}]}, 400, "no user message"),
        ({"messages": [{"role": "user", "content": "x"}]}, 400, "'model' is required"),
    ],
)
def test_bad_requests(server, body, status, fragment):
    code, _, err = _post(f"{server.url}/v1/chat/completions", body)
    assert code == status and fragment in err["error"]["message"]
    assert err["error"]["type"] == "invalid_request_error"


def test_malformed_json_and_openai_errors(server):
    code, _, err = _post(f"{server.url}/v1/chat/completions", b"{not json")
    assert code == 400 and "not valid JSON" in err["error"]["message"]
    with pytest.raises(openai.BadRequestError, match="threshold"):
        _client(server).chat.completions.create(model="router-mf-2", messages=[{"role": "user", "content": "x"}])


def test_upstream_errors_pass_through(server):
    code, headers, err = _post(
        f"{server.url}/v1/chat/completions",
        {"model": "router-mf-0.5", "messages": [{"role": "user", "content": "__429__"}]},
    )
    assert code == 429 and err == {"error": {"message": "rate limited", "type": "rate_limit"}}
    assert headers.get("Retry-After") == "7" and headers["x-fastroute-model"] in (STRONG, WEAK)
    code, _, err = _post(
        f"{server.url}/v1/chat/completions", {"model": "gpt-x", "messages": [{"role": "user", "content": "__500__"}]}
    )
    assert code == 500 and err["error"]["message"] == "boom"


def test_upstream_timeout_is_504(server):
    t0 = time.perf_counter()
    code, _, err = _post(
        f"{server.url}/v1/chat/completions",
        {"model": "router-mf-0.5", "messages": [{"role": "user", "content": "__sleep__"}]},
    )
    assert code == 504 and err["error"]["type"] == "upstream_timeout"
    assert time.perf_counter() - t0 < 2.5


def test_unreachable_upstream_is_502(routers):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]  # closed once the block ends: nothing listens there
    cfg = serve_config(
        routers=routers, strong_model=STRONG, weak_model=WEAK, default_upstream=Upstream(f"http://127.0.0.1:{dead}/v1")
    )
    with BackgroundServer(create_app(cfg)) as srv:
        code, _, err = _post(
            f"{srv.url}/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "x"}]}
        )
    assert code == 502 and err["error"]["type"] == "upstream_error"


def test_api_keys(routers, upstream):
    with _server(routers, upstream, api_keys=frozenset({"k1", "k2"})) as srv:
        with pytest.raises(openai.AuthenticationError):
            _client(srv, "wrong").chat.completions.create(
                model="router-mf-0.5", messages=[{"role": "user", "content": "x"}]
            )
        ok = _client(srv, "k2").chat.completions.create(
            model="router-mf-0.5", messages=[{"role": "user", "content": "x"}]
        )
        assert ok.choices[0].message.content == "echo: x"
        with urllib.request.urlopen(f"{srv.url}/health", timeout=5) as resp:  # health stays open
            assert resp.status == 200


class _SlowRouter:
    """Scores slowly, so requests pile up in the queue."""

    def __init__(self) -> None:
        self.inner = RandomRouter(seed=1)
        self.strong_model, self.weak_model, self.embedder_spec = STRONG, WEAK, None
        self.win_rate_quantiles = None

    def win_rates(self, texts):
        time.sleep(0.3)
        return self.inner.win_rates(texts)

    def decide(self, p, t):
        return self.inner.decide(p, t)


def test_full_queue_answers_503(upstream):
    with _server({"slow": _SlowRouter()}, upstream, max_queue=2, max_batch=1) as srv:

        async def burst():
            import aiohttp

            async with aiohttp.ClientSession() as s:

                async def one(i):
                    async with s.post(
                        f"{srv.url}/v1/route", json={"router": "slow", "threshold": 0.5, "prompt": f"p{i}"}
                    ) as r:
                        return r.status, r.headers.get("Retry-After")

                return await asyncio.gather(*(one(i) for i in range(8)))

        results = asyncio.run(burst())
    statuses = [s for s, _ in results]
    assert statuses.count(200) >= 1 and statuses.count(503) >= 1
    assert all(ra == "1" for s, ra in results if s == 503)


def test_hundreds_of_concurrent_requests(server, routers):
    """Nothing lost or mixed up: every answer matches its own request."""

    async def main():
        client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
        import aiohttp

        async def chat(i):
            out = await client.chat.completions.create(
                model=f"router-sw_ranking-{0.0 if i % 2 else 1.0}",
                messages=[{"role": "user", "content": f"request number {i}"}],
            )
            return i, out.choices[0].message.content, out.model

        async with aiohttp.ClientSession() as s:

            async def route(i):
                async with s.post(
                    f"{server.url}/v1/route",
                    json={"router": "mf", "threshold": 0.5, "prompt": f"question {i} about topic {i % 17}"},
                ) as r:
                    return i, (await r.json())["decisions"][0]["win_rate"]

            chats, routes = await asyncio.gather(
                asyncio.gather(*(chat(i) for i in range(200))), asyncio.gather(*(route(i) for i in range(300)))
            )
        await client.close()
        return chats, routes

    chats, routes = asyncio.run(main())
    assert len(chats) == 200 and len(routes) == 300
    for i, content, model in chats:
        assert content == f"echo: request number {i}" and model == (STRONG if i % 2 else WEAK)
    expected = routers["mf"].win_rates([f"question {i} about topic {i % 17}" for i in range(300)])
    np.testing.assert_allclose([p for _, p in sorted(routes)], expected, atol=1e-9)


def test_models_health_metrics(server):
    with urllib.request.urlopen(f"{server.url}/v1/models", timeout=5) as resp:
        ids = [m["id"] for m in json.loads(resp.read())["data"]]
    assert any(i.startswith("router-sw_ranking-") for i in ids) and any(i.startswith("router-mf-") for i in ids)
    with urllib.request.urlopen(f"{server.url}/health", timeout=5) as resp:
        assert json.loads(resp.read())["status"] == "ok"
    _post(f"{server.url}/v1/route", {"router": "mf", "threshold": 0.0, "prompt": "count me"})
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    assert 'fastroute_decisions_total{model="gpt-4-1106-preview",router="mf"}' in text
    assert "fastroute_routing_latency_seconds_bucket" in text and "fastroute_upstream_latency_seconds_count" in text
    assert 'fastroute_requests_total{endpoint="/v1/route",status="200"}' in text


def test_serve_command(upstream, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    keys = tmp_path / "keys.txt"
    keys.write_text("# clients\nsecret\n")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fastroute.cli",
            "serve",
            "--routers",
            "mf",
            "random",
            "--base-url",
            f"{upstream.url}/v1",
            "--port",
            str(port),
            "--api-keys-file",
            str(keys),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        out = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="secret", max_retries=0)
        r = out.chat.completions.create(model="router-random-0.5", messages=[{"role": "user", "content": "cli"}])
        assert r.choices[0].message.content == "echo: cli"
    finally:
        proc.terminate()
        proc.wait(10)


def test_upstreams_file_and_cost_metrics(routers, upstream, tmp_path):
    from fastroute.decision.targets import read_upstreams

    path = tmp_path / "upstreams.toml"
    path.write_text(f'''
[models."{STRONG}"]
base_url = "{upstream.url}/v1"
price_per_1m_input = 10.0
price_per_1m_output = 30.0

[models."{WEAK}"]
base_url = "{upstream.url}/v1/"
api_key_env = "WEAK_KEY"
''')
    ups = read_upstreams(path).models
    assert ups[WEAK].base_url == f"{upstream.url}/v1" and ups[STRONG].price_per_1m_output == 30.0
    cfg = serve_config(routers=routers, strong_model=STRONG, weak_model=WEAK, upstreams=ups)
    with BackgroundServer(create_app(cfg)) as srv:
        ok = _client(srv).chat.completions.create(model="router-mf-0.0", messages=[{"role": "user", "content": "q"}])
        assert ok.model == STRONG
        code, _, err = _post(
            f"{srv.url}/v1/chat/completions", {"model": "unlisted", "messages": [{"role": "user", "content": "q"}]}
        )
        assert code == 400 and "no upstream serves model 'unlisted'" in err["error"]["message"]
        with urllib.request.urlopen(f"{srv.url}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    # the stub reports 3 input and 5 output tokens: 3 * 10 / 1e6 + 5 * 30 / 1e6 dollars
    assert f'fastroute_upstream_cost_usd_total{{model="{STRONG}"}} 0.00018' in text
    bad = tmp_path / "bad.toml"
    bad.write_text('[models."x"]\nbase = "nope"\n')
    with pytest.raises(ValueError, match="needs a base_url"):
        read_upstreams(bad)


def test_serve_without_aiohttp_says_how_to_install():
    code = (
        "import sys; sys.modules['aiohttp'] = None\n"
        "from fastroute.cli import main\n"
        "sys.exit(main(['serve', '--routers', 'random']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "pip install 'fastroute[serve]'" in out.stderr


def test_serve_refuses_credentials_in_the_base_url():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastroute.cli",
            "serve",
            "--routers",
            "random",
            "--base-url",
            "http://user:hunter2@127.0.0.1:9/v1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "credentials" in out.stderr and "--api-key-env" in out.stderr
    assert "hunter2" not in out.stderr + out.stdout
