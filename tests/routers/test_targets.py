"""Route targets (RouteLLM's meaning of strong_model / weak_model): a router scores a pair of
the models it knows and routes to any names."""

from __future__ import annotations

import json

import pytest

from fastroute import load_router
from fastroute.errors import UnknownModelError

PROMPTS = ["Prove that there are infinitely many primes.", "hi"]
MIXTRAL_ANYSCALE = "anyscale/mistralai/Mixtral-8x7B-Instruct-v0.1"


def test_any_names_are_targets_scored_as_the_bundle_pair():
    base = load_router("mf")
    r = load_router("mf", strong_model="gpt-4o", weak_model="gpt-4o-mini")
    assert (r.strong_model, r.weak_model) == (base.strong_model, base.weak_model)
    assert r.targets == ("gpt-4o", "gpt-4o-mini") and r.strong_target == "gpt-4o"
    assert r.win_rate_quantiles is not None  # same scored pair: the stored calibration holds
    assert r.route(PROMPTS, 0.0) == ["gpt-4o"] * 2 and r.route(PROMPTS, 1.0) == ["gpt-4o-mini"] * 2
    assert r.decide(base.win_rates(PROMPTS), 0.5) == [
        "gpt-4o" if m == base.strong_model else "gpt-4o-mini" for m in base.decide(base.win_rates(PROMPTS), 0.5)
    ]
    assert r.threshold_for(0.5) == base.threshold_for(0.5)
    assert "targets=('gpt-4o', 'gpt-4o-mini')" in repr(r)


def test_provider_prefixed_names_match_through_aliases():
    r = load_router("mf", strong_model="openai/gpt-4-1106-preview", weak_model=MIXTRAL_ANYSCALE)
    assert (r.strong_model, r.weak_model) == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    assert r.targets == ("openai/gpt-4-1106-preview", MIXTRAL_ANYSCALE)
    assert r.route(PROMPTS, 1.0) == [MIXTRAL_ANYSCALE] * 2


def test_known_names_pick_the_scored_pair_and_drop_its_calibration():
    r = load_router("sw_ranking", strong_model="claude-2.0", weak_model="text-davinci-003")
    assert (r.strong_model, r.weak_model) == r.targets == ("claude-2.0", "text-davinci-003")
    assert r.win_rate_quantiles is None and r.train_prompt_hashes is not None
    with pytest.raises(ValueError, match=r"no win-rate quantiles for claude-2.0 vs text-davinci-003: pass texts="):
        r.threshold_for(0.5)


def test_scored_as_mapping():
    r = load_router(
        "mf", strong_model="gpt-4o", weak_model="local-llama", scored_as={"local-llama": "llama-2-70b-chat"}
    )
    assert (r.strong_model, r.weak_model) == ("gpt-4-1106-preview", "llama-2-70b-chat")
    assert r.targets == ("gpt-4o", "local-llama")
    with pytest.raises(UnknownModelError, match="unknown model to score 'gpt-4o' as 'gpt-9'"):
        load_router("mf", strong_model="gpt-4o", scored_as={"gpt-4o": "gpt-9"})
    with pytest.raises(ValueError, match="both be scored as 'gpt-4-1106-preview'"):
        load_router("mf", strong_model="gpt-4o", weak_model="gpt-4-1106-preview")
    with pytest.raises(ValueError, match="both 'x'"):
        load_router("mf", strong_model="x", weak_model="x")


def test_with_targets_on_a_router_and_chained():
    base = load_router("mf")
    a = base.with_targets("gpt-4o", "gpt-4o-mini")
    assert base.targets == (base.strong_model, base.weak_model)  # the original is untouched
    b = a.with_targets("o1", "gpt-4o-mini")
    assert b.targets == ("o1", "gpt-4o-mini") and a.targets == ("gpt-4o", "gpt-4o-mini")
    paired = a.with_pair("gpt-4-0314", "llama-2-7b-chat")  # a new scored pair: the targets follow it
    assert paired.targets == ("gpt-4-0314", "llama-2-7b-chat")


def test_saving_keeps_the_scored_pair(tmp_path):
    r = load_router("mf", strong_model="gpt-4o", weak_model="gpt-4o-mini")
    r.save(tmp_path / "b")
    doc = json.loads((tmp_path / "b" / "fastroute.json").read_text())
    assert (doc["strong_model"], doc["weak_model"]) == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    assert doc["win_rate_quantiles_pair"] == ["gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"]
    back = load_router(tmp_path / "b")
    assert back.targets == ("gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1")
    assert back.win_rate_quantiles is not None


@pytest.mark.parametrize("kind", ["random", "length"])
def test_embedder_free_routers_take_any_names(kind):
    r = load_router(kind, strong_model="gpt-4o", weak_model="gpt-4o-mini")
    assert (r.strong_model, r.weak_model) == r.targets == ("gpt-4o", "gpt-4o-mini")
    assert set(r.route(["x" * 2000, ""], 0.5)) <= {"gpt-4o", "gpt-4o-mini"}
    r = load_router(kind, strong_model="gpt-4o", weak_model="small", scored_as={"small": "tiny"})
    assert (r.strong_model, r.weak_model, r.weak_target) == ("gpt-4o", "tiny", "small")


def test_scored_as_aliases_and_a_custom_embedder_survive_retargeting():
    from fastroute.embedders import get_embedder

    r = load_router("mf", strong_model="gpt-4o", weak_model="gpt-4o-mini", scored_as={"gpt-4o": "gpt4-1106-preview"})
    assert r.strong_model == "gpt-4-1106-preview"  # the alias of a known model
    base = load_router("mf")
    custom = get_embedder("static")
    base.use_embedder(custom)
    other = base.with_targets("claude-1", "gpt-4o", {"gpt-4o": "mixtral-8x7b-instruct-v0.1"})
    assert other.strong_model == "claude-1" and other._embedder is custom
