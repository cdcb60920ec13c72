"""The LiteLLM proxy, started as a process with the shipped examples/litellm/config.yaml and
fastroute's plug-in, in front of two loopback stub upstreams: requests sent with the real
openai client land on the stub of the model fastroute chooses (plain and streamed), carry the
x-fastroute-* headers, other groups pass through, and a request fastroute cannot route gets
a 400 with its message."""

from __future__ import annotations

import pytest

from litellm_helpers import EXAMPLE, LiteLLMProxy, split_prompts  # sets LiteLLM's offline environment first

pytest.importorskip("litellm", reason="litellm is not installed (it is in the dev extra)")
pytest.importorskip("fastapi", reason="the LiteLLM proxy's dependencies are not installed (dev extra)")
openai = pytest.importorskip("openai")

import fastroute  # noqa: E402
from fastroute.decision.model_string import router_model  # noqa: E402

from serve_helpers import BackgroundServer, stub_upstream_app  # noqa: E402

pytestmark = pytest.mark.external  # the LiteLLM proxy

# What examples/litellm/config.yaml and fastroute_routing.py name (the test uses them as shipped).
STRONG, WEAK = "openai/gpt-4o", "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"


@pytest.fixture(scope="module")
def split():
    threshold, strong, weak = split_prompts(fastroute.load_router("sw_ranking"))
    return {"model": router_model("sw_ranking", threshold), STRONG: strong, WEAK: weak}


@pytest.fixture(scope="module")
def proxied(split, tmp_path_factory):
    records: dict[str, list] = {STRONG: [], WEAK: []}
    with (
        BackgroundServer(stub_upstream_app(records[STRONG])) as s,
        BackgroundServer(stub_upstream_app(records[WEAK])) as w,
    ):
        env = {
            "OPENAI_API_KEY": "sk-strong",
            "TOGETHERAI_API_KEY": "sk-weak",
            "STRONG_API_BASE": f"{s.url}/v1",
            "WEAK_API_BASE": f"{w.url}/v1",
            "FASTROUTE_MODEL": split["model"],
        }
        log = tmp_path_factory.mktemp("litellm") / "proxy.log"
        with LiteLLMProxy(EXAMPLE / "config.yaml", env, log) as proxy:
            client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key=proxy.master_key, timeout=30, max_retries=0)
            yield client, records, proxy


def test_requests_land_on_the_chosen_upstream(proxied, split):
    client, records, proxy = proxied
    for expected in (STRONG, WEAK):
        for prompt in split[expected]:
            for stream in (False, True):
                before = {m: len(r) for m, r in records.items()}
                messages = [{"role": "user", "content": prompt}]
                raw = client.chat.completions.with_raw_response.create(model="smart", messages=messages, stream=stream)
                out = raw.parse()
                if stream:
                    text = "".join(c.choices[0].delta.content or "" for c in out if c.choices)
                else:
                    text = out.choices[0].message.content
                assert text == f"echo: {prompt}", proxy.tail()
                assert [m for m, r in records.items() if len(r) > before[m]] == [expected], (prompt, stream)
                assert raw.headers["x-fastroute-model"] == expected
                assert raw.headers["x-fastroute-router"] == "sw_ranking"
                assert 0.0 <= float(raw.headers["x-fastroute-win-rate"]) <= 1.0


def test_other_groups_pass_through(proxied, split):
    client, records, _ = proxied
    before = len(records[STRONG])
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=[{"role": "user", "content": split[WEAK][0]}]
    )
    assert raw.parse().choices[0].message.content == f"echo: {split[WEAK][0]}"
    assert len(records[STRONG]) == before + 1 and records[STRONG][-1]["body"]["model"] == "gpt-4o"
    assert "x-fastroute-model" not in raw.headers


def test_a_request_fastroute_cannot_route_is_a_400(proxied):
    client, records, _ = proxied
    before = {m: len(r) for m, r in records.items()}
    with pytest.raises(openai.BadRequestError) as err:
        client.chat.completions.create(model="smart", messages=[{"role": "system", "content": "be brief"}])
    assert err.value.status_code == 400
    assert "fastroute could not route this request" in str(err.value) and "no user message" in str(err.value)
    assert {m: len(r) for m, r in records.items()} == before
