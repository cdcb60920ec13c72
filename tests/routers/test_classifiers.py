"""bert and causal_llm routers: small checkpoints built by the test in RouteLLM's layouts,
saved, loaded through fastroute, and matched against transformers' own forward pass."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from fastroute import load_router  # noqa: E402
from fastroute.errors import BundleError  # noqa: E402
from fastroute.routers.bert import BERTRouter  # noqa: E402
from fastroute.routers.causal_llm import PROMPT_FORMATS, CausalLLMRouter, render_prompt  # noqa: E402

WORDS = (
    "the a of to and in is what how why write prove explain code python function list sort number prime "
    "poem about sea love history rome french translate sentence capital city question answer please "
    "give me short long essay math integral derivative proof theorem hello hi thanks"
).split()
PROMPTS = [
    "Prove that there are infinitely many primes.",
    "hi",
    "Write a python function to sort a list",
    "What is the capital city of France and why",
    "write a short poem about the sea",
    "explain the history of rome " * 20,
    "",
]


def _bert_dir(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, ".", "?", ","]) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(vocab), model_max_length=64)
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        num_labels=3,
        initializer_range=0.5,
    )  # wide random weights: prompts get different scores
    model = transformers.BertForSequenceClassification(cfg).eval()
    out = tmp_path / "bert_ckpt"
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    return out, model, tok


def test_bert_matches_transformers(tmp_path):
    path, model, tok = _bert_dir(tmp_path)
    router = BERTRouter.from_pretrained(path, batch_size=3)
    got = router.win_rates(PROMPTS)
    want = []
    for p in PROMPTS:  # RouteLLM's way: one prompt at a time
        inputs = tok(p, return_tensors="pt", padding=True, truncation=True)
        with torch.no_grad():
            logits = model(**inputs).logits.numpy()[0].astype(np.float64)
        s = np.exp(logits - logits.max())
        s /= s.sum()
        want.append(1 - s[-2:].sum())
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert np.ptp(got) > 1e-4
    assert router.route(PROMPTS[:2], 0.0) == [router.strong_model] * 2
    with pytest.raises(TypeError, match="prompt texts"):
        router.win_rates(embeddings=np.zeros((1, 4)))
    router.save(tmp_path / "bundle")
    for loaded in (load_router(tmp_path / "bundle"), load_router(path)):  # bundle, or RouteLLM's bare checkpoint
        np.testing.assert_allclose(loaded.win_rates(PROMPTS), got, atol=1e-6)


def test_bert_needs_three_labels(tmp_path):
    path, model, tok = _bert_dir(tmp_path)
    cfg = model.config
    cfg.num_labels = 2
    transformers.BertForSequenceClassification(cfg).save_pretrained(str(tmp_path / "two"), safe_serialization=True)
    tok.save_pretrained(str(tmp_path / "two"))
    with pytest.raises(BundleError, match="3 labels"):
        BERTRouter.from_pretrained(tmp_path / "two")


SYSTEM = "Rate how well a small assistant could answer the question, from 1 to 5, as [[n]]."
CLASSIFIER = "[Question]\n{question}\n\nPrediction:\n"


def _llama_dir(tmp_path, grade_bias=4.0):
    from tokenizers import Tokenizer, models, pre_tokenizers

    vocab = {
        w: i
        for i, w in enumerate(
            [
                "<unk>",
                "<s>",
                "</s>",
                *WORDS,
                ".",
                "?",
                ",",
                "[",
                "]",
                "<<SYS>>",
                "<</SYS>>",
                "[INST]",
                "[/INST]",
                "Prediction",
                ":",
                "Question",
                "1",
                "5",
                "n",
                "as",
                "from",
                "Rate",
                "well",
                "small",
                "assistant",
                "could",
                "answer",
                "question",
                "Prove",
                "that",
                "there",
                "are",
                "infinitely",
                "many",
                "primes",
                "Write",
                "What",
                "France",
            ]
        )
    }
    tk = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tk, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tok.add_tokens([f"[[{i}]]" for i in range(1, 6)], special_tokens=True)
    torch.manual_seed(1)
    cfg = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    model = transformers.LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # make the grade tokens likely, but not certain, within a few steps
        model.lm_head.weight[-5:] *= grade_bias
    out = tmp_path / "llama_ckpt"
    model.save_pretrained(str(out), safe_serialization=True)
    tok.save_pretrained(str(out))
    (out / "system_message.txt").write_text(SYSTEM)
    (out / "classifier_message.txt").write_text(CLASSIFIER)
    return out, model, tok


def _routellm_causal(model, tok, prompt, threshold=4):
    """RouteLLM's CausalLLMClassifier call for one prompt (unbatched greedy generate)."""
    text = render_prompt(PROMPT_FORMATS["llama-2"], SYSTEM, [CLASSIFIER.format(question=prompt)])
    ids = torch.tensor([tok.encode(text)])
    with torch.no_grad():
        out = model.generate(
            ids,
            max_new_tokens=6,
            do_sample=False,
            pad_token_id=tok.eos_token_id,
            output_scores=True,
            return_dict_in_generate=True,
        )
    new = out.sequences[0, ids.shape[1] :]
    orig = len(tok) - 5
    idx = next((i for i, x in enumerate(new) if x >= orig), None)
    if idx is None:
        return 1.0  # invalid output: the strong model
    logits = out.scores[idx][0][orig:].double().numpy()
    s = np.exp(logits - logits.max())
    s /= s.sum()
    return 1.0 - s[threshold - 1 :].sum()


def test_causal_llm_matches_transformers(tmp_path):
    path, model, tok = _llama_dir(tmp_path)
    router = CausalLLMRouter.from_pretrained(path, batch_size=4)
    got = router.win_rates(PROMPTS)
    want = [_routellm_causal(model, tok, p) for p in PROMPTS]
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert any(w < 1.0 for w in want), "some prompts must get a grade"
    router.save(tmp_path / "bundle")
    np.testing.assert_allclose(load_router(tmp_path / "bundle").win_rates(PROMPTS), got, atol=1e-6)


def test_causal_llm_invalid_output_routes_strong(tmp_path):
    path, model, tok = _llama_dir(tmp_path, grade_bias=0.0)  # grade tokens never win
    router = CausalLLMRouter.from_pretrained(path)
    np.testing.assert_array_equal(router.win_rates(PROMPTS[:3]), 1.0)
    assert router.route(PROMPTS[:1], 0.99) == [router.strong_model]


def test_causal_llm_checks(tmp_path):
    path, _, _ = _llama_dir(tmp_path)
    (path / "system_message.txt").unlink()
    with pytest.raises(BundleError, match="system_message.txt"):
        CausalLLMRouter.from_pretrained(path)
    with pytest.raises(ValueError, match="score_threshold"):
        CausalLLMRouter.from_pretrained(path, system_message="s", score_threshold=9)
    with pytest.raises(BundleError, match="no default 'bert'"):
        load_router("bert")


def test_train_bert_on_a_small_encoder(tmp_path):
    from fastroute.data.battles import BattleTable
    from fastroute.train.bert import BertTrainConfig, bert_labels, train_bert

    base, _, _ = _bert_dir(tmp_path)
    rng = np.random.default_rng(0)
    models = ["gpt-4-1106-preview", "mixtral-8x7b-instruct-v0.1", "m2"]
    p, a, b, w = [], [], [], []
    for i in range(240):
        hard = i % 2 == 0
        x, y = rng.choice(3, 2, replace=False)
        p.append(("prove the theorem about prime number " if hard else "hi hello thanks ") + str(i % 7))
        a.append(models[x]), b.append(models[y])
        stronger_a = x < y
        r = rng.random()
        w.append("tie" if r < 0.2 else ("model_a" if (stronger_a == (hard or r < 0.4)) else "model_b"))
    battles = BattleTable(p, a, b, w)
    prompts, labels = bert_labels(battles)
    assert len(prompts) == 240 and set(labels) == {0, 1, 2}
    router = train_bert(
        battles,
        base,
        strong_model=models[0],
        weak_model=models[1],
        config=BertTrainConfig(epochs=3, batch_size=16, val_fraction=0.2, lr=1e-3),
        verbose=False,
    )
    hist = router.extra_meta["training"]["history"]
    assert len(hist) == 3 and all(np.isfinite(h["val_loss"]) for h in hist)
    router.save(tmp_path / "trained")
    again = load_router(tmp_path / "trained")
    texts = ["prove the theorem about prime number 3", "hi hello thanks 3"]
    np.testing.assert_allclose(again.win_rates(texts), router.win_rates(texts), atol=1e-6)


# -- what is loaded how: safetensors, or torch.load(weights_only=True); never a pickle ------
class _Evil:
    """Unpickling this creates `path`: the proof that a pickle ran."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _to_bin(path, model, payload=None):
    """RouteLLM's older layout: config.json + pytorch_model.bin (no safetensors)."""
    torch.save(model.state_dict() if payload is None else payload, str(path / "pytorch_model.bin"))
    (path / "model.safetensors").unlink(missing_ok=True)


def test_bert_bin_checkpoint_loads_weights_only(tmp_path):
    path, model, _ = _bert_dir(tmp_path)
    want = BERTRouter.from_pretrained(path).win_rates(PROMPTS)
    _to_bin(path, model)
    np.testing.assert_allclose(BERTRouter.from_pretrained(path).win_rates(PROMPTS), want, atol=1e-6)
    np.testing.assert_allclose(load_router(path).win_rates(PROMPTS), want, atol=1e-6)


@pytest.mark.parametrize("kind", ["bert", "causal_llm"])
def test_pickle_in_checkpoint_is_refused(tmp_path, kind):
    marker = tmp_path / "pwned"
    path, model, _ = _bert_dir(tmp_path) if kind == "bert" else _llama_dir(tmp_path)
    _to_bin(path, model, payload={"weight": _Evil(marker)})
    cls = BERTRouter if kind == "bert" else CausalLLMRouter
    with pytest.raises(BundleError, match=r"pytorch_model.bin: not loadable with torch.load\(weights_only=True\)"):
        cls.from_pretrained(path)
    with pytest.raises(BundleError, match="weights_only=True"):
        load_router(path)
    assert not marker.exists()


def test_bin_that_is_not_a_state_dict(tmp_path):
    path, model, _ = _bert_dir(tmp_path)
    _to_bin(path, model, payload=[torch.zeros(3)])
    with pytest.raises(BundleError, match="expected a state dict of tensors, got list"):
        BERTRouter.from_pretrained(path)
    _to_bin(path, model, payload={"bert.pooler.dense.bias": torch.zeros(32)})
    with pytest.raises(BundleError, match=r"pytorch_model.bin: lacks weights \["):
        BERTRouter.from_pretrained(path)


def test_safetensors_preferred_over_a_pickle(tmp_path):
    """With model.safetensors present the .bin beside it is never opened."""
    marker = tmp_path / "pwned"
    path, _, _ = _bert_dir(tmp_path)
    torch.save({"weight": _Evil(marker)}, str(path / "pytorch_model.bin"))
    assert BERTRouter.from_pretrained(path).win_rates(PROMPTS[:2]).shape == (2,)
    assert not marker.exists()


def test_config_may_not_redirect_weights(tmp_path):
    import json

    path, _, _ = _bert_dir(tmp_path)
    cfg = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps(dict(cfg, transformers_weights="adapter_model.bin")))
    with pytest.raises(BundleError, match="transformers_weights"):
        BERTRouter.from_pretrained(path)


def test_checkpoint_errors_are_bundle_errors(tmp_path):
    path, _, _ = _bert_dir(tmp_path)
    (path / "config.json").write_text("[" * 100000 + "]" * 100000)
    with pytest.raises(BundleError, match="nested too deeply"):
        load_router(path)
    (path / "config.json").write_text('{"architectures": ["BertForSequenceClassification"], "model_type": "nope"}')
    with pytest.raises(BundleError, match="config"):
        load_router(path)


def test_causal_llm_side_files_are_checked(tmp_path):
    path, _, _ = _llama_dir(tmp_path)
    (path / "prompt_format.json").write_text("[1, 2]")
    with pytest.raises(BundleError, match="prompt format must be a preset name or an object"):
        CausalLLMRouter.from_pretrained(path)
    (path / "prompt_format.json").unlink()
    (path / "system_message.txt").write_bytes(b"bad \xff byte")
    with pytest.raises(BundleError, match=r"system_message.txt: not UTF-8 text \(byte offset 4\)"):
        CausalLLMRouter.from_pretrained(path)
