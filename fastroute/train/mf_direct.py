"""RouteLLM's matrix factorisation trained directly on per-model correctness: the logit of
model m on prompt e is w . (normalize(P[m]) * (W_proj e)) + b_m, fitted with binary
cross-entropy to whether m answered correctly (instead of RouteLLM's pairwise conversion).
Its sigmoid is P(m is correct on the prompt): a quality on an absolute scale. Used to
cross-validate the direct objective against the pairwise one (fastroute.eval.profile.learned)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DirectMF:
    L: np.ndarray  # [M, d] float32: the collapsed per-model weights, as in MFRouter
    bias: np.ndarray  # [M] float64

    def probability(self, E: np.ndarray) -> np.ndarray:
        """[B, M] P(model m is correct) for embeddings E [B, d]."""
        z = np.asarray(E, np.float32) @ self.L.T + self.bias[None, :]
        return 0.5 * (1.0 + np.tanh(0.5 * z))


def train_mf_direct(
    E: np.ndarray,
    Y: np.ndarray,
    *,
    dim: int = 128,
    alpha: float = 0.1,
    lr: float = 3e-3,
    weight_decay: float = 1e-5,
    batch_size: int = 512,
    max_epochs: int = 40,
    patience: int = 4,
    val_fraction: float = 0.05,
    seed: int = 42,
) -> DirectMF:
    """Fits on prompt embeddings E [N, d] and correctness Y [N, M] in [0, 1] (NaN: unknown,
    left out); early stopping on a held-out share of the prompts."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError("training mf needs torch: pip install 'fastroute[train]'") from exc
    E = np.ascontiguousarray(E, dtype=np.float32)
    Y = np.asarray(Y, dtype=np.float64)
    if E.ndim != 2 or Y.ndim != 2 or Y.shape[0] != E.shape[0] or Y.shape[1] < 1:
        raise ValueError(f"embeddings {E.shape} and correctness {Y.shape} must be [N, d] and [N, M]")
    rng = np.random.default_rng(seed)
    is_val = rng.random(E.shape[0]) < val_fraction
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        M, d = Y.shape[1], E.shape[1]
        P = torch.nn.Parameter(torch.randn(M, dim, generator=gen) * 0.1)
        proj = torch.nn.Linear(d, dim, bias=False)
        w = torch.nn.Parameter(torch.randn(dim, generator=gen) * 0.1)
        b = torch.nn.Parameter(torch.zeros(M))
        params = [P, w, b, *proj.parameters()]
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
        Et, Yt = torch.from_numpy(E), torch.from_numpy(np.nan_to_num(Y).astype(np.float32))
        Mt = torch.from_numpy((~np.isnan(Y)).astype(np.float32))

        def loss_on(idx, noise: bool):
            e = Et[idx] + (alpha * torch.randn(len(idx), d, generator=gen) if noise else 0.0)
            z = (proj(e) @ (torch.nn.functional.normalize(P, dim=1) * w).T) + b
            bce = torch.nn.functional.binary_cross_entropy_with_logits(z, Yt[idx], reduction="none")
            return (bce * Mt[idx]).sum() / Mt[idx].sum().clamp(min=1.0)

        tr, va = torch.from_numpy(np.flatnonzero(~is_val)), torch.from_numpy(np.flatnonzero(is_val))
        best, state, stale = math.inf, None, 0
        for _ in range(max_epochs):
            order = tr[torch.randperm(tr.numel(), generator=gen)]
            for lo in range(0, order.numel(), batch_size):
                loss = loss_on(order[lo : lo + batch_size], True)
                opt.zero_grad()
                loss.backward()
                opt.step()
            with torch.no_grad():
                val = float(loss_on(va if va.numel() else tr, False))
            if val < best - 1e-6:
                best, stale, state = val, 0, [t.detach().clone() for t in params]
            else:
                stale += 1
                if stale >= patience:
                    break
        if state is None:
            raise ValueError("direct mf training diverged: no epoch had a finite validation loss")
        with torch.no_grad():
            for t, saved in zip(params, state):
                t.copy_(saved)
            L = (torch.nn.functional.normalize(P, dim=1) * w) @ proj.weight  # [M, d]
        return DirectMF(L.numpy().astype(np.float32), b.detach().numpy().astype(np.float64))
    finally:
        torch.set_num_threads(threads)
