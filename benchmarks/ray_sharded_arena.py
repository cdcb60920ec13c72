"""Latency of the sharded sw_ranking arena (fastroute.cluster.sharded_arena) per batch, B = 1
and B = 64, with 1, 2 and 4 shards, beside the single-process router on the same data, for
both weightings (exp: one round; RouteLLM's: a max-reduce round, then a statistics round).
Medians of repeated runs.

Data: a synthetic arena at RouteLLM's scale, N = 165,000 unit-norm float32 prompts of width
1536, one battle each among 10 models in 10 tiers (K = 120 statistics), random outcomes with
15% ties; random queries. Every shard's actor gets max(1, cores // shards) BLAS threads (Ray
gives an actor one by default), the single-process router all of them. On a 2-core machine
4 shards (and 2 shards beside the driver) share the cores: what they measure is the overhead
of sharding, not a speed-up.

    python benchmarks/ray_sharded_arena.py [--n 165000] [--reps 15] [--address ADDR] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local cluster: no token file written to ~/.ray

D, TIERS = 1536, 10


def synthetic_router(n: int, d: int = D, seed: int = 0):
    """An exact sw_ranking router over n unit float32 prompts, one battle each, 10 tiers."""
    from fastroute import SWRankingRouter
    from fastroute.embedders.base import EmbedderSpec
    from fastroute.sw.coded_battles import CodedBattles

    rng = np.random.default_rng(seed)
    arena = rng.standard_normal((n, d), dtype=np.float32)
    arena /= np.linalg.norm(arena, axis=1, keepdims=True)
    models = tuple(f"model-{i}" for i in range(TIERS))
    a = rng.integers(0, TIERS, n)
    b = (a + rng.integers(1, TIERS, n)) % TIERS
    u = rng.random(n)
    p_a = 1.0 / (1.0 + np.exp(-(b - a) * 0.3))  # lower index, stronger model
    outcome = np.where(u < 0.15, 2, np.where(rng.random(n) < p_a, 0, 1))
    battles = CodedBattles(models, a, b, outcome, np.arange(n, dtype=np.int32))
    return SWRankingRouter(
        battles=battles,
        arena=arena,
        model_tiers=np.arange(TIERS),
        model_ratings=np.zeros(TIERS),
        num_tiers=TIERS,
        embedder=EmbedderSpec("bench", d),
        strong_model=models[0],
        weak_model=models[TIERS // 2],
        sharpness=10.0,
        backend="numpy",
    )


def median_ms(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=165_000)
    ap.add_argument("--reps", type=int, default=15, help="timed runs at B=1 (a third of them at B=64)")
    ap.add_argument("--shards", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--address", default=None, help="a running Ray cluster (default: start a local one)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import ray

    from fastroute.cluster.sharded_arena import ShardedSWRanking

    cores = os.cpu_count() or 1
    ray.init(address=args.address, num_cpus=None if args.address else cores, include_dashboard=False, log_to_driver=False)  # fmt: skip
    t = time.perf_counter()
    router = synthetic_router(args.n)
    print(f"arena N={args.n} d={D} float32, {router.T} tiers, built in {time.perf_counter() - t:.1f} s", flush=True)
    queries = np.random.default_rng(1).standard_normal((64, D), dtype=np.float32)
    rows = []

    def emit(row: dict) -> None:
        rows.append(row)
        print(json.dumps(row), flush=True)

    for weighting, g in (("exp", 10.0), ("routellm", None)):
        r = router.with_sharpness(g)
        for B in (1, 64):
            reps = args.reps if B == 1 else max(3, args.reps // 3)
            E = queries[:B]
            ms = median_ms(lambda: r.win_rates(embeddings=E), reps)  # noqa: B023
            emit({"weighting": weighting, "B": B, "shards": 0, "ms": ms})
    for shards in args.shards:
        threads = str(max(1, cores // shards))
        env = {"OMP_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads}
        t = time.perf_counter()
        sharded = ShardedSWRanking(router, shards, actor_options={"runtime_env": {"env_vars": env}})
        start_s = time.perf_counter() - t
        for weighting, g in (("exp", 10.0), ("routellm", None)):
            s, r = sharded.with_sharpness(g), router.with_sharpness(g)
            for B in (1, 64):
                reps = args.reps if B == 1 else max(3, args.reps // 3)
                E = queries[:B]
                ms = median_ms(lambda: s.win_rates(embeddings=E), reps)  # noqa: B023
                diff = float(np.abs(s.win_rates(embeddings=E) - r.win_rates(embeddings=E)).max())
                emit({"weighting": weighting, "B": B, "shards": shards, "ms": ms, "blas_threads_per_shard": int(threads),
                      "start_s": round(start_s, 2), "max_abs_diff_vs_single_process": diff})  # fmt: skip
        sharded.close()
    ray.shutdown()
    print("\n| weighting | B | single process | " + " | ".join(f"{s} shard(s)" for s in args.shards) + " |")
    print("|---|---|---|" + "---|" * len(args.shards))
    for weighting in ("exp", "routellm"):
        for B in (1, 64):
            cells = {x["shards"]: f"{x['ms']:.1f} ms" for x in rows if x["weighting"] == weighting and x["B"] == B}
            print(f"| {weighting} | {B} | {cells[0]} | " + " | ".join(cells[s] for s in args.shards) + " |")
    if args.json:
        meta = {"machine": platform.processor() or platform.machine(), "cores": cores, "n": args.n, "d": D}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
