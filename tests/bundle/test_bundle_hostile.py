"""Hostile and corrupt bundles: every defect is a BundleError naming the file and the key or
tensor, never a raw traceback, never accepted silently, and never a model loaded from
outside the bundle."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from fastroute import MFRouter, SWRankingRouter, load_router
from fastroute.embedders.base import EmbedderSpec
from fastroute.errors import BundleError, EmbeddingMismatchError, RouterOutputError

from synthetic import STRONG, WEAK, synthetic_arena


def _edit_manifest(bundle, **changes):
    path = bundle / "fastroute.json"
    doc = json.loads(path.read_text())
    doc.update(changes)
    path.write_text(json.dumps(doc))


def _edit_tensors(bundle, **changes):
    path = bundle / "weights.safetensors"
    tensors = dict(load_file(str(path)))
    for k, v in changes.items():
        if v is None:
            tensors.pop(k)
        else:
            tensors[k] = v
    save_file(tensors, str(path))


def _mf_router(d=8):
    rng = np.random.default_rng(0)
    models = [STRONG, WEAK, "third"]
    return MFRouter(
        P=rng.standard_normal((3, 4)),
        classifier=rng.standard_normal(4),
        text_proj=rng.standard_normal((4, d)),
        models=models,
        strong_model=STRONG,
        weak_model=WEAK,
        embedder=EmbedderSpec("tiny", d),
    )


@pytest.fixture
def mf_bundle(tmp_path):
    return _mf_router().save(tmp_path / "mf")


@pytest.fixture(scope="module")
def sw_router():
    cols, emb, _ = synthetic_arena(seed=5, n_battles=300, n_prompts=60, dim=8)
    soft = np.full(len(cols["winner"]), np.nan)
    soft[::3] = 0.7
    return SWRankingRouter.from_battles(dict(cols, soft_label=soft), emb, embedder=EmbedderSpec("tiny", 8), num_tiers=5)


@pytest.fixture
def sw_bundle(sw_router, tmp_path):
    return sw_router.save(tmp_path / "sw")


@pytest.fixture
def ivf_bundle(sw_router, tmp_path):
    pytest.importorskip("faiss")
    return sw_router.with_ivf(nlist=4, nprobe=2).save(tmp_path / "ivf")


# -- the manifest ---------------------------------------------------------------
def test_deeply_nested_json(mf_bundle):
    (mf_bundle / "fastroute.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(BundleError, match=r"fastroute.json: not valid JSON \(nested too deeply\)"):
        load_router(mf_bundle)


def test_json_constants_and_duplicate_keys(mf_bundle):
    text = (mf_bundle / "fastroute.json").read_text()
    (mf_bundle / "fastroute.json").write_text(text.replace('"format_version": 1', '"format_version": NaN'))
    with pytest.raises(BundleError, match="non-standard JSON constant NaN"):
        load_router(mf_bundle)
    (mf_bundle / "fastroute.json").write_text(text.replace('"format_version": 1', '"format_version": 1, "kind": "x"'))
    with pytest.raises(BundleError, match="duplicate key 'kind'"):
        load_router(mf_bundle)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("format_version", True, r"key 'format_version': expected a positive integer, got True"),
        ("format_version", 0, r"key 'format_version': expected a positive integer, got 0"),
        ("format_version", 1.0, r"key 'format_version': expected a positive integer, got 1.0"),
        ("embedder", None, r"key 'embedder': expected \{\"name\""),
        ("embedder", {"name": "tiny", "dim": True}, r"key 'embedder'"),
        ("models", [1, 2, 3], r"key 'models': expected a list of at least two non-empty model names"),
        ("models", [STRONG, WEAK, STRONG], r"key 'models': expected distinct model names"),
        ("strong_model", 7, r"key 'strong_model': expected one of the names in 'models', got 7"),
        ("use_proj", 1, r"key 'use_proj': expected true or false, got 1"),
        ("kind", ["mf"], r"key 'kind': unknown router kind \['mf'\]"),
    ],
)
def test_mf_manifest_schema(mf_bundle, key, value, message):
    _edit_manifest(mf_bundle, **{key: value})
    with pytest.raises(BundleError, match=message) as info:
        load_router(mf_bundle)
    assert str(mf_bundle / "fastroute.json") in str(info.value)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["tiers"].update({STRONG: 1e30}), rf"key 'tiers': entry '{STRONG}': expected an integer tier"),
        (lambda d: d["tiers"].update({STRONG: True}), rf"key 'tiers': entry '{STRONG}'"),
        (lambda d: d["tiers"].update({STRONG: 7}), r"integer tier in \[0, 4\], got 7"),
        (lambda d: d["tiers"].pop(STRONG), r"key 'tiers': expected an object with one entry per model"),
        (lambda d: d["model_ratings"].update({WEAK: "high"}), rf"key 'model_ratings': entry '{WEAK}'"),
        (lambda d: d.update(num_tiers=False), r"key 'num_tiers': expected an integer"),
        (lambda d: d.update(sharpness=-1), r"key 'sharpness': expected a finite number > 0 or null, got -1"),
        (lambda d: d.update(storage="int8"), r"key 'storage': expected one of \['float32', 'float16'\]"),
        (lambda d: d.update(nprobe=0), r"key 'nprobe': expected an integer"),
    ],
)
def test_sw_manifest_schema(sw_bundle, change, message):
    path = sw_bundle / "fastroute.json"
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    with pytest.raises(BundleError, match=message):
        load_router(sw_bundle)


# -- the tensors -----------------------------------------------------------------
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_weights_rejected_at_load(mf_bundle, value):
    P = load_file(str(mf_bundle / "weights.safetensors"))["P"].copy()
    P[1, 2] = value
    _edit_tensors(mf_bundle, P=P)
    with pytest.raises(BundleError, match=r"weights.safetensors: tensor 'P' holds a non-finite value"):
        load_router(mf_bundle)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_arena_rejected(sw_bundle, dtype, value):
    arena = load_file(str(sw_bundle / "weights.safetensors"))["arena"].astype(dtype)
    _edit_tensors(sw_bundle, arena=arena)
    assert load_router(sw_bundle).arena.dtype == dtype
    arena[3, 5] = value
    _edit_tensors(sw_bundle, arena=arena)
    with pytest.raises(
        BundleError,
        match=rf"tensor 'arena' holds a non-finite value \({value}\) at flat index "
        rf"{3 * arena.shape[1] + 5}",
    ):
        load_router(sw_bundle)


def test_nan_quantiles_rejected(mf_bundle, tmp_path):
    r = _mf_router()
    r.win_rate_quantiles = np.linspace(0.1, 0.9, 11)
    r.save(mf_bundle)
    assert load_router(mf_bundle).threshold_for(0.5) == pytest.approx(0.5)
    q = np.linspace(0.1, 0.9, 11)
    q[4] = np.nan
    _edit_tensors(mf_bundle, win_rate_quantiles=q)
    with pytest.raises(BundleError, match="tensor 'win_rate_quantiles' holds a non-finite value"):
        load_router(mf_bundle)
    _edit_tensors(mf_bundle, win_rate_quantiles=np.linspace(0.9, 0.1, 11))
    with pytest.raises(BundleError, match="'win_rate_quantiles' must be at least two non-decreasing"):
        load_router(mf_bundle)


def test_integer_weights_rejected(mf_bundle):
    _edit_tensors(mf_bundle, classifier=np.arange(4, dtype=np.int64))
    with pytest.raises(BundleError, match="tensor 'classifier' must be floating point"):
        load_router(mf_bundle)


@pytest.mark.parametrize(
    "index, message",
    [
        (
            np.array([0, 10**6], np.int64),
            r"'battle_soft_index' holds ids in \[0, 1000000\]; they must be in \[0, 300\)",
        ),
        (np.array([-1, 3], np.int64), r"'battle_soft_index' holds ids in \[-1, 3\]"),
        (np.array([0.0, 3.0]), r"'battle_soft_index' must be 1-D integers"),
        (np.array([3, 3], np.int32), r"'battle_soft_index' repeats a battle"),
    ],
)
def test_soft_index_checked(sw_bundle, index, message):
    _edit_tensors(sw_bundle, battle_soft_index=index, battle_soft_label=np.full(index.shape, 0.5, np.float32))
    with pytest.raises(BundleError, match=message):
        load_router(sw_bundle)


def test_soft_labels_checked(sw_bundle):
    _edit_tensors(
        sw_bundle, battle_soft_index=np.array([0, 1], np.int32), battle_soft_label=np.array([0.5, 1.5], np.float32)
    )
    with pytest.raises(BundleError, match=r"'battle_soft_label' must hold 2 floats in \[0, 1\]"):
        load_router(sw_bundle)
    _edit_tensors(sw_bundle, battle_soft_label=None)
    with pytest.raises(BundleError, match="come together"):
        load_router(sw_bundle)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("battle_model_a", np.full(300, -1, np.int64), r"'battle_model_a' holds ids in \[-1, -1\]"),
        ("battle_model_b", np.zeros(299, np.uint8), r"'battle_model_b' has 299 entries, expected 300"),
        ("battle_prompt", np.full(300, 0.5, np.float32), r"'battle_prompt' must be 1-D integers"),
        (
            "battle_outcome",
            np.full(300, 3, np.int8),
            r"'battle_outcome' holds ids in \[3, 3\]; they must be in \[0, 3\)",
        ),
        ("arena", np.zeros((5, 8), np.int8), r"'arena' must be 2-D float32 or float16"),
    ],
)
def test_battle_tensors_checked(sw_bundle, name, value, message):
    _edit_tensors(sw_bundle, **{name: value})
    with pytest.raises(BundleError, match=message):
        load_router(sw_bundle)


def test_ivf_round_trip_still_loads(ivf_bundle):
    assert load_router(ivf_bundle).ivf.nlist == 4


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda t: {"ivf_centroids": t["ivf_centroids"][:, :5]}, r"'ivf_centroids' must be float32 \[clusters, 8\]"),
        (lambda t: {"ivf_means": t["ivf_means"].astype(np.float64)}, r"'ivf_means' must be float32"),
        (lambda t: {"ivf_means": t["ivf_means"][:3]}, r"'ivf_means' has 3 rows, 'ivf_centroids' 4"),
        (lambda t: {"ivf_offsets": t["ivf_offsets"][:4]}, r"'ivf_offsets' must be 5 integers"),
        (lambda t: {"ivf_offsets": t["ivf_offsets"].astype(np.float64)}, r"'ivf_offsets' must be 5 integers"),
        (lambda t: {"ivf_offsets": t["ivf_offsets"] + 10**9}, r"'ivf_offsets' must rise from 0"),
        (lambda t: {"ivf_offsets": t["ivf_offsets"][::-1].copy()}, r"'ivf_offsets' must rise from 0"),
        (lambda t: {"ivf_offsets": np.array([0, 50, 10, 55, 60])}, r"decreasing somewhere"),
        (lambda t: {"ivf_means": None}, r"an IVF index needs tensors"),
    ],
)
def test_ivf_tensors_checked(ivf_bundle, change, message):
    tensors = dict(load_file(str(ivf_bundle / "weights.safetensors")))
    _edit_tensors(ivf_bundle, **change(tensors))
    with pytest.raises(BundleError, match=message):
        load_router(ivf_bundle)


# -- NaN: whose fault --------------------------------------------------------------
def test_nan_embeddings_are_the_inputs_fault():
    r = _mf_router()
    E = np.ones((4, 8), np.float32)
    E[2, 1] = np.nan
    E[3, 0] = np.inf
    with pytest.raises(EmbeddingMismatchError, match=r"embeddings for prompts \[2, 3\] contain NaN or infinity"):
        r.win_rates(embeddings=E)


def test_nan_from_the_kernel_is_the_routers_fault(monkeypatch):
    r = _mf_router()

    class BrokenKernel:
        NAME = "broken"
        capabilities: frozenset = frozenset()

        @staticmethod
        def gemv_sigmoid(E, u, bias=0.0):
            out = np.full(E.shape[0], 0.5)
            out[1] = np.nan
            return out

    monkeypatch.setattr(r, "_ops", BrokenKernel())
    with pytest.raises(
        RouterOutputError,
        match=r"mf router \(kernel backend 'broken'\) produced non-finite "
        r"win rates for prompts \[1\] from finite embeddings",
    ):
        r.win_rates(embeddings=np.ones((3, 8), np.float32))


# -- classifier checkpoints: confined to the bundle, never unpickled ----------------
def _classifier_bundle(tmp_path, checkpoint):
    from fastroute.bundle import write_bundle

    meta = {
        "models": [STRONG, WEAK],
        "strong_model": STRONG,
        "weak_model": WEAK,
        "embedder": None,
        "checkpoint": checkpoint,
        "batch_size": 4,
    }
    return write_bundle(tmp_path / "cls", "bert", meta, {})


@pytest.mark.parametrize("checkpoint", ["/etc", "../outside", "hf/../../outside", ".", ""])
def test_checkpoint_confined_to_bundle(tmp_path, checkpoint):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "config.json").write_text("{}")
    bundle = _classifier_bundle(tmp_path, checkpoint)
    with pytest.raises(BundleError, match="key 'checkpoint'"):
        load_router(bundle)


def test_checkpoint_symlink_out_of_bundle(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "config.json").write_text("{}")
    bundle = _classifier_bundle(tmp_path, "hf")
    os.symlink(tmp_path / "outside", bundle / "hf")
    with pytest.raises(BundleError, match="outside the bundle"):
        load_router(bundle)


def test_checkpoint_must_be_a_string(tmp_path):
    bundle = _classifier_bundle(tmp_path, "hf")
    _edit_manifest(bundle, checkpoint=["hf"])
    with pytest.raises(BundleError, match="key 'checkpoint': expected a non-empty string"):
        load_router(bundle)


def test_nan_in_torch_embeddings_is_named():
    torch = pytest.importorskip("torch")
    E = torch.ones((3, 8))
    E[0, 4] = float("nan")
    with pytest.raises(EmbeddingMismatchError, match=r"embeddings for prompts \[0\] contain NaN"):
        _mf_router().win_rates(embeddings=E)
    assert _mf_router().win_rates(embeddings=torch.ones((2, 8))).shape == (2,)


def test_nan_from_the_embedder_names_the_embedder():
    from fastroute.embedders.precomputed import PrecomputedEmbedder

    E = np.ones((2, 8), np.float32)
    E[1, 0] = np.nan
    r = _mf_router()
    r.use_embedder(PrecomputedEmbedder(["a", "b"], E, name="tiny"))
    with pytest.raises(EmbeddingMismatchError, match=r"the 'tiny' embedder's output for prompts \[1\] contain NaN"):
        r.win_rates(["a", "b"])
