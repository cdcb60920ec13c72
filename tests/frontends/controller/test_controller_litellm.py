"""The Controller through the real LiteLLM (not a stand-in): target names keep their provider
prefix up to LiteLLM, which strips it and calls the stub at api_base in that provider's own
protocol (OpenAI's chat completions, Anthropic's Messages API), plain and streamed.
(LiteLLM 1.110 no longer knows Anyscale, RouteLLM's example provider: together_ai here.)"""

from __future__ import annotations

import asyncio

import pytest

from litellm_helpers import anthropic_stub_app  # sets LiteLLM's offline environment first

pytest.importorskip("litellm", reason="litellm is not installed (it is in the dev extra)")

from fastroute import Controller  # noqa: E402

from serve_helpers import BackgroundServer  # noqa: E402

CLAUDE = "anthropic/claude-3-5-sonnet-20240620"
MINI = "openai/gpt-4o-mini"


def test_routes_through_real_litellm(upstream):
    c = Controller(
        routers=["mf"],
        strong_model="openai/gpt-4o",
        weak_model="together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1",
        backend="litellm",
        base_url=f"{upstream.url}/v1",
        api_key="k",
    )
    mf = c.routers["mf"]
    assert (mf.strong_model, mf.weak_model) == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    for model, sent in (("router-mf-0.0", "gpt-4o"), ("router-mf-1.0", "mistralai/Mixtral-8x7B-Instruct-v0.1")):
        out = c.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
        assert out.choices[0].message.content == "echo: hi" and upstream.record[-1]["body"]["model"] == sent
    assert dict(c.model_counts["mf"]) == {"openai/gpt-4o": 1, "together_ai/mistralai/Mixtral-8x7B-Instruct-v0.1": 1}


@pytest.fixture
def anthropic_upstream():
    record: list = []
    with BackgroundServer(anthropic_stub_app(record)) as srv:
        srv.record = record
        yield srv


def text_of(out, stream: bool) -> str:
    if stream:
        return "".join(c.choices[0].delta.content or "" for c in out if c.choices)
    return out.choices[0].message.content


async def atext_of(c: Controller, stream: bool, **kwargs) -> str:
    out = await c.acompletion(stream=stream, **kwargs)
    if stream:
        return "".join([c.choices[0].delta.content or "" async for c in out if c.choices])
    return out.choices[0].message.content


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_two_providers_each_with_its_own_endpoint(upstream, anthropic_upstream, stream):
    """Anthropic (Messages API) as the strong model, OpenAI as the weak one: each call goes to
    its provider's stub, in its protocol, with its own key; sync and async."""
    c = Controller(
        routers=["mf"],
        strong_model=CLAUDE,
        weak_model=MINI,
        backend="litellm",
        base_url=f"{upstream.url}/v1",
        api_key="sk-openai",
        litellm_params={CLAUDE: {"api_base": anthropic_upstream.url, "api_key": "sk-ant"}},
    )
    msgs = [{"role": "user", "content": "hello there"}]
    for model, stub, sent in (
        ("router-mf-0.0", anthropic_upstream, "claude-3-5-sonnet-20240620"),
        ("router-mf-1.0", upstream, "gpt-4o-mini"),
    ):
        n = len(stub.record)
        out = c.chat.completions.create(model=model, messages=msgs, max_tokens=16, stream=stream)
        assert text_of(out, stream) == "echo: hello there"
        assert asyncio.run(atext_of(c, stream, model=model, messages=msgs, max_tokens=16)) == "echo: hello there"
        assert len(stub.record) == n + 2 and stub.record[-1]["body"]["model"] == sent
    headers = {k.lower(): v for k, v in anthropic_upstream.record[-1]["headers"].items()}
    assert headers["x-api-key"] == "sk-ant" and "anthropic-version" in headers
    assert {k.lower(): v for k, v in upstream.record[-1]["headers"].items()}["authorization"] == "Bearer sk-openai"
    assert dict(c.model_counts["mf"]) == {CLAUDE: 2, MINI: 2}


def test_litellm_params_are_checked():
    with pytest.raises(ValueError, match="no model routed to"):
        Controller(["mf"], CLAUDE, MINI, backend="litellm", litellm_params={"anthropic/claude-3-opus": {}})
    with pytest.raises(ValueError, match="needs backend='litellm'"):
        Controller(["mf"], CLAUDE, MINI, litellm_params={CLAUDE: {"api_key": "k"}})
    with pytest.raises(ValueError, match="without 'model'"):
        Controller(["mf"], CLAUDE, MINI, backend="litellm", litellm_params={CLAUDE: {"model": "x"}})
