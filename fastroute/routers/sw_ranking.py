"""RouteLLM's similarity-weighted ranking router, exact and thousands of times faster.

Per query q, RouteLLM weights every arena battle by w_i = 10 * 10^(s_i / max s)
(s = cosine similarity of q to the battle's prompt), refits a Bradley-Terry
model over model tiers with those weights, and returns the strong tier's win
probability over the weak tier. Here the fit reads only a few weighted counts
(S = A w, see fastroute.sw.bradley_terry) followed by a T-dimensional Newton
solve, so a query costs one similarity scan plus a sparse product.

Tiers come from RouteLLM's compute_tiers on the unweighted model ratings
(anchored at llama-2-70b-chat = 1082 when present). Battles that share a
prompt share one stored embedding.

Degenerate cases (documented behaviour):
* max similarity <= 0 (e.g. an all-zero query embedding): uniform weights,
  i.e. the global tier ratings; RouteLLM would divide by zero or invert the
  weighting;
* a pair of tiers without battles: nothing to count, the fit goes through the
  other tiers;
* strong and weak model in the same tier: the win rate is 0.5 for every prompt
  (a warning is issued when the router is built);
* an unknown model name: UnknownModelError listing the known models.
"""
from __future__ import annotations

import copy
import warnings
from typing import Any, Sequence

import numpy as np

from ..bundle import RESERVED_KEYS
from ..bundle_schema import index_tensor
from ..embedders.base import EmbedderSpec
from ..errors import BundleError
from ..ops import get_backend
from ..routellm_models import ANCHOR_MODEL, ANCHOR_RATING, DEFAULT_STRONG, DEFAULT_WEAK
from ..sw import bradley_terry as bt
from ..sw.battles import BattleSet, dedupe_rows, encode_battles, get_columns, unit_rows
from ..sw.ivf import IVFIndex, approximate_similarities, build_ivf, default_nlist
from ..sw.tiers import compute_tiers
from .base import Router, _is_torch

# Similarities are computed for blocks of queries at a time, into one buffer of at
# most this many bytes: large blocks amortise BLAS's packing of the arena (at
# N=165k, d=1536: 4.1 ms/query in blocks of 101, 2.4 ms/query in blocks of 512).
_SIM_BLOCK_BYTES = 256 << 20
_STORAGE = {"float32": np.float32, "float16": np.float16}
# "battle": RouteLLM's estimator, every battle weighs its prompt's similarity weight.
# "prompt": a prompt's battles share that weight, so a prompt judged on 100 model pairs
# counts as much as one judged on a single pair (golden labels vs LLM-judge sweeps).
BALANCES = ("battle", "prompt")
# float16 arenas up to this size (as float32) are also kept widened in memory, for
# batches of more than _FEW_QUERIES queries (BLAS); fewer queries stream the float16 copy.
_WIDEN_BYTES = 256 << 20
_FEW_QUERIES = 16


def model_ratings(battles: BattleSet) -> np.ndarray:
    """Unweighted Elo-scale rating of every model, as RouteLLM's compute_elo_mle_with_tie."""
    M = len(battles.models)
    A = bt.stat_matrix(battles.model_a, battles.model_b, battles.outcome,
                       np.zeros(len(battles), dtype=np.int64), M, 1,
                       label=battles.labels() if battles.label is not None else None)
    S = A.to_dense()[:, 0]
    beta = bt.check_finite_fit(S, M, list(battles.models), "model")
    r = bt.ratings(beta)
    if ANCHOR_MODEL in battles.models:
        r = r + (ANCHOR_RATING - r[battles.models.index(ANCHOR_MODEL)])
    return r


class SWRankingRouter(Router):
    kind = "sw_ranking"
    embedder_spec: EmbedderSpec  # never None here (Router allows None for the random router)

    def __init__(self, *, battles: BattleSet, arena: np.ndarray, model_tiers: np.ndarray,
                 model_ratings: np.ndarray, num_tiers: int, embedder: EmbedderSpec,
                 strong_model: str = DEFAULT_STRONG, weak_model: str = DEFAULT_WEAK,
                 ivf: "IVFIndex | None" = None, nprobe: "int | None" = None, sharpness: "float | None" = None,
                 balance: str = "battle", backend: "str | None" = None, extra_meta: "dict | None" = None) -> None:
        super().__init__(strong_model=strong_model, weak_model=weak_model, models=battles.models,
                         embedder=embedder, backend=backend)
        if arena.ndim != 2 or arena.shape[1] != embedder.dim:
            raise ValueError(f"arena embeddings have shape {arena.shape}, expected [*, {embedder.dim}]")
        if arena.dtype not in (np.float32, np.float16):
            raise ValueError(f"arena storage must be float32 or float16, got {arena.dtype}")
        if battles.prompt.size and (battles.prompt.min() < 0 or battles.prompt.max() >= arena.shape[0]):
            raise ValueError("battle prompt index outside the arena")
        model_tiers = np.asarray(model_tiers, dtype=np.int64)
        if model_tiers.shape != (len(self.models),):
            raise ValueError(f"{model_tiers.size} tiers for {len(self.models)} models")
        if ivf is not None and int(ivf.offsets[-1]) != arena.shape[0]:
            raise ValueError("IVF index does not cover the arena")
        if nprobe is not None and (ivf is None or nprobe < 1):
            raise ValueError("nprobe needs an IVF index and must be >= 1")
        if sharpness is not None and not sharpness > 0:
            raise ValueError(f"sharpness must be > 0, or None for RouteLLM's weighting; got {sharpness}")
        self.sharpness = None if sharpness is None else float(sharpness)
        if balance not in BALANCES:
            raise ValueError(f"balance must be one of {BALANCES}, got {balance!r}")
        self.balance = balance
        self.battles = battles
        self.arena = np.ascontiguousarray(arena)
        # What the kernels scan: a float16 arena small enough is widened once here, since
        # batched scoring then goes straight to BLAS instead of widening it on every call.
        self._scan = (self.arena.astype(np.float32) if self.arena.dtype == np.float16
                      and self.arena.size * 4 <= _WIDEN_BYTES else self.arena)
        self.num_tiers = int(num_tiers)
        self.model_ratings = np.asarray(model_ratings, dtype=np.float64)
        self.model_tiers = model_tiers
        self.ivf = ivf
        self.nprobe = nprobe
        self.extra_meta = dict(extra_meta or {})
        # RouteLLM's tier fit only knows the tiers that occur: renumber them 0..T-1.
        self._used_tiers, tier_index = np.unique(model_tiers, return_inverse=True)
        self._tier_of_model = tier_index.astype(np.int64)
        self.T = int(self._used_tiers.size)
        ta = self._tier_of_model[battles.model_a]
        tb = self._tier_of_model[battles.model_b]
        weight = None
        if balance == "prompt":  # every prompt carries one unit of weight, however many battles it has
            weight = 1.0 / np.bincount(battles.prompt, minlength=arena.shape[0])[battles.prompt]
        self._A = bt.stat_matrix(ta, tb, battles.outcome, battles.prompt, self.T, arena.shape[0],
                                 label=battles.labels() if battles.label is not None else None, weight=weight)
        unit = np.asarray(self._A.values, np.float64)
        S1 = np.bincount(np.repeat(np.arange(self._A.shape[0]), np.diff(self._A.indptr)), weights=unit,
                         minlength=self._A.shape[0])
        names = [f"tier {int(t)} ({', '.join(m for m, x in zip(self.models, model_tiers) if x == t)})"
                 for t in self._used_tiers]
        bt.check_finite_fit(S1, self.T, names, "tier")
        self._ops = get_backend(backend, "cpu")
        self._set_pair_indices()

    def _set_pair_indices(self) -> None:
        self._s = int(self._tier_of_model[self.models.index(self.strong_model)])
        self._w = int(self._tier_of_model[self.models.index(self.weak_model)])
        if self._s == self._w:
            warnings.warn(
                f"{self.strong_model!r} and {self.weak_model!r} fall in the same tier: "
                "sw_ranking will give a win rate of 0.5 to every prompt", RuntimeWarning, stacklevel=3)

    @property
    def tiers(self) -> dict[str, int]:
        """RouteLLM's model -> tier id (0 = best)."""
        return {m: int(t) for m, t in zip(self.models, self.model_tiers)}

    # -- construction -------------------------------------------------------
    @classmethod
    def from_battles(cls, battles: Any, embeddings: np.ndarray, *, strong_model: str = DEFAULT_STRONG,
                     weak_model: str = DEFAULT_WEAK, num_tiers: int = 10,
                     embedder: "EmbedderSpec | str" = "static", storage: str = "float32",
                     ivf_nlist: "int | None" = None, nprobe: "int | None" = None, seed: int = 0,
                     sharpness: "float | None" = None, balance: str = "battle", backend: "str | None" = None,
                     extra_meta: "dict | None" = None) -> "SWRankingRouter":
        """Builds the router from RouteLLM's preprocessed battles (model_a, model_b, winner,
        optionally soft_label = P(model_a wins)) and their prompt embeddings [N, d], row-aligned.

        sharpness None keeps RouteLLM's weights 10 * 10^(s / max s); a value g > 0 uses
        exp(g (s - max s)) instead (see fastroute.train.sw for choosing g)."""
        cols = get_columns(battles, ["model_a", "model_b", "winner"])
        models, a, b, outcome = encode_battles(cols["model_a"], cols["model_b"], cols["winner"])
        label = None
        try:
            soft = np.asarray(battles["soft_label"], dtype=np.float64)
        except (KeyError, IndexError, TypeError, ValueError):
            soft = None
        if soft is not None and soft.shape == a.shape and (~np.isnan(soft)).any():
            label = soft
        E = np.asarray(embeddings)
        if E.ndim != 2 or E.shape[0] != a.size:
            raise ValueError(f"embeddings have shape {E.shape}; expected one row per battle ({a.size})")
        if not np.issubdtype(E.dtype, np.floating) or not np.isfinite(E).all():
            raise ValueError("embeddings must be finite floating-point values")
        spec = _spec(embedder, E.shape[1])
        if storage not in _STORAGE:
            raise ValueError(f"storage must be one of {sorted(_STORAGE)}, got {storage!r}")
        unit = unit_rows(E, np.float32)
        first, prompt = dedupe_rows(unit)
        arena = unit[first].astype(_STORAGE[storage])
        bs = BattleSet(models, a, b, outcome, prompt, label)
        ratings = model_ratings(bs)
        tier_map = compute_tiers(list(models), ratings, num_tiers)
        tiers = np.array([tier_map[m] for m in models])
        router = cls(battles=bs, arena=arena, model_tiers=tiers, model_ratings=ratings, num_tiers=num_tiers,
                     embedder=spec, strong_model=strong_model, weak_model=weak_model, sharpness=sharpness,
                     balance=balance, backend=backend, extra_meta=extra_meta)
        if ivf_nlist is not None or nprobe is not None:
            router = router.with_ivf(nlist=ivf_nlist, nprobe=nprobe or 32, seed=seed)
        return router

    @classmethod
    def from_arena(cls, arena_battles: Any, embeddings: "np.ndarray | None" = None, **kwargs: Any) -> "SWRankingRouter":
        """Builds the router from raw Chatbot Arena battles (`prompt` JSON list of turns,
        `winner_model_a/_b/_tie`, `model_a`, `model_b`) with RouteLLM's preprocessing:
        the first turn, stripped, at least 16 characters. `embeddings` are row-aligned
        with the battles that remain (as RouteLLM's published embedding dataset is);
        without them the first turns are embedded with `embedder`."""
        from ..data.arena import preprocess_arena

        table = preprocess_arena(arena_battles)
        if embeddings is None:
            from ..embedders import get_embedder

            name = kwargs.get("embedder", "static")
            emb = get_embedder(name if isinstance(name, str) else name.name)
            embeddings = emb.encode(table["first_turn"])
            kwargs.setdefault("embedder", EmbedderSpec.of(emb))
        elif len(embeddings) != len(table["winner"]):
            raise ValueError(
                f"embeddings have {len(embeddings)} rows but {len(table['winner'])} battles remain after "
                "RouteLLM's preprocessing (first turn of at least 16 characters)"
            )
        return cls.from_battles(table, embeddings, **kwargs)

    def with_pair(self, strong_model: str, weak_model: str) -> "SWRankingRouter":
        from ..errors import UnknownModelError

        for name in (strong_model, weak_model):
            if name not in self.models:
                raise UnknownModelError(name, self.models)
        if strong_model == weak_model:
            raise ValueError(f"strong and weak model are both {strong_model!r}")
        other = copy.copy(self)
        other.strong_model, other.weak_model = strong_model, weak_model
        other._set_pair_indices()
        return other

    def with_ivf(self, *, nlist: "int | None" = None, nprobe: int = 32, seed: int = 0) -> "SWRankingRouter":
        """The approximate (IVF) version of this router; the index is built unless one with `nlist` exists."""
        if self.ivf is not None and (nlist is None or nlist == self.ivf.nlist):
            other = copy.copy(self)
            other.nprobe = int(nprobe)
            return other
        nlist = nlist or default_nlist(self.arena.shape[0])
        ivf, order = build_ivf(self.arena.astype(np.float32), nlist, seed=seed)
        new_of_old = np.empty_like(order)
        new_of_old[order] = np.arange(order.size)
        battles = BattleSet(self.battles.models, self.battles.model_a, self.battles.model_b,
                            self.battles.outcome, new_of_old[self.battles.prompt].astype(np.int32), self.battles.label)
        return type(self)(battles=battles, arena=self.arena[order], model_tiers=self.model_tiers,
                          model_ratings=self.model_ratings, num_tiers=self.num_tiers, embedder=self.embedder_spec,
                          strong_model=self.strong_model, weak_model=self.weak_model, ivf=ivf, nprobe=int(nprobe),
                          sharpness=self.sharpness, balance=self.balance, backend=self.backend,
                          extra_meta=self.extra_meta)

    def with_weighting(self, *, sharpness: "float | None", balance: str) -> "SWRankingRouter":
        """The same arena and tiers with another battle weighting (statistics rebuilt)."""
        return type(self)(battles=self.battles, arena=self.arena, model_tiers=self.model_tiers,
                          model_ratings=self.model_ratings, num_tiers=self.num_tiers, embedder=self.embedder_spec,
                          strong_model=self.strong_model, weak_model=self.weak_model, ivf=self.ivf,
                          nprobe=self.nprobe, sharpness=sharpness, balance=balance, backend=self.backend,
                          extra_meta=self.extra_meta)

    def with_sharpness(self, sharpness: "float | None") -> "SWRankingRouter":
        """The same arena weighted by exp(g (s - max s)) (None: RouteLLM's weights)."""
        if sharpness is not None and not sharpness > 0:
            raise ValueError(f"sharpness must be > 0, or None for RouteLLM's weighting; got {sharpness}")
        other = copy.copy(self)
        other.sharpness = None if sharpness is None else float(sharpness)
        return other

    def exact(self) -> "SWRankingRouter":
        """The exact version of this router (every battle scored)."""
        other = copy.copy(self)
        other.nprobe = None
        return other

    # -- scoring ------------------------------------------------------------
    def _device_operands(self, ops, device):
        """The arena and the dense statistics matrix on the queries' GPU, made once per device
        (not per request): queries on cuda:1 must not meet an arena on cuda:0."""
        with self._lock:
            cache = self.__dict__.setdefault("_gpu", {})
            if device not in cache:
                arena = ops.to_device(self.arena).to(device)
                cache[device] = (arena, ops.dense_stats_matrix(self._A, arena.device))
        return cache[device]

    def tier_betas(self, E: Any) -> np.ndarray:  # E: numpy, or a torch tensor
        """[B, T] Bradley-Terry coefficients of the used tiers for each query."""
        ops = self._kernels_for(E)
        if ops.NAME == "triton" and self.nprobe is None:  # fused two-pass kernel, nothing [B, N] in memory
            Et = ops.to_device(E)
            arena, A = self._device_operands(ops, Et.device)
            S, _ = ops.sw_weighted_stats(Et, arena, A, self.sharpness)
            return ops.bt_fit(S, self.T).cpu().numpy()
        if _is_torch(E):
            E = E.detach().cpu().numpy()
        B, U = E.shape[0], self.arena.shape[0]
        S = np.empty((B, self._A.shape[0]))
        block = max(1, min(B, _SIM_BLOCK_BYTES // (4 * max(U, 1))))
        buf = np.empty((block, U), dtype=np.float32) if self.nprobe is None else None
        for lo in range(0, B, block):
            Q = E[lo : lo + block]
            if buf is None:
                # buf is None only when nprobe is set, and nprobe is set only with an IVF index
                sims = approximate_similarities(Q, self._scan, self.ivf, self.nprobe, self._ops)  # type: ignore[arg-type]
            else:  # a few queries stream the (smaller) stored arena; batches go to BLAS on the widened one
                X = self.arena if Q.shape[0] <= _FEW_QUERIES else self._scan
                sims = self._ops.cosine_sim(Q, X, out=buf[: Q.shape[0]])
            S[lo : lo + block], _ = self._ops.sw_stats(sims, self._A, self.sharpness)
        return self._ops.bt_fit(S, self.T)

    def _win_rates(self, E: Any) -> Any:
        beta = self.tier_betas(E)
        return bt.win_probability(beta[:, self._s], beta[:, self._w])

    def ratings(self, texts: "str | Sequence[str] | None" = None, *,
                embeddings: "np.ndarray | None" = None) -> np.ndarray:
        """[B, T] per-query Elo ratings (400 b + 1000) of the tiers in use, ordered by tier id."""
        E = self._prepare(texts, embeddings)
        return bt.ratings(self.tier_betas(E)) if E.shape[0] else np.zeros((0, self.T))

    # -- bundles ------------------------------------------------------------
    def _bundle_payload(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        meta = self._base_meta() | {
            "num_tiers": self.num_tiers,
            "tiers": self.tiers,
            "model_ratings": {m: float(r) for m, r in zip(self.models, self.model_ratings)},
            "storage": str(self.arena.dtype),
            "nprobe": self.nprobe,
            "ivf_nlist": self.ivf.nlist if self.ivf is not None else None,
            "sharpness": self.sharpness,
            "balance": self.balance,
        } | self.extra_meta
        tensors = {
            "arena": self.arena,
            "battle_model_a": _compact(self.battles.model_a, len(self.models)),
            "battle_model_b": _compact(self.battles.model_b, len(self.models)),
            "battle_outcome": self.battles.outcome.astype(np.int8),
            "battle_prompt": _compact(self.battles.prompt, self.arena.shape[0]),
        }
        if self.battles.label is not None:
            soft = np.flatnonzero(~np.isnan(self.battles.label))
            tensors |= {"battle_soft_index": soft.astype(np.int32),
                        "battle_soft_label": self.battles.label[soft].astype(np.float32)}
        if self.ivf is not None:
            tensors |= {"ivf_centroids": self.ivf.centroids, "ivf_means": self.ivf.means,
                        "ivf_offsets": self.ivf.offsets.astype(np.int64)}
        return meta, tensors

    @classmethod
    def _from_bundle(cls, meta: dict[str, Any], tensors: dict[str, np.ndarray], *, where: str,
                     backend: "str | None" = None) -> "SWRankingRouter":
        needed = ("arena", "battle_model_a", "battle_model_b", "battle_outcome", "battle_prompt")
        for name in needed:
            if name not in tensors:
                raise BundleError(f"{where}: missing tensor {name!r}")
        base = {"models", "strong_model", "weak_model", "embedder", "num_tiers", "tiers", "model_ratings",
                "storage", "nprobe", "ivf_nlist", "sharpness", "balance"}
        try:
            models = tuple(meta["models"])
            arena = tensors["arena"]
            if arena.ndim != 2 or arena.dtype not in (np.float32, np.float16):
                raise BundleError(f"{where}: tensor 'arena' must be 2-D float32 or float16; got dtype {arena.dtype}, "
                                  f"shape {arena.shape}")
            n = tensors["battle_model_a"].size
            ids = {name: index_tensor(tensors, name, where, bound=bound, size=n) for name, bound in (
                ("battle_model_a", len(models)), ("battle_model_b", len(models)),
                ("battle_outcome", 3), ("battle_prompt", arena.shape[0]))}
            label = None
            if ("battle_soft_index" in tensors) != ("battle_soft_label" in tensors):
                raise BundleError(f"{where}: tensors 'battle_soft_index' and 'battle_soft_label' come together")
            if "battle_soft_index" in tensors:
                soft_index = index_tensor(tensors, "battle_soft_index", where, bound=n)
                soft = tensors["battle_soft_label"]
                if soft.shape != soft_index.shape or not np.issubdtype(soft.dtype, np.floating) \
                        or (soft.size and (soft.min() < 0 or soft.max() > 1)):
                    raise BundleError(f"{where}: tensor 'battle_soft_label' must hold {soft_index.size} floats in "
                                      f"[0, 1], one per soft index; got dtype {soft.dtype}, shape {soft.shape}")
                if np.unique(soft_index).size != soft_index.size:
                    raise BundleError(f"{where}: tensor 'battle_soft_index' repeats a battle")
                label = np.full(n, np.nan)
                label[soft_index] = soft.astype(np.float64)
            battles = BattleSet(models, ids["battle_model_a"].astype(np.int32), ids["battle_model_b"].astype(np.int32),
                                ids["battle_outcome"].astype(np.int8), ids["battle_prompt"].astype(np.int32), label)
            ivf = _ivf_from_bundle(tensors, arena, where)
            return cls(battles=battles, arena=arena,
                       model_tiers=np.array([meta["tiers"][m] for m in models]),
                       model_ratings=np.array([meta["model_ratings"][m] for m in models]),
                       num_tiers=int(meta["num_tiers"]), embedder=EmbedderSpec.from_json(meta["embedder"]),
                       strong_model=meta["strong_model"], weak_model=meta["weak_model"], ivf=ivf,
                       nprobe=meta.get("nprobe"), sharpness=meta.get("sharpness"),
                       balance=meta.get("balance", "battle"), backend=backend,
                       extra_meta={k: v for k, v in meta.items() if k not in base | RESERVED_KEYS})
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
            raise BundleError(f"{where}: tensor {name!r} must be float32 [clusters, {d}]; got dtype {t.dtype}, "
                              f"shape {t.shape}")
    C = cent.shape[0]
    if means.shape[0] != C:
        raise BundleError(f"{where}: tensor 'ivf_means' has {means.shape[0]} rows, 'ivf_centroids' {C}")
    if offsets.shape != (C + 1,) or not np.issubdtype(offsets.dtype, np.integer):
        raise BundleError(f"{where}: tensor 'ivf_offsets' must be {C + 1} integers; got dtype {offsets.dtype}, "
                          f"shape {offsets.shape}")
    off = offsets.astype(np.int64)
    if off[0] != 0 or off[-1] != U or (np.diff(off) < 0).any():
        raise BundleError(f"{where}: tensor 'ivf_offsets' must rise from 0 to the {U} arena rows; "
                          f"got {off[0]} .. {off[-1]}{' (decreasing somewhere)' if (np.diff(off) < 0).any() else ''}")
    return IVFIndex(np.ascontiguousarray(cent), np.ascontiguousarray(means), off)


def _compact(ids: np.ndarray, bound: int) -> np.ndarray:
    """Indices in the smallest unsigned type that holds values below `bound` (smaller bundles)."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if bound <= np.iinfo(dtype).max + 1:
            return np.asarray(ids).astype(dtype)
    return np.asarray(ids).astype(np.int64)


def _spec(embedder: "EmbedderSpec | str", dim: int) -> EmbedderSpec:
    from ..embedders import spec_for

    spec = spec_for(embedder, dim) if isinstance(embedder, str) else (
        embedder if isinstance(embedder, EmbedderSpec) else EmbedderSpec.of(embedder))
    if spec.dim != dim:
        raise ValueError(f"embeddings have width {dim}, but embedder {spec.name!r} has dim {spec.dim}")
    return spec
