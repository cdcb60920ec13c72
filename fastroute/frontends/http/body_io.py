"""Reading an upstream's response body with an idle timeout, and finding where its
server-sent events end (only whole events are ever forwarded)."""

from __future__ import annotations

import asyncio

# An upstream event larger than this never ends: the stream is cut rather than buffered forever.
MAX_EVENT_BYTES = 8 << 20


def events_end(buf: bytes, start: int = 0) -> int:
    """Where the last complete SSE event in `buf` ends (0 if none), looking for the blank line
    that ends an event from `start` on (the caller passes where the new bytes begin, less 3,
    so a long event arriving in small chunks is scanned once, not once per chunk)."""
    i, j = buf.rfind(b"\n\n", start), buf.rfind(b"\r\n\r\n", start)
    return max(i + 2 if i >= 0 else 0, j + 4 if j >= 0 else 0)


async def next_chunk(chunks, idle: float) -> "bytes | None":
    """The next chunk of a response body (None at its end), within `idle` seconds. aiohttp's
    own sock_read timeout is not enough: after an invalid chunk-size line (aiohttp 3.14.5) the
    body waits forever and sock_read never fires."""
    try:
        if hasattr(asyncio, "timeout"):  # Python >= 3.11
            async with asyncio.timeout(idle):
                return await chunks.__anext__()
        return await asyncio.wait_for(chunks.__anext__(), idle)
    except StopAsyncIteration:
        return None


async def read_all(up, idle: float) -> bytes:
    chunks, parts = up.content.iter_any().__aiter__(), []
    while (chunk := await next_chunk(chunks, idle)) is not None:
        parts.append(chunk)
    return b"".join(parts)


class EventTooLarge(Exception):
    """The upstream's current SSE event passed MAX_EVENT_BYTES without ending."""
