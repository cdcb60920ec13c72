"""The HTTP stack's ceiling for loopback benchmarks: an aiohttp handler that parses a JSON body
and answers a small JSON object, on the same event loop (uvloop if installed) and server settings
as `fastroute serve`. `python minimal_handler.py PORT`."""

from __future__ import annotations

import json
import sys

from aiohttp import web


async def handle(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    return web.json_response({"object": "route", "decisions": [{"model": "m", "prompt_chars": len(str(body))}]})


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/route", handle)
    app.router.add_get("/health", lambda request: web.json_response({"status": "ok"}))
    return app


def serve(app: web.Application, port: int) -> None:
    """Runs `app` on loopback as `fastroute serve` runs: uvloop when installed, no access log."""
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


if __name__ == "__main__":
    serve(create_app(), int(sys.argv[1]))
