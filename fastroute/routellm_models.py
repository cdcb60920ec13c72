"""RouteLLM's model vocabulary: the 64 model ids of its MF checkpoints and its default pair."""

from __future__ import annotations

# Row order of P in RouteLLM's matrix-factorisation checkpoints (routellm MODEL_IDS).
ROUTELLM_MODELS: tuple[str, ...] = (
    "RWKV-4-Raven-14B",
    "alpaca-13b",
    "chatglm-6b",
    "chatglm2-6b",
    "chatglm3-6b",
    "claude-1",
    "claude-2.0",
    "claude-2.1",
    "claude-instant-1",
    "codellama-34b-instruct",
    "deepseek-llm-67b-chat",
    "dolly-v2-12b",
    "dolphin-2.2.1-mistral-7b",
    "falcon-180b-chat",
    "fastchat-t5-3b",
    "gemini-pro",
    "gemini-pro-dev-api",
    "gpt-3.5-turbo-0125",
    "gpt-3.5-turbo-0314",
    "gpt-3.5-turbo-0613",
    "gpt-3.5-turbo-1106",
    "gpt-4-0125-preview",
    "gpt-4-0314",
    "gpt-4-0613",
    "gpt-4-1106-preview",
    "gpt4all-13b-snoozy",
    "guanaco-33b",
    "koala-13b",
    "llama-13b",
    "llama-2-13b-chat",
    "llama-2-70b-chat",
    "llama-2-7b-chat",
    "llama2-70b-steerlm-chat",
    "mistral-7b-instruct",
    "mistral-7b-instruct-v0.2",
    "mistral-medium",
    "mixtral-8x7b-instruct-v0.1",
    "mpt-30b-chat",
    "mpt-7b-chat",
    "nous-hermes-2-mixtral-8x7b-dpo",
    "oasst-pythia-12b",
    "openchat-3.5",
    "openchat-3.5-0106",
    "openhermes-2.5-mistral-7b",
    "palm-2",
    "pplx-70b-online",
    "pplx-7b-online",
    "qwen-14b-chat",
    "qwen1.5-4b-chat",
    "qwen1.5-72b-chat",
    "qwen1.5-7b-chat",
    "solar-10.7b-instruct-v1.0",
    "stablelm-tuned-alpha-7b",
    "starling-lm-7b-alpha",
    "stripedhyena-nous-7b",
    "tulu-2-dpo-70b",
    "vicuna-13b",
    "vicuna-33b",
    "vicuna-7b",
    "wizardlm-13b",
    "wizardlm-70b",
    "yi-34b-chat",
    "zephyr-7b-alpha",
    "zephyr-7b-beta",
)
assert len(ROUTELLM_MODELS) == 64

DEFAULT_STRONG = "gpt-4-1106-preview"
DEFAULT_WEAK = "mixtral-8x7b-instruct-v0.1"

# RouteLLM anchors Elo ratings so that this model sits at 1082 (compute_elo_mle_with_tie).
ANCHOR_MODEL = "llama-2-70b-chat"
ANCHOR_RATING = 1082.0
