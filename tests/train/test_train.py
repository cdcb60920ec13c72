"""Trainers: sw_ranking bundles with weighting chosen on validation, mf (torch), calibration."""

from __future__ import annotations

import numpy as np
import pytest

from fastroute import load_router
from fastroute.data.battles import BattleTable
from fastroute.embedders import get_embedder
from fastroute.train.sw import build_sw, rateable_battles

STRONG, WEAK = "gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1"
TOPICS = [
    "prove the theorem about prime numbers",
    "write a haiku about autumn leaves",
    "debug this python function that sorts a list",
    "summarise the history of rome",
    "translate this sentence into french",
    "solve the integral of x squared",
]


def _battles(seed=0, n=1500, extra_group=False):
    """Battles where the strong model wins on the first three topics and ties elsewhere."""
    rng = np.random.default_rng(seed)
    models = [STRONG, WEAK, "m2", "m3", "m4"]
    p, a, b, w = [], [], [], []
    for _ in range(n):
        t = int(rng.integers(len(TOPICS)))
        prompt = f"{TOPICS[t]} (case {int(rng.integers(40))})"
        x, y = rng.choice(len(models), 2, replace=False)
        edge = 1.2 if t < 3 else 0.0
        skill = {0: 0.5 + edge, 1: 0.5, 2: 0.2, 3: 0.0, 4: -0.3}
        z = skill[x] - skill[y]
        r = rng.random()
        win = "tie" if r < 0.15 else ("model_a" if rng.random() < 1 / (1 + np.exp(-2 * z)) else "model_b")
        p.append(prompt), a.append(models[x]), b.append(models[y]), w.append(win)
    if extra_group:  # a source whose models never meet the others
        for i in range(200):
            p.append(f"puzzle {i}"), a.append("island-a"), b.append("island-b")
            w.append(["model_a", "model_b", "tie"][i % 3])
    return BattleTable(p, a, b, w, None, ["synthetic"] * len(p))


def test_rateable_battles_drop_disconnected_sources():
    battles = _battles(extra_group=True)
    kept, dropped = rateable_battles(battles, STRONG, WEAK)
    assert dropped == ["island-a", "island-b"] and len(kept) == len(battles) - 200


def test_build_sw_chooses_weighting_on_validation(tmp_path):
    battles = _battles()
    emb = get_embedder("static")
    router, report = build_sw(
        battles, emb, strong_model=STRONG, weak_model=WEAK, num_tiers=3, grid=(5.0, 50.0), folds=3
    )
    assert set(report.loglik) == {f"{b}/{g}" for b in ("battle", "prompt") for g in ("routellm", "g=5", "g=50")}
    scores = report.auc if report.criterion.startswith("AUC") else report.loglik
    best = max(scores, key=scores.get)
    assert best == f"{report.chosen_balance}/" + (
        "routellm" if report.chosen_sharpness is None else f"g={report.chosen_sharpness:g}"
    )
    assert (router.sharpness, router.balance) == (report.chosen_sharpness, report.chosen_balance)
    p = router.win_rates([f"{TOPICS[0]} (case 3)", f"{TOPICS[4]} (case 3)"])
    assert p[0] > p[1], "the strong model's edge on the first topics must show"
    router.record_training_prompts(battles.prompt)
    router.save(tmp_path / "sw")
    back = load_router(tmp_path / "sw")
    assert back.train_prompt_hashes.size == len(set(battles.prompt))
    t = back.threshold_for(0.3)
    assert np.mean(back.win_rates(sorted(set(battles.prompt))) >= t) == pytest.approx(0.3, abs=0.02)
    other = load_router(tmp_path / "sw", weak_model="m2")
    with pytest.raises(ValueError, match="stores no win-rate quantiles"):
        other.threshold_for(0.5)
    assert other.threshold_for(0.5, texts=["a", "b", "c"]) == pytest.approx(
        np.quantile(other.win_rates(["a", "b", "c"]), 0.5)
    )


def test_train_mf_learns_and_is_reproducible(tmp_path):
    pytest.importorskip("torch")
    from fastroute.train.mf import MFTrainConfig, train_mf

    battles = _battles(n=3000)
    emb = get_embedder("static")
    cfg = MFTrainConfig(dim=16, max_epochs=8, batch_size=256, val_fraction=0.2, patience=3)
    r1 = train_mf(battles, emb, strong_model=STRONG, weak_model=WEAK, config=cfg, verbose=False)
    r2 = train_mf(battles, emb, strong_model=STRONG, weak_model=WEAK, config=cfg, verbose=False)
    np.testing.assert_array_equal(r1._P, r2._P)  # seeded, single-threaded, deterministic
    hist = r1.extra_meta["training"]["history"]
    assert hist[-1]["val_loss"] < hist[0]["val_loss"] + 1e-9
    assert max(h["val_acc"] for h in hist) > 0.6
    r1.save(tmp_path / "mf")
    back = load_router(tmp_path / "mf")  # the core loads it without torch-specific code
    texts = [f"{TOPICS[0]} (case 1)", f"{TOPICS[4]} (case 1)"]
    np.testing.assert_allclose(back.win_rates(texts), r1.win_rates(texts), atol=1e-6)
    with pytest.raises(ValueError, match="ties"):
        train_mf(battles, emb, strong_model=STRONG, weak_model=WEAK, config=MFTrainConfig(ties="maybe"))


def test_model_strings():
    from fastroute.decision.model_string import parse_router_model, router_model

    assert parse_router_model("router-mf-0.11593") == ("mf", 0.11593)
    assert parse_router_model("router-sw_ranking-0.5") == ("sw_ranking", 0.5)
    assert router_model("mf", 0.25) == "router-mf-0.25"
    for bad in ("gpt-4", "router-mf", "router-mf-x", "router-mf-1.5"):
        with pytest.raises(ValueError):
            parse_router_model(bad)


def test_train_mf_that_diverges_says_so():
    """A run whose every validation loss is NaN (here: NaN noise) ends with a clear error (it once failed with
    "'NoneType' object is not subscriptable")."""
    pytest.importorskip("torch")
    from fastroute.train.mf import MFTrainConfig, train_mf

    battles = _battles(n=600)
    cfg = MFTrainConfig(dim=8, max_epochs=2, batch_size=128, val_fraction=0.2, patience=1, alpha=float("nan"))
    with pytest.raises(ValueError, match="diverged"):
        train_mf(battles, get_embedder("static"), strong_model=STRONG, weak_model=WEAK, config=cfg, verbose=False)
