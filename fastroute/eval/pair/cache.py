"""Win rates cached per (router bundle, model pair, prompts): evaluating a new router or
re-plotting never recomputes the others."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def data_key(prompts: list[str]) -> str:
    h = hashlib.sha256()
    for p in prompts:
        h.update(hashlib.sha256(p.encode("utf-8")).digest())
    return h.hexdigest()[:16]


def router_key(router, bundle_dir: "Path | None") -> "str | None":
    """Hash of the bundle's files and the routed pair; None when the router has no bundle."""
    if bundle_dir is None:
        return None
    h = hashlib.sha256()
    for name in ("fastroute.json", "weights.safetensors"):
        f = Path(bundle_dir) / name
        if not f.is_file():
            return None
        h.update(f.read_bytes())
    h.update(f"{router.strong_model}\0{router.weak_model}\0{getattr(router, 'nprobe', None)}".encode())
    return h.hexdigest()[:16]


class WinRateCache:
    def __init__(self, root: "str | Path | None") -> None:
        self.root = Path(root) if root else None

    def _path(self, rkey: str, dkey: str) -> "Path | None":
        return self.root / f"{rkey}-{dkey}.npy" if self.root else None

    def get(self, rkey: "str | None", dkey: str, n: int) -> "np.ndarray | None":
        path = self._path(rkey, dkey) if rkey else None
        if path is None or not path.is_file():
            return None
        p = np.load(path, allow_pickle=False)
        return p if p.shape == (n,) else None

    def put(self, rkey: "str | None", dkey: str, p: np.ndarray) -> None:
        path = self._path(rkey, dkey) if rkey else None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.asarray(p, dtype=np.float64), allow_pickle=False)
