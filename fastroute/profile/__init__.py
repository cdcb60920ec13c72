"""Routing profiles: routing among N candidate models with prices. A profile is a router that
scores every model it knows (its strengths), the candidates to call with their prices, and a
policy (policy.py) that picks one per prompt from predicted quality and expected cost.
`fastroute serve --profile`, `fastroute route --profile`, the [profiles.*] of an upstreams
file and `fastroute eval`'s routerbench / llmrouter benchmarks (fastroute.eval.profile) all
mean this."""

from .routing_profile import Candidate, Decision, RoutingProfile, load_profile, profile_from_dict, scored_index

__all__ = ["Candidate", "Decision", "RoutingProfile", "load_profile", "profile_from_dict", "scored_index"]
