"""fastroute serve against the chat-body table (tests/conformance/chat_bodies.json), which the
native decider and the Envoy module are tested against too: each refused body gets the status
and the JSON error body the table gives, each accepted one the decision's headers and reaches
the upstream with only `model` changed."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")

from paths import conformance  # noqa: E402
from serve_helpers import fastroute_server, post_json  # noqa: E402

TABLE = conformance("chat_bodies")


@pytest.fixture(scope="module")
def server(upstream):
    from fastroute.frontends.http.server import build_config

    cfg = build_config(TABLE["routers"], TABLE["strong_model"], TABLE["weak_model"], base_url=f"{upstream.url}/v1")
    with fastroute_server(cfg) as srv:
        yield srv


def _raw(case: dict) -> bytes:
    return bytes.fromhex(case["body_hex"]) if "body_hex" in case else case["body"].encode()


@pytest.mark.parametrize("case", TABLE["refused"], ids=[c["name"] for c in TABLE["refused"]])
def test_refused_bodies(server, case):
    status, _, body = post_json(f"{server.url}/v1/chat/completions", _raw(case))
    want = {"message": case["message"], "type": case["type"], "param": case["param"], "code": None}
    assert (status, body) == (case["status"], {"error": want})


def _post(url: str, raw: bytes) -> tuple[int, dict]:
    import urllib.request

    req = urllib.request.Request(url, data=raw, headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()  # a stream's events, or a completion
        return resp.status, dict(resp.headers)


@pytest.mark.parametrize("case", TABLE["accepted"], ids=[c["name"] for c in TABLE["accepted"]])
def test_accepted_bodies(server, upstream, case):
    status, headers = _post(f"{server.url}/v1/chat/completions", case["body"].encode())
    assert status == 200
    assert {k: v for k, v in headers.items() if k.lower().startswith("x-fastroute-")} == case["headers"]
    sent = json.loads(case["body"])
    assert upstream.record[-1]["body"] == dict(sent, model=case["model"])
