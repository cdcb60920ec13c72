"""HTTP fuzzing: generated paths, methods, headers and bodies (random bytes, random JSON, and
near-valid requests with every field mistyped in turn) over loopback. Every answer must be
JSON (an OpenAI-style error for any status >= 400), no 5xx except an upstream's own
502/504, and the server healthy afterwards.

FASTROUTE_FUZZ_EXAMPLES sets the number of cases (default 2000, a few seconds)."""

from __future__ import annotations

import json
import logging
import os
import time

import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fastroute import RandomRouter, load_router  # noqa: E402
from fastroute.decision.targets import Upstream  # noqa: E402

from serve_helpers import fastroute_server, raw_request, serve_config  # noqa: E402

pytestmark = pytest.mark.external  # thousands of requests against a live server

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
EXAMPLES = int(os.environ.get("FASTROUTE_FUZZ_EXAMPLES", "2000"))
PATHS = ["/v1/chat/completions", "/v1/route", "/v1/models", "/health", "/metrics"]
STATS = {"cases": 0, "by_status": {}}


@pytest.fixture(scope="module")
def server(upstream):
    cfg = serve_config(
        routers={"mf": load_router("mf"), "random": RandomRouter(seed=0)},
        strong_model=STRONG,
        weak_model=WEAK,
        default_upstream=Upstream(f"{upstream.url}/v1"),
        upstream_timeout=5.0,
        max_queue=64,
    )
    with fastroute_server(cfg) as srv:
        yield srv


# -- strategies -----------------------------------------------------------------------------
text = st.text(max_size=30)  # any code point, lone surrogates included
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False), text)
any_json = st.recursive(
    scalars, lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(text, kids, max_size=4)), max_leaves=12
)
model = st.one_of(
    st.sampled_from(
        [
            "router-mf-0.5",
            "router-random-0.3",
            "router-mf-1",
            "router-sw_ranking-0.5",
            "router-mf--1",
            "router-mf-0.5\n",
            "router-mf-1_0",
            "router-mf-1e-400",
            "gpt-x",
            STRONG,
            "",
        ]
    ),
    st.builds(lambda t, x: f"router-{t}-{x}", text, text),
    text,
    any_json,
)
content = st.one_of(
    text,
    st.none(),
    any_json,
    st.lists(
        st.one_of(
            st.fixed_dictionaries({"type": st.just("text"), "text": st.one_of(text, any_json)}),
            st.fixed_dictionaries({"type": text}),
            any_json,
        ),
        max_size=3,
    ),
)
message = st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system"]), "content": content}),
    st.fixed_dictionaries({"role": st.one_of(text, any_json)}),
    any_json,
)
messages = st.one_of(st.lists(message, max_size=4), any_json)
chat_body = st.fixed_dictionaries(
    {"model": model, "messages": messages},
    optional={
        "stream": st.one_of(st.booleans(), st.sampled_from(["yes", "false", 1, 0]), any_json),
        "temperature": st.one_of(st.floats(allow_nan=False), any_json),
        "extra": any_json,
    },
)
route_body = st.fixed_dictionaries(
    {},
    optional={
        "router": st.one_of(st.sampled_from(["mf", "random", "nope"]), any_json),
        "threshold": st.one_of(st.floats(allow_nan=False), st.booleans(), text, any_json),
        "model": model,
        "prompt": st.one_of(text, any_json),
        "prompts": st.one_of(st.lists(text, max_size=70), any_json),
        "messages": messages,
        "messages_batch": st.one_of(st.lists(messages, max_size=3), any_json),
        "route_on": st.one_of(st.sampled_from(["last_user", "conversation"]), any_json),
    },
)


def _encode(obj) -> bytes:
    return json.dumps(obj).encode()  # lone surrogates become "\ud800" escapes, as a client would send them


raw_json_tricks = st.sampled_from(
    [
        b'{"router": "mf", "threshold": NaN, "prompt": "x"}',
        b'{"router": "mf", "threshold": -Infinity, "prompt": "x"}',
        b'{"model": "router-mf-0.5", "messages": [{"role": "user", "content": "x"}], "n": 1e99999}',
        b'{"model": "gpt-x", "messages": [{"role": "user", "content": "x"}], "x": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"{" * 100_000,
        b"[]",
        b"null",
        b'"text"',
        b"",
        b"\xff\xfe{}",
        b'{"a": 1}\x00',
        b'{"router": "mf"',
        b'\xef\xbb\xbf{"router": "mf", "threshold": 0.5, "prompt": "bom"}',
        b'{"router": "mf", "threshold": 0.5, "prompt": "a\\ud800b"}',
        b'{"model": "router-mf-0.5", "messages": [{"role": "user", "content": [{"type": "text", "text": {"x": 1}}]}]}',
    ]
)
valid_model = st.sampled_from(["router-mf-0.5", "router-random-0.3", "router-mf-0", "router-mf-1", STRONG, "gpt-x"])
valid_chat = st.builds(
    lambda m, t, stream: {"model": m, "messages": [{"role": "user", "content": t}], "stream": stream},
    valid_model,
    text,
    st.booleans(),
)
valid_route = st.builds(
    lambda r, th, ps: {"router": r, "threshold": th, "prompts": ps},
    st.sampled_from(["mf", "random"]),
    st.floats(0, 1),
    st.lists(text, min_size=1, max_size=5),
)
odd_bodies = st.one_of(
    chat_body.map(_encode), route_body.map(_encode), any_json.map(_encode), st.binary(max_size=200), raw_json_tricks
)


@st.composite
def bodies(draw) -> bytes:
    """A third well-formed requests with any text (they reach the routers and the upstream), the
    rest malformed in some way."""
    if draw(st.integers(0, 2)) == 0:
        return _encode(draw(st.one_of(valid_chat, valid_route)))
    return draw(odd_bodies)


odd_paths = st.one_of(
    st.sampled_from(PATHS),
    st.sampled_from(PATHS).map(lambda p: p + "/"),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="%#?"), max_size=30).map(
        lambda p: "/" + p
    ),
    st.sampled_from(PATHS).map(lambda p: p + "?x=%ff%00&y"),
)


@st.composite
def paths(draw) -> str:
    """Mostly the two POST endpoints (where the parsing is), sometimes anything."""
    if draw(st.integers(0, 9)) < 8:
        return draw(st.sampled_from(["/v1/chat/completions", "/v1/route"]))
    return draw(odd_paths)


@st.composite
def methods(draw) -> str:
    return (
        "POST"
        if draw(st.integers(0, 9)) < 8
        else draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]))
    )


content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=bogus",
        "application/json; charset=latin-1",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "",
        'application/json; charset="UTF-8"',
    ]
)
headers = st.dictionaries(
    st.sampled_from(["Authorization", "Accept", "OpenAI-Organization", "X-Junk", "Accept-Encoding"]),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
    max_size=3,
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
@given(method=methods(), path=paths(), body=bodies(), content_type=content_types, extra=headers)
def _fuzz_once(port, method, path, body, content_type, extra):
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {len(body)}\r\n"
    if content_type:
        head += f"Content-Type: {content_type}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
    status, got, payload = raw_request(port, head, body)
    STATS["cases"] += 1
    STATS["by_status"][status] = STATS["by_status"].get(status, 0) + 1
    where = f"{method} {path} {body[:120]!r} -> {status} {payload[:300]!r}"
    assert status < 500 or status in (502, 504), where
    if method == "HEAD":
        return
    ctype = got.get("content-type", "")
    if status >= 400:
        assert ctype.startswith("application/json"), where
        err = json.loads(payload)["error"]
        assert set(err) == {"message", "type", "param", "code"} and isinstance(err["message"], str), where
    elif path.startswith("/metrics"):
        assert ctype.startswith("text/plain"), where
    elif ctype.startswith("text/event-stream"):
        assert payload.rstrip().endswith(b"data: [DONE]"), where
    else:
        assert ctype.startswith("application/json"), where
        json.loads(payload)


def test_http_fuzz(server, caplog):
    caplog.set_level(logging.ERROR, logger="fastroute.serve")
    t0 = time.perf_counter()
    _fuzz_once(server.port)
    elapsed = time.perf_counter() - t0
    print(f"\nfuzz: {STATS['cases']} cases in {elapsed:.1f} s; statuses {sorted(STATS['by_status'].items())}")
    assert STATS["cases"] >= min(EXAMPLES, 100)
    assert not [r for r in caplog.records if "unhandled" in r.getMessage()]  # the catch-all was never needed
    status, _, payload = raw_request(server.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n")
    assert (
        status == 200
        and json.loads(payload)["status"] == "ok"
        and json.loads(payload)["queued"] == {"mf": 0, "random": 0}
    )
