"""Deprecated alias of fastroute.frontends.litellm_plugin, kept because LiteLLM proxy configs
name it (`callbacks: [fastroute.gateways.litellm_plugin.response_headers]`); it will go in a
later release. Name fastroute.frontends.litellm_plugin instead."""

import warnings

from ..frontends.litellm_plugin import *  # noqa: F403 - the alias is the module's public names
from ..frontends.litellm_plugin import __all__  # noqa: F401

warnings.warn(
    "fastroute.gateways.litellm_plugin is deprecated: name fastroute.frontends.litellm_plugin",
    DeprecationWarning,
    stacklevel=2,
)
