"""An ASGI app that serves an aiohttp Application unchanged: the app listens on a Unix socket
private to this process (a directory only its user can enter, no TCP port), and each ASGI
request is forwarded to it as HTTP/1.1, its body and the answer streamed chunk by chunk.

This is how a Ray Serve replica runs fastroute's own server (ray_serve.py): every
status, header, JSON error, stream event, timeout and body limit comes from the same aiohttp
app as under `fastroute serve`, at the cost of one local HTTP hop per request. No ray here.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from typing import Any, AsyncIterator, Awaitable, Callable

from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, UnixConnector, web
from yarl import URL

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]

# Headers of one connection, not of the request or answer (RFC 9110 7.6.1): never forwarded.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"}
)
# Headers aiohttp's client adds by itself unless told not to: the app sees only the client's.
NO_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")


class AiohttpBridge:
    """ASGI app (http and lifespan scopes) serving `app` through a private Unix socket.

    `runner_options` are aiohttp's AppRunner settings (serve.server.runner_options); each
    answer also carries `extra_headers` (e.g. which replica answered). Started by the ASGI
    lifespan (or `await start()`), stopped by its shutdown (or `await stop()`)."""

    def __init__(
        self, app: web.Application, runner_options: "dict | None" = None, extra_headers: "dict[str, str] | None" = None
    ) -> None:
        self.app = app
        self.runner_options = runner_options or {}
        self.extra_headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (extra_headers or {}).items()
        ]
        self._dir: "str | None" = None
        self._runner: "web.AppRunner | None" = None
        self._session: "ClientSession | None" = None

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()  # a replica Serve retries must not leave a socket directory each time
            raise

    async def _start(self) -> None:
        self._dir = tempfile.mkdtemp(prefix="fastroute-")  # mode 0700: no other user can connect
        path = os.path.join(self._dir, "app.sock")
        self._runner = web.AppRunner(self.app, **self.runner_options)
        await self._runner.setup()
        await web.UnixSite(self._runner, path).start()
        self._session = ClientSession(
            connector=UnixConnector(path, limit=0),
            auto_decompress=False,  # the answer's bytes as the app wrote them
            cookie_jar=DummyCookieJar(),
            skip_auto_headers=NO_AUTO_HEADERS,
            timeout=ClientTimeout(total=None),  # the app's own timeouts apply, as under `fastroute serve`
        )

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()  # the app's cleanup: its upstream session, the scoring threads
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._session = self._runner = self._dir = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        else:  # a websocket: fastroute serves none
            await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as exc:  # noqa: BLE001 - reported to the ASGI server, which fails the start
                    await send({"type": "lifespan.startup.failed", "message": f"{type(exc).__name__}: {exc}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forwards one request; a client that hangs up (`http.disconnect`, once its body is
        read) cancels it, which closes the app's connection, so the app cancels its handler
        and the upstream call, as when a client of `fastroute serve` hangs up."""
        if self._session is None:
            raise RuntimeError("AiohttpBridge.start() has not run (no ASGI lifespan startup)")
        body_read = asyncio.Event()
        forward = asyncio.ensure_future(self._forward(scope, receive, send, body_read))
        watch = asyncio.ensure_future(_hung_up(receive, body_read))
        try:
            await asyncio.wait({forward, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (forward, watch):
                task.cancel()
            await asyncio.gather(forward, watch, return_exceptions=True)
        if not forward.cancelled() and forward.exception() is not None:
            raise forward.exception()  # type: ignore[misc]

    async def _forward(self, scope: Scope, receive: Receive, send: Send, body_read: asyncio.Event) -> None:
        assert self._session is not None
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k.decode("latin-1").lower() not in HOP_BY_HOP
        ]
        names = {k.lower() for k, _ in headers}
        chunked = any(k.lower() == b"transfer-encoding" for k, _ in scope["headers"])
        has_body = chunked or names & {"content-length"}
        data: Any = _body(receive, body_read) if has_body else None
        if not has_body:
            body_read.set()
        async with self._session.request(
            scope["method"], _target(scope), headers=headers, data=data, allow_redirects=False
        ) as resp:
            out = [(k.lower(), v) for k, v in resp.raw_headers if k.decode("latin-1").lower() not in HOP_BY_HOP]
            await send({"type": "http.response.start", "status": resp.status, "headers": out + self.extra_headers})
            async for chunk in resp.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})


def _target(scope: Scope) -> URL:
    """The request's path (below the ASGI root path, as the app knows it) and query string."""
    raw: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    root = scope.get("root_path", "").encode("utf-8")
    if root and raw.startswith(root):
        raw = raw[len(root) :] or b"/"
    query: bytes = scope.get("query_string", b"")
    target = raw + (b"?" + query if query else b"")
    return URL("http://fastroute" + target.decode("latin-1"), encoded=True)


async def _body(receive: Receive, body_read: asyncio.Event) -> AsyncIterator[bytes]:
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body", False):
                return
    finally:
        body_read.set()


async def _hung_up(receive: Receive, body_read: asyncio.Event) -> None:
    """Returns when the client has hung up (the ASGI server says so once the body is read)."""
    await body_read.wait()
    while (await receive())["type"] != "http.disconnect":
        pass
