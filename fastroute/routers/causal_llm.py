"""RouteLLM's causal-LLM classifier router, batched.

The prompt goes into RouteLLM's conversation: its system message, then its classifier
message with the prompt as {question}, rendered by the checkpoint's prompt format. The
model generates up to 6 tokens greedily; the first of the special tokens [[1]]..[[5]]
it emits is its grade. binary_prob = softmax over those five tokens' logits at that
step, summed over grades >= score_threshold (4); win rate = 1 - binary_prob. An answer
with no grade token routes to the strong model (win rate 1; RouteLLM would crash).

RouteLLM's system and classifier texts belong to its checkpoints: they are read from the
checkpoint directory (system_message.txt, classifier_message.txt), not shipped here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..bundle import RESERVED_KEYS
from ..bundle_schema import read_json
from ..errors import BundleError
from ..routellm_models import DEFAULT_STRONG, DEFAULT_WEAK
from .classifier_base import HF_DIR, TextClassifierRouter, checkpoint_dir, load_tokenizer, require_transformers
from .hf_checkpoint import confined_checkpoint, load_model

GRADE_TOKENS = tuple(f"[[{i}]]" for i in range(1, 6))

# Chat formats (RouteLLM's PromptFormat): the system text rides in the first user turn.
PROMPT_FORMATS = {
    "llama-2": {
        "system": "<<SYS>>\n{instruction}\n<</SYS>>\n\n",
        "user": "[INST] {system}{instruction} [/INST]",
        "assistant": " {instruction} </s><s>",
        "system_in_user": True,
    },
    "mistral": {
        "system": "{instruction} + ",
        "user": "[INST] {system}{instruction} [/INST]",
        "assistant": "{instruction}</s> ",
        "system_in_user": True,
    },
}


def render_prompt(fmt: dict, system: "str | None", user_turns: list[str]) -> str:
    """RouteLLM's PromptFormat.generate_prompt for a system message and user turns: user
    text stripped, the system text (as given) inside the first user turn, or before it
    when the format keeps them apart."""
    in_user = fmt.get("system_in_user", True)
    parts = []
    if system and not in_user:
        parts.append(fmt["system"].format(instruction=system.strip()))
    pending = system if in_user else None
    for turn in user_turns:
        sys_text = fmt["system"].format(instruction=pending) if pending is not None else ""
        parts.append(fmt["user"].format(instruction=turn.strip(), system=sys_text))
        pending = None
    return "".join(parts)


class CausalLLMRouter(TextClassifierRouter):
    kind = "causal_llm"

    def __init__(
        self,
        model,
        tokenizer,
        *,
        system_message: str,
        classifier_message: str,
        prompt_format: dict,
        score_threshold: int = 4,
        max_new_tokens: int = 6,
        device: str = "cpu",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if "{question}" not in classifier_message:
            raise BundleError("the classifier message must contain {question}")
        if not 1 <= score_threshold <= 5:
            raise ValueError(f"score_threshold must be in 1..5, got {score_threshold}")
        vocab = tokenizer.get_vocab()
        missing = [t for t in GRADE_TOKENS if t not in vocab]
        if missing:
            raise BundleError(f"the tokenizer lacks RouteLLM's grade tokens {missing}")
        self.grade_ids = np.array([vocab[t] for t in GRADE_TOKENS])
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.tokenizer.padding_side = "left"
        self.tokenizer.truncation_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.system_message, self.classifier_message = system_message, classifier_message
        self.prompt_format = dict(prompt_format)
        self.score_threshold, self.max_new_tokens, self.device = int(score_threshold), int(max_new_tokens), device

    @classmethod
    def from_pretrained(
        cls,
        path: "str | Path",
        strong_model: str = DEFAULT_STRONG,
        weak_model: str = DEFAULT_WEAK,
        *,
        system_message: "str | None" = None,
        classifier_message: "str | None" = None,
        prompt_format: "str | dict | None" = None,
        score_threshold: int = 4,
        device: str = "cpu",
        dtype: "str | None" = None,
        batch_size: int = 8,
        extra_meta: "dict | None" = None,
    ) -> "CausalLLMRouter":
        """Loads a local checkpoint directory. The system and classifier messages come from
        the arguments or the directory's system_message.txt / classifier_message.txt; the
        prompt format from the argument (a preset name or a dict) or prompt_format.json."""
        torch, transformers = require_transformers()
        root = checkpoint_dir(path)

        def text(value, name):
            if value is not None:
                return value
            f = root / name
            if not f.is_file():
                raise BundleError(f"{root}: missing {name} (RouteLLM's {name.split('.')[0].replace('_', ' ')})")
            try:
                return f.read_bytes().decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BundleError(f"{f}: not UTF-8 text (byte offset {exc.start})") from None

        fmt = prompt_format
        if fmt is None:
            f = root / "prompt_format.json"
            fmt = read_json(f, "prompt_format.json") if f.is_file() else "llama-2"
        if isinstance(fmt, str):
            if fmt not in PROMPT_FORMATS:
                raise ValueError(f"unknown prompt format {fmt!r}; known: {sorted(PROMPT_FORMATS)} or a dict")
            fmt = PROMPT_FORMATS[fmt]
        if not isinstance(fmt, dict) or not all(isinstance(fmt.get(k), str) for k in ("system", "user")):
            raise BundleError(
                f"{root}: the prompt format must be a preset name or an object with string 'system' "
                f"and 'user' templates, got {type(fmt).__name__}"
            )
        if dtype is not None and not isinstance(getattr(torch, str(dtype), None), torch.dtype):
            raise ValueError(f"dtype must name a torch dtype such as 'bfloat16', got {dtype!r}")
        kw = {"torch_dtype": getattr(torch, dtype)} if dtype else {}
        model = load_model(transformers.AutoModelForCausalLM, root, "causal language model", **kw)
        tokenizer = load_tokenizer(root)
        return cls(
            model,
            tokenizer,
            system_message=text(system_message, "system_message.txt"),
            classifier_message=text(classifier_message, "classifier_message.txt"),
            prompt_format=fmt,
            score_threshold=score_threshold,
            device=device,
            strong_model=strong_model,
            weak_model=weak_model,
            batch_size=batch_size,
            source=root,
            extra_meta=extra_meta,
        )

    def render(self, prompt: str) -> str:
        return render_prompt(self.prompt_format, self.system_message, [self.classifier_message.format(question=prompt)])

    def _score(self, texts: list[str]) -> np.ndarray:
        torch, _ = require_transformers()
        enc = self.tokenizer(
            [self.render(t) for t in texts], return_tensors="pt", padding=True, add_special_tokens=True
        )
        enc = {k: v.to(self.device) for k, v in enc.items()}
        with torch.inference_mode():
            out = self.model.generate(
                **enc,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                output_scores=True,
                return_dict_in_generate=True,
            )
        new = out.sequences[:, enc["input_ids"].shape[1] :].cpu().numpy()
        scores = torch.stack(out.scores, dim=1).double().cpu().numpy()  # [B, steps, vocab]
        p = np.ones(len(texts))  # no grade token: the strong model (RouteLLM would crash)
        is_grade = np.isin(new, self.grade_ids)
        for i in np.flatnonzero(is_grade.any(axis=1)):
            step = int(np.argmax(is_grade[i]))
            logits = scores[i, step, self.grade_ids]
            z = np.exp(logits - logits.max())
            probs = z / z.sum()
            p[i] = 1.0 - probs[self.score_threshold - 1 :].sum()
        return p

    def _save_checkpoint(self, path: Path) -> None:
        self.model.save_pretrained(str(path), safe_serialization=True)
        self.tokenizer.save_pretrained(str(path))
        (path / "system_message.txt").write_text(self.system_message)
        (path / "classifier_message.txt").write_text(self.classifier_message)
        (path / "prompt_format.json").write_text(json.dumps(self.prompt_format, indent=2))

    def _config(self) -> dict[str, Any]:
        return {"score_threshold": self.score_threshold, "max_new_tokens": self.max_new_tokens}

    @classmethod
    def _from_bundle(
        cls, meta: dict[str, Any], tensors: dict[str, np.ndarray], *, where: str, backend: "str | None" = None
    ) -> "CausalLLMRouter":
        base = {
            "models",
            "strong_model",
            "weak_model",
            "embedder",
            "checkpoint",
            "batch_size",
            "score_threshold",
            "max_new_tokens",
        }
        return cls.from_pretrained(
            confined_checkpoint(where, meta.get("checkpoint", HF_DIR)),
            meta["strong_model"],
            meta["weak_model"],
            score_threshold=int(meta.get("score_threshold", 4)),
            batch_size=int(meta.get("batch_size", 8)),
            extra_meta={k: v for k, v in meta.items() if k not in base | RESERVED_KEYS},
        )
