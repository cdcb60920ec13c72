"""Upstream faults, client hang-ups, slow clients, secrets and metrics: each fault kind, for
streamed and plain completions, answers something the client can read, and is counted once."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time

import pytest

aiohttp = pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai", reason="the serve extra is not installed")

from fastroute import RandomRouter  # noqa: E402
from fastroute.decision.metrics import Registry  # noqa: E402
from fastroute.decision.targets import Upstream  # noqa: E402
from fastroute.frontends.http.config import ServeConfig  # noqa: E402

from serve_helpers import FaultUpstream, fastroute_server, serve_config  # noqa: E402

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
KEY = "sk-live-abcdefghijklmnop1234"


@pytest.fixture(scope="module")
def fault():
    with FaultUpstream() as up:
        yield up


def _cfg(base_url: str, **options) -> ServeConfig:
    return serve_config(
        routers={"random": RandomRouter(seed=0)},
        strong_model=STRONG,
        weak_model=WEAK,
        default_upstream=Upstream(base_url, "FAULT_UPSTREAM_KEY"),
        **options,
    )


@pytest.fixture
def server(fault, monkeypatch):
    monkeypatch.setenv("FAULT_UPSTREAM_KEY", KEY)
    with fastroute_server(_cfg(f"{fault.url}/v1", upstream_timeout=1.0, connect_timeout=2.0)) as srv:
        yield srv


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _chat(url: str, prompt: str, stream: bool, model: str = STRONG, client_timeout: float = 15):
    """Status, headers, body (JSON, or the list of SSE data payloads of a stream)."""
    async with aiohttp.ClientSession() as s:
        async with s.post(
            f"{url}/v1/chat/completions",
            json={"model": model, "stream": stream, "messages": [{"role": "user", "content": prompt}]},
            timeout=aiohttp.ClientTimeout(total=client_timeout),
        ) as r:
            raw = await r.read()
            if r.content_type == "text/event-stream":
                events = [e[len("data: ") :] for e in raw.decode().split("\n\n") if e.startswith("data: ")]
                return r.status, r.headers, [e if e == "[DONE]" else json.loads(e) for e in events]
            assert r.content_type == "application/json", raw[:200]
            return r.status, r.headers, json.loads(raw)


def _metrics(url: str) -> str:
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        return resp.read().decode()


def _count(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    m = re.search(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_connection_refused_is_502_json(stream):
    dead = _dead_port()
    with fastroute_server(_cfg(f"http://127.0.0.1:{dead}/v1?api-key=query-secret")) as srv:
        status, _, body = asyncio.run(_chat(srv.url, "hi", stream))
        text = _metrics(srv.url)
    err = body["error"]
    assert status == 502 and err["type"] == "upstream_error" and err["code"] == "upstream_unreachable"
    assert f"http://127.0.0.1:{dead}" in err["message"]
    assert "query-secret" not in err["message"] and "/v1" not in err["message"]
    assert _count(text, "fastroute_upstream_errors_total", model=STRONG, status="connect") == 1
    assert _count(text, "fastroute_requests_total", endpoint="/v1/chat/completions", status="502") == 1


@pytest.mark.parametrize("marker", ["__cut__", "__badchunk__"])
def test_stream_broken_midway_ends_with_an_error_event(server, marker):
    status, _, events = asyncio.run(_chat(server.url, marker, True))
    assert status == 200
    assert events[0]["choices"][0]["delta"]["content"] == "partial"  # what arrived before the fault
    # a cut connection is seen at once; after an invalid chunk-size line aiohttp's client waits
    # for more, so that one ends at the idle timeout (1 s here)
    code, kind = ("upstream_cut", "stream_cut") if marker == "__cut__" else ("upstream_timeout", "stream_timeout")
    assert events[-1] == "[DONE]" and events[-2]["error"]["code"] == code
    assert "HTTP/1.1" not in json.dumps(events)  # no second response inside the body
    text = _metrics(server.url)
    assert _count(text, "fastroute_upstream_errors_total", model=STRONG, status=kind) == 1
    assert len(re.findall(r"^fastroute_upstream_errors_total\{", text, re.M)) == 1  # counted once
    # counted with the error's status (the client saw 200, then the error event), so error rates
    # show in fastroute_requests_total, and once: never also as a 200
    want = "502" if marker == "__cut__" else "504"
    assert _count(text, "fastroute_requests_total", endpoint="/v1/chat/completions", status=want) == 1
    assert re.findall(r'fastroute_requests_total\{endpoint="/v1/chat/completions",status="(\d+)"', text) == [want]


def test_openai_client_sees_the_stream_error(server):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="x", max_retries=0)
    stream = client.chat.completions.create(
        model=STRONG, stream=True, messages=[{"role": "user", "content": "__cut__"}]
    )
    got = []
    with pytest.raises(openai.APIError, match="connection broke"):
        for chunk in stream:
            got.append(chunk.choices[0].delta.content)
    assert got == ["partial"]


def test_plain_completion_cut_midway_is_502(server):
    status, _, body = asyncio.run(_chat(server.url, "__cut__", False))
    assert status == 502 and body["error"]["code"] == "upstream_cut"
    assert _count(_metrics(server.url), "fastroute_upstream_errors_total", model=STRONG, status="cut") == 1


def test_non_json_200_is_502(server):
    status, headers, body = asyncio.run(_chat(server.url, "__badchunk__", False))
    assert status == 502 and body["error"]["code"] == "upstream_bad_response"
    assert "gateway says hi" not in json.dumps(body)
    assert _count(_metrics(server.url), "fastroute_upstream_errors_total", model=STRONG, status="bad_response") == 1


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_stall_past_the_idle_timeout(server, stream):
    t0 = time.perf_counter()
    status, _, body = asyncio.run(_chat(server.url, "__stall__", stream))
    elapsed = time.perf_counter() - t0
    assert 0.9 < elapsed < 8.0  # the upstream stalls for 20 s; slack for a loaded CI machine
    if stream:
        assert (
            status == 200
            and body[-2]["error"]["type"] == "upstream_timeout"
            and "stalled" in body[-2]["error"]["message"]
        )
        kind = "stream_timeout"
    else:
        assert status == 504 and body["error"]["type"] == "upstream_timeout"
        kind = "timeout"
    assert _count(_metrics(server.url), "fastroute_upstream_errors_total", model=STRONG, status=kind) == 1


def test_a_long_healthy_stream_is_not_cut(server):
    """2 s of stream under a 1 s upstream timeout: the timeout is for silence, not a total."""
    t0 = time.perf_counter()
    status, _, events = asyncio.run(_chat(server.url, "__slowok__", True))
    assert time.perf_counter() - t0 > 1.9
    assert status == 200 and events[-1] == "[DONE]"
    assert "".join(e["choices"][0]["delta"]["content"] for e in events[:-1]) == "part0 part1 part2 part3 part4 "


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_upstream_401_is_relayed_masked_with_allowed_headers_only(server, stream):
    status, headers, body = asyncio.run(_chat(server.url, "__401__", stream))
    assert status == 401 and headers["Content-Type"].startswith("application/json")
    dumped = json.dumps(body)
    assert KEY not in dumped and "abcdefghijklmnop" not in dumped
    assert body["error"]["code"] == "invalid_api_key" and "***" in body["error"]["message"]
    assert "Set-Cookie" not in headers and headers.get("Server", "").find("upstream-internal") < 0
    assert headers["x-ratelimit-remaining-requests"] == "42" and headers["x-request-id"] == "req-123"
    assert _count(_metrics(server.url), "fastroute_upstream_errors_total", model=STRONG, status="401") == 1


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_client_disconnect_cancels_the_upstream_call(server, fault, stream):
    n_before = len(fault.events)

    async def hang_up():
        with pytest.raises(asyncio.TimeoutError):
            await _chat(server.url, "__long__", stream, client_timeout=0.6)

    asyncio.run(hang_up())
    for _ in range(120):  # the upstream should see the hang-up within about a second
        if len(fault.events) > n_before:
            break
        time.sleep(0.05)
    assert (
        fault.events[n_before:] and fault.events[n_before][0] == "hung_up" and fault.events[n_before][1] < 5.0
    )  # of 10 s
    time.sleep(0.1)
    text = _metrics(server.url)
    assert _count(text, "fastroute_requests_total", endpoint="/v1/chat/completions", status="499") == 1
    assert "fastroute_upstream_errors_total{" not in text  # a client hanging up is not an upstream fault


def test_slow_clients_are_disconnected():
    """Slowloris: a request head dribbled in byte by byte is cut off at the client timeout;
    a body that never completes gets a 408."""
    with fastroute_server(_cfg("http://127.0.0.1:9/v1", client_timeout=1.0)) as srv:
        socks = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(5)]
        t0 = time.perf_counter()
        for s in socks:
            s.sendall(b"POST /v1/route HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)
        closed_at = {}
        while len(closed_at) < len(socks) and time.perf_counter() - t0 < 10:
            for i, s in enumerate(socks):
                if i in closed_at:
                    continue
                try:
                    s.sendall(b"X")
                    if s.recv(1024) == b"":
                        closed_at[i] = time.perf_counter() - t0
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[i] = time.perf_counter() - t0
            time.sleep(0.2)
        for s in socks:
            s.close()
        assert len(closed_at) == len(socks) and max(closed_at.values()) < 8.0, closed_at  # 1 s timeout
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as s:
            s.sendall(
                b"POST /v1/route HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\nConnection: close\r\n\r\n{"router"'
            )
            t1 = time.perf_counter()
            data = b""
            while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
                re.search(rb"(?i)content-length: (\d+)", data).group(1)
            ):
                data += s.recv(65536)
        assert data.startswith(b"HTTP/1.1 408") and time.perf_counter() - t1 < 8.0
        assert b'"error"' in data and b"application/json" in data


def test_credentials_in_the_base_url_are_refused_at_start_up():
    # Passwords holding '/', '?' or '#' once parsed as a host or port: one was accepted with
    # host 'user', another put part of the password into the start-up error.
    for url in (
        "http://user:hunter2@example.com/v1",
        "https://user:hun/ter2@example.com/v1",
        "https://user:12345/hunter2@api.example.com/v1",
        "https://user:hu?nter2@example.com/v1",
    ):
        with pytest.raises(ValueError, match="credentials") as info:
            Upstream(url, "SOME_KEY")
        assert "hunter2" not in str(info.value) and "hun" not in str(info.value).replace("--api-key-env", "")
    up = Upstream("https://example.com:8443/openai/v1?api-version=2024-02-01&api-key=qs-secret")
    assert up.display == "https://example.com:8443"
    assert up.chat_url == "https://example.com:8443/openai/v1/chat/completions?api-version=2024-02-01&api-key=qs-secret"
    assert "qs-secret" in up.secrets()  # masked wherever an upstream echoes it


def test_query_string_is_sent_upstream(fault):
    with fastroute_server(_cfg(f"{fault.url}/v1?api-version=7")) as srv:
        status, _, body = asyncio.run(_chat(srv.url, "hello", False))
    assert status == 200 and body["choices"][0]["message"]["content"] == "echo: hello"
    assert fault.requests[-1][0] == "/v1/chat/completions?api-version=7"


def test_metric_labels_are_bounded(server):
    async def many():
        async with aiohttp.ClientSession() as s:

            async def one(i):
                async with s.post(
                    f"{server.url}/v1/chat/completions",
                    json={"model": f"client-chosen-{i}", "messages": [{"role": "user", "content": "x"}]},
                ) as r:
                    return r.status

            return await asyncio.gather(*(one(i) for i in range(300)))

    assert set(asyncio.run(many())) == {200}
    text = _metrics(server.url)
    assert "client-chosen" not in text
    assert 'fastroute_upstream_latency_seconds_count{model="other"} 300' in text
    assert len(text) < 20_000


def test_metrics_can_require_the_api_key(fault):
    import urllib.error
    import urllib.request

    with fastroute_server(_cfg(f"{fault.url}/v1", api_keys=frozenset({"client-key"}), metrics_auth=True)) as srv:
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"{srv.url}/metrics", timeout=5)
        assert info.value.code == 401 and json.loads(info.value.read())["error"]["code"] == "invalid_api_key"
        req = urllib.request.Request(f"{srv.url}/metrics", headers={"Authorization": "Bearer client-key"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert b"fastroute_requests_total" in resp.read()
        with urllib.request.urlopen(f"{srv.url}/health", timeout=5) as resp:
            assert resp.status == 200
    with pytest.raises(ValueError, match="metrics_auth needs API keys"):
        fastroute_server(_cfg(f"{fault.url}/v1", metrics_auth=True))


def test_metrics_snapshot_renders_off_the_loop():
    reg = Registry(models=[STRONG])
    reg.requests.inc(endpoint="/health", status="200")
    reg.upstream_latency.observe(0.2, model=reg.model(STRONG))
    snap = reg.snapshot()
    before = reg.render(snap)
    reg.requests.inc(endpoint="/health", status="200")  # later updates do not touch the snapshot
    reg.upstream_latency.observe(0.3, model=reg.model("unknown-model"))
    assert reg.render(snap) == before and 'status="200"} 1' in before
    assert 'model="other"' in reg.render() and "unknown-model" not in reg.render()


def test_half_an_event_then_a_stall_ends_with_a_readable_error(server):
    """Only whole SSE events are forwarded: the error event is never glued to half of one
    (a buffer with no event boundary once sent its first 3 bytes: 'datdata: {"error"...')."""
    status, _, events = asyncio.run(_chat(server.url, "__halfevent__", True))
    assert status == 200
    assert events[0]["choices"][0]["delta"]["content"] == "whole"
    assert events[-1] == "[DONE]" and events[-2]["error"]["code"] == "upstream_timeout"
    assert len(events) == 3


def test_sse_event_boundaries():
    from fastroute.frontends.http.body_io import events_end

    assert [events_end(b) for b in (b"", b"abc", b"\n\nabc", b"data: x\n\n", b"x\r\n\r\ny")] == [0, 0, 2, 9, 5]
    # Scanning from where the new bytes begin finds a boundary split across two chunks.
    old, new = b"data: x\r\n", b"\r\nmore"
    assert events_end(old + new, max(0, len(old) - 3)) == len(old) + 2


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_a_json_escaped_key_is_masked_too(server, stream):
    status, _, body = asyncio.run(_chat(server.url, "__escapedkey__", stream))
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    dumped = json.dumps(body)
    assert KEY not in dumped and "abcdefghijklmnop" not in dumped and "***" in body["error"]["message"]


@pytest.mark.parametrize("marker,want", [("__deep__", 502), ("__deep__500", 500)])
def test_deeply_nested_upstream_bodies_are_json_errors(server, marker, want):
    status, _, body = asyncio.run(_chat(server.url, marker, False))
    assert status == want
    assert body["error"]["code"] == ("upstream_bad_response" if want == 502 else "upstream_http_error")


def test_odd_token_counts_are_not_counted(server):
    """A 200 whose usage holds negative or huge counts is still answered (it once became a
    500 for an infinite count), and the counts are left out of the counters."""
    from fastroute.frontends.http.proxy import account_usage

    status, _, body = asyncio.run(_chat(server.url, "__oddusage__", False))
    assert status == 200 and body["choices"][0]["message"]["content"] == "odd"
    up = Upstream("http://127.0.0.1:9/v1")
    reg = Registry()
    account_usage(reg, up, STRONG, {"usage": {"prompt_tokens": 7, "completion_tokens": 3}})
    for usage in (
        {"prompt_tokens": -5, "completion_tokens": 1},
        {"prompt_tokens": 1e300},
        {"prompt_tokens": True},
        {"prompt_tokens": float("inf")},
        {"prompt_tokens": "12"},
        "lots",
        None,
    ):
        account_usage(reg, up, STRONG, {"usage": usage})
    text = reg.render()
    assert _count(text, "fastroute_upstream_tokens_total", kind="input", model=STRONG) == 7
    assert _count(text, "fastroute_upstream_tokens_total", kind="output", model=STRONG) == 3
