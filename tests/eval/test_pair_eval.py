"""Evaluation: RouteLLM's metrics on hand-computed cases, the harness, and the CLI on real data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastroute.eval.pair import metrics as M
from fastroute.eval.pair.benchmarks import EvalSet, load_mmlu, load_mt_bench, load_table
from fastroute.eval.pair.harness import evaluate


def test_thresholds_and_curve_by_hand():
    p = np.array([0.1, 0.2, 0.3, 0.4])
    sq = np.array([1.0, 1.0, 0.0, 1.0])
    wq = np.array([0.0, 1.0, 0.0, 0.0])
    c = M.routing_curve(p, sq, wq, num_results=2)  # edges: min, median, max
    np.testing.assert_allclose(c.thresholds, [0.1, 0.25, 0.4])
    np.testing.assert_allclose(c.strong_share, [1.0, 0.5, 0.0])  # >= min: all; >= 0.25: two; > max: none
    np.testing.assert_allclose(c.quality, [0.75, 0.5, 0.25])
    assert M.auc(c) == pytest.approx(0.5 * (0.25 + 0.5) / 2 + 0.5 * (0.5 + 0.75) / 2)
    assert M.apgr(c, 0.75, 0.25) == pytest.approx((0.5 - 0.25) / 0.5)
    assert M.cpt(c, 0.5, 0.75, 0.25) == pytest.approx(0.5)
    assert M.cpt(c, 0.25, 0.75, 0.25) == pytest.approx(0.25)  # linear interpolation
    assert M.pgr(0.5, 0.75, 0.25) == pytest.approx(0.5)


def test_cpt_on_a_curve_that_dips():
    """RouteLLM's np.interp assumes quality rises with the share; here the first crossing counts."""
    share = np.linspace(0, 1, 7)
    c = M.Curve(np.zeros(7), share, np.array([0.2, 0.65, 0.3, 0.4, 0.5, 0.55, 1.0]))
    assert M.cpt(c, 0.5, 1.0, 0.2) == pytest.approx((1 / 6) * (0.6 - 0.2) / (0.65 - 0.2))
    # A bad router whose curve sinks below the weak model first, then climbs: the crossing is found
    # where it happens, not read off a curve assumed to rise.
    bad = M.Curve(np.zeros(5), np.linspace(0, 1, 5), np.array([0.5, 0.3, 0.2, 0.6, 1.0]))
    assert M.cpt(bad, 0.5, 1.0, 0.5) == pytest.approx(0.75 + 0.25 * (0.75 - 0.6) / (1.0 - 0.6))
    assert M.cpt(bad, 0.2, 1.0, 0.5) == pytest.approx(0.5 + 0.25 * (0.6 - 0.2) / (0.6 - 0.2))
    never = M.Curve(np.zeros(3), np.array([0.0, 0.5, 1.0]), np.array([0.2, 0.3, 0.4]))
    assert np.isnan(M.cpt(never, 0.8, 1.0, 0.2))


def test_ties_in_win_rates_are_allowed():
    c = M.routing_curve(np.array([0.5] * 10), np.ones(10), np.zeros(10))
    np.testing.assert_allclose(c.strong_share, [1.0] * 10 + [0.0])


def test_optimal_quality():
    sq, wq = np.array([1, 1, 0, 1.0]), np.array([0, 1, 0, 0.0])
    assert M.optimal_quality(sq, wq, 0.0) == 0.25
    assert M.optimal_quality(sq, wq, 0.25) == 0.5
    assert M.optimal_quality(sq, wq, 1.0) == 0.75


def _synthetic_set(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    wq = (rng.random(n) < 0.6).astype(float)
    sq = np.maximum(wq, (rng.random(n) < 0.5).astype(float))
    return EvalSet(
        "synthetic", [f"prompt {i} " + "x" * int(rng.integers(0, 50)) for i in range(n)], {"strong": sq, "weak": wq}
    )


class _Oracle:
    def __init__(self, es):
        self.gain = dict(zip(es.prompts, es.scores["strong"] - es.scores["weak"]))
        self.rng = np.random.default_rng(1)
        self.train_prompt_hashes = None

    def win_rates(self, prompts):
        return np.array([self.gain[p] for p in prompts]) + 1e-3 * self.rng.random(len(prompts))


def test_oracle_reaches_optimal_and_random_is_half():
    es = _synthetic_set()
    rep = evaluate(es, {"oracle": _Oracle(es)}, "strong", "weak", n_boot=50)
    by = {r.name: r for r in rep.results}
    opt = M.optimal_quality(es.scores["strong"], es.scores["weak"], 0.3)
    oracle_q = np.interp(0.3, *[a[::-1] for a in (by["oracle"].curve.strong_share, by["oracle"].curve.quality)])
    assert oracle_q == pytest.approx(opt, abs=0.02)
    assert by["oracle"].metrics["APGR"] > 0.9 * by["optimal"].metrics["APGR"]
    assert abs(by["random"].metrics["APGR"] - 0.5) < 0.05  # mean of 10 runs, each with sd ~0.023
    lo, hi = by["oracle"].intervals["APGR - random"]
    assert lo > 0.2
    assert by["random"].intervals["APGR"][0] < 0.5 < by["random"].intervals["APGR"][1]


def test_training_prompts_are_left_out():
    from fastroute.prompt_hash import prompt_hashes

    es = _synthetic_set(200)
    oracle = _Oracle(es)
    oracle.train_prompt_hashes = prompt_hashes(es.prompts[:50])
    rep = evaluate(es, {"oracle": oracle}, "strong", "weak", n_boot=0)
    assert rep.n_prompts == 150 and any("trained on" in n for n in rep.notes)


def test_real_benchmarks_load(shared_data):
    mmlu = load_mmlu(shared_data / "routellm" / "mmlu")
    assert 6900 < len(mmlu.prompts) < 7200
    full = load_mmlu(shared_data / "routellm" / "mmlu", split="all")
    assert 14_042 - 5 <= len(full.prompts) < 14_042  # RouteLLM's contaminated prompts are dropped
    mt = load_mt_bench(shared_data / "routellm" / "mt_bench")
    assert len(mt.prompts) == 72 and len(mt.extra_prompts) == 72
    assert mt.quality("gpt-4-1106-preview").mean() > mt.quality("mistralai/Mixtral-8x7B-Instruct-v0.1").mean()


def test_gsm8k_and_generic_files(tmp_path):
    import csv

    rows = [
        {
            "prompt": f"Q{i}: what is {i} + {i}?",
            "mistralai/Mixtral-8x7B-Instruct-v0.1": str(i % 3 == 0),
            "gpt-4-1106-preview": str(i % 5 != 0),
            "mistralai/Mixtral-8x7B-Instruct-v0.1_response": "...",
            "gpt-4-1106-preview_response": "...",
        }
        for i in range(40)
    ]
    path = tmp_path / "gsm8k_responses.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    es = load_table(path, name="gsm8k")
    assert set(es.scores) == {"mixtral-8x7b-instruct-v0.1", "gpt-4-1106-preview"}
    assert es.quality("gpt-4-1106-preview").mean() == pytest.approx(32 / 40)
    gen = tmp_path / "traffic.jsonl"
    gen.write_text(
        "".join(
            json.dumps({"id": i, "prompt": f"p{i}", "big": i % 2, "small": 0.5, "other": 1}) + "\n" for i in range(30)
        )
    )
    es = load_table(gen, models=["big", "small"])
    assert set(es.scores) == {"big", "small"}
    rep = evaluate(es, {}, "big", "small", n_boot=0)
    assert rep.strong_quality == pytest.approx(0.5) and rep.weak_quality == 0.5


def test_eval_cli_writes_outputs_and_caches(shared_data, tmp_path, capsys):
    from fastroute.cli import main

    out = tmp_path / "out"
    args = [
        "eval",
        "--routers",
        "random",
        "sw_ranking",
        "--benchmark",
        "mt-bench",
        "--data",
        str(shared_data / "routellm" / "mt_bench"),
        "--output",
        str(out),
        "--bootstrap",
        "50",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "sw_ranking" in text and "prompt length" in text and "optimal" in text
    doc = json.loads((out / "results.json").read_text())
    names = [r["router"] for r in doc["results"]]
    assert names == ["sw_ranking", "random", "prompt length", "optimal"]
    assert (out / "results.md").read_text().startswith("## mt-bench")
    png = (out / "mt-bench.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    cached = list((out / "cache").glob("*.npy"))
    assert len(cached) == 1
    np.save(cached[0], np.linspace(0, 1, 72))  # a second run reads the cache, not the router
    assert main(args) == 0
    doc2 = json.loads((out / "results.json").read_text())
    assert doc2["results"][0]["metrics"]["APGR"] != doc["results"][0]["metrics"]["APGR"]
    assert (
        main(
            [
                "eval",
                "--routers",
                "mf",
                "--benchmark",
                "mt-bench",
                "--data",
                str(shared_data / "routellm" / "mt_bench"),
                "--strong-model",
                "gpt-9",
            ]
        )
        == 2
    )
    assert "unknown model" in capsys.readouterr().err
