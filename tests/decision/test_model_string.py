"""RouteLLM model strings: a strict grammar, errors naming the string, and a writer whose
output the parser always reads back."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastroute.decision.model_string import parse_model_string, parse_router_model, router_model


@pytest.mark.parametrize(
    "model, want",
    [
        ("router-mf-0.11593", ("mf", 0.11593)),
        ("router-sw_ranking-1e-05", ("sw_ranking", 1e-05)),
        ("router-sw_ranking-1E-5", ("sw_ranking", 1e-05)),
        ("router-mf-.5", ("mf", 0.5)),
        ("router-mf-1", ("mf", 1.0)),
        ("router-mf-0", ("mf", 0.0)),
        ("router-mf-0.0e-400", ("mf", 0.0)),
        ("router-/tmp/my-bundle-2-0.25", ("/tmp/my-bundle-2", 0.25)),
    ],
)
def test_parses(model, want):
    assert parse_router_model(model) == want


@pytest.mark.parametrize(
    "model, message",
    [
        ("router-mf--1", r"threshold -1 is negative"),
        ("router-mf--0", r"has a sign"),
        ("router-mf-+0.5", r"has a sign"),
        ("router-sw_ranking-1e-400", r"'router-sw_ranking-1e-400'.*too small for a float64"),
        ("router-mf-1.5", r"above 1"),
        ("router-mf-1e400", r"above 1"),
        ("router-mf-0.5\n", r"not a plain decimal"),
        ("router-mf- 0.5", r"not a plain decimal"),
        ("router-mf-0.5 ", r"not a plain decimal"),
        ("router-mf-\u0660.\u0665", r"not a plain decimal"),  # Arabic-Indic digits
        ("router-mf-1_0", r"not a plain decimal"),
        ("router-mf-nan", r"not a plain decimal"),
        ("router-mf-inf", r"not a plain decimal"),
        ("router-mf-0x1", r"not a plain decimal"),
        ("router--0.5", r"names no router"),
        ("router-mf", r"'router-mf' names no threshold; expected 'router-<router>-<threshold>'"),
        ("router-mf-", r"threshold '' is not a plain decimal"),
        ("router- mf-0.5", r"router name ' mf'"),
        ("router-m\nf-0.5", r"router name"),
        ("mf-0.5", r"not a router model string"),
    ],
)
def test_rejects(model, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_router_model(model)
    assert "expected" in str(info.value) or "[0, 1]" in str(info.value) or "float64" in str(info.value)


def test_non_string_and_known_routers():
    with pytest.raises(ValueError, match="must be a string"):
        parse_router_model(b"router-mf-0.5")
    assert parse_router_model("router-mf-0.5", known=("mf", "sw_ranking")) == ("mf", 0.5)
    with pytest.raises(ValueError, match="unknown router 'bert'; known: mf, sw_ranking"):
        parse_router_model("router-bert-0.5", known=("mf", "sw_ranking"))


def test_writer_examples():
    assert router_model("mf", 1e-05) == "router-mf-1e-05"
    assert parse_router_model(router_model("mf", 1e-05)) == ("mf", 1e-05)
    assert router_model("mf", -0.0) == "router-mf-0.0"
    assert router_model("mf", 5e-324) == "router-mf-5e-324"
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        router_model("mf", float("nan"))
    with pytest.raises(ValueError, match="router name"):
        router_model("", 0.5)
    with pytest.raises(ValueError, match="unambiguously"):
        router_model("mf-", 0.5)  # "router-mf--0.5" reads as router "mf", threshold -0.5


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(["mf", "sw_ranking", "bert", "causal_llm", "random", "/tmp/a-1-b", "x-1e"]),
    st.floats(0.0, 1.0, allow_nan=False),
)
def test_round_trip(router, threshold):
    model = router_model(router, threshold)
    got_router, got_threshold = parse_router_model(model)
    assert got_router == router and got_threshold == threshold


@pytest.mark.parametrize(
    "model, share",
    [
        ("router-mf-50%", 0.5),
        ("router-mf-0%", 0.0),
        ("router-mf-100%", 1.0),
        ("router-mf-12.5%", 0.125),
        ("router-mf-30%", 0.3),
        ("router-/tmp/my-bundle-2-5e1%", 0.5),
    ],
)
def test_parses_a_strong_call_share(model, share):
    got = parse_model_string(model)
    assert got.strong_pct == share and got.threshold is None
    assert got.router == model[len("router-") : model.rindex("-")]


@pytest.mark.parametrize(
    "model, message",
    [
        ("router-mf-101%", r"percent 101 is above 100"),
        ("router-mf-1e400%", r"above 100"),
        ("router-mf--5%", r"percent -5 is negative"),
        ("router-mf-+5%", r"has a sign"),
        ("router-mf-1e-400%", r"too small for a float64"),
        ("router-mf-50 %", r"not a plain decimal"),
        ("router-mf-50%%", r"not a plain decimal"),
        ("router-mf-%", r"not a plain decimal"),
    ],
)
def test_rejects_bad_shares(model, message):
    with pytest.raises(ValueError, match=message):
        parse_model_string(model)


def test_share_strings_are_not_thresholds():
    assert parse_model_string("router-mf-0.5").threshold == 0.5
    with pytest.raises(ValueError, match="states a share of strong-model calls"):
        parse_router_model("router-mf-50%")


def test_share_writer_and_calibration():
    assert router_model("mf", strong_pct=0.5) == "router-mf-50%"
    assert router_model("mf", strong_pct=0.3) == "router-mf-30%"
    assert router_model("mf", strong_pct=1e-05) == "router-mf-0.001%"
    assert router_model("mf", strong_pct=1.0) == "router-mf-100%"
    with pytest.raises(ValueError, match="not both"):
        router_model("mf", 0.5, strong_pct=0.5)
    with pytest.raises(ValueError, match=r"strong_pct must be a share in \[0, 1\]"):
        router_model("mf", strong_pct=50)

    class Calibrated:
        def threshold_for(self, pct):
            return 1.0 - pct / 2

    assert parse_model_string("router-mf-50%").threshold_for(Calibrated()) == 0.75
    assert parse_model_string("router-mf-0.1").threshold_for(Calibrated()) == 0.1


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["mf", "sw_ranking", "/tmp/a-1-b", "x-1e", "x-5"]), st.floats(0.0, 1.0, allow_nan=False))
def test_share_round_trip(router, share):
    try:
        model = router_model(router, strong_pct=share)
    except ValueError as exc:  # e.g. "router-x-1e-0%" reads as router "x" at 1%: refused, never written
        assert router == "x-1e" and "unambiguously" in str(exc)
        return
    got = parse_model_string(model)
    assert (got.router, got.strong_pct, got.threshold) == (router, share, None)
