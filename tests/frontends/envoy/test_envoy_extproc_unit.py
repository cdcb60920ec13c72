"""The ext_proc service without Envoy: a grpc.aio client plays Envoy's part, sending hand-built
ProcessingRequests over the real gRPC protocol, and every answer is checked against what the
router decides in process (load_router) and the errors fastroute's own code raises. Each test
runs against both transports (grpclib, grpcio): the same client, so the same answers on the
wire, whichever library serves them (and grpclib's server is checked against grpc's client)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

pytest.importorskip("grpc", reason="the envoy extra (grpcio) is not installed")
pytest.importorskip("envoy.service.ext_proc.v3", reason="the envoy extra (xds-protos) is not installed")
pytest.importorskip("grpclib", reason="the envoy extra (grpclib) is not installed")

import grpc  # noqa: E402
from envoy.config.core.v3 import base_pb2  # noqa: E402
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb  # noqa: E402
from envoy.service.ext_proc.v3 import external_processor_pb2_grpc as pb_grpc  # noqa: E402

import fastroute  # noqa: E402
from fastroute.decision.build import build_decision  # noqa: E402
from fastroute.decision.decider import Decider  # noqa: E402
from fastroute.decision.errors import APIError  # noqa: E402
from fastroute.decision.validation import parse_json  # noqa: E402
from fastroute.frontends.envoy import service as envoy_serve  # noqa: E402

from envoy_helpers import PROMPTS, STRONG, WEAK  # noqa: E402


@pytest.fixture(params=envoy_serve.TRANSPORTS)
def transport(request):
    return request.param


@pytest.fixture(scope="module")
def cfg():
    return build_decision(["mf"], STRONG, WEAK)


@pytest.fixture(scope="module")
def reference():
    """The router in process: win rates of PROMPTS and a threshold between the two halves."""
    router = fastroute.load_router("mf", strong_model=STRONG, weak_model=WEAK)
    w = router.win_rates(PROMPTS)
    s = sorted(float(x) for x in w)
    t = round((s[len(s) // 2 - 1] + s[len(s) // 2]) / 2, 6)
    expected = router.decide(w, t)
    assert {STRONG, WEAK} == set(expected), "the prompts must send some requests to each model"
    assert min(abs(float(x) - t) for x in w) > 1e-3, "no win rate so near the threshold that rounding decides"
    return w, t, expected


def headers_msg(path="/v1/chat/completions", method="POST", content_type="application/json", eos=False):
    pairs = [(":authority", "gw"), (":path", path), (":method", method), (":scheme", "http")]
    if content_type:
        pairs.append(("content-type", content_type))
    hm = base_pb2.HeaderMap(headers=[base_pb2.HeaderValue(key=k, raw_value=v.encode()) for k, v in pairs])
    return pb.ProcessingRequest(request_headers=pb.HttpHeaders(headers=hm, end_of_stream=eos))


def body_msg(body, eos=True):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return pb.ProcessingRequest(request_body=pb.HttpBody(body=raw, end_of_stream=eos))


def chat(model, prompt="Prove that there are infinitely many primes.", **extra):
    return {"model": model, "messages": [{"role": "user", "content": prompt}], **extra}


def run(core_or_cfg, script, transport):
    """Runs `script(stub)` against a fresh service on a free port (a real Decider for a
    ServeConfig, else the object given as the core)."""

    async def main():
        core = Decider(core_or_cfg) if not hasattr(core_or_cfg, "decide_chat") else core_or_cfg
        server = await envoy_serve.start(core, "127.0.0.1", 0, transport)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
                return await asyncio.wait_for(script(pb_grpc.ExternalProcessorStub(channel)), 20)
        finally:
            await server.stop(0)
            if isinstance(core, Decider):
                await core.close()

    return asyncio.run(main())


async def exchange(stub, *requests):
    """Sends the messages of one HTTP request in order, one answer after each; ends when the
    service ends the stream (all answers so far) or after the last answer."""
    call = stub.Process()
    answers = []
    for r in requests:
        await call.write(r)
        answer = await call.read()
        if answer is grpc.aio.EOF:
            break
        answers.append(answer)
        if answer.HasField("immediate_response"):
            break
    await call.done_writing()
    assert await call.read() is grpc.aio.EOF, "the service must end the stream after the request's last answer"
    return answers


def set_headers(common):
    return {
        h.header.key: (h.header.raw_value or h.header.value.encode()).decode()
        for h in common.header_mutation.set_headers
    }


def check_routed(answer, request_body, model, win_rate=None):
    common = answer.request_body.response
    assert common.status == pb.CommonResponse.CONTINUE and common.clear_route_cache
    h = set_headers(common)
    assert h["x-fastroute-model"] == model
    new = json.loads(common.body_mutation.body)
    assert new == dict(request_body, model=model)
    assert h["content-length"] == str(len(common.body_mutation.body))
    if win_rate is not None:
        assert h["x-fastroute-router"] == "mf"
        assert float(h["x-fastroute-win-rate"]) == pytest.approx(win_rate, abs=2e-6)


def check_error(answer, expected: APIError):
    imm = answer.immediate_response
    assert imm.status.code == expected.status
    assert json.loads(imm.body) == expected.body()
    h = {o.header.key: o.header.raw_value.decode() for o in imm.headers.set_headers}
    assert h["content-type"] == "application/json"
    return h


def test_routes_each_prompt_as_the_router_decides(cfg, reference, transport):
    w, t, expected = reference
    bodies = [chat(f"router-mf-{t}", p, temperature=0.2) for p in PROMPTS]

    async def script(stub):
        return [await exchange(stub, headers_msg(), body_msg(b)) for b in bodies]

    for body, answers, model, p in zip(bodies, run(cfg, script, transport), expected, w):
        assert len(answers) == 2 and answers[0].HasField("request_headers")
        assert not answers[0].request_headers.HasField("response")  # the headers go on untouched
        check_routed(answers[1], body, model, float(p))


def test_a_profile_chooses_among_its_candidates_with_quality_and_cost_headers(transport):
    """An N-model routing profile, addressed by name, as `fastroute serve` serves it."""
    from fastroute.profile import load_profile

    decisions = load_profile("routerbench").choose(PROMPTS)
    assert len({d.model for d in decisions}) > 1, "the prompts must reach more than one candidate"
    cfg = build_decision(["mf"], STRONG, WEAK, profiles=["routerbench"])
    bodies = [chat("routerbench", p) for p in PROMPTS]

    async def script(stub):
        return [await exchange(stub, headers_msg(), body_msg(b)) for b in bodies]

    for body, answers, d in zip(bodies, run(cfg, script, transport), decisions):
        check_routed(answers[1], body, d.model)
        h = set_headers(answers[1].request_body.response)
        assert h["x-fastroute-profile"] == "routerbench"
        assert float(h["x-fastroute-quality"]) == pytest.approx(d.quality, abs=2e-6)
        assert float(h["x-fastroute-cost-usd"]) == pytest.approx(d.cost, abs=1e-8)


def test_concurrent_streams_each_get_their_own_decision(cfg, reference, transport):
    w, t, expected = reference
    bodies = [chat(f"router-mf-{t}", p) for p in PROMPTS] * 3

    async def script(stub):
        return await asyncio.gather(*(exchange(stub, headers_msg(), body_msg(b)) for b in bodies))

    for body, answers, model in zip(bodies, run(cfg, script, transport), expected * 3):
        check_routed(answers[1], body, model)


def test_a_model_without_router_passes_through_with_its_header(cfg, transport):
    body = chat(WEAK)

    async def script(stub):
        return await exchange(stub, headers_msg(), body_msg(body))

    common = run(cfg, script, transport)[1].request_body.response
    assert set_headers(common) == {"x-fastroute-model": WEAK}
    assert not common.HasField("body_mutation") and common.clear_route_cache


def test_requests_that_are_not_chat_completions_pass_untouched(cfg, transport):
    async def script(stub):
        get = await exchange(stub, headers_msg("/v1/models", "GET", None, eos=True))
        post = await exchange(stub, headers_msg("/v1/embeddings"), body_msg({"model": "router-mf-0.5", "input": "x"}))
        return get, post

    get, post = run(cfg, script, transport)
    assert [a.WhichOneof("response") for a in get] == ["request_headers"]
    assert [a.WhichOneof("response") for a in post] == ["request_headers", "request_body"]
    assert all(a.ListFields()[0][1].ByteSize() == 0 for a in get + post)  # CONTINUE, nothing changed


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b'["a list"]',
        json.dumps(chat("router-nope-0.5")).encode(),
        json.dumps(chat("router-mf-1.5")).encode(),
        json.dumps({"model": "router-mf-0.5"}).encode(),
        json.dumps({"model": "router-mf-0.5", "messages": []}).encode(),
        json.dumps(chat("router-mf-0.5", stream="yes")).encode(),
        json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode(),
    ],
)
def test_a_bad_body_is_answered_at_once_with_fastroutes_json_error(cfg, raw, transport):
    async def script(stub):
        core = Decider(cfg)
        try:
            await core.decide_chat(parse_json(raw))
        except APIError as exc:
            expected = exc
        else:
            raise AssertionError("the reference accepted the body")
        finally:
            await core.close()
        return expected, await exchange(stub, headers_msg(), body_msg(raw))

    expected, answers = run(cfg, script, transport)
    assert expected.status == 400
    assert len(answers) == 2
    check_error(answers[1], expected)


def test_a_chat_request_without_a_body_is_refused(cfg, transport):
    async def script(stub):
        return await exchange(stub, headers_msg(eos=True))

    (answer,) = run(cfg, script, transport)
    assert answer.immediate_response.status.code == 400


def test_a_charset_other_than_utf8_is_refused_as_by_the_server(cfg, transport):
    async def script(stub):
        ct = "application/json; charset=latin-1"
        return await exchange(stub, headers_msg(content_type=ct), body_msg(chat("router-mf-0.5")))

    answers = run(cfg, script, transport)
    with pytest.raises(APIError) as err:
        parse_json(b"{}", "latin-1")
    check_error(answers[1], err.value)


@pytest.mark.parametrize("case", ["partial body", "body before headers"])
def test_a_misconfigured_filter_fails_loudly(cfg, case, transport):
    async def script(stub):
        if case == "partial body":
            return await exchange(stub, headers_msg(), body_msg(b'{"model": ', eos=False))
        return await exchange(stub, body_msg(chat("router-mf-0.5")))

    answer = run(cfg, script, transport)[-1]
    assert answer.immediate_response.status.code == 500
    message = json.loads(answer.immediate_response.body)["error"]["message"]
    assert "BUFFERED" in message and "SEND" in message


def test_other_phases_are_continued(cfg, transport):
    resp_headers = pb.ProcessingRequest(response_headers=pb.HttpHeaders())

    async def script(stub):
        return await exchange(stub, headers_msg(), body_msg(chat(WEAK)), resp_headers)

    answers = run(cfg, script, transport)
    assert [a.WhichOneof("response") for a in answers] == ["request_headers", "request_body", "response_headers"]


class _FakeCore:
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    async def decide_chat(self, body):
        raise self.exc


def test_overload_is_a_503_with_retry_after(transport):
    busy = APIError(503, "the routing queue is full; retry shortly", "server_overloaded", headers={"Retry-After": "3"})

    async def script(stub):
        return await exchange(stub, headers_msg(), body_msg(chat("router-mf-0.5")))

    h = check_error(run(_FakeCore(busy), script, transport)[1], busy)
    assert h["retry-after"] == "3"


def test_an_unexpected_failure_ends_the_stream_with_an_error(transport):
    """Envoy then applies failure_mode_allow (fail open or closed), as for a service that is down."""

    async def script(stub):
        try:
            await exchange(stub, headers_msg(), body_msg(chat("router-mf-0.5")))
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        return None

    assert run(_FakeCore(RuntimeError("boom")), script, transport) == grpc.StatusCode.UNKNOWN


class _SlowCore:
    """Routes every chat to WEAK after `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    async def decide_chat(self, body):
        from fastroute.decision.decider import ChatDecision

        await asyncio.sleep(self.seconds)
        return ChatDecision(model=WEAK, headers={"x-fastroute-model": WEAK}, routed=False)


def test_stopping_lets_streams_in_flight_finish_and_refuses_new_ones(transport):
    """What SIGTERM does (serve() calls stop(STOP_GRACE_S)): a request being decided still gets
    its answer; one that comes after it does not get routed."""

    async def main():
        server = await envoy_serve.start(_SlowCore(0.5), "127.0.0.1", 0, transport)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = pb_grpc.ExternalProcessorStub(channel)
            in_flight = asyncio.ensure_future(exchange(stub, headers_msg(), body_msg(chat(WEAK))))
            await asyncio.sleep(0.2)
            stopping = asyncio.ensure_future(server.stop(5.0))
            await asyncio.sleep(0.05)
            with pytest.raises(grpc.aio.AioRpcError):
                await asyncio.wait_for(exchange(stub, headers_msg(), body_msg(chat(WEAK))), 5)
            answers = await in_flight
            await stopping
        return answers

    answers = asyncio.run(main())
    assert set_headers(answers[1].request_body.response) == {"x-fastroute-model": WEAK}


def test_importing_fastroute_and_its_cli_loads_no_grpc():
    code = (
        "import sys, fastroute, fastroute.cli; fastroute.cli.build_parser(); "
        "print('grpc' in sys.modules or 'grpclib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_the_cli_lists_the_transports_the_service_has():
    from fastroute.cli import extproc

    assert extproc.TRANSPORTS == envoy_serve.TRANSPORTS
    assert extproc.TRANSPORTS[0] == envoy_serve.DEFAULT_TRANSPORT


@pytest.mark.parametrize("transport, module", [("grpclib", "grpclib"), ("grpcio", "grpc")])
def test_the_cli_names_the_extra_when_its_transport_is_missing(transport, module):
    code = (
        f"import sys; sys.modules[{module!r}] = None; from fastroute.cli import main; "
        f"sys.exit(main(['extproc', '--transport', {transport!r}]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "pip install 'fastroute[envoy]'" in out.stderr and "--transport" in out.stderr


def test_a_port_in_use_is_a_clear_error(cfg, transport):
    async def main():
        core = Decider(cfg)
        first = await envoy_serve.start(core, "127.0.0.1", 0, "grpcio" if transport == "grpclib" else "grpclib")
        try:
            with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{first.port}"):
                await envoy_serve.start(core, "127.0.0.1", first.port, transport)
        finally:
            await first.stop(0)
            await core.close()

    asyncio.run(main())
