"""RouterBench-style N-model evaluation: hull and AIQ on hand-computed curves, the policy's
λ sweep, cross-validation by prompt, the kNN baseline, and a run on the real tables."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastroute.eval.profile import metrics as NM
from fastroute.eval.profile import sweep as P
from fastroute.eval.profile.cv import cross_val_predict, folds_by_prompt
from fastroute.eval.profile.data import ProfileEvalSet, from_arrays, load_llmrouter, parse_prices
from fastroute.eval.profile.harness import best_single_model, evaluate_profiles
from fastroute.eval.profile.routers import PROFILE_ROUTERS, KNNFactory, get_factory
from fastroute.profile.policy import max_value


def test_hull_drops_points_below_and_after_the_best():
    hx, hy = NM.nondecreasing_hull([1, 2, 3, 4, 5], [0.5, 0.8, 0.7, 0.9, 0.85])
    assert hx.tolist() == [1, 2, 4] and hy.tolist() == [0.5, 0.8, 0.9]
    hx, hy = NM.nondecreasing_hull([3, 1, 2], [0.9, 0.5, 0.55])  # (2, .55) is under the chord
    assert hx.tolist() == [1, 3] and hy.tolist() == [0.5, 0.9]
    hx, hy = NM.nondecreasing_hull([1, 1, 2], [0.2, 0.6, 0.6])  # same cost: the better; flat: the cheaper
    assert hx.tolist() == [1] and hy.tolist() == [0.6]


def test_aiq_hand_computed():
    # hull (1,.5) (2,.8) (4,.9) over [1, 4]: (0.65 + 1.7) / 3
    assert NM.aiq_of_points([1, 2, 3, 4], [0.5, 0.8, 0.7, 0.9], 1, 4) == pytest.approx(2.35 / 3)
    # one point at cost 2: 0 below it, flat after it: 0.8 * 2 / 3
    assert NM.aiq_of_points([2], [0.8], 1, 4) == pytest.approx(1.6 / 3)
    # a hull cheaper than c_min is cut at c_min: (1,.5)-(3,.9) on [2, 3] is (0.7 + 0.9) / 2
    assert NM.aiq_of_points([1, 3], [0.5, 0.9], 2, 3) == pytest.approx(0.8)
    assert np.isnan(NM.aiq_of_points([1], [0.5], 1, 1))
    hull = NM.nondecreasing_hull([1, 2, 4], [0.5, 0.8, 0.9])
    assert NM.cost_to_reach(hull, 0.85) == pytest.approx(3.0)
    assert NM.cost_to_reach(hull, 0.4) == 1.0 and np.isnan(NM.cost_to_reach(hull, 0.95))
    assert NM.hull_value(hull, [0.5, 1.5, 9]).tolist() == pytest.approx([0.0, 0.65, 0.9])


def test_zero_router_is_random_mixing_of_models():
    cost, q = np.array([1.0, 2.0, 4.0]), np.array([0.5, 0.6, 0.9])
    hull = NM.nondecreasing_hull(cost, q)
    assert hull[0].tolist() == [1, 4]  # the middle model is beaten by mixing the other two
    assert NM.aiq(hull, 1, 4) == pytest.approx(0.7)
    # a 50/50 random mix of models 0 and 2 lands on the hull
    assert NM.hull_value(hull, 0.5 * 1 + 0.5 * 4) == pytest.approx(0.5 * 0.5 + 0.5 * 0.9)


def test_oracle_picks_the_cheapest_correct_model():
    Q = np.array([[1, 1, 1], [0, 1, 1], [0, 0, 0], [0, 0, 1]], float)
    C = np.array([[1, 2, 3], [1, 2, 3], [1, 2, 3], [5, 2, 3]], float)
    assert max_value(Q, C, 0.0).tolist() == [0, 1, 0, 2]
    assert max_value(Q, C, np.inf).tolist() == [0, 0, 0, 1]


def test_policy_sweep_is_monotone():
    rng = np.random.default_rng(1)
    pred = rng.random((300, 6))
    cost = rng.random(6) * 10
    lam = P.lambda_grid(pred, cost, 60)
    assert lam[0] == 0 and np.isinf(lam[-1]) and np.all(np.diff(lam) > 0)
    ch = P.sweep(pred, cost, lam)
    spent, got = cost[ch], np.take_along_axis(np.broadcast_to(pred, (len(lam),) + pred.shape), ch[..., None], 2)[..., 0]
    assert np.all(np.diff(spent, axis=0) <= 0)  # per prompt: more λ never costs more
    assert np.all(np.diff(got, axis=0) <= 1e-12)  # ... nor predicts better quality
    assert (ch[0] == pred.argmax(1)).all() and (ch[-1] == cost.argmin()).all()
    assert (ch[-2] == cost.argmin()).all()  # the grid's top already routes everything cheapest


def test_folds_never_share_a_prompt():
    prompts = [f"p{i % 37}" for i in range(200)]
    groups = ["a" if i % 37 < 20 else "b" for i in range(200)]
    folds = folds_by_prompt(prompts, groups, k=5, seed=3)
    for t in set(prompts):
        assert len({int(folds[i]) for i, p in enumerate(prompts) if p == t}) == 1
    per_fold = [len({p for p, f in zip(prompts, folds) if f == k}) for k in range(5)]
    assert max(per_fold) - min(per_fold) <= 1  # distinct prompts dealt evenly
    rng = np.random.default_rng(0)
    es = ProfileEvalSet("t", prompts, rng.integers(0, 2, (200, 3)), np.ones((200, 3)), ["a", "b", "c"], groups)
    seen = []

    def spy(train_prompts, train_quality, train_cost, models):
        seen.append(set(train_prompts))

        class Pred:
            def predict(self, texts):
                assert not set(texts) & seen[-1], "a test prompt was in the training fold"
                return np.zeros((len(texts), 3))

        return Pred()

    cv = cross_val_predict(es, spy, folds)
    assert len(seen) == 5 and np.isfinite(cv.pred).all()


def _synthetic(n: int = 240, seed: int = 0) -> ProfileEvalSet:
    """Two kinds of prompt; a cheap model right on each kind, an expensive one right on both
    90% of the time. Routing by kind beats every mix of models."""
    rng = np.random.default_rng(seed)
    nums = ["seven", "twelve", "forty", "nine", "three", "eighty", "sixty", "five"]
    things = ["autumn leaves", "the ocean", "a lonely lighthouse", "winter snow", "a red fox", "city lights"]
    prompts, kind = [], []
    for i in range(n):
        if i % 2:
            prompts.append(f"Solve for x: {rng.choice(nums)} times x plus {rng.choice(nums)} equals {i}. Equation #{i}")
        else:
            prompts.append(f"Write a short poem about {rng.choice(things)} and {rng.choice(things)}, poem {i}")
        kind.append(i % 2)
    k = np.array(kind)
    q = {
        "math-cheap": (k == 1).astype(float),
        "poem-cheap": (k == 0).astype(float),
        "big": (rng.random(n) < 0.9).astype(float),
    }
    return from_arrays("synthetic", prompts, q, {"math-cheap": 1.0, "poem-cheap": 1.2, "big": 10.0})


def test_knn_beats_the_zero_router_on_synthetic_data():
    rep = evaluate_profiles(_synthetic(), k_folds=4, n_boot=200, knn=KNNFactory(k=5))
    knn, zero = rep.get("knn"), rep.get("zero router")
    assert knn.metrics["AIQ"] > zero.metrics["AIQ"] + 0.2
    assert knn.intervals["AIQ - zero"][0] > 0
    assert rep.get("oracle").metrics["AIQ"] >= knn.metrics["AIQ"] - 1e-12
    assert knn.metrics["max quality"] > 0.95


def test_registry_and_auto_k():
    assert "knn" in PROFILE_ROUTERS
    with pytest.raises(ValueError, match="unknown profile router"):
        get_factory("nope")
    fac = get_factory("knn")
    es = _synthetic(120)
    pred = fac(es.prompts[:100], es.quality[:100], es.cost[:100], es.models).predict(es.prompts[100:])
    assert pred.shape == (20, 3) and fac.chosen_k and fac.chosen_k[0] in (5, 10, 20, 40, 80)


def test_llmrouter_needs_prices(tmp_path):
    f = tmp_path / "t.json"
    recs = [{"question": f"q{i}", "scores": str({"m-a": i % 2, "m-b": 1})} for i in range(10)]
    f.write_text(json.dumps(recs))
    with pytest.raises(ValueError, match="no costs"):
        load_llmrouter(f)
    es = load_llmrouter(f, parse_prices("m-a=0.5,m-b=2"))
    assert es.models == ["m-a", "m-b"] and es.cost[0].tolist() == [0.5, 2.0]
    with pytest.raises(ValueError, match="no cost for model"):
        load_llmrouter(f, {"m-a": 1.0})
    (tmp_path / "p.json").write_text(json.dumps({"m-a": 1, "m-b": 3}))
    assert parse_prices(str(tmp_path / "p.json")) == {"m-a": 1.0, "m-b": 3.0}
    with pytest.raises(ValueError, match="neither"):
        parse_prices(str(tmp_path / "missing.json"))


def test_real_routerbench(shared_data, tmp_path):
    from fastroute.cli import main
    from fastroute.eval.profile.data import load_routerbench
    from fastroute.eval.profile.report import markdown, to_json

    es = load_routerbench(shared_data / "routerbench" / "mbpp_train.csv")
    assert len(es.models) == 11 and "gpt-4-1106-preview" in es.models and len(es.prompts) > 250
    assert (es.cost > 0).all() and set(np.unique(es.quality)) <= {0.0, 1.0}
    rep = evaluate_profiles(es, n_boot=50)
    oracle, zero = rep.get("oracle"), rep.get("zero router")
    for r in rep.results:
        assert r.metrics["AIQ"] <= oracle.metrics["AIQ"] + 1e-12, r.name
    assert zero.metrics["AIQ"] >= best_single_model(rep).metrics["AIQ"]
    lo, hi = zero.intervals["AIQ"]
    assert lo <= zero.metrics["AIQ"] <= hi
    json.dumps(to_json(rep))
    assert "| knn |" in markdown(rep)
    out = tmp_path / "out"
    argv = ["eval", "--benchmark", "routerbench", "--data", str(shared_data / "routerbench" / "mbpp_train.csv")]
    assert main(argv + ["--routers", "knn", "--bootstrap", "20", "--output", str(out), "--folds", "3"]) == 0
    data = json.loads((out / "results.json").read_text())
    assert data["folds"] == 3 and {r["router"] for r in data["results"]} >= {"knn", "oracle", "zero router"}
    assert (out / "results.md").is_file()
    pytest.importorskip("matplotlib")
    assert (out / "routerbench.png").stat().st_size > 1000
