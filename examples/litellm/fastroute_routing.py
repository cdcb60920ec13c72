"""fastroute's routing plug-in for the LiteLLM proxy (config.yaml: router_settings.plugins).

The proxy loads this file once at start-up; the router loads here, so a bad setting stops
the proxy from starting rather than failing requests. Settings (environment):
  FASTROUTE_MODEL      the fastroute model that routes the "smart" group (default router-sw_ranking-50%:
                       half of the prompts to the strong model; router-sw_ranking-<threshold> for a raw threshold)
  FASTROUTE_FAIL_OPEN  1: when routing fails, let LiteLLM pick among both deployments
                       (default: the request fails with fastroute's status and message)
"""

import os

from fastroute.frontends.litellm_plugin import FastrouteRoutingPlugin

plugin = FastrouteRoutingPlugin(
    "sw_ranking",
    strong_model="openai/gpt-4o",  # the deployments' litellm_params.model: the plug-in keeps the chosen one
    weak_model="together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo",
    groups={"smart": os.environ.get("FASTROUTE_MODEL", "router-sw_ranking-50%")},
    fail_open=os.environ.get("FASTROUTE_FAIL_OPEN") == "1",
)
