"""Reading and writing sw_ranking bundles: the arena, the battles as compact integer
tensors (soft labels as an index + value pair), and the IVF index when there is one.
Every tensor is checked against the manifest before a router is built from it.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

import numpy as np

from ..bundle import RESERVED_KEYS
from ..bundle_tensors import index_tensor
from ..embedders.base import EmbedderSpec
from ..errors import BundleError
from ..sw.coded_battles import CodedBattles
from ..sw.ivf import IVFIndex

R = TypeVar("R")  # the router class: this module needs no import of it


def sw_payload(router: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """(manifest entries, tensors) of a bundle of `router`."""
    meta = (
        router._base_meta()
        | {
            "num_tiers": router.num_tiers,
            "tiers": router.tiers,
            "model_ratings": {m: float(r) for m, r in zip(router.models, router.model_ratings)},
            "storage": str(router.arena.dtype),
            "nprobe": router.nprobe,
            "ivf_nlist": router.ivf.nlist if router.ivf is not None else None,
            "sharpness": router.sharpness,
            "balance": router.balance,
        }
        | router.extra_meta
    )
    tensors = {
        "arena": router.arena,
        "battle_model_a": _compact(router.battles.model_a, len(router.models)),
        "battle_model_b": _compact(router.battles.model_b, len(router.models)),
        "battle_outcome": router.battles.outcome.astype(np.int8),
        "battle_prompt": _compact(router.battles.prompt, router.arena.shape[0]),
    }
    if router.battles.label is not None:
        soft = np.flatnonzero(~np.isnan(router.battles.label))
        tensors |= {
            "battle_soft_index": soft.astype(np.int32),
            "battle_soft_label": router.battles.label[soft].astype(np.float32),
        }
    if router.ivf is not None:
        tensors |= {
            "ivf_centroids": router.ivf.centroids,
            "ivf_means": router.ivf.means,
            "ivf_offsets": router.ivf.offsets.astype(np.int64),
        }
    return meta, tensors


def sw_from_bundle(
    cls: Callable[..., R],
    meta: dict[str, Any],
    tensors: dict[str, np.ndarray],
    *,
    where: str,
    backend: "str | None" = None,
) -> R:
    """The router stored in a bundle, every tensor checked against the manifest first."""
    needed = ("arena", "battle_model_a", "battle_model_b", "battle_outcome", "battle_prompt")
    for name in needed:
        if name not in tensors:
            raise BundleError(f"{where}: missing tensor {name!r}")
    base = {
        "models",
        "strong_model",
        "weak_model",
        "embedder",
        "num_tiers",
        "tiers",
        "model_ratings",
        "storage",
        "nprobe",
        "ivf_nlist",
        "sharpness",
        "balance",
    }
    try:
        models = tuple(meta["models"])
        arena = tensors["arena"]
        if arena.ndim != 2 or arena.dtype not in (np.float32, np.float16):
            raise BundleError(
                f"{where}: tensor 'arena' must be 2-D float32 or float16; got dtype {arena.dtype}, shape {arena.shape}"
            )
        n = tensors["battle_model_a"].size
        ids = {
            name: index_tensor(tensors, name, where, bound=bound, size=n)
            for name, bound in (
                ("battle_model_a", len(models)),
                ("battle_model_b", len(models)),
                ("battle_outcome", 3),
                ("battle_prompt", arena.shape[0]),
            )
        }
        label = None
        if ("battle_soft_index" in tensors) != ("battle_soft_label" in tensors):
            raise BundleError(f"{where}: tensors 'battle_soft_index' and 'battle_soft_label' come together")
        if "battle_soft_index" in tensors:
            soft_index = index_tensor(tensors, "battle_soft_index", where, bound=n)
            soft = tensors["battle_soft_label"]
            if (
                soft.shape != soft_index.shape
                or not np.issubdtype(soft.dtype, np.floating)
                or (soft.size and (soft.min() < 0 or soft.max() > 1))
            ):
                raise BundleError(
                    f"{where}: tensor 'battle_soft_label' must hold {soft_index.size} floats in "
                    f"[0, 1], one per soft index; got dtype {soft.dtype}, shape {soft.shape}"
                )
            if np.unique(soft_index).size != soft_index.size:
                raise BundleError(f"{where}: tensor 'battle_soft_index' repeats a battle")
            label = np.full(n, np.nan)
            label[soft_index] = soft.astype(np.float64)
        battles = CodedBattles(
            models,
            ids["battle_model_a"].astype(np.int32),
            ids["battle_model_b"].astype(np.int32),
            ids["battle_outcome"].astype(np.int8),
            ids["battle_prompt"].astype(np.int32),
            label,
        )
        ivf = _ivf_from_bundle(tensors, arena, where)
        return cls(
            battles=battles,
            arena=arena,
            model_tiers=np.array([meta["tiers"][m] for m in models]),
            model_ratings=np.array([meta["model_ratings"][m] for m in models]),
            num_tiers=int(meta["num_tiers"]),
            embedder=EmbedderSpec.from_json(meta["embedder"]),
            strong_model=meta["strong_model"],
            weak_model=meta["weak_model"],
            ivf=ivf,
            nprobe=meta.get("nprobe"),
            sharpness=meta.get("sharpness"),
            balance=meta.get("balance", "battle"),
            backend=backend,
            extra_meta={k: v for k, v in meta.items() if k not in base | RESERVED_KEYS},
        )
    except BundleError:
        raise
    except (KeyError, ValueError, TypeError) as exc:
        raise BundleError(f"{where}: {type(exc).__name__}: {exc}") from exc


def _ivf_from_bundle(tensors: dict[str, np.ndarray], arena: np.ndarray, where: str) -> "IVFIndex | None":
    """The IVF index stored in a bundle, checked against its arena (None if there is none)."""
    names = ("ivf_centroids", "ivf_means", "ivf_offsets")
    present = [n for n in names if n in tensors]
    if not present:
        return None
    if len(present) != len(names):
        raise BundleError(f"{where}: an IVF index needs tensors {list(names)}; found only {present}")
    cent, means, offsets = (tensors[n] for n in names)
    U, d = arena.shape
    for name, t in (("ivf_centroids", cent), ("ivf_means", means)):
        if t.ndim != 2 or t.shape[1] != d or t.shape[0] < 1 or t.dtype != np.float32:
            raise BundleError(
                f"{where}: tensor {name!r} must be float32 [clusters, {d}]; got dtype {t.dtype}, shape {t.shape}"
            )
    C = cent.shape[0]
    if means.shape[0] != C:
        raise BundleError(f"{where}: tensor 'ivf_means' has {means.shape[0]} rows, 'ivf_centroids' {C}")
    if offsets.shape != (C + 1,) or not np.issubdtype(offsets.dtype, np.integer):
        raise BundleError(
            f"{where}: tensor 'ivf_offsets' must be {C + 1} integers; got dtype {offsets.dtype}, shape {offsets.shape}"
        )
    off = offsets.astype(np.int64)
    if off[0] != 0 or off[-1] != U or (np.diff(off) < 0).any():
        raise BundleError(
            f"{where}: tensor 'ivf_offsets' must rise from 0 to the {U} arena rows; "
            f"got {off[0]} .. {off[-1]}{' (decreasing somewhere)' if (np.diff(off) < 0).any() else ''}"
        )
    return IVFIndex(np.ascontiguousarray(cent), np.ascontiguousarray(means), off)


def _compact(ids: np.ndarray, bound: int) -> np.ndarray:
    """Indices in the smallest unsigned type that holds values below `bound` (smaller bundles)."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if bound <= np.iinfo(dtype).max + 1:
            return np.asarray(ids).astype(dtype)
    return np.asarray(ids).astype(np.int64)
