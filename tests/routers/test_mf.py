"""The mf router against a per-prompt reference of RouteLLM's MFModel."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fastroute import MFRouter, load_router
from fastroute.errors import BundleError, EmbeddingMismatchError, UnknownModelError
from fastroute.routellm_models import DEFAULT_STRONG, DEFAULT_WEAK, ROUTELLM_MODELS

import routellm_reference as ref
from synthetic import synthetic_mf_checkpoint


def _write_checkpoint(path, config, tensors, fmt="safetensors"):
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps(config))
    if fmt == "safetensors":
        from safetensors.numpy import save_file

        save_file(tensors, str(path / "model.safetensors"))
    else:
        torch = pytest.importorskip("torch")
        torch.save({k: torch.from_numpy(v) for k, v in tensors.items()}, str(path / "pytorch_model.bin"))
    return path


@pytest.mark.parametrize("use_proj", [True, False])
@pytest.mark.parametrize("fmt", ["safetensors", "bin"])
def test_matches_routellm_mfmodel(tmp_path, backend, use_proj, fmt):
    text_dim = 1536 if use_proj else 16
    config, tensors = synthetic_mf_checkpoint(seed=1, dim=16, text_dim=text_dim, use_proj=use_proj)
    from fastroute.embedders.base import EmbedderSpec

    emb = EmbedderSpec("openai:text-embedding-3-small", 1536) if use_proj else EmbedderSpec("tiny", 16)
    ckpt = _write_checkpoint(tmp_path / "ckpt", config, tensors, fmt)
    router = MFRouter.from_routellm(ckpt, embedder=emb, backend=backend)
    rng = np.random.default_rng(0)
    E = rng.standard_normal((37, text_dim)).astype(np.float32)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    got = router.win_rates(embeddings=E)
    s, w = ROUTELLM_MODELS.index(DEFAULT_STRONG), ROUTELLM_MODELS.index(DEFAULT_WEAK)
    assert (s, w) == (24, 36)  # RouteLLM's gpt4_id and mixtral_id
    want = [
        ref.mf_win_rate(tensors["P.weight"], tensors.get("text_proj.0.weight"), tensors["classifier.0.weight"], e, s, w)
        for e in E
    ]
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)
    assert np.ptp(got) > 0.01


def test_logits_and_pairs(tmp_path):
    config, tensors = synthetic_mf_checkpoint(seed=2)
    router = MFRouter.from_routellm(_write_checkpoint(tmp_path / "c", config, tensors))
    E = np.random.default_rng(1).standard_normal((5, 1536)).astype(np.float32)
    logits = router.logits(embeddings=E)
    assert logits.shape == (5, 64)
    s, w = router.models.index(DEFAULT_STRONG), router.models.index(DEFAULT_WEAK)
    np.testing.assert_allclose(
        router.win_rates(embeddings=E), 1 / (1 + np.exp(-(logits[:, s] - logits[:, w]))), atol=1e-6
    )
    other = router.with_pair("claude-2.1", "vicuna-13b")
    i, j = router.models.index("claude-2.1"), router.models.index("vicuna-13b")
    np.testing.assert_allclose(
        other.win_rates(embeddings=E), 1 / (1 + np.exp(-(logits[:, i] - logits[:, j]))), atol=1e-6
    )
    with pytest.raises(UnknownModelError, match="gpt-5"):
        router.with_pair("gpt-5", DEFAULT_WEAK)


def test_checkpoint_errors(tmp_path):
    config, tensors = synthetic_mf_checkpoint(seed=3)
    with pytest.raises(BundleError, match="config.json"):
        MFRouter.from_routellm(tmp_path / "nothing")
    d = tmp_path / "noweights"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config))
    with pytest.raises(BundleError, match="no model.safetensors or pytorch_model.bin"):
        MFRouter.from_routellm(d)
    (d / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(BundleError, match="model.safetensors"):
        MFRouter.from_routellm(d)
    missing = dict(tensors)
    del missing["classifier.0.weight"]
    with pytest.raises(BundleError, match="classifier"):
        MFRouter.from_routellm(_write_checkpoint(tmp_path / "m", config, missing))
    with pytest.raises(BundleError, match="num_models=64"):
        MFRouter.from_routellm(_write_checkpoint(tmp_path / "n", config, tensors), models=["a", "b"])
    bad = dict(config, dim=99)
    with pytest.raises(BundleError, match="P.weight"):
        MFRouter.from_routellm(_write_checkpoint(tmp_path / "s", bad, tensors))
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "config.json").write_text("{not json")
    with pytest.raises(BundleError, match="config.json: not valid JSON"):
        MFRouter.from_routellm(tmp_path / "j")
    (tmp_path / "j" / "config.json").write_text('{"dim": [1]}')
    with pytest.raises(BundleError, match="malformed"):
        MFRouter.from_routellm(tmp_path / "j")


def test_bin_is_loaded_weights_only(tmp_path):
    """A pickle that would run code is refused: torch.load(weights_only=True)."""
    torch = pytest.importorskip("torch")
    config, _ = synthetic_mf_checkpoint(seed=4)
    d = tmp_path / "evil"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(config))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    torch.save({"P.weight": Evil()}, str(d / "pytorch_model.bin"))
    with pytest.raises(BundleError, match="weights_only"):
        MFRouter.from_routellm(d)


def test_wrong_embedding_width_and_nan(tmp_path):
    config, tensors = synthetic_mf_checkpoint(seed=5)
    router = MFRouter.from_routellm(_write_checkpoint(tmp_path / "c", config, tensors))
    with pytest.raises(EmbeddingMismatchError, match="width 384.*text-embedding-3-small.*1536"):
        router.win_rates(embeddings=np.zeros((2, 384), np.float32))
    E = np.zeros((3, 1536), np.float32)
    E[1, 5] = np.nan
    with pytest.raises(EmbeddingMismatchError, match=r"prompts \[1\]"):
        router.win_rates(embeddings=E)
    with pytest.raises(EmbeddingMismatchError, match="floating point"):
        router.win_rates(embeddings=np.zeros((1, 1536), dtype=np.int64))


def test_bundle_round_trip(tmp_path, backend):
    config, tensors = synthetic_mf_checkpoint(seed=6)
    router = MFRouter.from_routellm(_write_checkpoint(tmp_path / "c", config, tensors))
    router.save(tmp_path / "bundle")
    doc = json.loads((tmp_path / "bundle" / "fastroute.json").read_text())
    assert doc["kind"] == "mf" and doc["format_version"] == 1
    assert doc["embedder"] == {"name": "openai:text-embedding-3-small", "dim": 1536}
    back = load_router(tmp_path / "bundle", backend=backend)
    E = np.random.default_rng(2).standard_normal((9, 1536)).astype(np.float32)
    np.testing.assert_allclose(back.win_rates(embeddings=E), router.win_rates(embeddings=E), atol=1e-7)
    pair = load_router(tmp_path / "bundle", strong_model="gpt-4-0613", weak_model="llama-2-7b-chat")
    assert (pair.strong_model, pair.weak_model) == ("gpt-4-0613", "llama-2-7b-chat")
