"""Times the fused Bradley-Terry kernel against the torch solver on a GPU (issue 16).
Run by gpu_check.sh: TRITON_INTERPRET=0 python3 benchmarks/gpu_bt_fit.py (DRY=1 with TRITON_INTERPRET=1: a CPU
smoke run). Prints one JSON line per measurement: fused vs torch medians and agreement, a
launch-shape sweep at T=10, and the whole B=1 sw_ranking router call on the Triton backend."""

import os
import statistics
import sys
import time

import numpy as np
import torch
import triton

sys.path.insert(0, "tests")
from fastroute.ops.triton_backend import kernel_module

from generated import bt_counts as _counts

dry = os.environ.get("DRY") == "1"
dev = "cpu" if dry else "cuda"
bt = kernel_module("bt_fit")


def ms(fn):
    fn()  # compile outside the timing
    if dry:
        return float("nan")
    return statistics.median(triton.testing.do_bench(fn, warmup=5, rep=30) for _ in range(3))


rng = np.random.default_rng(0)
for T in (10, 16, 32):
    rows = np.stack([_counts(rng, T, 10.0 ** rng.uniform(-2, 2), i % 2 == 0) for i in range(4096)])
    for B in (1, 5) if dry else (1, 16, 256, 1024, 4096):
        S = torch.from_numpy(rows[:B]).to(dev)
        beta, ok = bt.bt_fit_fused(S, T)
        ref, ok_t = bt.bt_fit_torch(S, T)
        err = (beta - ref)[ok].abs().max().item() if bool(ok.any()) else float("nan")
        line = dict(
            T=T,
            B=B,
            fused_ms=ms(lambda: bt.bt_fit_fused(S, T)),  # noqa: B023 - called in this iteration
            torch_ms=ms(lambda: bt.bt_fit_torch(S, T)),  # noqa: B023 - called in this iteration
            converged=int(ok.sum()),
            same_set=bool((ok == ok_t).all()),
            max_abs_diff=err,
        )
        print(line, flush=True)
# launch-shape sweep, T = 10 (TP = 16): (BLOCK_B, num_warps)
for B, shapes in ((1, [(1, 1), (1, 2), (1, 4), (1, 8)]), (4096, [(1, 4), (2, 4), (2, 8), (4, 8), (8, 8)])):
    S = torch.from_numpy(np.stack([_counts(rng, 10, 1.0, i % 2 == 0) for i in range(5 if dry else B)])).to(dev)
    for shape in shapes:
        print(dict(T=10, B=B, launch=shape, fused_ms=ms(lambda: bt.bt_fit_fused(S, 10, launch=shape))), flush=True)  # noqa: B023
# a whole one-query sw_ranking router call on the triton backend (B = 1), T = 10
if not dry:
    from fastroute import SWRankingRouter

    from synthetic import synthetic_arena

    cols, emb, _ = synthetic_arena(seed=3, n_battles=20000, n_prompts=5000, dim=256)
    r = SWRankingRouter.from_battles(cols, emb, num_tiers=10, embedder="t", backend="triton")
    q = np.random.default_rng(1).standard_normal((1, 256)).astype(np.float32)
    r.win_rates(embeddings=q)
    ts = []
    for _ in range(200):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        r.win_rates(embeddings=q)
        ts.append(time.perf_counter() - t0)
    print(dict(router_call_B1_ms_median=1e3 * statistics.median(ts)), flush=True)
