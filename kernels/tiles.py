"""The tile every similarity kernel is built on: one [BLOCK_B, BLOCK_N] block of Q X^T."""

from __future__ import annotations

import triton
import triton.language as tl

if not __name__.startswith("fastroute.kernels."):  # kernels/ is no top-level package (kernels/README.md)
    raise ImportError(
        f"{__name__}: fastroute's Triton kernels load as fastroute.kernels (fastroute.ops.triton_backend.kernel_module)"
    )


@triton.jit
def tile_dot(
    Q,
    X,
    rb,
    rn,
    B,
    N,
    D,
    sq,
    sx,
    BLOCK_B: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    IEEE: tl.constexpr,
):
    """Rows rb of Q against rows rn of X, accumulated over D in float32 (masked edges read 0).

    IEEE: float32 arenas multiply in full float32; left to itself, tl.dot rounds float32
    inputs to TF32 on tensor cores (10-bit mantissa, ~1e-3 error in a cosine)."""
    acc = tl.zeros([BLOCK_B, BLOCK_N], dtype=tl.float32)
    # Row offsets in int64: rows * stride passes 2^31 elements in arenas of a few GB.
    q_rows = Q + rb.to(tl.int64)[:, None] * sq
    x_rows = X + rn.to(tl.int64)[:, None] * sx
    for d0 in range(0, D, BLOCK_D):
        rd = d0 + tl.arange(0, BLOCK_D)
        q = tl.load(q_rows + rd[None, :], mask=(rb[:, None] < B) & (rd[None, :] < D), other=0.0)
        x = tl.load(x_rows + rd[None, :], mask=(rn[:, None] < N) & (rd[None, :] < D), other=0.0)
        if IEEE:
            acc += tl.dot(q, tl.trans(x), input_precision="ieee")
        else:
            acc += tl.dot(q, tl.trans(x))
    return acc
