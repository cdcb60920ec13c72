"""Batch-scoring throughput side by side, in one run: in-process `fastroute score` (the C kernels
on every core, and on one thread for the per-core rate) beside `fastroute score --ray` with 1 and
2 workers on a local Ray, on the same MMLU prompts split into parquet shards.

Each figure is prompts/s over the whole command's work (read, router load, embed, score, write;
for Ray also the actors' start), the median of --runs runs. The Ray runs' win rates are checked
to equal the in-process ones bit for bit. On a 2-core machine the ceiling is the in-process
figure: the kernels and OpenBLAS already use both cores, so Ray can at best match it; Ray's use
is more machines. `python benchmarks/ray_batch_score.py [--prompts N] [--runs R] [--json OUT]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MMLU = ROOT.parent / "shared" / "data" / "routellm" / "mmlu" / "responses"
IN_PROCESS = (
    "import sys, time; from fastroute.cli import main; t = time.perf_counter(); "
    "assert main(sys.argv[1:]) == 0; print(time.perf_counter() - t)"
)


def write_inputs(root: Path, n: int, shards: int) -> None:
    """n MMLU prompts (cycled when n is larger than the set) as one parquet file and as shards."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fastroute.data.correctness import read_mmlu_dir

    prompts = read_mmlu_dir(MMLU)[0]
    rows = {"id": list(range(n)), "prompt": [prompts[i % len(prompts)] for i in range(n)]}
    pq.write_table(pa.table(rows), root / "all.parquet")
    (root / "shards").mkdir()
    step = -(-n // shards)
    for k in range(shards):
        lo, hi = k * step, min(n, (k + 1) * step)
        pq.write_table(pa.table({c: v[lo:hi] for c, v in rows.items()}), root / "shards" / f"part-{k:03d}.parquet")


def in_process(root: Path, out: Path, router: str, threads: "str | None") -> float:
    env = {**os.environ, "FASTROUTE_PROGRESS": "0"}
    if threads is not None:
        env["FASTROUTE_NUM_THREADS"] = threads
    argv = ["score", "--router", router, "--input", str(root / "all.parquet"), "--output", str(out)]
    proc = subprocess.run([sys.executable, "-c", IN_PROCESS, *argv], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return float(proc.stdout.strip().splitlines()[-1])


def on_ray(root: Path, out: Path, router: str, workers: int) -> float:
    from fastroute.cluster.batch_score import score_files

    t = time.perf_counter()
    score_files(root / "shards", out, router, workers=workers)
    return time.perf_counter() - t


def win_rates(path: Path) -> list:
    import pyarrow.parquet as pq

    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    return [x for f in files for x in pq.read_table(f, columns=["win_rate"])["win_rate"].to_pylist()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=20_000, help="prompts scored per run")
    ap.add_argument("--runs", type=int, default=3, help="runs per configuration (the median is reported)")
    ap.add_argument("--router", default="sw_ranking", help="router name")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = ap.parse_args()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # no token written to ~/.ray for a throwaway local Ray
    import ray

    ray.init(num_cpus=os.cpu_count(), include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False)
    configs = {
        "in-process (all cores)": lambda root, out: in_process(root, out, args.router, None),
        "in-process, FASTROUTE_NUM_THREADS=1": lambda root, out: in_process(root, out, args.router, "1"),
        "ray, 1 worker": lambda root, out: on_ray(root, out, args.router, 1),
        "ray, 2 workers": lambda root, out: on_ray(root, out, args.router, 2),
    }
    times: dict[str, list[float]] = {k: [] for k in configs}
    exact = True
    with tempfile.TemporaryDirectory(prefix="fr-ray-bench-") as tmp:
        root = Path(tmp)
        write_inputs(root, args.prompts, shards=4)
        for run in range(args.runs):  # interleaved, so drift in the VM's speed hits every row alike
            for i, (k, fn) in enumerate(configs.items()):
                out = root / (f"out-{run}-{i}" + (".parquet" if k.startswith("in-process") else ""))
                times[k].append(fn(root, out))
                if k.startswith("ray"):  # against the first in-process run's output
                    exact &= win_rates(out) == win_rates(root / f"out-{run}-0.parquet")
    ray.shutdown()
    rows = {
        k: {"median_s": statistics.median(v), "prompts_per_s": args.prompts / statistics.median(v), "runs_s": v}
        for k, v in times.items()
    }
    result = {
        "router": args.router,
        "prompts": args.prompts,
        "runs": args.runs,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "ray": ray.__version__,
        "ray_equals_in_process_bit_for_bit": exact,
        "results": rows,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
