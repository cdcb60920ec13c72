"""The shipped N-model default (mf on RouterBench + its routing profile): it loads by
name, routes among its 11 candidates at the calibrated cost, and a rebuild reproduces it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastroute.loader import DEFAULTS_DIR, load_router
from fastroute.profile import Candidate, load_profile
from fastroute.train.profile_default import ROUTERBENCH_PRICES

PROMPTS = ["Prove that the square root of 2 is irrational.", "hi", "Sort a list in Python.", "What is 2+2?"]


def test_the_shipped_profile_loads_and_routes():
    prof = load_profile("routerbench")
    assert len(prof.candidates) == 11 and prof.router.kind == "mf" and prof.value > 0
    for c in prof.candidates:
        assert (c.input_price, c.output_price) == ROUTERBENCH_PRICES[c.scored_as]
    out = prof.choose(PROMPTS)
    assert all(d.model in prof.names and 0 < d.quality < 1 and d.cost > 0 for d in out)
    with pytest.raises(ValueError, match="neither a profile file nor a shipped profile"):
        load_profile("no-such-profile")


def test_profile_files_are_checked(tmp_path):
    doc = json.loads((DEFAULTS_DIR / "profiles" / "routerbench.json").read_text())
    bad = tmp_path / "bad.json"
    for change, message in (
        (lambda d: d.update(colour="red"), "unknown key"),
        (lambda d: d["candidates"][0].update(price=1), r"candidates\[0\]"),
        (lambda d: d["candidates"][1].update(input_price=-1), r"candidates\[1\]: .*input_price"),
        (lambda d: d.update(policy="cheapest"), "unknown policy"),
        (lambda d: d.update(candidates=[]), "at least two"),
    ):
        d = json.loads(json.dumps(doc))
        change(d)
        d["router"] = str(DEFAULTS_DIR / "routerbench")
        bad.write_text(json.dumps(d))
        with pytest.raises(ValueError, match=message):
            load_profile(bad)
    assert Candidate("x").scored_as is None


def test_the_shipped_profile_spends_its_calibrated_share_on_real_prompt_text(shared_data):
    """Calibrated on RouterBench's prompts as users send them (not the tables' list literals),
    the profile spends, on those prompts routed as chat requests, the share it was calibrated
    for: COST_SHARE of always calling gpt-4, within 5 points (it was 81% on the list strings)."""
    from fastroute.decision import ModelStrings
    from fastroute.decision.build import build_decision
    from fastroute.decision.decider import decide_chat_now
    from fastroute.train.profile_default import COST_SHARE, routerbench_tables

    prompts = routerbench_tables(shared_data)[0]
    assert not any(p.startswith(("['", '["')) for p in prompts)
    prof = load_profile("routerbench")
    gpt4 = [c.scored_as for c in prof.candidates].index("gpt-4-1106-preview")
    always_gpt4 = prof.expected_costs(prompts)[:, gpt4].mean()
    spent = np.mean([d.cost for d in prof.choose(prompts)])
    assert abs(spent / always_gpt4 - COST_SHARE) <= 0.05, spent / always_gpt4
    cfg = build_decision(["mf"], profiles=["routerbench"])  # the served path, on every 5th prompt
    strings = ModelStrings(cfg)
    served = [
        decide_chat_now(cfg, {"model": "routerbench", "messages": [{"role": "user", "content": p}]}, strings)
        for p in prompts[::5]
    ]
    assert [d.model for d in served] == [d.model for d in prof.choose(prompts[::5])]


@pytest.mark.slow
def test_rebuild_reproduces_the_shipped_profile_default(shared_data, tmp_path):
    from fastroute.train.profile_default import build_routerbench_default, routerbench_tables

    build_routerbench_default(shared_data, tmp_path, log=lambda _: None)
    new, old = load_router(str(tmp_path / "routerbench")), load_router(str(DEFAULTS_DIR / "routerbench"))
    prompts = routerbench_tables(shared_data)[0][:400]
    np.testing.assert_allclose(new.strengths(prompts), old.strengths(prompts), atol=1e-4)
    a = json.loads((tmp_path / "profiles" / "routerbench.json").read_text())
    b = json.loads((DEFAULTS_DIR / "profiles" / "routerbench.json").read_text())
    assert a["candidates"] == b["candidates"] and a["value"] == pytest.approx(b["value"], rel=1e-3)
    p_new, p_old = load_profile(tmp_path / "profiles" / "routerbench.json"), load_profile("routerbench")
    same = [x.model == y.model for x, y in zip(p_new.choose(prompts), p_old.choose(prompts))]
    assert np.mean(same) >= 0.995
