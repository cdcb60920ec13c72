"""Adapters that put fastroute inside the gateways people already run (Envoy's external
processor, LiteLLM's routing plug-in). Each turns its protocol into the decision core's
`decide_chat` and back (fastroute.serve.core) and holds no routing logic of its own; nothing
here is imported by `import fastroute`, so their optional dependencies load only on use."""
