"""What a router sees of a chat request: the last user message (RouteLLM's choice), or
optionally the whole conversation (turns joined; the embedder truncates)."""
from __future__ import annotations

from typing import Any

from .errors import bad_request

ROUTE_ON = ("last_user", "conversation")


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = [p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        return "\n".join(parts)
    if content is None:
        return ""
    raise bad_request(f"{where}: content must be a string or a list of content parts", "messages")


def routing_text(messages: Any, route_on: str = "last_user") -> str:
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty list of messages", "messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m:
            raise bad_request(f"messages[{i}] must be an object with a 'role'", "messages")
    if route_on == "conversation":
        return "\n".join(f"{m['role']}: {_text(m.get('content'), f'messages[{i}]')}" for i, m in enumerate(messages))
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "user":
            return _text(messages[i].get("content"), f"messages[{i}]")
    raise bad_request("'messages' has no user message to route on", "messages")
