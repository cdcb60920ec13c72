"""The front doors: one adapter per way into fastroute, each turning its protocol into the
decision layer's calls (fastroute.decision) and back, and never importing another.

* http/            `fastroute serve`: the OpenAI-compatible server (aiohttp; also on Ray Serve)
* envoy/           `fastroute extproc`: Envoy's external processor (gRPC)
* litellm_plugin   a routing plug-in for litellm.Router and the LiteLLM proxy
* controller       RouteLLM's drop-in Controller (an OpenAI-style client)

The command line (fastroute.cli) sits above them and decides through the same layer.
Nothing here is imported by `import fastroute`; each door's dependencies load on use.
"""
