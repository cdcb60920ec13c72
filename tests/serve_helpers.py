"""Loopback servers for the serving tests: a stub OpenAI-compatible upstream that records what
it receives, and fastroute's app, each in its own thread and event loop on 127.0.0.1."""
from __future__ import annotations

import asyncio
import json
import threading
import time

from aiohttp import web


class BackgroundServer:
    """Runs an aiohttp Application on 127.0.0.1 (ephemeral port) in a thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.port: "int | None" = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        runner = web.AppRunner(self.app, access_log=None)
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
            return web.json_response({"error": {"message": "rate limited", "type": "rate_limit"}}, status=429,
                                     headers={"Retry-After": "7"})
        if "__500__" in prompt:
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
        if "__sleep__" in prompt:
            await asyncio.sleep(3)
        reply = f"echo: {prompt}"
        created = int(time.time())
        if body.get("stream"):
            resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await resp.prepare(request)
            pieces = [reply[: len(reply) // 3], reply[len(reply) // 3 : 2 * len(reply) // 3], reply[2 * len(reply) // 3 :]]
            for i, piece in enumerate(pieces):
                chunk = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": created,
                         "model": body["model"], "choices": [{"index": 0, "delta": {"content": piece},
                                                              "finish_reason": None}]}
                await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
                await asyncio.sleep(0.01)
            done = {"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": created, "model": body["model"],
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            await resp.write(f"data: {json.dumps(done)}\n\ndata: [DONE]\n\n".encode())
            await resp.write_eof()
            return resp
        return web.json_response({
            "id": "chatcmpl-stub", "object": "chat.completion", "created": created, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8},
        })

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app
