"""sw_ranking: exact single-query latency, batched throughput, IVF, and RouteLLM's refit, in one run."""

from __future__ import annotations

import numpy as np
import pytest

from routellm_baseline import SWRankingBaseline


@pytest.mark.parametrize("storage", ["float32", "float16"])
def test_sw_exact_single_query(benchmark, sw_arena, queries, storage):
    router = sw_arena["router"]
    if storage == "float16":
        router = _f16(sw_arena)
    q = queries[sw_arena["d"]][:1]
    benchmark.group = f"sw_ranking single query, N={len(router.battles)}, d={sw_arena['d']}"
    benchmark.extra_info.update(storage=storage, batch=1)
    benchmark.pedantic(router.win_rates, kwargs={"embeddings": q}, rounds=15, warmup_rounds=2)


@pytest.mark.parametrize("batch", [64, 512])
def test_sw_exact_batched(benchmark, sw_arena, queries, batch):
    router = sw_arena["router"]
    Q = queries[sw_arena["d"]][:batch]
    benchmark.group = f"sw_ranking batched, N={len(router.battles)}, d={sw_arena['d']}"
    benchmark.extra_info.update(storage="float32", batch=batch)
    benchmark.pedantic(router.win_rates, kwargs={"embeddings": Q}, rounds=3, warmup_rounds=1)


@pytest.mark.parametrize("nprobe", [8, 32])
def test_sw_ivf_single_query(benchmark, sw_arena, queries, nprobe):
    router = _ivf(sw_arena).with_ivf(nprobe=nprobe)
    q = queries[sw_arena["d"]][:1]
    benchmark.group = f"sw_ranking single query, N={len(router.battles)}, d={sw_arena['d']}"
    benchmark.extra_info.update(nlist=router.ivf.nlist, nprobe=nprobe, batch=1)
    exact = sw_arena["router"].win_rates(embeddings=queries[sw_arena["d"]][:256])
    approx = router.win_rates(embeddings=queries[sw_arena["d"]][:256])
    benchmark.extra_info.update(
        max_abs_err=float(np.abs(approx - exact).max()), mean_abs_err=float(np.abs(approx - exact).mean())
    )
    benchmark.pedantic(router.win_rates, kwargs={"embeddings": q}, rounds=15, warmup_rounds=2)


def test_routellm_sklearn_refit_single_query(benchmark, sw_arena, queries):
    """RouteLLM's own per-query cost: float64 cosine + LogisticRegression on 2N rows."""
    router = sw_arena["router"]
    tiers = router.tiers
    cols = sw_arena["cols"]
    code = np.array([{"model_a": 0, "model_b": 1}.get(w, 2) for w in cols["winner"]])
    base = SWRankingBaseline(
        sw_arena["E"],
        [tiers[m] for m in cols["model_a"]],
        [tiers[m] for m in cols["model_b"]],
        code,
        tiers[router.strong_model],
        tiers[router.weak_model],
    )
    q = queries[sw_arena["d"]][0]
    benchmark.group = f"sw_ranking single query, N={len(router.battles)}, d={sw_arena['d']}"
    benchmark.extra_info.update(baseline="RouteLLM (sklearn refit)")
    p = benchmark.pedantic(base.win_rate, args=(q,), rounds=2, warmup_rounds=0)
    ours = router.win_rates(embeddings=q)[0]
    benchmark.extra_info.update(abs_diff_vs_fastroute=abs(p - ours))
    assert abs(p - ours) < 1e-2  # sklearn's default tolerance, not ours, limits this


_cache: dict = {}


def _f16(arena):
    key = ("f16", arena["d"])
    if key not in _cache:
        from fastroute import SWRankingRouter

        _cache[key] = SWRankingRouter.from_battles(
            arena["cols"],
            arena["E"],
            storage="float16",
            num_tiers=10,
            embedder="bench" if arena["d"] != 256 else "static",
        )
    return _cache[key]


def _ivf(arena):
    key = ("ivf", arena["d"])
    if key not in _cache:
        _cache[key] = arena["router"].with_ivf(nprobe=8, seed=0)
    return _cache[key]
