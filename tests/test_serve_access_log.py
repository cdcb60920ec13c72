"""The optional access log (serve/access_log.py): one JSON line per request on the
"fastroute.access" logger, off by default, sampled (every 5xx kept), with the decision, the
status and the latency, an x-request-id, and never a prompt or a key."""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timezone

import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai", reason="the serve extra is not installed")

from fastroute import load_router  # noqa: E402
from fastroute.serve.access_log import ACCESS_LOG  # noqa: E402
from fastroute.serve.app import create_app  # noqa: E402
from fastroute.serve.config import CONFIG, ServeConfig  # noqa: E402
from fastroute.serve.server import access_log_to_stdout, build_config  # noqa: E402
from fastroute.serve.upstreams import Upstream  # noqa: E402

from serve_helpers import BackgroundServer, fastroute_server, post_json, raw_request  # noqa: E402

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
KEY = "sk-access-log-secret-1234"
SECRET = "my confidential prompt about project nightingale"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def routers():
    return {"mf": load_router("mf")}


def _cfg(routers, upstream, **options) -> ServeConfig:
    return ServeConfig(
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
    from fastroute.serve.server import runner_options

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
    assert status == 404 and recs[4]["status"] == 404 and recs[4]["path"] == "/nowhere" and "model" not in recs[4]


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
    from aiohttp import web

    from fastroute.serve.proxy import PREPARED

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
    assert rec["status"] == 500 and rec["path"] == "/breaks" and rec["id"] == headers["x-request-id"]


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
