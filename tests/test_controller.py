"""`Controller`, RouteLLM's drop-in for the OpenAI client, against a loopback upstream."""

from __future__ import annotations

import asyncio
import sys
import types

import numpy as np
import pytest

openai = pytest.importorskip("openai", reason="the serve extra is not installed")
pytest.importorskip("aiohttp", reason="the serve extra is not installed")

from fastroute import Controller, load_router  # noqa: E402
from fastroute.serve.controller import RoutingError  # noqa: E402

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"


@pytest.fixture(scope="module")
def controller(upstream):
    return Controller(
        routers=["mf", "sw_ranking"],
        strong_model=STRONG,
        weak_model=WEAK,
        base_url=f"{upstream.url}/v1",
        api_key="sk-test",
    )


def test_drop_in_create(controller, upstream):
    out = controller.chat.completions.create(
        model="router-mf-0.0", messages=[{"role": "user", "content": "hi"}], temperature=0.1
    )
    assert out.model == STRONG and out.choices[0].message.content == "echo: hi"
    assert upstream.record[-1]["body"]["temperature"] == 0.1
    assert upstream.record[-1]["headers"]["Authorization"] == "Bearer sk-test"
    out = controller.chat.completions.create(
        router="sw_ranking", threshold=1.0, messages=[{"role": "user", "content": "x"}]
    )
    assert out.model == WEAK
    assert controller.model_counts["mf"][STRONG] >= 1 and controller.model_counts["sw_ranking"][WEAK] >= 1


def test_async_create_and_stream(controller):
    async def main():
        plain = await controller.chat.completions.acreate(
            model="router-mf-1.0", messages=[{"role": "user", "content": "async"}]
        )
        stream = await controller.acompletion(
            model="router-mf-0.0", stream=True, messages=[{"role": "user", "content": "streamed"}]
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
        return plain, text

    plain, text = asyncio.run(main())
    assert plain.model == WEAK and plain.choices[0].message.content == "echo: async"
    assert text == "echo: streamed"


def test_route_and_batch_win_rates(controller):
    mf = load_router("mf")
    prompts = ["Prove the Cauchy-Schwarz inequality.", "hello"]
    np.testing.assert_allclose(controller.batch_win_rates(prompts, "mf"), mf.win_rates(prompts))
    assert controller.route(prompts[0], "mf", 0.0) == STRONG
    assert controller.route(prompts[0], "mf", 1.0) == WEAK


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"model": "router-nope-0.5"}, "unknown router 'nope'"),
        ({"model": "router-mf-7"}, "threshold"),
        ({"model": "gpt-4"}, "not a router model string"),
        ({"router": "mf"}, "router= and threshold="),
    ],
)
def test_routing_errors(controller, kwargs, fragment):
    with pytest.raises(RoutingError, match=fragment):
        controller.chat.completions.create(messages=[{"role": "user", "content": "x"}], **kwargs)


def test_unknown_options_and_backend():
    with pytest.raises(ValueError, match="backend"):
        Controller(routers=["mf"], strong_model=STRONG, weak_model=WEAK, backend="carrier-pigeon")
    with pytest.raises(ValueError, match="unknown options"):
        Controller(routers=["mf"], strong_model=STRONG, weak_model=WEAK, config={"mf": {"colour": "blue"}})


def test_litellm_backend_is_called(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(completion=lambda **kw: calls.append(kw) or {"ok": True})
    monkeypatch.setitem(sys.modules, "litellm", fake)
    c = Controller(
        routers=["mf"],
        strong_model=STRONG,
        weak_model=WEAK,
        backend="litellm",
        base_url="http://127.0.0.1:9/v1",
        api_key="k",
    )
    assert c.chat.completions.create(model="router-mf-0.0", messages=[{"role": "user", "content": "x"}]) == {"ok": True}
    assert calls[0]["model"] == STRONG and calls[0]["api_base"] == "http://127.0.0.1:9/v1"
