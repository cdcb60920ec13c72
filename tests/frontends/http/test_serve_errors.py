"""Every malformed request gets a clear OpenAI-style JSON error naming the problem, before
anything is sent upstream."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")

from fastroute import load_router  # noqa: E402
from fastroute.decision.targets import Upstream  # noqa: E402

from serve_helpers import fastroute_server, raw_request, serve_config  # noqa: E402

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
MSG = [{"role": "user", "content": "hello"}]


@pytest.fixture(scope="module")
def server(upstream):
    cfg = serve_config(
        routers={"mf": load_router("mf")},
        strong_model=STRONG,
        weak_model=WEAK,
        default_upstream=Upstream(f"{upstream.url}/v1"),
        max_queue=8,
    )
    with fastroute_server(cfg) as srv:
        yield srv


def post(port: int, path: str, body: bytes, content_type: str = "application/json") -> tuple[int, dict, bytes]:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    return raw_request(port, head, body)


def deep(n: int) -> bytes:
    return (
        b'{"model": "router-mf-0.5", "messages": [{"role": "user", "content": "x"}], "x": ' + b"[" * n + b"]" * n + b"}"
    )


CASES = [
    # (id, path, raw body, content type, status, param, fragment of the message)
    (
        "text part not a string",
        "/v1/chat/completions",
        {"model": "router-mf-0.5", "messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]},
        None,
        400,
        "messages[0].content[0].text",
        "must be a string",
    ),
    (
        "router is a list",
        "/v1/route",
        {"router": ["mf"], "threshold": 0.5, "prompt": "p"},
        None,
        400,
        "router",
        "must be a string",
    ),
    (
        "router is an object",
        "/v1/route",
        {"router": {"a": 1}, "threshold": 0.5, "prompt": "p"},
        None,
        400,
        "router",
        "must be a string",
    ),
    (
        "threshold true",
        "/v1/route",
        {"router": "mf", "threshold": True, "prompt": "p"},
        None,
        400,
        "threshold",
        "not a number",
    ),
    (
        "threshold string",
        "/v1/route",
        {"router": "mf", "threshold": "0.5", "prompt": "p"},
        None,
        400,
        "threshold",
        "not a number",
    ),
    (
        "threshold a 400-digit integer",
        "/v1/route",
        b'{"router": "mf", "threshold": ' + b"1" * 400 + b', "prompt": "p"}',
        None,
        400,
        "threshold",
        "too large",
    ),
    (
        "stream yes",
        "/v1/chat/completions",
        {"model": "router-mf-0.5", "messages": MSG, "stream": "yes"},
        None,
        400,
        "stream",
        "true or false",
    ),
    (
        "stream 'false'",
        "/v1/chat/completions",
        {"model": "router-mf-0.5", "messages": MSG, "stream": "false"},
        None,
        400,
        "stream",
        "true or false",
    ),
    (
        "NaN literal",
        "/v1/chat/completions",
        b'{"model": "router-mf-0.5", "messages": [{"role": "user", "content": "x"}], "temperature": NaN}',
        None,
        400,
        None,
        "NaN",
    ),
    (
        "Infinity literal",
        "/v1/route",
        b'{"router": "mf", "threshold": Infinity, "prompt": "p"}',
        None,
        400,
        None,
        "Infinity",
    ),
    (
        "overflowing number",
        "/v1/chat/completions",
        b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 1e999}',
        None,
        400,
        None,
        "finite",
    ),
    (
        "charset bogus",
        "/v1/route",
        {"router": "mf", "threshold": 0.5, "prompt": "p"},
        "application/json; charset=bogus",
        415,
        None,
        "bogus",
    ),
    ("nested 100,000 deep", "/v1/chat/completions", deep(100_000), None, 400, None, "nested"),
    ("nested 200 deep", "/v1/chat/completions", deep(200), None, 400, "x", "nested deeper than 64"),
    (
        "control characters in a pass-through model",
        "/v1/chat/completions",
        {"model": "gpt\r\nX-Evil: 1", "messages": MSG},
        None,
        400,
        "model",
        "model",
    ),
    (
        "NUL in a pass-through model",
        "/v1/chat/completions",
        {"model": "gpt\x00", "messages": MSG},
        None,
        400,
        "model",
        "model",
    ),
    (
        "more prompts than the queue holds",
        "/v1/route",
        {"router": "mf", "threshold": 0.5, "prompts": ["p"] * 9},
        None,
        413,
        "prompts",
        "at most 8",
    ),
    (
        "role not a string",
        "/v1/chat/completions",
        {"model": "router-mf-0.5", "messages": [{"role": 1, "content": "x"}]},
        None,
        400,
        "messages[0].role",
        "string",
    ),
    ("body not utf-8", "/v1/route", b'{"router": "mf", "threshold": 0.5, "prompt": "\xff"}', None, 400, None, "UTF-8"),
    ("body is a list", "/v1/route", b"[1, 2]", None, 400, None, "JSON object"),
    (
        "huge integer",
        "/v1/chat/completions",
        b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 1' + b"0" * 5000 + b"}",
        None,
        400,
        None,
        "integer",
    ),
    (
        "router-model string with a newline",
        "/v1/route",
        {"model": "router-mf-0.5\n", "prompt": "p"},
        None,
        400,
        "model",
        "",
    ),
]


@pytest.mark.parametrize("name,path,body,ctype,status,param,fragment", CASES, ids=[c[0] for c in CASES])
def test_malformed_requests_get_json_errors(server, upstream, name, path, body, ctype, status, param, fragment):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    n_before = len(upstream.record)
    code, headers, payload = post(server.port, path, raw, ctype or "application/json")
    assert headers.get("content-type", "").startswith("application/json"), (code, payload[:200])
    err = json.loads(payload)["error"]
    assert (code, err["param"]) == (status, param), err
    assert fragment in err["message"]
    assert set(err) == {"message", "type", "param", "code"}
    assert len(upstream.record) == n_before  # rejected before any upstream call


def test_unknown_paths_and_methods_are_json(server):
    for head in (
        "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
        "GET /v1/route HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
        "DELETE /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n",
    ):
        code, headers, payload = raw_request(server.port, head)
        assert code in (404, 405) and headers["content-type"].startswith("application/json")
        assert json.loads(payload)["error"]["type"] == "invalid_request_error"


def test_unexpected_exceptions_are_json_500s(server, monkeypatch):
    """The catch-all: a bug in a handler still answers JSON, and names no internals."""
    import fastroute.decision.request as request_module

    def broken(*args, **kwargs):
        raise KeyError("internal detail")

    monkeypatch.setattr(request_module, "routing_text", broken)
    code, headers, payload = post(
        server.port, "/v1/chat/completions", json.dumps({"model": "router-mf-0.5", "messages": MSG}).encode()
    )
    err = json.loads(payload)["error"]
    assert code == 500 and headers["content-type"].startswith("application/json")
    assert err["type"] == "server_error" and "internal detail" not in err["message"]


def test_oversized_body_is_a_json_413(server):
    body = b'{"prompt": "' + b"x" * (32 * 2**20 + 10) + b'"}'
    code, headers, payload = post(server.port, "/v1/route", body)
    assert code == 413 and headers["content-type"].startswith("application/json")
    assert json.loads(payload)["error"]["type"] == "invalid_request_error"
