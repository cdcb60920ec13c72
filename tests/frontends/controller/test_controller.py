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
from fastroute.frontends.controller import RoutingError  # noqa: E402

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


MIXTRAL_ANYSCALE = "anyscale/mistralai/Mixtral-8x7B-Instruct-v0.1"


def test_routellm_readme_example(upstream):
    """RouteLLM's README: strong_model / weak_model are the models to call, any names."""
    client = Controller(
        routers=["mf"],
        strong_model="gpt-4-1106-preview",
        weak_model=MIXTRAL_ANYSCALE,
        api_base=f"{upstream.url}/v1",  # RouteLLM's keyword; base_url= works too
        api_key="sk-test",
    )
    assert client.routers["mf"].weak_model == "mixtral-8x7b-instruct-v0.1"  # scored as the trained model
    out = client.chat.completions.create(model="router-mf-1.0", messages=[{"role": "user", "content": "hi"}])
    assert out.model == MIXTRAL_ANYSCALE and upstream.record[-1]["body"]["model"] == MIXTRAL_ANYSCALE
    out = client.chat.completions.create(router="mf", threshold=0.0, messages=[{"role": "user", "content": "hi"}])
    assert out.model == "gpt-4-1106-preview"
    assert client.route("hi", "mf", 1.0) == MIXTRAL_ANYSCALE


def test_any_target_names_and_shares(upstream):
    client = Controller(
        routers=["mf", "random", "length"],
        strong_model="gpt-4o",
        weak_model="gpt-4o-mini",
        base_url=f"{upstream.url}/v1",
        api_key="k",
    )
    mf = client.routers["mf"]
    prompts = [f"question {i}: {t}" for i, t in enumerate(["prove a theorem", "hi", "write code", "a poem"] * 10)]
    p = mf.win_rates(prompts)
    t = mf.threshold_for(0.5)
    for prompt, rate in zip(prompts[:6], p):
        out = client.chat.completions.create(model="router-mf-50%", messages=[{"role": "user", "content": prompt}])
        assert out.model == ("gpt-4o" if rate >= t else "gpt-4o-mini") == upstream.record[-1]["body"]["model"]
    assert set(client.model_counts["mf"]) <= {"gpt-4o", "gpt-4o-mini"}
    with pytest.raises(
        RoutingError, match="stores no win-rate quantiles for gpt-4o vs gpt-4o-mini: use a raw threshold"
    ):
        client.chat.completions.create(model="router-length-50%", messages=[{"role": "user", "content": "x"}])
    client.chat.completions.create(model="router-random-50%", messages=[{"role": "user", "content": "x"}])  # uniform
    out = client.chat.completions.create(model="router-random-0.0", messages=[{"role": "user", "content": "x"}])
    assert out.model == "gpt-4o"


def test_scored_as_and_base_url_conflict():
    c = Controller(routers=["mf"], strong_model="gpt-4o", weak_model="local", scored_as={"local": "llama-2-7b-chat"})
    assert (c.routers["mf"].weak_model, c.routers["mf"].weak_target) == ("llama-2-7b-chat", "local")
    with pytest.raises(ValueError, match="not both"):
        Controller(routers=["mf"], strong_model=STRONG, weak_model=WEAK, base_url="http://a/v1", api_base="http://b/v1")


def test_litellm_backend_gets_the_target_names(monkeypatch):
    calls = []

    async def acompletion(**kw):
        calls.append(kw)
        return {"ok": "async"}

    fake = types.SimpleNamespace(completion=lambda **kw: calls.append(kw) or {"ok": True}, acompletion=acompletion)
    monkeypatch.setitem(sys.modules, "litellm", fake)
    c = Controller(routers=["mf"], strong_model="gpt-4o", weak_model=MIXTRAL_ANYSCALE, backend="litellm", api_key="k")
    msgs = [{"role": "user", "content": "x"}]
    assert c.chat.completions.create(model="router-mf-0.0", messages=msgs) == {"ok": True}
    assert c.chat.completions.create(router="mf", threshold=1.0, messages=msgs) == {"ok": True}
    assert asyncio.run(c.acompletion(model="router-mf-100%", messages=msgs)) == {"ok": "async"}
    assert [k["model"] for k in calls] == ["gpt-4o", MIXTRAL_ANYSCALE, "gpt-4o"]
    assert calls[0]["api_base"] is None and calls[0]["api_key"] == "k"


def test_a_routing_profile_through_the_controller(upstream):
    from fastroute.profile import Candidate, RoutingProfile

    mf = load_router("mf")
    prof = RoutingProfile(
        mf,
        [
            Candidate("gpt-4o", 5, 15, scored_as=mf.strong_model),
            Candidate("gpt-4o-mini", 0.15, 0.6, scored_as=mf.weak_model),
        ],
        value=60.0,
    )
    client = Controller(
        routers=["mf"],
        strong_model="gpt-4o",
        weak_model="gpt-4o-mini",
        base_url=f"{upstream.url}/v1",
        api_key="k",
        profiles={"smart": prof, "rb": "routerbench"},
    )
    prompts = [f"{t} ({i})" for i, t in enumerate(["prove a theorem", "hi", "write code", "a poem"] * 3)]
    want = [d.model for d in prof.choose(prompts)]
    for prompt, model in zip(prompts, want):
        out = client.chat.completions.create(model="smart", messages=[{"role": "user", "content": prompt}])
        assert out.model == model == upstream.record[-1]["body"]["model"]
    assert sum(client.model_counts["smart"].values()) == len(prompts)
    out = client.chat.completions.create(model="rb", messages=[{"role": "user", "content": "hi"}])
    assert out.model in client.profiles["rb"].names


def test_routellm_names_checkpoint_path_and_batch_calculate_win_rate(tmp_path):
    """RouteLLM's spellings: config={"mf": {"checkpoint_path": DIR}} loads a RouteLLM MF
    checkpoint directory, and batch_calculate_win_rate takes a pandas Series as it did."""
    import json

    from safetensors.numpy import save_file

    from fastroute.embedders.base import EmbedderSpec

    from synthetic import synthetic_mf_checkpoint

    config, tensors = synthetic_mf_checkpoint(seed=4)
    ckpt = tmp_path / "mf_gpt4_augmented"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps(config))
    save_file(tensors, str(ckpt / "model.safetensors"))
    c = Controller(routers=["mf"], strong_model=STRONG, weak_model=WEAK, config={"mf": {"checkpoint_path": str(ckpt)}})
    r = c.routers["mf"]
    assert r.kind == "mf" and r.embedder_spec == EmbedderSpec("openai:text-embedding-3-small", 1536)
    E = np.random.default_rng(0).standard_normal((3, 1536)).astype(np.float32)
    np.testing.assert_array_equal(r.win_rates(embeddings=E), load_router(ckpt).win_rates(embeddings=E))
    assert load_router(ckpt, backend="numpy")._ops.NAME == "numpy"  # the backend reaches the checkpoint
    pd = pytest.importorskip("pandas")
    mf = Controller(routers=["mf"], strong_model=STRONG, weak_model=WEAK)
    prompts = pd.Series(["Prove the Cauchy-Schwarz inequality.", "hello"])
    got = mf.batch_calculate_win_rate(prompts, "mf")
    np.testing.assert_allclose(got, load_router("mf").win_rates(list(prompts)))
    with pytest.raises(ValueError, match="not both"):
        Controller(["mf"], STRONG, WEAK, config={"mf": {"bundle": str(ckpt), "checkpoint_path": str(ckpt)}})
