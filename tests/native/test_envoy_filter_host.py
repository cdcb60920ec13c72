"""The Envoy filter (csrc/envoy/filter.c) driven through its ABI by a stand-in host
(tests/native/fake_envoy_host.c), which `make asan` runs under AddressSanitizer + UBSan (Envoy's
own binary cannot take the ASan runtime): the chat-body table's answers with the body whole or
in 7-byte and 1-byte chunks, the body rewritten with its content-length, client x-fastroute-*
headers dropped, other requests untouched, and random bytes never crash it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paths import TESTS, conformance

TABLE = conformance("chat_bodies")
SANITIZE = os.environ.get("FASTROUTE_EXPECT_SANITIZERS") == "1"


@pytest.fixture(scope="module")
def host(native, tmp_path_factory):
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    d = tmp_path_factory.mktemp("host")
    exe = d / "host"
    flags = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g"] if SANITIZE else ["-O1"]
    res = subprocess.run([cc, *flags, "-rdynamic", str(TESTS / "native" / "fake_envoy_host.c"), "-ldl", "-o", str(exe)],
                         capture_output=True, text=True)  # fmt: skip
    assert res.returncode == 0, res.stderr
    cfg = d / "config.json"
    cfg.write_text(json.dumps(native.decider_config(TABLE["routers"], TABLE["strong_model"], TABLE["weak_model"])))
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}  # the host links its own sanitizers

    def run(lines: list[str]) -> list[str]:
        out = subprocess.run([str(exe), str(native.library_path(native.ENVOY_MODULE)), str(cfg)], input="\n".join(lines) + "\n",
                             capture_output=True, text=True, timeout=300, env=env)  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]
        return out.stdout.splitlines()

    return run


def _line(
    raw: bytes, chunk: int, method: str = "POST", path: str = "/v1/chat/completions", ctype: str = "application/json"
) -> str:
    return f"{method} {path} {ctype} {chunk} {raw.hex() or '-'}"


def _raw(case: dict) -> bytes:
    return bytes.fromhex(case["body_hex"]) if "body_hex" in case else case["body"].encode()


@pytest.mark.parametrize("chunk", [0, 7, 1])
def test_the_table_in_chunks(host, chunk):
    cases = TABLE["refused"] + TABLE["accepted"]
    out = host([_line(_raw(c), chunk) for c in cases])
    assert len(out) == len(cases)
    for case, line in zip(cases, out):
        kind, *rest = line.split(" ")
        if case in TABLE["refused"]:
            assert kind == "reply", (case["name"], line)
            assert int(rest[0]) == case["status"]
            err = json.loads(bytes.fromhex(rest[1]))["error"]
            if "native_message_prefix" in case:
                assert err["message"].startswith(case["native_message_prefix"])
            else:
                assert (err["param"], err["message"]) == (case["param"], case["message"])
            continue
        assert kind == "continue", (case["name"], line)
        body, *headers = rest
        forwarded = bytes.fromhex(body) if body != "-" else b""
        sent = json.loads(case["body"])
        assert json.loads(forwarded) == (dict(sent, model=case["model"]) if case["routed"] else sent)
        got = dict(h.split("=", 1) for h in headers)  # the host sent a client x-fastroute-model: gone
        assert {k: v for k, v in got.items() if k != "content-length"} == case["headers"]
        if case["routed"]:
            assert got["content-length"] == str(len(forwarded))


def test_other_requests_pass_untouched(host):
    out = host(
        [_line(b'{"model": "router-mf-0.5"}', 0, path="/v1/embeddings"), _line(b"", 0, method="GET", path="/v1/models")]
    )
    assert out == ["continue " + b'{"model": "router-mf-0.5"}'.hex(), "continue -"]


def test_a_charset_and_an_empty_chat_body(host):
    out = host(
        [_line(b'{"model": "gpt-4o", "messages": []}', 0, ctype="application/json;charset=latin-1"), _line(b"", 0)]
    )
    assert out[0].startswith("reply 415 ") and out[1].startswith("reply 400 ")


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.binary(max_size=300), st.sampled_from([0, 1, 5, 64])), min_size=1, max_size=20))
def test_random_bytes_never_crash_it(host, requests):
    out = host([_line(raw, chunk) for raw, chunk in requests])
    assert len(out) == len(requests) and all(line.split(" ")[0] in ("reply", "continue") for line in out)
