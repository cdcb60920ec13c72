"""Reading RouteLLM's MF checkpoints: config.json plus model.safetensors, or (RouteLLM's
older layout) pytorch_model.bin read with `torch.load(weights_only=True)`, never unpickled."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..bundle_schema import read_json
from ..bundle_tensors import check_finite
from ..embedders.base import EmbedderSpec
from ..errors import BundleError


def read_routellm_mf(
    root: Path, n_models: int, embedder: EmbedderSpec
) -> "tuple[np.ndarray, np.ndarray, np.ndarray | None]":
    """(P [models, dim], classifier [1, dim], text_proj [dim, text_dim] or None) of a RouteLLM
    MF checkpoint directory, every shape checked against its config.json, every value finite."""
    cfg_path = root / "config.json"
    if not cfg_path.is_file():
        raise BundleError(f"{cfg_path}: not found (a RouteLLM MF checkpoint needs config.json)")
    cfg = read_json(cfg_path, "config.json")
    try:
        dim, num_models = int(cfg["dim"]), int(cfg.get("num_models", 64))
        text_dim, use_proj = int(cfg.get("text_dim", 1536)), bool(cfg.get("use_proj", True))
        num_classes = int(cfg.get("num_classes", 1))
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        raise BundleError(f"{cfg_path}: malformed MF config ({exc})") from exc
    if num_classes != 1:
        raise BundleError(f"{cfg_path}: num_classes={num_classes}; RouteLLM's MF router has 1")
    if num_models != n_models:
        raise BundleError(f"{cfg_path}: num_models={num_models} but {n_models} model names were given")
    if text_dim != embedder.dim:
        raise BundleError(f"{cfg_path}: text_dim={text_dim} but embedder {embedder.name!r} has dim {embedder.dim}")
    tensors, where = _read_checkpoint_weights(root)

    def get(*names: str) -> np.ndarray:
        for n in names:
            if n in tensors:
                return tensors[n]
        raise BundleError(f"{where}: missing tensor {names[0]!r} (has {sorted(tensors)})")

    P = get("P.weight")
    clf = get("classifier.0.weight", "classifier.weight")
    proj = get("text_proj.0.weight", "text_proj.weight") if use_proj else None
    if P.shape != (num_models, dim):
        raise BundleError(f"{where}: P.weight has shape {tuple(P.shape)}, config says [{num_models}, {dim}]")
    if clf.shape != (1, dim):
        raise BundleError(f"{where}: classifier weight has shape {tuple(clf.shape)}, expected [1, {dim}]")
    if proj is not None and proj.shape != (dim, text_dim):
        raise BundleError(f"{where}: text_proj weight has shape {tuple(proj.shape)}, expected [{dim}, {text_dim}]")
    for name, t in (("P.weight", P), ("classifier weight", clf), ("text_proj weight", proj)):
        if t is not None:
            check_finite(name, t, where)
    return P, clf, proj


def _read_checkpoint_weights(root: Path) -> tuple[dict[str, np.ndarray], str]:
    st, pt = root / "model.safetensors", root / "pytorch_model.bin"
    if st.is_file():
        from safetensors.numpy import load_file

        try:
            return dict(load_file(str(st))), str(st)
        except Exception as exc:  # noqa: BLE001
            raise BundleError(f"{st}: not a readable safetensors file ({exc})") from exc
    if pt.is_file():
        try:
            import torch
        except ImportError as exc:
            raise BundleError(
                f"{pt} is a torch pickle and reading it needs torch (pip install 'fastroute[train]'); "
                "or convert it to model.safetensors"
            ) from exc
        try:
            state = torch.load(str(pt), map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001
            raise BundleError(f"{pt}: not loadable with weights_only=True ({exc})") from exc
        if not isinstance(state, dict):
            raise BundleError(f"{pt}: expected a state dict, got {type(state).__name__}")
        return {k: v.detach().float().numpy() for k, v in state.items() if hasattr(v, "detach")}, str(pt)
    raise BundleError(f"{root}: no model.safetensors or pytorch_model.bin")
