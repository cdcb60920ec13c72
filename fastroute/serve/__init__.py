"""Serving: the OpenAI-compatible routing server and the drop-in `Controller` client
(the `serve` extra: aiohttp for the server, openai for the Controller)."""
