"""Deprecated alias of fastroute.frontends.http.ray_serve, kept because Ray Serve configs and
`serve run` name it (`fastroute.cluster.serve_deployment:build_app`); it will go in a later
release. Name fastroute.frontends.http.ray_serve instead."""

import warnings

from ..frontends.http.ray_serve import *  # noqa: F403 - the alias is the module's public names
from ..frontends.http.ray_serve import __all__  # noqa: F401

warnings.warn(
    "fastroute.cluster.serve_deployment is deprecated: name fastroute.frontends.http.ray_serve",
    DeprecationWarning,
    stacklevel=2,
)
