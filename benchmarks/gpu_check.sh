#!/usr/bin/env bash
# GPU check for an H100/H200 machine (the device tool's `run`), meant to finish in under
# 5 minutes: runs the Triton kernel tests compiled for the GPU (not interpreted), the shipped
# routers' Triton-vs-numpy parity and the GPU benchmarks, and writes everything under $OUT
# (or benchmarks/gpu_results/).
#
# Nothing can be installed there (no network): it uses the image's python3 (torch,
# triton, numpy, tokenizers, safetensors, pytest) and this checkout on PYTHONPATH; the
# C kernels are not built there (the numpy reference stands in for them).
set -uo pipefail
cd "$(dirname "$0")/.."
DEST=${OUT:-benchmarks/gpu_results}
mkdir -p "$DEST"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" TRITON_INTERPRET=0 PYTHONUNBUFFERED=1
{ nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; \
  python3 -c "import torch, triton; print('torch', torch.__version__, 'triton', triton.__version__)"; } > "$DEST/env.txt" 2>&1
cat "$DEST/env.txt"
# One compile per shape in the tests (autotuning every shape's configs takes minutes).
FASTROUTE_TRITON_AUTOTUNE=0 timeout 120 python3 -m pytest tests/test_triton_kernels.py -v -p no:cacheprovider \
  2>&1 | tee "$DEST/tests.log"
tests=${PIPESTATUS[0]}
timeout 60 python3 benchmarks/gpu_parity.py 2>&1 | tee "$DEST/parity.log"
parity=${PIPESTATUS[0]}
timeout 200 python3 benchmarks/gpu_bench.py --out "$DEST/gpu_bench.json" 2>&1 | tee "$DEST/bench.log"
bench=${PIPESTATUS[0]}
echo "tests exit $tests, parity exit $parity, benchmarks exit $bench"
exit $(( tests != 0 || parity != 0 || bench != 0 ))
