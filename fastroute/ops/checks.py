"""Argument checks every backend shares (numpy only: the backends differ in what they
compute, never in what they accept)."""

from __future__ import annotations

import numpy as np


def check_sharpness(sharpness: "float | None") -> "float | None":
    """None (RouteLLM's weighting) or the sharpness g > 0 as a float; anything else raises."""
    if sharpness is None:
        return None
    if not sharpness > 0:
        raise ValueError(f"sharpness must be > 0, or None for RouteLLM's weighting; got {sharpness}")
    return float(sharpness)


def check_real(a: np.ndarray, name: str, ndim: int) -> np.ndarray:
    """`a` as an array of real numbers (bool, int or float) with `ndim` dimensions; anything
    else (complex, objects, strings) is refused rather than silently cast."""
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    return a


def check_embedding_bag_args(
    table: np.ndarray, scales: np.ndarray, ids: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Validated (table int8 [V, d], scales [V], ids [n] integers, offsets int64 [B + 1]).

    offsets must start at 0, never decrease and end at len(ids); ids are checked against
    [0, V) by the caller (the C kernel does it in its own pass)."""
    table = np.asarray(table)
    if table.dtype != np.int8 or table.ndim != 2:
        raise ValueError(f"table must be a 2-D int8 array, got {table.dtype} of shape {table.shape}")
    scales = check_real(scales, "scales", 1)
    if scales.shape[0] != table.shape[0]:
        raise ValueError(f"scales has {scales.shape[0]} entries, expected one per table row ({table.shape[0]})")
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "iu"):
        raise ValueError(f"ids must be a 1-D integer array, got {ids.dtype} of shape {ids.shape}")
    offsets = np.asarray(offsets)
    if offsets.ndim != 1 or offsets.size < 1 or (offsets.dtype.kind not in "iu" and offsets.size > 1):
        raise ValueError(
            f"offsets must be a 1-D integer array of length B + 1, got {offsets.dtype} of shape {offsets.shape}"
        )
    offsets = offsets.astype(np.int64)
    if offsets[0] != 0:
        raise ValueError(f"offsets must start at 0, got {offsets[0]}")
    if offsets.size > 1 and np.any(offsets[1:] < offsets[:-1]):
        at = int(np.argmax(offsets[1:] < offsets[:-1]))
        raise ValueError(
            f"offsets must not decrease, got offsets[{at}]={offsets[at]} > offsets[{at + 1}]={offsets[at + 1]}"
        )
    if offsets[-1] != ids.size:
        raise ValueError(f"offsets must end at len(ids) = {ids.size}, got {offsets[-1]}")
    return table, scales, ids, offsets


def check_ids_in_range(ids: np.ndarray, V: int) -> None:
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        bad = ids[(ids < 0) | (ids >= V)][0]
        raise ValueError(f"token id {int(bad)} outside the embedding table [0, {V})")
