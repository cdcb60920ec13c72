"""Text to decision, one prompt per call: the native engine's C API (benchmarks/
native_text_to_decision.c, compiled here) beside the Python API (load_router(...).win_rates([p])
then decide), on the same MMLU prompts in one run, with the engine's memory.

    python benchmarks/native_bench.py [--prompts N] [--reps R] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))


def c_bench(kind: str, prompts: list[str], reps: int) -> dict:
    import fastroute.native as native
    from fastroute.embedders.static import MODEL_DIR
    from fastroute.loader import default_bundle_dir

    lib = native.library_path().parent
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "bench"
        cc = shutil.which("gcc") or "cc"
        subprocess.run([cc, "-O2", f"-I{ROOT / 'csrc'}", str(HERE / "native_text_to_decision.c"), f"-L{lib}",
                        "-l:libfastroute.so", f"-Wl,-rpath,{lib}", "-o", str(exe)], check=True)  # fmt: skip
        out = subprocess.run([str(exe), str(default_bundle_dir(kind)), str(MODEL_DIR), str(reps)],
                             input="\n".join(prompts) + "\n", capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout)


def python_bench(kind: str, prompts: list[str], reps: int) -> dict:
    from fastroute import load_router

    router = load_router(kind)
    t = router.threshold_for(0.5)
    router.decide(router.win_rates(prompts[:8]), t)  # warm
    times = []
    for _ in range(reps):
        for p in prompts:
            t0 = time.perf_counter()
            router.decide(router.win_rates([p]), t)
            times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    return {"median_us": statistics.median(times), "p99_us": times[int(len(times) * 0.99)], "calls": len(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=500)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from side_by_side import machine

    from fastroute.eval.pair.benchmarks import load_mmlu

    prompts = [
        p.replace("\n", " ") for p in load_mmlu(ROOT.parent / "shared" / "data" / "routellm" / "mmlu", "eval").prompts
    ]
    prompts = prompts[: args.prompts]
    rows = []
    for kind in ("mf", "sw_ranking"):
        for _ in range(2):  # interleaved: C, Python, C, Python
            rows.append({"router": kind, "api": "C", **c_bench(kind, prompts, args.reps)})
            rows.append({"router": kind, "api": "Python", **python_bench(kind, prompts, args.reps)})
    print(f"{machine()}\n")
    print("| router | API | median µs | p99 µs | calls | engine memory |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        mem = (
            f"{r['rss_engine_kb'] / 1024:.1f} MiB + {r['scratch_bytes'] / 1024:.0f} KiB scratch"
            if "rss_engine_kb" in r
            else "—"
        )
        print(f"| {r['router']} | {r['api']} | {r['median_us']:.1f} | {r['p99_us']:.1f} | {r['calls']} | {mem} |")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
