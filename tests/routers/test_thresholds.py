"""Thresholds users can read: shares of strong calls (router-<router>-<percent>%, --strong-pct)
calibrated from a bundle's stored quantiles or given prompts, and errors where there is no
calibration; `fastroute score` keeps the input's fields."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastroute import load_router
from fastroute.cli import main

from synthetic import STRONG, WEAK, synthetic_arena

TOPICS = ["prove a theorem about primes", "hello there", "write a python function", "a short poem about rain"]
PROMPTS = [f"{t} ({i})" for i in range(60) for t in TOPICS[i % 4 : i % 4 + 1]]


@pytest.fixture(scope="module")
def sw_bundle(tmp_path_factory):
    """A bundle that stores no win-rate quantiles."""
    from fastroute import SWRankingRouter
    from fastroute.embedders import get_embedder

    cols, _, pid = synthetic_arena(seed=41, n_battles=400, n_prompts=40)
    texts = [f"topic {i % 40}: a question about {['math', 'code', 'poems', 'law'][i % 4]}" for i in pid]
    router = SWRankingRouter.from_battles(cols, get_embedder("static").encode(texts), num_tiers=10)
    return router.save(tmp_path_factory.mktemp("b") / "sw")


def test_route_share_model_string_uses_the_stored_calibration(capsys):
    mf = load_router("mf")
    t = mf.threshold_for(0.5)
    want = mf.decide(mf.win_rates(PROMPTS), t)
    args = ["route", "--router", "router-mf-50%", "--strong-model", "gpt-4o", "--weak-model", "gpt-4o-mini"]
    assert main([*args, "-v", *PROMPTS]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert f"gpt-4o if win rate >= {t:.5f} (calibrated for 0.5 strong calls" in lines[0]
    assert "scored as gpt-4-1106-preview vs mixtral-8x7b-instruct-v0.1" in lines[0]
    got = [line.split("\t")[0] for line in lines[1:]]
    assert got == [{"gpt-4-1106-preview": "gpt-4o", "mixtral-8x7b-instruct-v0.1": "gpt-4o-mini"}[m] for m in want]


def test_share_sends_about_half_of_a_prompt_set_to_the_strong_target(shared_data):
    """router-mf-50% on held-out prompts: near half, where RouteLLM's 0.5 sends nearly all."""
    from fastroute.decision.model_string import parse_model_string
    from fastroute.eval.pair.benchmarks import load_mmlu

    prompts = load_mmlu(shared_data / "routellm" / "mmlu", split="eval").prompts[::7]
    mf = load_router("mf", strong_model="gpt-4o", weak_model="gpt-4o-mini")
    p = mf.win_rates(prompts)
    share = mf.decide(p, parse_model_string("router-mf-50%").threshold_for(mf)).count("gpt-4o") / len(prompts)
    assert 0.4 <= share <= 0.6, share  # 0.489 at this writing; a raw 0.5 sends 99.6%
    assert mf.decide(p, 0.5).count("gpt-4o") / len(prompts) > share


def test_route_calibrates_on_given_prompts(sw_bundle, tmp_path, capsys):
    cal = tmp_path / "cal.txt"
    cal.write_text("\n".join(PROMPTS) + "\n")
    assert (
        main(["route", "--router", str(sw_bundle), "--strong-pct", "0.25", "--calibrate-on", str(cal), *PROMPTS]) == 0
    )
    out = capsys.readouterr().out.split()
    assert abs(out.count(STRONG) / len(PROMPTS) - 0.25) <= 0.1
    assert main(["route", "--router", str(sw_bundle), "--threshold", "0.5", "--calibrate-on", str(cal), "x"]) == 2
    assert "does nothing with a raw --threshold" in capsys.readouterr().err
    assert main(["route", "--router", f"router-{sw_bundle}-50%", "x"]) == 2
    assert "pass --calibrate-on FILE" in capsys.readouterr().err


def test_calibrate_prints_the_share_string(capsys):
    assert main(["calibrate", "--router", "mf", "--strong-pct", "0.5"]) == 0
    out = capsys.readouterr()
    assert float(out.out) == pytest.approx(load_router("mf").threshold_for(0.5), abs=1e-5)
    assert 'model="router-mf-50%"' in out.err


def test_calibrate_without_quantiles_says_what_to_pass(sw_bundle, capsys):
    assert main(["calibrate", "--router", str(sw_bundle), "--strong-pct", "0.5"]) == 2
    assert "pass --prompts FILE" in capsys.readouterr().err


def test_threshold_for_error_names_texts():
    r = load_router("mf", strong_model="gpt-4-0314", weak_model="llama-2-7b-chat")
    with pytest.raises(ValueError, match=r"pass texts= \(prompts to calibrate on\) or a raw threshold"):
        r.threshold_for(0.5)


def test_score_keeps_input_fields_and_honours_strong_pct(sw_bundle, tmp_path, capsys):
    inp = tmp_path / "in.jsonl"
    inp.write_text(
        "".join(json.dumps({"id": f"q{i}", "prompt": p, "meta": {"n": i}}) + "\n" for i, p in enumerate(PROMPTS))
    )
    out = tmp_path / "out.jsonl"
    base = ["score", "--router", str(sw_bundle), "--input", str(inp), "--output", str(out)]
    assert main([*base, "--strong-pct", "0.5", "--calibrate-on", str(inp), "--batch-size", "7"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"q{i}" for i in range(len(PROMPTS))]
    assert rows[3]["meta"] == {"n": 3} and rows[3]["prompt"] == PROMPTS[3] and rows[3]["index"] == 3
    rates = np.array([r["win_rate"] for r in rows])
    t = float(np.quantile(rates, 0.5))
    assert [r["model"] for r in rows] == [STRONG if x >= t else WEAK for x in rates]
    assert abs([r["model"] for r in rows].count(STRONG) / len(rows) - 0.5) <= 0.05
    # no stored quantiles and nothing to calibrate on: refused before any scoring
    assert main([*base, "--strong-pct", "0.5"]) == 2
    assert "pass --calibrate-on FILE" in capsys.readouterr().err
    # targets, and the stored calibration of a default bundle
    assert main(["score", "--router", "mf", "--input", str(inp), "--output", str(out), "--strong-pct", "0.3",
                 "--strong-model", "gpt-4o", "--weak-model", "gpt-4o-mini"]) == 0  # fmt: skip
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["model"] for r in rows} <= {"gpt-4o", "gpt-4o-mini"} and rows[0]["id"] == "q0"


def test_score_parquet_keeps_fields(sw_bundle, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    pa = pytest.importorskip("pyarrow")
    inp = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [7, 8, 9], "prompt": PROMPTS[:3], "win_rate": [0.0] * 3}), inp)
    out = tmp_path / "out.parquet"
    assert (
        main(["score", "--router", str(sw_bundle), "--input", str(inp), "--output", str(out), "--threshold", "0"]) == 0
    )
    table = pq.read_table(out).to_pydict()
    assert table["id"] == [7, 8, 9] and table["prompt"] == PROMPTS[:3] and table["model"] == [STRONG] * 3
    want = load_router(sw_bundle).win_rates(PROMPTS[:3])
    np.testing.assert_allclose(table["win_rate"], want, atol=1e-12)  # the input's column of that name is replaced
