"""fastroute's routing plug-in inside the real `litellm.Router` (the SDK): a model group with a
strong and a weak deployment, each on its own loopback stub upstream; every request must land
on the stub of the model fastroute's router chooses in process (same threshold), plain and
streamed; other groups pass untouched; bad requests and misconfigurations fail clearly."""

from __future__ import annotations

import asyncio

import pytest

from litellm_helpers import split_prompts  # sets LiteLLM's offline environment first

litellm = pytest.importorskip("litellm", reason="litellm is not installed (it is in the dev extra)")
pytest.importorskip("aiohttp", reason="the serve extra is not installed")

import fastroute  # noqa: E402
from fastroute.decision.model_string import router_model  # noqa: E402
from fastroute.frontends.litellm_plugin import FastrouteRoutingPlugin, decision_headers  # noqa: E402

from serve_helpers import BackgroundServer, stub_upstream_app  # noqa: E402

STRONG = "openai/gpt-4o"
WEAK = "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"
SENT = {STRONG: "gpt-4o", WEAK: "meta-llama/Llama-3.3-70B-Instruct-Turbo"}  # the model the upstream sees


@pytest.fixture(scope="module")
def stubs():
    """{litellm model: stub upstream}, each recording what it receives."""
    records: dict[str, list] = {STRONG: [], WEAK: []}
    with (
        BackgroundServer(stub_upstream_app(records[STRONG])) as s,
        BackgroundServer(stub_upstream_app(records[WEAK])) as w,
    ):
        s.record, w.record = records[STRONG], records[WEAK]
        yield {STRONG: s, WEAK: w}


@pytest.fixture(scope="module")
def split():
    r = fastroute.load_router("mf")
    threshold, strong, weak = split_prompts(r)
    return {"router": r, "threshold": threshold, "model": router_model("mf", threshold), STRONG: strong, WEAK: weak}


@pytest.fixture(scope="module")
def plugin(split):
    return FastrouteRoutingPlugin("mf", STRONG, WEAK, groups={"smart": split["model"]})


def deployment(group: str, model: str, stubs) -> dict:
    return {
        "model_name": group,
        "litellm_params": {"model": model, "api_base": f"{stubs[model].url}/v1", "api_key": "k"},
    }


def make_router(plugin, stubs, groups, **kw):
    models = [deployment(g, m, stubs) for g, ms in groups.items() for m in ms]
    return litellm.Router(model_list=models, plugins=[plugin], **kw)


def landed(stubs, before: dict) -> list[str]:
    """The litellm models whose stub received a request since `before` (their record sizes)."""
    return [m for m, s in stubs.items() if len(s.record) > before[m]]


def sizes(stubs) -> dict:
    return {m: len(s.record) for m, s in stubs.items()}


async def ask(router, group: str, prompt: str, stream: bool = False) -> tuple[str, dict]:
    md: dict = {}
    kw = {"model": group, "messages": [{"role": "user", "content": prompt}], "metadata": md, "stream": stream}
    out = await asyncio.wait_for(router.acompletion(**kw), 30)
    if stream:
        text = "".join([c.choices[0].delta.content or "" async for c in out if c.choices])
    else:
        text = out.choices[0].message.content
    return text, md


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_each_request_lands_on_the_model_fastroute_chooses(plugin, stubs, split, stream):
    router = make_router(plugin, stubs, {split["model"]: [STRONG, WEAK], "smart": [STRONG, WEAK]})
    rates = dict(zip(split[STRONG] + split[WEAK], split["router"].win_rates(split[STRONG] + split[WEAK]).tolist()))

    async def main():
        for group in (split["model"], "smart"):  # named as the fastroute model, or mapped to it
            for expected in (STRONG, WEAK):
                for prompt in split[expected]:
                    before = sizes(stubs)
                    text, md = await ask(router, group, prompt, stream)
                    assert text == f"echo: {prompt}"
                    assert landed(stubs, before) == [expected], (group, prompt, rates[prompt], split["threshold"])
                    assert stubs[expected].record[-1]["body"]["model"] == SENT[expected]
                    headers = decision_headers({"metadata": md})
                    assert headers is not None and headers["x-fastroute-model"] == expected
                    assert headers["x-fastroute-router"] == "mf"
                    assert float(headers["x-fastroute-win-rate"]) == pytest.approx(rates[prompt], abs=1e-6)

    asyncio.run(main())


def test_a_strong_share_routes_as_the_router_calibrates_it(plugin, stubs, split):
    r = split["router"]
    t = float(r.threshold_for(0.5))
    prompts = split[STRONG] + split[WEAK]
    expected = [STRONG if m == r.strong_target else WEAK for m in r.decide(r.win_rates(prompts), t)]
    router = make_router(plugin, stubs, {"router-mf-50%": [STRONG, WEAK]})

    async def main():
        for prompt, want in zip(prompts, expected):
            before = sizes(stubs)
            await ask(router, "router-mf-50%", prompt)
            assert landed(stubs, before) == [want], prompt

    asyncio.run(main())


def test_concurrent_requests_and_several_event_loops(plugin, stubs, split):
    """One Decider per event loop: asyncio.run per call (the SDK's usual use) keeps working, and
    concurrent requests on one loop are batched without mixing their decisions up."""
    router = make_router(plugin, stubs, {split["model"]: [STRONG, WEAK]})
    prompts = (split[STRONG] + split[WEAK]) * 3

    async def main():
        outs = await asyncio.gather(*(ask(router, split["model"], p) for p in prompts))
        for p, (text, md) in zip(prompts, outs):
            want = STRONG if p in split[STRONG] else WEAK
            assert text == f"echo: {p}" and decision_headers({"metadata": md})["x-fastroute-model"] == want

    for _ in range(3):
        asyncio.run(main())
    assert len(plugin._deciders) == 1  # the Deciders of closed loops are dropped


def test_other_groups_pass_through_untouched(plugin, stubs, split):
    router = make_router(plugin, stubs, {"gpt-4o": [STRONG], "pool": [STRONG, WEAK]})

    async def main():
        before = sizes(stubs)
        text, md = await ask(router, "gpt-4o", split[WEAK][0])
        assert text.startswith("echo:") and landed(stubs, before) == [STRONG]
        assert decision_headers({"metadata": md}) is None
        for prompt in split[STRONG][:2]:  # both deployments stay candidates: no decision recorded
            _, md = await ask(router, "pool", prompt)
            assert decision_headers({"metadata": md}) is None

    asyncio.run(main())


def test_a_bad_request_fails_with_fastroutes_message(plugin, stubs, split):
    router = make_router(plugin, stubs, {split["model"]: [STRONG, WEAK]}, num_retries=0)

    async def main():
        before = sizes(stubs)
        for messages, why in (
            ([{"role": "system", "content": "be brief"}], "no user message to route on"),
            (
                [{"role": "user", "content": [{"type": "text", "text": 7}]}],
                "messages[0].content[0].text must be a string",
            ),
        ):
            with pytest.raises(litellm.BadRequestError) as err:
                await asyncio.wait_for(router.acompletion(model=split["model"], messages=messages), 30)
            assert err.value.status_code == 400
            assert "fastroute could not route this request" in str(err.value) and why in str(err.value)
        assert sizes(stubs) == before  # nothing reached an upstream

    asyncio.run(main())


def test_fail_open_keeps_every_candidate(stubs, split):
    plugin = FastrouteRoutingPlugin("mf", STRONG, WEAK, fail_open=True)
    router = make_router(plugin, stubs, {split["model"]: [STRONG, WEAK]}, num_retries=0)

    async def main():
        before = sizes(stubs)
        md: dict = {}
        messages = [{"role": "system", "content": "be brief"}]  # nothing to route on
        out = await asyncio.wait_for(router.acompletion(model=split["model"], messages=messages, metadata=md), 30)
        assert out.choices[0].message.content == "echo: " and len(landed(stubs, before)) == 1
        assert "no user message" in decision_headers({"metadata": md})["x-fastroute-error"]

    asyncio.run(main())


def test_a_choice_no_deployment_serves_is_named(stubs, split):
    plugin = FastrouteRoutingPlugin("mf", STRONG, "groq/llama-3.1-8b-instant")
    router = make_router(plugin, stubs, {split["model"]: [STRONG, WEAK]}, num_retries=0)

    async def main():
        with pytest.raises(litellm.InternalServerError) as err:
            await asyncio.wait_for(ask(router, split["model"], split[WEAK][0]), 30)
        assert "fastroute chose 'groq/llama-3.1-8b-instant'" in str(err.value) and WEAK in str(err.value)

    asyncio.run(main())
    mapped = FastrouteRoutingPlugin("mf", "strong", "weak", candidates={"strong": STRONG, "weak": [WEAK]})
    router = make_router(mapped, stubs, {split["model"]: [STRONG, WEAK]})
    for want in (STRONG, WEAK):
        before = sizes(stubs)
        asyncio.run(ask(router, split["model"], split[want][0]))
        assert landed(stubs, before) == [want]


def test_bad_settings_are_refused_at_construction():
    with pytest.raises(ValueError, match="is not a fastroute model"):
        FastrouteRoutingPlugin("mf", groups={"smart": "gpt-4o"})
    with pytest.raises(ValueError, match="unknown router 'sw_ranking'"):
        FastrouteRoutingPlugin("mf", groups={"smart": "router-sw_ranking-0.5"})
    with pytest.raises(ValueError, match="threshold"):
        FastrouteRoutingPlugin("mf", groups={"smart": "router-mf-1.5"})
