"""Trains RouteLLM's matrix-factorisation router (torch; the `train` extra).

RouteLLM's objective: for a battle (a, b) on prompt embedding e,
    logit = w . ((normalize(P[a]) - normalize(P[b])) * W_proj (e + alpha * noise))
with a logistic loss against P(a wins), Adam with weight decay, Gaussian noise on
the prompt embedding. Here the label may be soft (AlpacaEval's weighted judge),
ties are dropped as RouteLLM does (or kept at 1/2 with ties="half"), a
validation split of the prompts stops training early, and everything is seeded
(single-threaded torch, deterministic algorithms) so a rebuild gives the same
weights. The result is an MFRouter that the core loads without torch.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ..data.battles import BattleTable
from ..embedders.base import EmbedderSpec
from ..progress import Progress
from .embed_prompts import embed, split_prompts, unique_prompts


@dataclass
class MFTrainConfig:
    dim: int = 128
    use_proj: bool = True
    alpha: float = 0.1  # noise on the prompt embedding (RouteLLM's example uses 0.1)
    lr: float = 3e-3
    weight_decay: float = 1e-5
    batch_size: int = 512
    max_epochs: int = 40
    patience: int = 4
    val_fraction: float = 0.05
    ties: str = "drop"  # "drop" (RouteLLM) or "half"
    seed: int = 42


def train_mf(
    battles: BattleTable,
    embedder,
    *,
    strong_model: str,
    weak_model: str,
    config: "MFTrainConfig | None" = None,
    prompt_embeddings: "np.ndarray | None" = None,
    extra_meta: "dict | None" = None,
    verbose: bool = True,
):
    """An MFRouter trained on `battles`; `prompt_embeddings` may give the distinct prompts' embeddings."""
    try:
        import torch
    except ImportError as exc:
        raise ImportError("training the mf router needs torch: pip install 'fastroute[train]'") from exc
    from ..routers.mf import MFRouter

    cfg = config or MFTrainConfig()
    if cfg.ties not in ("drop", "half"):
        raise ValueError(f"ties must be 'drop' or 'half', got {cfg.ties!r}")
    prompts, pid = unique_prompts(battles)
    E = prompt_embeddings if prompt_embeddings is not None else embed(prompts, embedder)
    if E.shape != (len(prompts), embedder.dim):
        raise ValueError(f"prompt embeddings have shape {E.shape}, expected ({len(prompts)}, {embedder.dim})")
    models = battles.models()
    for m in (strong_model, weak_model):
        if m not in models:
            from ..errors import UnknownModelError

            raise UnknownModelError(m, models)
    mid = {m: i for i, m in enumerate(models)}
    a = np.array([mid[m] for m in battles.model_a])
    b = np.array([mid[m] for m in battles.model_b])
    y = battles.labels
    keep = a != b
    if cfg.ties == "drop":
        keep &= y != 0.5
    a, b, y, pid = a[keep], b[keep], y[keep], pid[keep]
    val_prompt = split_prompts(len(prompts), cfg.val_fraction, cfg.seed)
    is_val = val_prompt[pid]

    torch.manual_seed(cfg.seed)
    torch.use_deterministic_algorithms(True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # bitwise-reproducible reductions
    bar = Progress(cfg.max_epochs, "train mf", unit="epochs", enabled=None if verbose else False)
    try:
        gen = torch.Generator().manual_seed(cfg.seed)
        d = E.shape[1]
        P = torch.nn.Embedding(len(models), cfg.dim)
        proj = torch.nn.Linear(d, cfg.dim, bias=False) if cfg.use_proj else None
        if not cfg.use_proj and d != cfg.dim:
            raise ValueError(f"without a projection dim must equal the embedding width {d}")
        clf = torch.nn.Linear(cfg.dim, 1, bias=False)
        params = list(P.parameters()) + list(clf.parameters()) + (list(proj.parameters()) if proj else [])
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        Et = torch.from_numpy(np.ascontiguousarray(E, dtype=np.float32))
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        ty, tp = torch.from_numpy(y.astype(np.float32)), torch.from_numpy(pid)
        tr_idx = torch.from_numpy(np.flatnonzero(~is_val))
        va_idx = torch.from_numpy(np.flatnonzero(is_val))
        loss_fn = torch.nn.BCEWithLogitsLoss()

        def logits(idx, noise: bool):
            e = Et[tp[idx]]
            if noise:
                e = e + cfg.alpha * torch.randn(e.shape, generator=gen)
            h = proj(e) if proj is not None else e
            pa = torch.nn.functional.normalize(P(ta[idx]), p=2, dim=1)
            pb = torch.nn.functional.normalize(P(tb[idx]), p=2, dim=1)
            return clf((pa - pb) * h).squeeze(-1)

        best, best_state, stale, history = math.inf, None, 0, []
        for epoch in range(1, cfg.max_epochs + 1):
            order = tr_idx[torch.randperm(tr_idx.numel(), generator=gen)]
            total = 0.0
            for lo in range(0, order.numel(), cfg.batch_size):
                idx = order[lo : lo + cfg.batch_size]
                loss = loss_fn(logits(idx, True), ty[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                total += float(loss.detach()) * idx.numel()
            with torch.no_grad():
                val = float(loss_fn(logits(va_idx, False), ty[va_idx])) if va_idx.numel() else total
                acc = (
                    float(((logits(va_idx, False) > 0).float() == (ty[va_idx] > 0.5).float()).float().mean())
                    if va_idx.numel()
                    else float("nan")
                )
            history.append(
                {"epoch": epoch, "train_loss": total / max(1, tr_idx.numel()), "val_loss": val, "val_acc": acc}
            )
            bar.update(note=f"val loss {val:.4f}, acc {acc:.3f}")
            if val < best - 1e-6:
                best, stale = val, 0
                best_state = ([t.detach().clone() for t in params], epoch)
            else:
                stale += 1
                if stale >= cfg.patience:
                    bar.update(0, note=f"stopped early: best val loss {best:.4f}")
                    break
        bar.close()  # early stopping may end before max_epochs
        if best_state is None:  # every validation loss was NaN: diverged, or the data has no signal
            raise ValueError(
                "mf training diverged: no epoch had a finite validation loss (try a lower --lr, "
                "and check the battles for NaN soft labels)"
            )
        with torch.no_grad():
            for t, saved in zip(params, best_state[0]):
                t.copy_(saved)
        P_np = P.weight.detach().numpy().astype(np.float64)
        clf_np = clf.weight.detach().numpy()[0].astype(np.float64)
        proj_np = proj.weight.detach().numpy().astype(np.float64) if proj is not None else None
    finally:
        bar.close()
        torch.set_num_threads(threads)
    meta = {
        "training": {
            "config": asdict(cfg),
            "battles_used": int(keep.sum()),
            "prompts": len(prompts),
            "best_epoch": best_state[1],
            "best_val_loss": best,
            "history": history,
        }
    }
    meta |= extra_meta or {}
    return MFRouter(
        P=P_np,
        classifier=clf_np,
        text_proj=proj_np,
        models=models,
        strong_model=strong_model,
        weak_model=weak_model,
        embedder=EmbedderSpec.of(embedder),
        extra_meta=meta,
    )
