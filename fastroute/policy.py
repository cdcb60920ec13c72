"""Deprecated alias of fastroute.profile.policy (a routing profile's choice rules); it will go
in a later release."""

import warnings

from .profile.policy import *  # noqa: F403 - the alias is the module's public names
from .profile.policy import __all__  # noqa: F401

warnings.warn("fastroute.policy is deprecated: name fastroute.profile.policy", DeprecationWarning, stacklevel=2)
