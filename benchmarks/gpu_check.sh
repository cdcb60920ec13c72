#!/usr/bin/env bash
# GPU check for an H100/H200 machine (the device tool's `run`), meant to finish in about
# 7 minutes: runs the Triton kernel tests compiled for the GPU (not interpreted: the fused
# Newton solve, the one-pass and two-pass statistics kernels; FAISS GPU where installed), the
# shipped routers' Triton-vs-numpy parity (<= 1e-6) and the GPU benchmarks (issue 16's table:
# medians of repeated runs), and writes everything under $OUT (or benchmarks/gpu_results/).
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
FASTROUTE_TRITON_AUTOTUNE=0 timeout 180 python3 -m pytest -v -p no:cacheprovider \
  tests/kernels/test_triton_kernels.py tests/kernels/test_triton_bt_fit.py tests/kernels/test_triton_sw_online.py tests/sw/test_ivf_faiss_gpu.py \
  2>&1 | tee "$DEST/tests.log"
tests=${PIPESTATUS[0]}
timeout 60 python3 benchmarks/gpu_parity.py 2>&1 | tee "$DEST/parity.log"
parity=${PIPESTATUS[0]}
timeout 120 python3 benchmarks/gpu_bt_fit.py 2>&1 | tee "$DEST/bt_fit.log"
timeout 240 python3 benchmarks/gpu_bench.py --out "$DEST/gpu_bench.json" 2>&1 | tee "$DEST/bench.log"
bench=${PIPESTATUS[0]}
echo "tests exit $tests, parity exit $parity, benchmarks exit $bench"
exit $(( tests != 0 || parity != 0 || bench != 0 ))
