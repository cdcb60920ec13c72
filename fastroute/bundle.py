"""Router bundles: a directory with fastroute.json (format version, router kind,
embedder, models, hyper-parameters, provenance) and weights.safetensors.

`load_router` takes a bundle directory or a router name: "random", or "mf" /
"sw_ranking" for the defaults shipped inside the package. Nothing is ever
unpickled: weights are safetensors, or (RouteLLM's older checkpoints) torch files
read with `torch.load(weights_only=True)`. A bundle is untrusted input: its
manifest and tensors are checked (fastroute.bundle_schema) before a router is built.
"""
from __future__ import annotations

import importlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._version import __version__
from .bundle_schema import check_format_version, check_tensors, read_json, validate_manifest
from .errors import BundleError

if TYPE_CHECKING:  # the routers import this module: no runtime import back
    from .routers.base import Router

FORMAT_VERSION = 1
META_FILE = "fastroute.json"
WEIGHTS_FILE = "weights.safetensors"
DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"

# Keys the bundle layer owns; routers never carry them over as their own metadata.
RESERVED_KEYS = frozenset({"format_version", "kind", "fastroute_version", "win_rate_quantiles_pair"})

ROUTER_CLASSES = {
    "mf": "fastroute.routers.mf:MFRouter",
    "sw_ranking": "fastroute.routers.sw_ranking:SWRankingRouter",
    "random": "fastroute.routers.random:RandomRouter",
    "bert": "fastroute.routers.bert:BERTRouter",
    "causal_llm": "fastroute.routers.causal_llm:CausalLLMRouter",
}
# Named defaults shipped in the package (the classifiers have none: see the README).
DEFAULT_NAMES = ("mf", "sw_ranking")


def router_class(kind: str) -> "type[Router]":
    if kind not in ROUTER_CLASSES:
        raise BundleError(f"unknown router kind {kind!r}; known: {sorted(ROUTER_CLASSES)}")
    module, name = ROUTER_CLASSES[kind].split(":")
    return getattr(importlib.import_module(module), name)


def write_bundle(path: "str | Path", kind: str, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> Path:
    """Writes the bundle atomically enough: each file goes to a temp name, then is renamed."""
    from safetensors.numpy import save_file

    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    doc = {**{k: v for k, v in meta.items() if k not in RESERVED_KEYS},
           "format_version": FORMAT_VERSION, "kind": kind, "fastroute_version": __version__}
    if "win_rate_quantiles_pair" in meta:
        doc["win_rate_quantiles_pair"] = meta["win_rate_quantiles_pair"]
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    with tempfile.NamedTemporaryFile(dir=root, suffix=".tmp", delete=False) as tmp:
        tmp_weights = tmp.name
    save_file(arrays, tmp_weights)  # no header metadata: its key order is not stable, bytes must be
    os.chmod(tmp_weights, 0o644)  # tempfile creates 0600; bundles are ordinary data files
    os.replace(tmp_weights, root / WEIGHTS_FILE)
    tmp_meta = root / (META_FILE + ".tmp")
    tmp_meta.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp_meta, root / META_FILE)
    return root


def read_bundle(path: "str | Path") -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(metadata, tensors) of a bundle directory, with errors that name the file and the problem."""
    from safetensors.numpy import load_file

    root = Path(path)
    if not root.is_dir():
        raise BundleError(f"{root}: no such bundle directory")
    meta_path, weights_path = root / META_FILE, root / WEIGHTS_FILE
    if not meta_path.is_file():
        raise BundleError(f"{meta_path}: missing (a fastroute bundle has {META_FILE} and {WEIGHTS_FILE})")
    doc = read_json(meta_path, META_FILE)
    if not isinstance(doc, dict):
        raise BundleError(f"{meta_path}: expected a JSON object")
    version = check_format_version(doc, meta_path)
    if version > FORMAT_VERSION:
        raise BundleError(
            f"{meta_path}: written in bundle format {version} (by fastroute {doc.get('fastroute_version', '?')}); "
            f"this fastroute {__version__} reads formats up to {FORMAT_VERSION}: upgrade fastroute"
        )
    validate_manifest(doc, meta_path)
    if not weights_path.is_file():
        raise BundleError(f"{weights_path}: missing")
    try:
        tensors = dict(load_file(str(weights_path)))
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise BundleError(f"{weights_path}: corrupt or not a safetensors file ({exc})") from exc
    check_tensors(tensors, weights_path)
    return doc, tensors


def default_bundle_dir(name: str) -> Path:
    return DEFAULTS_DIR / name


def load_router(name_or_dir: "str | Path", *, strong_model: "str | None" = None, weak_model: "str | None" = None,
                backend: "str | None" = None):
    """A router from a bundle directory, or by name ("random", or a default: "mf", "sw_ranking").

    `strong_model` / `weak_model` pick another pair among the models the bundle knows.
    """
    target = str(name_or_dir)
    if target == "random" and not Path(target).is_dir():
        from .routers.random import RandomRouter

        kwargs: dict[str, Any] = {k: v for k, v in (("strong_model", strong_model), ("weak_model", weak_model)) if v}
        return RandomRouter(backend=backend, **kwargs)
    if target in ROUTER_CLASSES and not Path(target).is_dir():
        if target not in DEFAULT_NAMES:
            raise BundleError(f"no default {target!r} router is shipped; pass a bundle or checkpoint directory")
        root = default_bundle_dir(target)
        if not (root / META_FILE).is_file():
            raise BundleError(f"no default {target!r} bundle is shipped in this installation ({root}); "
                              "pass a bundle directory instead")
    else:
        root = Path(target)
        if not root.exists():
            raise BundleError(f"{target!r} is neither a bundle directory nor a router name "
                              f"({', '.join(sorted(ROUTER_CLASSES))})")
    if not (root / META_FILE).is_file() and (root / "config.json").is_file():
        return _load_hf_checkpoint(root, strong_model, weak_model)
    doc, tensors = read_bundle(root)
    cls = router_class(doc["kind"])
    router = cls._from_bundle(doc, tensors, where=str(root), backend=backend)
    if "train_prompt_hashes" in tensors:
        router.train_prompt_hashes = tensors["train_prompt_hashes"].astype(np.uint64)
    if "win_rate_quantiles" in tensors and doc.get("win_rate_quantiles_pair") == [router.strong_model, router.weak_model]:
        router.win_rate_quantiles = tensors["win_rate_quantiles"].astype(np.float64)
    if strong_model or weak_model:
        pair = (strong_model or router.strong_model, weak_model or router.weak_model)
        if pair != (router.strong_model, router.weak_model):
            hashes = router.train_prompt_hashes
            router = router.with_pair(*pair)
            router.train_prompt_hashes = hashes
            router.win_rate_quantiles = None  # stored quantiles belong to the bundle's own pair
    return router


def _load_hf_checkpoint(root: Path, strong_model: "str | None", weak_model: "str | None"):
    """A bare Hugging Face checkpoint directory: a sequence classifier is a bert router,
    a causal LM a causal_llm router (RouteLLM's own checkpoint layouts)."""
    from .routellm_models import DEFAULT_STRONG, DEFAULT_WEAK

    config = read_json(root / "config.json", "config.json")
    if not isinstance(config, dict):
        raise BundleError(f"{root / 'config.json'}: expected a JSON object")
    archs = config.get("architectures") or []
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise BundleError(f"{root / 'config.json'}: key 'architectures': expected a list of strings")
    pair = (strong_model or DEFAULT_STRONG, weak_model or DEFAULT_WEAK)
    if any(a.endswith("ForSequenceClassification") for a in archs):
        from .routers.bert import BERTRouter

        return BERTRouter.from_pretrained(root, *pair)
    if any(a.endswith("ForCausalLM") for a in archs):
        from .routers.causal_llm import CausalLLMRouter

        return CausalLLMRouter.from_pretrained(root, *pair)
    raise BundleError(f"{root}: neither a fastroute bundle nor a sequence-classifier or causal-LM checkpoint "
                      f"(architectures {archs})")
