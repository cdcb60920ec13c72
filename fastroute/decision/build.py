"""Building a DecisionConfig from what a user names: routers (names or bundle directories),
the models to route to, routing profiles, and an upstreams file's models and profiles.

Every front door builds its decision here, so the same options load the same routers the
same way whether they arrive from `fastroute serve`, `fastroute extproc`, the LiteLLM
plug-in or a Ray Serve replica.

An upstreams file may hold routing profiles beside its models::

    [profiles."cheap-and-good"]
    router = "sw_ranking"               # a router name, a default's name or a bundle directory
    policy = "max_value"                # or "within_margin", "under_budget"
    value = 20.0                        # lam, the margin or the budget (USD) of the policy
    candidates = [{ name = "gpt-4o" , scored_as = "gpt-4-1106-preview" }, { name = "gpt-4o-mini", scored_as = "mixtral-8x7b-instruct-v0.1" }]

A candidate's prices default to its [models."<name>"] entry's price_per_1m_input /
price_per_1m_output, and its scored_as to that entry's scored_as.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from .config import DecisionConfig
from .model_string import PREFIX
from .targets import Upstream, UpstreamsFile


def build_decision(
    routers: list[str],
    strong_model: "str | None" = None,
    weak_model: "str | None" = None,
    *,
    backend: "str | None" = None,
    scored_as: "Mapping[str, str] | None" = None,
    profiles: "list[str] | None" = None,
    upstreams: "UpstreamsFile | None" = None,
    **options: Any,
) -> DecisionConfig:
    """The decision of `routers` between `strong_model` and `weak_model` (any names; default:
    each router's own pair), scored as described in fastroute.load_router; `scored_as` (and
    the upstreams' `scored_as` keys) map a name to the model it is scored as. `profiles`
    names shipped or JSON routing profiles, served beside the [profiles.*] of an upstreams
    file (targets.read_upstreams), whose models' prices and scored_as are used here.
    `options` are DecisionConfig's (route_on, max_batch, max_queue, ...)."""
    from ..loader import is_router_name, load_router
    from ..profile import load_profile

    models = upstreams.models if upstreams is not None else {}
    served = profiles_from_upstreams(upstreams) if upstreams is not None else {}
    for spec in profiles or []:
        name = Path(spec).stem if Path(spec).suffix == ".json" else spec
        if name in served:
            raise ValueError(f"two routing profiles are named {name!r}")
        served[name] = load_profile(spec)
    mapping = {name: up.scored_as for name, up in models.items() if up.scored_as}
    for name, model in (scored_as or {}).items():
        if mapping.get(name, model) != model:
            raise ValueError(
                f"{name!r} is scored as {mapping[name]!r} in {upstreams.path if upstreams else None} and as {model!r} by --scored-as"
            )
        mapping[name] = model
    loaded = {}
    for spec in routers:
        r = load_router(spec, strong_model=strong_model, weak_model=weak_model, backend=backend, scored_as=mapping)
        name = spec if is_router_name(spec) or "/" not in spec else Path(spec).name
        if r.embedder_spec is not None:
            r.win_rates(["warm-up"])  # load the embedder now, not on the first request
        loaded[name] = r
    first = next(iter(loaded.values()), None)
    cfg = DecisionConfig(
        routers=loaded,
        strong_model=strong_model or (first.strong_target if first else ""),
        weak_model=weak_model or (first.weak_target if first else ""),
        profiles=served,
        known_models=frozenset(models),
        **options,
    )
    check_profile_names(cfg)
    return cfg


def profiles_from_upstreams(upstreams: UpstreamsFile) -> dict[str, Any]:
    """The [profiles.*] tables of an upstreams file, as RoutingProfiles."""
    from ..profile import profile_from_dict

    path, tables = upstreams.path, upstreams.profiles
    if not isinstance(tables, dict):
        raise ValueError(f'{path}: expected [profiles."<name>"] tables')
    out = {}
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("candidates"), list):
            raise ValueError(f"{path}: profile {name!r} needs a list of candidates")
        table = dict(table, candidates=[_with_upstream_defaults(c, upstreams.models) for c in table["candidates"]])
        out[name] = profile_from_dict(table, f"{path}: profile {name!r}", base_dir=path.parent)
    return out


def _with_upstream_defaults(candidate: Any, upstreams: Mapping[str, Upstream]) -> Any:
    name = candidate.get("name") if isinstance(candidate, dict) else None
    up = upstreams.get(name) if isinstance(name, str) else None
    if up is None:
        return candidate
    defaults = {"input_price": up.price_per_1m_input, "output_price": up.price_per_1m_output, "scored_as": up.scored_as}
    return {**{k: v for k, v in defaults.items() if v is not None}, **candidate}


def check_profile_names(cfg: DecisionConfig) -> None:
    """A profile's name is a `model`: it may not also name a configured model or a router."""
    for name in cfg.profiles:
        if name in cfg.known_models or name.startswith(PREFIX):
            raise ValueError(f"profile {name!r} has the name of an upstream model or a router model string")
