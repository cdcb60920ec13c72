"""The HTTP front door: fastroute's OpenAI-compatible routing server (`fastroute serve`, the
`serve` extra), run by aiohttp (server.py) or in Ray Serve replicas (ray_serve.py, the same
app behind an ASGI bridge). It decides through fastroute.decision and holds the rest of an
HTTP server: upstream calls and streams, keys, timeouts, metrics output and the access log."""
