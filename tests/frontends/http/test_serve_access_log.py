"""The optional access log (serve/access_log.py): one JSON line per request on the
"fastroute.access" logger, off by default, sampled (every 5xx kept), with the decision, the
status and the latency, an x-request-id, and never a prompt or a key."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import time
from datetime import datetime, timezone

import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai", reason="the serve extra is not installed")

from aiohttp import web  # noqa: E402

from fastroute import load_router  # noqa: E402
from fastroute.decision.targets import Upstream  # noqa: E402
from fastroute.frontends.http.access_log import ACCESS_LOG  # noqa: E402
from fastroute.frontends.http.app import create_app  # noqa: E402
from fastroute.frontends.http.config import CONFIG, ServeConfig  # noqa: E402
from fastroute.frontends.http.server import access_log_to_stdout, build_config  # noqa: E402

from serve_helpers import BackgroundServer, fastroute_server, post_json, raw_request, serve_config  # noqa: E402

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
KEY = "sk-access-log-secret-1234"
SECRET = "my confidential prompt about project nightingale"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def routers():
    return {"mf": load_router("mf")}


def _cfg(routers, upstream, **options) -> ServeConfig:
    return serve_config(
        routers=routers,
        strong_model=STRONG,
        weak_model=WEAK,
        default_upstream=Upstream(f"{upstream.url}/v1"),
        **options,
    )


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def records(self, n: int, timeout: float = 5.0) -> list[dict]:
        """Waits for `n` lines (a stream's is written once it has ended), then parses them."""
        deadline = time.monotonic() + timeout
        while len(self.lines) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # nothing more should come
        assert len(self.lines) == n, self.lines
        assert all("\n" not in line for line in self.lines)
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def lines():
    logger = logging.getLogger("fastroute.access")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


def fastroute_server_for(app):
    from fastroute.frontends.http.server import runner_options

    return BackgroundServer(app, **runner_options(app[CONFIG]))


def _route(srv, body, headers=None):
    return post_json(f"{srv.url}/v1/route", body, {**AUTH, **(headers or {})})


def test_off_by_default(routers, upstream, lines):
    cfg = _cfg(routers, upstream)
    assert cfg.access_log == 0.0
    app = create_app(cfg)
    assert len(app.middlewares) == 1 and not app.on_response_prepare and ACCESS_LOG not in app
    with fastroute_server(cfg) as srv:
        status, headers, _ = _route(srv, {"model": "router-mf-0.5", "prompt": SECRET})
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0)
        client.chat.completions.create(model="router-mf-0.5", messages=[{"role": "user", "content": "hi"}])
    assert status == 200 and "x-request-id" not in {k.lower() for k in headers}
    time.sleep(0.05)
    assert lines.lines == []


def test_every_request_logged_with_its_decision_and_nothing_secret(routers, upstream, lines):
    cfg = _cfg(routers, upstream, access_log=1.0, api_keys=frozenset({KEY}))
    with fastroute_server(cfg) as srv:
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key=KEY, max_retries=0)
        status, route_headers, answer = _route(srv, {"model": "router-mf-0.5", "prompt": SECRET})
        assert status == 200
        routed = client.chat.completions.with_raw_response.create(
            model="router-mf-0.0", messages=[{"role": "user", "content": SECRET}]
        )
        client.chat.completions.create(model="some-upstream-model", messages=[{"role": "user", "content": SECRET}])
        client.chat.completions.create(model=STRONG, messages=[{"role": "user", "content": SECRET}])
        chunks = list(
            client.chat.completions.create(
                model="router-mf-1.0", stream=True, messages=[{"role": "user", "content": SECRET}]
            )
        )
        assert chunks
        bad = post_json(f"{srv.url}/v1/chat/completions", {"model": "router-mf-0.5"}, AUTH)
        unauth = post_json(
            f"{srv.url}/v1/route", {"model": "router-mf-0.5", "prompt": SECRET}, {"Authorization": "Bearer sk-wrong-9"}
        )
        assert (bad[0], unauth[0]) == (400, 401)
        recs = lines.records(7)
    route, chat, other, strong, stream, r400, r401 = recs
    for rec in recs:
        assert rec["method"] == "POST" and rec["client"] == "127.0.0.1"
        assert 0 < rec["latency_ms"] < 10_000
        ts = datetime.fromisoformat(rec["ts"].replace("Z", "+00:00"))
        assert ts.utcoffset() == timezone.utc.utcoffset(None) and rec["ts"].endswith("Z")
        assert abs(time.time() - ts.timestamp()) < 60
    assert [r["path"] for r in recs] == ["/v1/route"] + ["/v1/chat/completions"] * 5 + ["/v1/route"]
    assert [r["status"] for r in recs] == [200, 200, 200, 200, 200, 400, 401]
    assert route_headers["x-request-id"] == route["id"]
    decision = answer["decisions"][0]
    assert route["model"] == "router-mf-0.5" and route["router"] == "mf" and route["threshold"] == 0.5
    assert route["decisions"] == 1 and route["routed_to"] == decision["model"]
    assert route["win_rate"] == pytest.approx(decision["win_rate"]) and route["stream"] is False
    assert chat["model"] == "router-mf-0.0" and chat["routed_to"] == STRONG and chat["router"] == "mf"
    assert chat["win_rate"] == pytest.approx(float(routed.headers["x-fastroute-win-rate"]), abs=1e-6)
    assert chat["id"] == routed.headers["x-request-id"] and chat["bytes_out"] > 0
    assert (other["model"], other["routed_to"]) == ("other", "other")  # a name the server was not configured with
    assert (strong["model"], strong["routed_to"]) == (STRONG, STRONG) and "router" not in strong
    assert stream["stream"] is True and stream["routed_to"] == WEAK and stream["model"] == "router-mf-1.0"
    assert 0 < stream["first_byte_ms"] <= stream["latency_ms"] and stream["bytes_out"] > 0
    assert r400["error_type"] == "invalid_request_error" and r400["model"] == "router-mf-0.5"
    assert (r401["error_type"], r401["error_code"]) == ("authentication_error", "invalid_api_key")
    assert "model" not in r401  # auth comes first: its body was never read
    text = "\n".join(lines.lines)
    for secret in (SECRET, "nightingale", KEY, "sk-wrong-9", "Bearer", "Authorization", "echo:"):
        assert secret not in text


def test_request_ids_echoed_or_generated(routers, upstream, lines):
    cfg = _cfg(routers, upstream, access_log=1.0)
    body = {"model": "router-mf-0.5", "prompt": "hi"}
    with fastroute_server(cfg) as srv:
        _, echoed, _ = post_json(f"{srv.url}/v1/route", body, {"x-request-id": "client-req:42"})
        _, fresh, _ = post_json(f"{srv.url}/v1/route", body)
        _, unsafe, _ = post_json(f"{srv.url}/v1/route", body, {"x-request-id": "x" * 65})
        _, spaced, _ = post_json(f"{srv.url}/v1/route", body, {"x-request-id": "a b<script>"})
        status, head, _ = raw_request(srv.port, "GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
        recs = lines.records(5)
    assert echoed["x-request-id"] == "client-req:42" == recs[0]["id"]
    generated = [fresh["x-request-id"], unsafe["x-request-id"], spaced["x-request-id"], head["x-request-id"]]
    assert generated == [r["id"] for r in recs[1:]]
    assert len(set(generated)) == 4 and all(8 <= len(g) <= 24 and g.isalnum() for g in generated)
    assert status == 404 and recs[4]["status"] == 404 and recs[4]["path"] == "other" and "model" not in recs[4]


def test_sampling_keeps_a_fraction_of_successes_and_every_5xx(routers, upstream, lines):
    cfg = _cfg(routers, upstream, access_log=0.25)
    draws = random.Random(7)
    expected = sum(draws.random() < 0.25 for _ in range(60))  # one draw per success, in order
    srv = fastroute_server(cfg)
    srv.app[ACCESS_LOG].random = random.Random(7).random
    with srv:
        for i in range(60):
            assert _route(srv, {"model": "router-mf-0.5", "prompt": f"p{i}"})[0] == 200
            if i % 12 == 0:  # the upstream answers 500: relayed, and always logged
                status, _, _ = post_json(
                    f"{srv.url}/v1/chat/completions",
                    {"model": "router-mf-0.5", "messages": [{"role": "user", "content": "__500__"}]},
                )
                assert status == 500
        recs = lines.records(expected + 5)
    assert 5 <= expected <= 25  # roughly a quarter of the 60
    assert sum(r["status"] == 200 for r in recs) == expected
    errors = [r for r in recs if r["status"] >= 500]
    assert len(errors) == 5 and all(r["routed_to"] in (STRONG, WEAK) and r["router"] == "mf" for r in errors)


def test_a_stream_broken_after_its_start_is_logged_as_the_error(routers, upstream, lines):
    """The wire status of a started stream is 200; the record has the error's, so a 5xx
    there is always logged too."""
    from fastroute.frontends.http.outcome import PREPARED

    async def breaks(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        request[PREPARED] = resp
        await resp.write(b"data: {}\n\n")
        raise RuntimeError("a bug after the first event")

    app = create_app(_cfg(routers, upstream, access_log=0.01))
    app.router.add_post("/breaks", breaks)
    app[ACCESS_LOG].random = lambda: 0.99  # no success would be sampled
    with fastroute_server_for(app) as srv:
        status, headers, payload = raw_request(
            srv.port, "POST /breaks HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n"
        )
        assert status == 200 and b"server_error" in payload and headers["x-request-id"]
        assert post_json(f"{srv.url}/v1/route", {"model": "router-mf-0.5", "prompt": "hi"})[0] == 200
        (rec,) = lines.records(1)
    assert rec["status"] == 500 and rec["path"] == "other" and rec["id"] == headers["x-request-id"]
    assert rec["error_type"] == "server_error"  # paths the server does not serve are "other", as in /metrics


@pytest.mark.parametrize("fault,code", [("__cut__", "upstream_cut"), ("__stall__", "upstream_timeout")])
def test_an_upstream_failing_mid_stream_is_logged_and_counted_as_its_error(routers, fault, code, lines):
    """The upstream cuts or stalls after the stream started: the client gets 200 and an error
    event; the log (even sampled at 1%) and /metrics get the 5xx, with its type and code."""
    from serve_helpers import FaultUpstream

    with FaultUpstream() as up:
        cfg = _cfg(routers, up, access_log=0.01, upstream_timeout=0.5)
        app = create_app(cfg)
        app[ACCESS_LOG].random = lambda: 0.99  # no success would be sampled
        with fastroute_server_for(app) as srv:
            client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0)
            with pytest.raises(openai.APIError):
                for _ in client.chat.completions.create(
                    model="router-mf-0.5", stream=True, messages=[{"role": "user", "content": fault}]
                ):
                    pass
            (rec,) = lines.records(1)
            assert _metric(srv.url, str(rec["status"])) == 1.0
            assert _metric(srv.url, "200") == 0.0
    assert rec["status"] in (502, 504) and rec["error_code"] == code and rec["stream"] is True
    assert rec["routed_to"] in (STRONG, WEAK) and rec["bytes_out"] > 0


def test_a_disabled_logger_gets_nothing(routers, upstream):
    logger = logging.getLogger("fastroute.access")
    handler, level = _Lines(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)  # an operator's logging config turned it down
    try:
        with fastroute_server(_cfg(routers, upstream, access_log=1.0)) as srv:
            status, headers, _ = post_json(f"{srv.url}/v1/route", {"model": "router-mf-0.5", "prompt": "hi"})
        assert status == 200 and headers["x-request-id"] and handler.lines == []
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "0.5", True])
def test_config_validation(routers, upstream, bad):
    with pytest.raises(ValueError, match="access_log"):
        create_app(_cfg(routers, upstream, access_log=bad))


def test_build_config_takes_the_fraction_and_serve_prints_to_stdout(capsys):
    cfg = build_config(["length"], "a", "b", route_only=True, access_log=0.5)
    assert cfg.access_log == 0.5
    logger = logging.getLogger("fastroute.access")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers.clear()
    logger.setLevel(logging.NOTSET)
    try:
        access_log_to_stdout(build_config(["length"], "a", "b", route_only=True))  # off: nothing attached
        assert logger.handlers == []
        access_log_to_stdout(cfg)
        assert len(logger.handlers) == 1 and logger.level == logging.INFO and not logger.propagate
        logger.info('{"status": 200}')
        assert capsys.readouterr().out == '{"status": 200}\n'
        access_log_to_stdout(cfg)  # a handler is there already (an operator's, say): left alone
        assert len(logger.handlers) == 1
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


# -- The race that once made the end-to-end test flaky: the OpenAI client closes a stream's
# connection as soon as it has read `data: [DONE]`, and aiohttp cancels the handler, often
# while it still waits for the upstream's end of stream. An upstream that holds its stream
# open after an event makes that cancellation certain, not a matter of timing.


def _holding_upstream_app(events: list) -> web.Application:
    """Streams one content event, then `data: [DONE]` unless the prompt says "__mid__", then
    holds the stream open (up to 5 s) and records whether its caller left before the end."""

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "x-request-id": "up-hold-1"})
        await resp.prepare(request)
        delta = {"choices": [{"index": 0, "delta": {"content": "held"}, "finish_reason": None}]}
        chunk = {
            "id": "chatcmpl-hold",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": body["model"],
            **delta,
        }
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        if "__mid__" not in body["messages"][-1]["content"]:
            await resp.write(b"data: [DONE]\n\n")
        for _ in range(500):
            await asyncio.sleep(0.01)
            if request.transport is None or request.transport.is_closing():
                events.append("caller_left")
                return resp
        events.append("finished")
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


@pytest.fixture(scope="module")
def holding():
    from serve_helpers import BackgroundServer

    events: list = []
    with BackgroundServer(_holding_upstream_app(events)) as srv:
        srv.events = events
        yield srv


def _read_then_hang_up(port: int, prompt: str, until: bytes) -> bytes:
    """A streaming chat request over a raw socket, closed the moment `until` has arrived."""
    body = json.dumps(
        {"model": "router-mf-1.0", "stream": True, "messages": [{"role": "user", "content": prompt}]}
    ).encode()
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode() + body)
        data = b""
        while until not in data:
            chunk = s.recv(65536)
            assert chunk, data
            data += chunk
    return data


def _dechunked(data: bytes) -> bytes:
    """The body of a raw chunked response read up to some point (no final chunk needed)."""
    out, rest = b"", data.partition(b"\r\n\r\n")[2]
    while rest:
        size, _, rest = rest.partition(b"\r\n")
        out, rest = out + rest[: int(size, 16)], rest[int(size, 16) + 2 :]
    return out


def _metric(url: str, status: str) -> float:
    import re
    import urllib.request

    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    want = f'endpoint="/v1/chat/completions",status="{status}"'
    m = re.search(rf"^fastroute_requests_total\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def _wait_for(events: list, n: int) -> None:
    deadline = time.monotonic() + 10
    while len(events) < n and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_stream_dropped_right_after_done_is_a_complete_200(routers, holding, lines):
    """Read to `data: [DONE]`, hang up at once: the handler is cancelled (the upstream sees its
    caller leave mid-stream) yet the stream was delivered whole: a 200 with its decision and
    bytes, in the log and in /metrics, every time."""
    n = 30
    holding.events.clear()
    with fastroute_server(_cfg(routers, holding, access_log=1.0)) as srv:
        bodies = [_dechunked(_read_then_hang_up(srv.port, f"drop {i}", b"data: [DONE]\n\n")) for i in range(n)]
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0)
        for i in range(5):  # the client whose hang-up made the test flaky
            stream = client.chat.completions.create(
                model="router-mf-1.0", stream=True, messages=[{"role": "user", "content": f"openai {i}"}]
            )
            assert [c.choices[0].delta.content for c in stream] == ["held"]
        recs = lines.records(n + 5)
        _wait_for(holding.events, n + 5)
        assert holding.events == ["caller_left"] * (n + 5)  # every handler was cancelled before the end
        assert (_metric(srv.url, "200"), _metric(srv.url, "499")) == (n + 5, 0)
    assert all(body.endswith(b"data: [DONE]\n\n") for body in bodies)
    for rec, body in zip(recs, bodies + [None] * 5):
        assert rec["status"] == 200 and rec["stream"] is True and rec["routed_to"] == WEAK, rec
        assert rec["router"] == "mf" and 0.0 <= rec["win_rate"] <= 1.0
        assert rec["bytes_out"] > 0 and rec["upstream_request_id"] == "up-hold-1"
        assert 0 < rec["first_byte_ms"] <= rec["latency_ms"]
        if body is not None:
            assert rec["bytes_out"] == len(body)  # the body's bytes, without the chunked framing


def test_a_client_hanging_up_mid_stream_is_still_499(routers, holding, lines):
    holding.events.clear()
    with fastroute_server(_cfg(routers, holding, access_log=1.0)) as srv:
        for i in range(3):
            _read_then_hang_up(srv.port, f"__mid__ {i}", b'"held"')
        recs = lines.records(3)
        _wait_for(holding.events, 3)
        assert holding.events == ["caller_left"] * 3
        assert (_metric(srv.url, "499"), _metric(srv.url, "200")) == (3, 0)
    for rec in recs:  # the decision and the bytes written before the hang-up are kept
        assert rec["status"] == 499 and rec["routed_to"] == WEAK and rec["router"] == "mf", rec
        assert rec["bytes_out"] > 0 and rec["first_byte_ms"] > 0


def test_the_openai_client_on_a_stream_that_ends_at_once(routers, upstream, lines):
    """The flaky test's own case, many times over: the stub upstream ends its stream right after
    `data: [DONE]`, so the hang-up lands before or after the handler is done, as it happens."""
    n = 40
    with fastroute_server(_cfg(routers, upstream, access_log=1.0)) as srv:
        client = openai.OpenAI(base_url=f"{srv.url}/v1", api_key="x", max_retries=0)
        for i in range(n):
            chunks = client.chat.completions.create(
                model="router-mf-1.0", stream=True, messages=[{"role": "user", "content": f"race {i}"}]
            )
            assert "".join(c.choices[0].delta.content or "" for c in chunks) == f"echo: race {i}"
        recs = lines.records(n)
        assert (_metric(srv.url, "200"), _metric(srv.url, "499")) == (n, 0)
    assert all(r["status"] == 200 and r["routed_to"] == WEAK and r["bytes_out"] > 0 for r in recs), recs


@pytest.mark.parametrize(
    "events, closes",
    [
        (b"data: [DONE]\n\n", True),
        (b'data: {"a": 1}\n\ndata: [DONE]\n\n', True),
        (b"data:[DONE]\r\n\r\n", True),
        (b'data: {"a": 1}\n\n', False),
        (b'data: {"text": "data: [DONE]"}\n\n', False),
        (b"x data: [DONE]\n\n", False),
        (b"", False),
    ],
)
def test_the_closing_event_is_recognised(events, closes):
    from fastroute.frontends.http.outcome import closes_stream

    assert closes_stream(events) is closes


# -- fastroute serve --access-log FRACTION


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan", "half", "inf"])
def test_the_cli_refuses_a_fraction_outside_0_1(value, capsys):
    from fastroute.cli import build_parser

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["serve", "--access-log", value])
    assert exit_.value.code == 2
    assert f"argument --access-log: {value!r} is not a fraction in [0, 1]" in capsys.readouterr().err


def test_the_cli_flag_defaults_to_off():
    from fastroute.cli import build_parser

    parser = build_parser()
    assert parser.parse_args(["serve"]).access_log == 0
    assert parser.parse_args(["serve", "--access-log", "0.25"]).access_log == 0.25


def test_serve_access_log_prints_one_json_line_per_request(upstream):
    """`fastroute serve --access-log 1` as a real process: one JSON line per request on stdout,
    beside the start-up lines, ids as sent back."""
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["serve", "--routers", "mf", "--base-url", f"{upstream.url}/v1", "--port", str(port), "--access-log", "1"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastroute.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    url, sent = f"http://127.0.0.1:{port}", {}
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        body = {"model": "router-mf-0.5", "prompt": SECRET}
        sent["cli-route"] = post_json(f"{url}/v1/route", body, {"x-request-id": "cli-route"})[0]
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="x", max_retries=0)
        messages = [{"role": "user", "content": SECRET}]
        client.chat.completions.create(
            model="router-mf-0.0", messages=messages, extra_headers={"x-request-id": "cli-chat"}
        )
        sent["cli-chat"] = 200
        chunks = client.chat.completions.create(
            model="router-mf-1.0", messages=messages, stream=True, extra_headers={"x-request-id": "cli-stream"}
        )
        assert list(chunks)
        sent["cli-stream"] = 200
        sent["cli-bad"] = post_json(f"{url}/v1/chat/completions", {"model": "x"}, {"x-request-id": "cli-bad"})[0]
        time.sleep(0.3)  # the stream's line is written once its handler has ended
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    records = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    others = [line for line in out.splitlines() if not line.startswith("{")]
    assert others[0].startswith("fastroute serve: routers") and "Running on" in others[0], out
    ours = {r["id"]: r for r in records if r["id"].startswith("cli-")}
    assert len(ours) == len(sent) == sum(r["id"].startswith("cli-") for r in records), out
    assert (
        {k: r["status"] for k, r in ours.items()}
        == sent
        == {"cli-route": 200, "cli-chat": 200, "cli-stream": 200, "cli-bad": 400}
    )
    assert all(r["path"] == "/health" for r in records if not r["id"].startswith("cli-")), out
    assert ours["cli-stream"]["routed_to"] == WEAK and ours["cli-chat"]["routed_to"] == STRONG
    assert SECRET not in out + err and "nightingale" not in out + err
