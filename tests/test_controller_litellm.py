"""The Controller through the real LiteLLM (not a stand-in): target names keep their provider
prefix up to LiteLLM, which strips it and calls the OpenAI-compatible stub at api_base.
(LiteLLM 1.110 no longer knows Anyscale, RouteLLM's example provider: together_ai here.)"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network fetch at import
pytest.importorskip("litellm", reason="litellm is not installed (it is in the dev extra)")

from fastroute import Controller  # noqa: E402


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
