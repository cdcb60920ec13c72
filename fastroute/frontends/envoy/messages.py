"""Envoy ext_proc messages, read and written: a request's headers in, and the three answers
the processor gives out (continue untouched; continue with the routed body and the
`x-fastroute-*` headers; an immediate OpenAI-style error). Kept apart from the gRPC service
so the protocol's details (raw header values, content-length, route cache) live in one place.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from envoy.config.core.v3 import base_pb2
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
from envoy.type.v3 import http_status_pb2

from ...decision.errors import APIError

ProcessingRequest = pb.ProcessingRequest
ProcessingResponse = pb.ProcessingResponse

_OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD

# What each phase of a request is answered with when the processor leaves it as it is. Only
# the request's headers and body are asked for by the shipped config (responses are SKIPped
# so a streamed answer passes untouched); the rest keep a misconfigured filter from stalling.
_CONTINUE_FIELDS = {
    "request_headers": pb.HeadersResponse,
    "response_headers": pb.HeadersResponse,
    "request_body": pb.BodyResponse,
    "response_body": pb.BodyResponse,
    "request_trailers": pb.TrailersResponse,
    "response_trailers": pb.TrailersResponse,
}
_CONTINUE = {kind: pb.ProcessingResponse(**{kind: cls()}) for kind, cls in _CONTINUE_FIELDS.items()}


def continue_unchanged(kind: str) -> Any:
    """The answer to a `kind` message (a ProcessingRequest's oneof name) that changes nothing."""
    return _CONTINUE[kind]


def header_values(headers: Any, names: frozenset[str]) -> dict[str, str]:
    """The values of `names` (lower case) in an ext_proc HttpHeaders message. Envoy sends
    `raw_value` bytes (recent versions) or the older `value` string: both are read."""
    out = {}
    for h in headers.headers.headers:
        if h.key in names:
            out[h.key] = h.raw_value.decode("latin-1") if h.raw_value else h.value
    return out


def _set_headers(mutation: Any, headers: Mapping[str, str]) -> None:
    """Adds `headers` to a HeaderMutation, each overwriting the request's own. Filled in place
    (add(), attribute writes): about half the cost of building the nested messages by keyword."""
    add = mutation.set_headers.add
    for k, v in headers.items():
        header = add(append_action=_OVERWRITE).header
        header.key = k.lower()
        header.raw_value = v.encode("latin-1")


def routed(headers: Mapping[str, str], body: "bytes | None") -> Any:
    """The answer to a buffered request body: set `headers` (overwriting what the client sent)
    and, when `body` is given, replace the body with it. `clear_route_cache` makes Envoy pick
    the route again, now by `x-fastroute-model`. With a buffered body Envoy leaves
    content-length to the processor, so it is set to the new body's length."""
    if body is not None:
        headers = {**headers, "content-length": str(len(body))}
    answer = pb.ProcessingResponse()
    common = answer.request_body.response
    _set_headers(common.header_mutation, headers)
    common.clear_route_cache = True
    if body is not None:
        common.body_mutation.body = body
    return answer


def immediate(error: APIError) -> Any:
    """Envoy answers the client at once with the error fastroute's own server would give: the
    same status, JSON body and extra headers (Retry-After on a 503)."""
    headers = {"content-type": "application/json", **{k: str(v) for k, v in error.headers.items()}}
    answer = pb.ProcessingResponse(
        immediate_response=pb.ImmediateResponse(
            status=http_status_pb2.HttpStatus(code=error.status),
            body=json.dumps(error.body()).encode(),
            details="fastroute_rejected",
        )
    )
    _set_headers(answer.immediate_response.headers, headers)
    return answer
