"""The HTTP stack's floor for a proxied completion: an aiohttp handler that forwards the body to
one upstream with aiohttp's client and returns its answer, nothing else (no routing, no
validation, no error handling). What fastroute's proxy adds beyond this is its own work.
`python bare_proxy.py PORT UPSTREAM_URL`."""

from __future__ import annotations

import sys

from aiohttp import ClientSession, TCPConnector, web

UPSTREAM = web.AppKey("upstream", str)
SESSION = web.AppKey("session", ClientSession)


async def forward(request: web.Request) -> web.Response:
    body = await request.read()
    headers = {"Content-Type": "application/json"}
    async with request.app[SESSION].post(request.app[UPSTREAM], data=body, headers=headers) as up:
        payload = await up.read()
    return web.Response(body=payload, status=up.status, content_type="application/json")


async def session(app: web.Application):
    app[SESSION] = ClientSession(connector=TCPConnector(limit=0))
    yield
    await app[SESSION].close()


def create_app(upstream: str) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream
    app.cleanup_ctx.append(session)
    app.router.add_post("/v1/chat/completions", forward)
    app.router.add_get("/health", lambda request: web.json_response({"status": "ok"}))
    return app


if __name__ == "__main__":
    from minimal_handler import serve  # the same start-up as the ceiling it is compared with

    serve(create_app(sys.argv[2]), int(sys.argv[1]))
