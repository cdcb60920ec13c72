"""mf scoring on the GPU: p = sigmoid(E u + bias), one pass over E (memory-bound), fp32 accumulation."""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .config import interpreting, on_device


@triton.jit
def _gemv_sigmoid_kernel(E, u, out, B, D, stride_e, bias, BLOCK_B: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_B + tl.arange(0, BLOCK_B)
    acc = tl.zeros([BLOCK_B], dtype=tl.float32)
    e_rows = E + rows.to(tl.int64)[:, None] * stride_e  # int64: B * D may pass 2^31
    for d0 in range(0, D, BLOCK_D):
        cols = d0 + tl.arange(0, BLOCK_D)
        e = tl.load(e_rows + cols[None, :], mask=(rows[:, None] < B) & (cols[None, :] < D), other=0.0).to(tl.float32)
        w = tl.load(u + cols, mask=cols < D, other=0.0).to(tl.float32)
        acc += tl.sum(e * w[None, :], axis=1)
    tl.store(out + rows, tl.sigmoid(acc + bias), mask=rows < B)


def gemv_sigmoid(E: torch.Tensor, u: torch.Tensor, bias: float = 0.0) -> torch.Tensor:
    """[B] float32 sigmoid(E u + bias) for E [B, D] (fp32/fp16/bf16, unit inner stride), u [D]."""
    if E.ndim != 2 or u.shape != (E.shape[1],):
        raise ValueError(f"E {tuple(E.shape)} and u {tuple(u.shape)} do not match")
    if E.stride(1) != 1:
        E = E.contiguous()
    B, D = E.shape
    out = torch.empty(B, dtype=torch.float32, device=E.device)
    if B == 0:
        return out
    block_b = 16 if interpreting() else 64
    block_d = 64 if interpreting() else 128
    grid = (triton.cdiv(B, block_b),)
    with on_device(E):
        _gemv_sigmoid_kernel[grid](
            E,
            u.to(device=E.device, dtype=torch.float32).contiguous(),
            out,
            B,
            D,
            E.stride(0),
            float(bias),
            BLOCK_B=block_b,
            BLOCK_D=block_d,
        )
    return out
