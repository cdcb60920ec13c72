"""One spelling per model across data sources (RouteLLM's arena names where one exists).

`canonical_model` lower-cases, drops an organisation prefix ("mistralai/..."),
turns underscores into hyphens, then applies the table below, so that e.g.
`gpt4_1106_preview`, `gpt-4-1106-preview`; `Mixtral-8x7B-Instruct-v0.1`,
`mistralai/Mixtral-8x7B-Instruct-v0.1` and RouterBench's `mistralai/mixtral-8x7b-chat`
all become one model. Variants that are different systems (e.g. AlpacaEval's
`_concise` generators) stay distinct.
"""

from __future__ import annotations

ALIASES: dict[str, str] = {
    # OpenAI
    "gpt4-1106-preview": "gpt-4-1106-preview",
    "gpt4-0314": "gpt-4-0314",
    "gpt4": "gpt-4-0314",  # AlpacaEval's "gpt4" is the March 2023 snapshot
    "gpt4-0613": "gpt-4-0613",
    "gpt4-0613-concise": "gpt-4-0613-concise",
    "gpt35-turbo-instruct": "gpt-3.5-turbo-instruct",
    "gpt-3.5-turbo-0301": "gpt-3.5-turbo-0314",
    # Mistral
    "mixtral-8x7b-chat": "mixtral-8x7b-instruct-v0.1",
    "mixtral-8x7b-instruct": "mixtral-8x7b-instruct-v0.1",
    "mistral-7b-chat": "mistral-7b-instruct",
    # Anthropic
    "claude": "claude-1",
    "claude-v1": "claude-1",
    "claude-2": "claude-2.0",
    "claude-v2": "claude-2.0",
    "claude-instant-v1": "claude-instant-1",
    "claude-instant-1.2": "claude-instant-1",
    # Meta and others
    "llama-2-70b-chat-hf": "llama-2-70b-chat",
    "llama-2-13b-chat-hf": "llama-2-13b-chat",
    "llama-2-7b-chat-hf": "llama-2-7b-chat",
    "code-llama-instruct-34b-chat": "codellama-34b-instruct",
    "wizardlm-13b-v1.2": "wizardlm-13b",
    "vicuna-33b-v1.3": "vicuna-33b",
}


def canonical_model(name: str) -> str:
    """The one spelling fastroute uses for `name`."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"not a model name: {name!r}")
    key = name.strip().rsplit("/", 1)[-1].lower().replace("_", "-")
    return ALIASES.get(key, key)
