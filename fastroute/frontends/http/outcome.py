"""What a request's answer has done so far, kept on the request as it happens.

aiohttp cancels a handler when its client hangs up (server.runner_options). The OpenAI
client closes a stream's connection as soon as it has read `data: [DONE]`, often before
the handler has seen the upstream's end of stream or written the last chunk: the
cancellation then lands on a stream that was delivered whole. So the handler records, as
soon as it knows them, the decision's x-fastroute-* headers, the bytes it has written and
whether the answer's last event has gone out; the request counter (middleware.py) and the
access log read them after a cancellation: a hang-up after the last event is the request's
own status (200), one before it 499.
"""

from __future__ import annotations

from aiohttp import web

_Key = getattr(web, "RequestKey", None)  # aiohttp >= 3.12; plain strings before
# request keys: the StreamResponse once its headers have gone out; the status to count when it
# differs from the response's ("499": the client hung up; a started stream's error status)
PREPARED = _Key("fastroute_prepared", web.StreamResponse) if _Key else "fastroute_prepared"
STATUS = _Key("fastroute_status", str) if _Key else "fastroute_status"


class Outcome:
    """One request's decision headers (`headers`), the body bytes written to a stream
    (`sent`), whether its last event has been written (`ended`), and the (type, code) of the
    error event that ended a started stream (`error`)."""

    __slots__ = ("headers", "sent", "ended", "error")

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.sent = 0
        self.ended = False
        self.error: "tuple[str, str | None] | None" = None

    def failed(self, request: web.Request, status: int, type_: str, code: "str | None") -> None:
        """A started stream ended by an error event: counted and logged with the error's own
        status (the wire status is already 200) and its type and code."""
        request[STATUS] = str(status)
        self.error = (type_, code)

    async def write(self, resp: web.StreamResponse, events: bytes, last: bool = False) -> None:
        """Writes whole SSE events and counts them; the answer has ended once `last` (the
        caller's end) or OpenAI's closing `data: [DONE]` event is out."""
        if events:
            await resp.write(events)
            self.sent += len(events)
        if last or closes_stream(events):
            self.ended = True


OUTCOME = _Key("fastroute_outcome", Outcome) if _Key else "fastroute_outcome"


def outcome(request: web.Request) -> Outcome:
    """The request's Outcome, made on first use."""
    found = request.get(OUTCOME)
    if found is None:
        found = request[OUTCOME] = Outcome()
    return found


def closes_stream(events: bytes) -> bool:
    """Whether whole SSE events end with `data: [DONE]` (OpenAI's last event) on a line of
    its own; looks at the last few bytes only."""
    i = events.rfind(b"data:", max(0, len(events) - 24))
    return i >= 0 and (i == 0 or events[i - 1] in b"\r\n") and events[i + 5 :].strip() == b"[DONE]"


def hung_up(request: web.Request) -> None:
    """The client's connection broke while the answer was written: a 499, unless its last
    event had gone out already (then the answer was delivered whole)."""
    found = request.get(OUTCOME)
    if found is None or not found.ended:
        request[STATUS] = "499"


def status_after_cancel(request: web.Request) -> str:
    """The status of a request whose handler was cancelled (the client hung up): one
    settled already (a started stream's error), else 200 when its last event had gone
    out, else 499."""
    settled = request.get(STATUS)
    if settled:
        return settled
    found = request.get(OUTCOME)
    return "200" if found is not None and found.ended else "499"
