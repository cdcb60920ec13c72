"""Loopback servers for the serving tests: a stub OpenAI-compatible upstream that records what
it receives, and fastroute's app, each in its own thread and event loop on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

from aiohttp import web


class BackgroundServer:
    """Runs an aiohttp Application on 127.0.0.1 (ephemeral port) in a thread."""

    def __init__(self, app: web.Application, **runner_options) -> None:
        self.app = app
        self.runner_options = {"access_log": None, **runner_options}
        self.loop = asyncio.new_event_loop()
        self.port: "int | None" = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.app, **self.runner_options)
        self.loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]
        self._runner = runner
        self._ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())
        self.loop.close()

    def __enter__(self) -> "BackgroundServer":
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("server did not start")
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def raw_request(port: int, head: str, body: bytes = b"", timeout: float = 10.0) -> tuple[int, dict, bytes]:
    """One HTTP/1.1 request over a fresh socket (so nothing is validated on the way out)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head.encode("latin-1") + b"\r\n" + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head_bytes, _, payload = data.partition(b"\r\n\r\n")
    lines = head_bytes.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    if headers.get("transfer-encoding") == "chunked":
        out, rest = b"", payload
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2 :]
        payload = out
    return int(lines[0].split()[1]), headers, payload


def _last_user(messages) -> str:
    for m in reversed(messages):
        if m.get("role") == "user":
            c = m.get("content")
            return c if isinstance(c, str) else json.dumps(c)
    return ""


def stub_upstream_app(record: list) -> web.Application:
    """Answers chat completions: the reply echoes the last user message; special prompts
    trigger errors ("__429__", "__500__") or a slow answer ("__sleep__")."""

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        record.append({"body": body, "headers": dict(request.headers)})
        prompt = _last_user(body.get("messages", []))
        if "__429__" in prompt:
            return web.json_response(
                {"error": {"message": "rate limited", "type": "rate_limit"}}, status=429, headers={"Retry-After": "7"}
            )
        if "__500__" in prompt:
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
        if "__sleep__" in prompt:
            await asyncio.sleep(3)
        reply = f"echo: {prompt}"
        created = int(time.time())
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            pieces = [
                reply[: len(reply) // 3],
                reply[len(reply) // 3 : 2 * len(reply) // 3],
                reply[2 * len(reply) // 3 :],
            ]
            for piece in pieces:
                chunk = {
                    "id": "chatcmpl-stub",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": body["model"],
                    "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                }
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await asyncio.sleep(0.01)
            done = {
                "id": "chatcmpl-stub",
                "object": "chat.completion.chunk",
                "created": created,
                "model": body["model"],
                "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            }
            await resp.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
            await resp.write_eof()
            return resp
        return web.json_response(
            {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": created,
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


def serve_config(**options):
    """A ServeConfig from flat keywords, DecisionConfig's and ServeConfig's mixed, as the
    server's tests write them (ServeConfig(DecisionConfig(routers, ...), upstreams, ...))."""
    from dataclasses import fields

    from fastroute.decision.config import DecisionConfig
    from fastroute.frontends.http.config import ServeConfig

    decision = {f.name for f in fields(DecisionConfig)}
    return ServeConfig(DecisionConfig(**{k: options.pop(k) for k in list(options) if k in decision}), **options)


def fastroute_server(cfg) -> BackgroundServer:
    """fastroute's app under the same runner options as `fastroute serve` (handler
    cancellation on client disconnect, the header timeout)."""
    from fastroute.frontends.http.app import create_app
    from fastroute.frontends.http.server import runner_options

    return BackgroundServer(create_app(cfg), **runner_options(cfg))


class FaultUpstream:
    """A raw-socket "OpenAI" upstream that misbehaves on purpose, chosen by a marker in the
    last user message: __cut__ (connection closed mid-body), __badchunk__ (stream: an invalid
    chunk size; non-stream: a 200 whose body is not JSON), __stall__ (headers, maybe one chunk,
    then silence), __slowok__ (a healthy stream, one chunk every 0.4 s for 2 s), __401__ (a 401
    echoing the bearer key, with Set-Cookie), __escapedkey__ (a 401 echoing it JSON-escaped),
    __halfevent__ (stream: one event, half of the next, then silence), __deep__ / __deep__500
    (a 200 / 500 whose body nests 100,000 deep), __oddusage__ (negative and huge token
    counts), __long__ (10 s of work; records when the
    caller hangs up). Anything else: a normal answer. One request per connection."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.events: list = []
        self.requests: list = []  # (request target, headers) of every request
        self.port: "int | None" = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self.loop)  # e.g. a stalled answer still sleeping
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def __enter__(self) -> "FaultUpstream":
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.decode("latin-1").split("\r\n")[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            self.requests.append((head.split(b" ")[1].decode(), headers))
            body = json.loads(await reader.readexactly(int(headers.get("content-length", "0"))))
            await self._answer(body, headers, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _answer(self, body, headers, reader, writer) -> None:
        prompt = _last_user(body.get("messages", []))
        stream = bool(body.get("stream"))

        def chunk(text: str) -> bytes:
            event = {
                "object": "chat.completion.chunk",
                "model": body["model"],
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
            return ("data: " + json.dumps(event) + "\n\n").encode()

        chunked = lambda data: b"%x\r\n%s\r\n" % (len(data), data)  # noqa: E731
        sse_head = (
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n"
        )

        def json_head(status: str, n: int, extra: bytes = b"") -> bytes:
            return (
                (
                    f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {n}\r\n"
                    "Connection: close\r\n"
                ).encode()
                + extra
                + b"\r\n"
            )

        if "__cut__" in prompt:
            if stream:
                writer.write(sse_head + chunked(chunk("partial")))
            else:
                writer.write(json_head("200 OK", 500) + b'{"id": "chatcmpl-cut", "choi')
            await writer.drain()
            return  # closes the connection mid-body
        if "__badchunk__" in prompt:
            if stream:
                writer.write(sse_head + chunked(chunk("partial")))
                await writer.drain()
                await asyncio.sleep(0.1)  # so the stream has started before the bad chunk
                writer.write(b"zz-not-hex\r\nxx\r\n")
            else:
                page = b"<html><body>gateway says hi</body></html>"
                writer.write(json_head("200 OK", len(page)) + page)
            await writer.drain()
            await asyncio.sleep(0.2)
            return
        if "__stall__" in prompt:
            writer.write(sse_head + chunked(chunk("partial")) if stream else json_head("200 OK", 100))
            await writer.drain()
            await asyncio.sleep(20)
            return
        if "__halfevent__" in prompt and stream:  # a whole event, half of the next, then silence
            writer.write(sse_head + chunked(chunk("whole")))
            await writer.drain()
            await asyncio.sleep(0.2)
            writer.write(chunked(b'data: {"cho'))
            await writer.drain()
            await asyncio.sleep(20)
            return
        if "__escapedkey__" in prompt:  # a 401 echoing the key with JSON escapes ('-' as \u002d)
            key = headers.get("authorization", "")[len("Bearer ") :]
            page = (
                '{"error": {"message": "invalid key %s", "code": "invalid_api_key"}}' % key.replace("-", "\\u002d")
            ).encode()
            writer.write(json_head("401 Unauthorized", len(page)) + page)
            await writer.drain()
            return
        if "__deep__" in prompt:  # a body nested far deeper than any parser's recursion limit
            page = b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
            writer.write(json_head("500 Internal Server Error" if "500" in prompt else "200 OK", len(page)) + page)
            await writer.drain()
            return
        if "__oddusage__" in prompt and not stream:  # token counts no counter should take
            page = json.dumps(
                {
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "odd"}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": -5, "completion_tokens": 1e300},
                }
            ).encode()
            writer.write(json_head("200 OK", len(page)) + page)
            await writer.drain()
            return
        if "__401__" in prompt:
            key = headers.get("authorization", "")[len("Bearer ") :]
            page = json.dumps(
                {
                    "error": {
                        "message": f"Incorrect API key provided: {key}. Bearer {key}",
                        "type": "invalid_request_error",
                        "code": "invalid_api_key",
                    }
                }
            ).encode()
            writer.write(
                json_head(
                    "401 Unauthorized",
                    len(page),
                    b"Set-Cookie: session=upstream-secret\r\n"
                    b"x-ratelimit-remaining-requests: 42\r\nx-request-id: req-123\r\n"
                    b"Server: upstream-internal/1.2\r\n",
                )
                + page
            )
            await writer.drain()
            return
        if "__long__" in prompt:
            t0 = time.monotonic()
            if stream:
                try:
                    writer.write(sse_head)
                    for _ in range(50):
                        writer.write(chunked(chunk("tick")))
                        await writer.drain()  # raises once the caller has gone
                        await asyncio.sleep(0.2)
                        if reader.at_eof():
                            raise ConnectionResetError
                except ConnectionError:
                    self.events.append(("hung_up", time.monotonic() - t0))
                    return
                self.events.append(("finished", time.monotonic() - t0))
                return
            try:
                await asyncio.wait_for(reader.read(1), 10)  # b"" when the caller hangs up
                self.events.append(("hung_up", time.monotonic() - t0))
            except asyncio.TimeoutError:
                self.events.append(("finished", time.monotonic() - t0))
            return
        if "__slowok__" in prompt and stream:
            writer.write(sse_head)
            for i in range(5):
                writer.write(chunked(chunk(f"part{i} ")))
                await writer.drain()
                await asyncio.sleep(0.4)
            writer.write(chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
            await writer.drain()
            return
        if stream:
            writer.write(sse_head + chunked(chunk(f"echo: {prompt}")) + chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n")
        else:
            page = json.dumps(
                {
                    "object": "chat.completion",
                    "model": body["model"],
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": f"echo: {prompt}"},
                            "finish_reason": "stop",
                        }
                    ],
                }
            ).encode()
            writer.write(json_head("200 OK", len(page)) + page)
        await writer.drain()


def post_json(url: str, body, headers: "dict | None" = None) -> tuple[int, dict, dict]:
    """(status, response headers, JSON body) of a POST of `body` (a JSON value, or bytes as is)."""
    import json
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode() if not isinstance(body, bytes) else body,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), json.loads(err.read())
