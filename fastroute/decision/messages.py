"""What a router sees of a chat request: the last user message (RouteLLM's choice), or
optionally the whole conversation (turns joined; the embedder truncates). Malformed messages
are 400s naming the field (e.g. 'messages[2].content[0].text')."""

from __future__ import annotations

from typing import Any

from .errors import bad_request

ROUTE_ON = ("last_user", "conversation")


def _text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones
        parts = []
        for j, part in enumerate(content):
            if not isinstance(part, dict):
                raise bad_request(f"{where}[{j}] must be a content part object", f"{where}[{j}]")
            if part.get("type") == "text":
                text = part.get("text")
                if not isinstance(text, str):
                    raise bad_request(f"{where}[{j}].text must be a string", f"{where}[{j}].text")
                parts.append(text)
        return "\n".join(parts)
    if content is None:
        return ""
    raise bad_request(f"{where} must be a string or a list of content parts", where)


def routing_text(messages: Any, route_on: str = "last_user", field: str = "messages") -> str:
    """The text to route on; `field` names the messages in errors (e.g. 'messages_batch[3]')."""
    if not isinstance(messages, list) or not messages:
        raise bad_request(f"'{field}' must be a non-empty list of messages", field)
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or "role" not in m:
            raise bad_request(f"{field}[{i}] must be an object with a 'role'", f"{field}[{i}]")
        if not isinstance(m["role"], str):
            raise bad_request(f"{field}[{i}].role must be a string", f"{field}[{i}].role")
    if route_on == "conversation":
        return "\n".join(
            f"{m['role']}: {_text(m.get('content'), f'{field}[{i}].content')}" for i, m in enumerate(messages)
        )
    for i in range(len(messages) - 1, -1, -1):
        if messages[i]["role"] == "user":
            return _text(messages[i].get("content"), f"{field}[{i}].content")
    raise bad_request(f"'{field}' has no user message to route on", field)
