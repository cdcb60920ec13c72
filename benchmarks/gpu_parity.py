"""GPU parity of the shipped default routers: win rates on the Triton backend against the
numpy reference, on real prompts (run by hand or after gpu_check.sh on an H100/H200)."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("TRITON_INTERPRET", "0")

import numpy as np  # noqa: E402

from fastroute import load_router  # noqa: E402

PROMPTS = [
    "Prove that there are infinitely many primes.",
    "hi",
    "Write a haiku about autumn.",
    "Implement quicksort in Rust and explain its complexity.",
    "What is the capital of France?",
] * 20


def main() -> int:
    worst = {}
    for name in ("sw_ranking", "mf"):
        ref = load_router(name, backend="numpy").win_rates(PROMPTS)
        gpu = load_router(name, backend="triton").win_rates(PROMPTS)
        worst[name] = float(np.max(np.abs(gpu - ref)))
    print(json.dumps({"max_abs_win_rate_difference": worst}))
    return 0 if all(v < 1e-4 for v in worst.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
