"""Bundle files: clear errors naming the file and the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastroute import RandomRouter, load_router
from fastroute.bundle import FORMAT_VERSION, read_bundle
from fastroute.errors import BundleError


@pytest.fixture
def bundle(tmp_path):
    return RandomRouter(seed=3).save(tmp_path / "b")


def test_random_bundle_round_trip(bundle):
    r = load_router(bundle)
    assert isinstance(r, RandomRouter) and r.seed == 3
    np.testing.assert_array_equal(r.win_rates(["a", "b"]), RandomRouter(seed=3).win_rates(["a", "b"]))


def test_missing_directory_and_files(tmp_path, bundle):
    with pytest.raises(BundleError, match="neither a bundle directory nor a router name"):
        load_router(tmp_path / "nope")
    (bundle / "weights.safetensors").unlink()
    with pytest.raises(BundleError, match="weights.safetensors: missing"):
        read_bundle(bundle)
    (bundle / "fastroute.json").unlink()
    with pytest.raises(BundleError, match="fastroute.json: missing"):
        read_bundle(bundle)


def test_malformed_json(bundle):
    (bundle / "fastroute.json").write_text("{oops")
    with pytest.raises(BundleError, match="not valid JSON"):
        load_router(bundle)
    (bundle / "fastroute.json").write_text("[1, 2]")
    with pytest.raises(BundleError, match="JSON object"):
        load_router(bundle)


def test_newer_format_version(bundle):
    doc = json.loads((bundle / "fastroute.json").read_text())
    doc["format_version"] = FORMAT_VERSION + 1
    (bundle / "fastroute.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError, match=f"format {FORMAT_VERSION + 1}.*upgrade fastroute"):
        load_router(bundle)


def test_corrupt_weights(bundle):
    (bundle / "weights.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(BundleError, match="corrupt"):
        load_router(bundle)


def test_unknown_kind(bundle):
    doc = json.loads((bundle / "fastroute.json").read_text())
    doc["kind"] = "telepathy"
    (bundle / "fastroute.json").write_text(json.dumps(doc))
    with pytest.raises(BundleError, match="unknown router kind 'telepathy'"):
        load_router(bundle)


def test_named_routers():
    assert isinstance(load_router("random"), RandomRouter)
    r = load_router("random", strong_model="a", weak_model="b")
    assert r.route(["x"], 0.0) == ["a"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_writer_refuses_a_manifest_the_reader_would_refuse(tmp_path, bad):
    from fastroute.bundle import write_bundle

    with pytest.raises(ValueError, match="NaN or infinity"):
        write_bundle(tmp_path / "b", "random", {"report": {"auc": bad}}, {})
    assert not (tmp_path / "b" / "fastroute.json").exists()


def test_sw_ranking_trained_without_a_decisive_battle_each_way_loads(tmp_path):
    """Battles where the weak model never beats the strong one leave the selection's AUC
    undefined: it is written as null, and the bundle loads."""
    pytest.importorskip("faiss")
    from fastroute.data.battles import BattleTable
    from fastroute.embedders import get_embedder
    from fastroute.train.sw import build_sw

    prompts = [f"question number {i} about topic {i % 5}" for i in range(24)]
    winners = ["model_a" if i % 2 else "tie" for i in range(24)]
    battles = BattleTable(prompts, ["big"] * 24, ["small"] * 24, winners, np.full(24, np.nan), ["t"] * 24)
    router, _ = build_sw(battles, get_embedder("static"), strong_model="big", weak_model="small")
    out = router.save(tmp_path / "sw")
    meta = json.loads((out / "fastroute.json").read_text())
    assert all(v is None for v in meta["weighting_selection"]["auc"].values())
    assert load_router(out).win_rates(["question number 3 about topic 3"]).shape == (1,)


def test_writer_refuses_non_finite_tensors_before_writing(tmp_path):
    from fastroute.bundle import write_bundle

    with pytest.raises(BundleError, match="NaN|finite"):
        write_bundle(tmp_path / "b", "random", {}, {"w": np.array([1.0, np.nan], dtype=np.float32)})
    assert not (tmp_path / "b").exists()


def test_a_hub_id_is_told_to_download_first():
    with pytest.raises(BundleError, match="hf download routellm/mf_gpt4_augmented"):
        load_router("routellm/mf_gpt4_augmented")


def test_weighting_selection_falls_back_to_log_likelihood_when_auc_is_undefined():
    """Decisive strong-vs-weak battles all won by the strong model: no AUC for any weighting,
    so the choice is by held-out log-likelihood, and the report says so."""
    from fastroute.data.battles import BattleTable
    from fastroute.embedders import get_embedder
    from fastroute.train.sw import build_sw

    n = 240
    prompts = [f"question {i} about topic {i % 7} and detail {i % 11}" for i in range(n)]
    winners = ["model_a" if i % 2 else "tie" for i in range(n)]  # 120 decisive battles, all one way
    battles = BattleTable(prompts, ["big"] * n, ["small"] * n, winners, np.full(n, np.nan), ["t"] * n)
    _, report = build_sw(battles, get_embedder("static"), strong_model="big", weak_model="small")
    assert "log-likelihood" in report.criterion and all(np.isnan(v) for v in report.auc.values())
    best = max(report.loglik, key=report.loglik.get)
    g = report.chosen_sharpness
    assert best == f"{report.chosen_balance}/{'routellm' if g is None else f'g={g:g}'}"
