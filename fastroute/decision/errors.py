"""OpenAI-style error bodies: {"error": {"message", "type", "param", "code"}}."""

from __future__ import annotations

import json


class APIError(Exception):
    """An error answered to the client as JSON with its own HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        type_: str = "invalid_request_error",
        param: "str | None" = None,
        code: "str | None" = None,
        headers: "dict | None" = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def sse_event(self) -> bytes:
        """The error as the last event of a stream that has already started (as OpenAI and
        vLLM end a broken stream), followed by the usual terminator."""
        return b"data: " + json.dumps(self.body()).encode() + b"\n\ndata: [DONE]\n\n"


def bad_request(message: str, param: "str | None" = None) -> APIError:
    return APIError(400, message, "invalid_request_error", param)


def server_error(message: str) -> APIError:
    return APIError(500, message, "server_error")
