"""The bundle file format: a directory with fastroute.json (format version, router kind,
embedder, models, hyper-parameters, provenance) and weights.safetensors.

This module only reads and writes the files; turning them into a router is
fastroute.loader's job. Nothing is ever unpickled: weights are safetensors. A bundle
is untrusted input: its manifest and tensors are checked (fastroute.bundle_schema)
before a router is built.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .bundle_schema import check_format_version, read_json, validate_manifest
from .bundle_tensors import check_tensors
from .errors import BundleError

FORMAT_VERSION = 1
META_FILE = "fastroute.json"
WEIGHTS_FILE = "weights.safetensors"

# Keys the bundle layer owns; routers never carry them over as their own metadata.
RESERVED_KEYS = frozenset({"format_version", "kind", "fastroute_version", "win_rate_quantiles_pair"})


def write_bundle(path: "str | Path", kind: str, meta: dict[str, Any], tensors: dict[str, np.ndarray]) -> Path:
    """Writes the bundle atomically enough: each file goes to a temp name, then is renamed."""
    from safetensors.numpy import save_file

    root = Path(path)
    doc = {
        **{k: v for k, v in meta.items() if k not in RESERVED_KEYS},
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "fastroute_version": __version__,
    }
    if "win_rate_quantiles_pair" in meta:
        doc["win_rate_quantiles_pair"] = meta["win_rate_quantiles_pair"]
    try:  # the reader refuses NaN and infinity in the manifest and the tensors: refused here too
        text = json.dumps(doc, indent=2, allow_nan=False) + "\n"
    except ValueError:
        raise ValueError(
            f"{root / META_FILE}: the manifest holds NaN or infinity (write null for an undefined value)"
        ) from None
    arrays = {k: np.ascontiguousarray(v) for k, v in tensors.items()}
    check_tensors(arrays, root / WEIGHTS_FILE)  # what the reader checks, before anything is written
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=root, suffix=".tmp", delete=False) as tmp:
        tmp_weights = tmp.name
    save_file(arrays, tmp_weights)  # no header metadata: its key order is not stable, bytes must be
    os.chmod(tmp_weights, 0o644)  # tempfile creates 0600; bundles are ordinary data files
    os.replace(tmp_weights, root / WEIGHTS_FILE)
    tmp_meta = root / (META_FILE + ".tmp")
    tmp_meta.write_text(text)
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
