"""Cosine similarities Q X^T on the GPU, tiled with tl.dot (tensor cores for fp16/bf16 arenas)."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .config import interpreting, on_device
from .tiles import tile_dot


@triton.jit
def _cosine_kernel(
    Q,
    X,
    Out,
    B,
    N,
    D,
    sq,
    sx,
    so,
    BLOCK_B: tl.constexpr,
    BLOCK_N: tl.constexpr,
    BLOCK_D: tl.constexpr,
    IEEE: tl.constexpr,
):
    rb = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    acc = tile_dot(Q, X, rb, rn, B, N, D, sq, sx, BLOCK_B, BLOCK_N, BLOCK_D, IEEE)
    tl.store(Out + rb.to(tl.int64)[:, None] * so + rn[None, :], acc, mask=(rb[:, None] < B) & (rn[None, :] < N))


def normalized_queries(Q: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Unit rows (norms in fp32; zero rows stay zero), in the arena's dtype for tl.dot."""
    q = Q.to(torch.float32)
    n = torch.linalg.vector_norm(q, dim=1, keepdim=True)
    return torch.where(n > 0, q / torch.where(n > 0, n, 1.0), 0.0).to(dtype).contiguous()


def blocks() -> tuple[int, int, int]:
    return (16, 16, 16) if interpreting() else (64, 128, 64)


def cosine_sim(Q: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """[B, N] float32 similarities of Q's unit rows with X's (already unit) rows."""
    if Q.ndim != 2 or X.ndim != 2 or Q.shape[1] != X.shape[1]:
        raise ValueError(f"queries {tuple(Q.shape)} and arena {tuple(X.shape)} do not match")
    Xc = X if X.stride(1) == 1 else X.contiguous()
    Qn = normalized_queries(Q, Xc.dtype)
    B, N = Qn.shape[0], Xc.shape[0]
    out = torch.empty((B, N), dtype=torch.float32, device=Q.device)
    if B and N:
        bb, bn, bd = blocks()
        grid = (triton.cdiv(B, bb), triton.cdiv(N, bn))
        with on_device(Q):
            _cosine_kernel[grid](
                Qn,
                Xc,
                out,
                B,
                N,
                Qn.shape[1],
                Qn.stride(0),
                Xc.stride(0),
                out.stride(0),
                BLOCK_B=bb,
                BLOCK_N=bn,
                BLOCK_D=bd,
                IEEE=Xc.dtype == torch.float32,
            )
    return out
