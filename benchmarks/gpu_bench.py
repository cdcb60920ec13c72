"""GPU benchmarks of the Triton kernels (run by gpu_check.sh on an H100/H200).

mf: decisions/s and achieved GB/s of the fused GEMV + sigmoid; sw_ranking: the statistics
kernel (one pass for the exp weighting, two for RouteLLM's), the Newton solve and the whole
router call at N=165,000 arena prompts, d=1536 and 256, B=1..4096, with achieved TFLOP/s
(medians of repeated runs). Each figure is set beside what the same card gives a plain torch
matmul (8192^3, and the same Q X^T shape) and a device-to-device copy in the same run, and
beside the card's nominal peak.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time

os.environ.setdefault("TRITON_INTERPRET", "0")

import torch  # noqa: E402
import triton.testing  # noqa: E402

NOMINAL = {  # dense fp16/bf16 tensor-core TFLOP/s, HBM TB/s
    "H200": (989.0, 4.8),
    "H100 80GB HBM3": (989.0, 3.35),
    "H100 PCIe": (756.0, 2.0),
    "H100": (989.0, 3.35),
}


def nominal(name: str) -> tuple[float, float]:
    for key, val in NOMINAL.items():
        if key in name:
            return val
    return (float("nan"), float("nan"))


def measured_peaks() -> dict:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    ms = triton.testing.do_bench(lambda: a @ a, warmup=25, rep=200)
    x = torch.empty(2**30, dtype=torch.uint8, device="cuda")
    y = torch.empty_like(x)
    ms_copy = triton.testing.do_bench(lambda: y.copy_(x), warmup=10, rep=100)
    return {"matmul_fp16_tflops": 2 * 8192**3 / ms / 1e9, "copy_tb_per_s": 2 * x.numel() / ms_copy / 1e9}


def emit(results: list, row: dict) -> None:
    """Keeps a result and prints it at once (partial results survive a timeout)."""
    results.append(row)
    print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)


def bench_mf(results: list) -> None:
    from fastroute.ops.triton_backend import kernel_module

    gemv_sigmoid = kernel_module("gemv_sigmoid").gemv_sigmoid

    for d in (256, 1536):
        u = torch.randn(d, device="cuda")
        for B in (1, 4096, 65536, 1 << 20):
            for dtype in (torch.float32, torch.float16):
                E = torch.randn(B, d, device="cuda", dtype=dtype)
                ms = triton.testing.do_bench(lambda: gemv_sigmoid(E, u), warmup=10, rep=100)  # noqa: B023 - called in this iteration
                gbps = (E.numel() * E.element_size() + 4 * B) / ms / 1e6
                emit(
                    results,
                    {
                        "kernel": "mf gemv+sigmoid",
                        "d": d,
                        "B": B,
                        "dtype": str(dtype).split(".")[-1],
                        "ms": ms,
                        "decisions_per_s": B / ms * 1e3,
                        "GB_per_s": gbps,
                    },
                )


def _median_ms(fn, reps: int = 5) -> float:
    """Median over `reps` runs of triton's do_bench (itself a median of many launches)."""
    fn()  # compile / autotune outside the timing
    return statistics.median(triton.testing.do_bench(fn, warmup=5, rep=50) for _ in range(reps))


def bench_sw(
    results: list,
    N: int,
    *,
    device: str = "cuda",
    dims: tuple = (1536, 256),
    batches: tuple = (1, 16, 256, 1024, 4096),
    tiers: int = 10,
    timer=_median_ms,
) -> None:
    """The issue-16 table: the statistics kernel (one pass for exp weighting, two for
    RouteLLM's) beside a plain fp16 matmul of the same shape, the Newton solve, and the
    whole router call (kernel + solve + the betas back on the host), B = 1 .. 4096."""
    from fastroute.ops import triton_backend as tb

    try:  # the C solver where it is built; the image of a bare GPU machine has only the reference
        from fastroute.ops.c_backend import bt_fit as host_fit
    except (ImportError, OSError):
        from fastroute.ops.reference_bt import bt_fit as host_fit

    T = tiers
    K = T * T + 2 * T  # the statistics of T tiers: 120 for RouteLLM's 10
    for d in dims:
        X = torch.nn.functional.normalize(torch.randn(N, d, device=device), dim=1).to(torch.float16)
        A = torch.zeros(N, K, device=device)
        A[torch.arange(N), torch.randint(0, K, (N,), device=device)] = 2.0
        for B in batches:
            Q = torch.randn(B, d, device=device)
            Qh = Q.to(torch.float16)
            ms_matmul = timer(lambda: Qh @ X.T)  # noqa: B023 - called in this iteration
            sw = tb.kernel_module("sw_stats")
            splits = sw._splits(B, N, Q.device)
            per = triton.cdiv(triton.cdiv(N, splits), sw.SPLIT_MULTIPLE) * sw.SPLIT_MULTIPLE
            Qn = sw.normalized_queries(Q, X.dtype)
            two_pass_exp = lambda: sw.two_pass_weighted_stats(Qn, X, A, 10.0, per, triton.cdiv(N, per))  # noqa: E731, B023
            variants = (("exp g=10 (shipped), one pass", 10.0, None), ("exp g=10, two passes", 10.0, two_pass_exp))
            for weighting, g, kernel in (*variants, ("routellm, two passes", None, None)):
                stats = kernel or (lambda: tb.sw_weighted_stats(Q, X, A, g))  # noqa: B023 - called in this iteration
                ms = timer(stats)
                S, _ = stats()
                ms_newton = timer(lambda: tb.bt_fit(S, T))  # noqa: B023 - called in this iteration
                # the host alternative for tiny batches (FASTROUTE_BT_HOST_BELOW): copy, then solve there
                host = lambda: host_fit(S.cpu().numpy(), T)  # noqa: E731, B023 - called in this iteration
                ms_host = timer(host) if B <= 16 else float("nan")
                call = lambda: tb.bt_fit(tb.sw_weighted_stats(Q, X, A, g)[0], T).cpu()  # noqa: E731, B023
                ms_call = timer(call)
                flops = 2 * B * N * d + 2 * B * N * K  # Q X^T once, then W A
                emit(
                    results,
                    {
                        "kernel": "sw stats",
                        "weighting": weighting,
                        "N": N,
                        "d": d,
                        "B": B,
                        "dtype": "float16",
                        "ms": ms,
                        "TFLOP_per_s": flops / ms / 1e9,
                        "matmul_same_shape_ms": ms_matmul,
                        # the time of Q X^T alone as a share of the kernel's (100: as fast as the bare GEMM)
                        "pct_of_matmul_same_shape": 100 * ms_matmul / ms,
                        "newton_ms": ms_newton,
                        "newton_host_ms": ms_host,
                        "router_call_ms": ms_call,
                        "queries_per_s_end_to_end": B / ms_call * 1e3,
                    },
                )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--n", type=int, default=165_000)
    args = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("no CUDA device")
    name = torch.cuda.get_device_name(0)
    peak_tflops, peak_tbps = nominal(name)
    t0 = time.time()
    report = {
        "device": name,
        "torch": torch.__version__,
        "nominal_fp16_tflops": peak_tflops,
        "nominal_hbm_tb_per_s": peak_tbps,
        "measured": measured_peaks(),
        "results": [],
    }
    print(json.dumps({"device": name, "measured": report["measured"]}), flush=True)
    bench_mf(report["results"])
    bench_sw(report["results"], args.n)
    report["seconds"] = time.time() - t0
    for r in report["results"]:
        if "TFLOP_per_s" in r:
            r["pct_of_nominal_fp16_peak"] = 100 * r["TFLOP_per_s"] / peak_tflops
            r["pct_of_measured_matmul"] = 100 * r["TFLOP_per_s"] / report["measured"]["matmul_fp16_tflops"]
        if "GB_per_s" in r:
            r["pct_of_nominal_hbm"] = 100 * r["GB_per_s"] / (1000 * peak_tbps)
            r["pct_of_measured_copy"] = 100 * r["GB_per_s"] / (1000 * report["measured"]["copy_tb_per_s"])
    with open(args.out, "w") as fh:
        json.dump(report, fh, indent=2, default=lambda v: None if isinstance(v, float) and math.isnan(v) else v)
    print(json.dumps({"device": name, "measured": report["measured"], "seconds": round(report["seconds"], 1)}))


if __name__ == "__main__":
    main()
