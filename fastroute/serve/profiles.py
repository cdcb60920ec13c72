"""Routing profiles in the server: N candidate models with prices behind one router,
addressed by the profile's name as the request's `model`.

An upstreams file may hold them beside its models::

    [profiles."cheap-and-good"]
    router = "sw_ranking"               # a router name, a default's name or a bundle directory
    policy = "max_value"                # or "within_margin", "under_budget"
    value = 20.0                        # lam, the margin or the budget (USD) of the policy
    candidates = [{ name = "gpt-4o" , scored_as = "gpt-4-1106-preview" }, { name = "gpt-4o-mini", scored_as = "mixtral-8x7b-instruct-v0.1" }]

A candidate's prices default to its [models."<name>"] entry's price_per_1m_input /
price_per_1m_output, and its scored_as to that entry's scored_as; `--profile NAME_OR_FILE`
adds a shipped profile (e.g. `routerbench`) or a JSON one. /v1/route answers each prompt
with the chosen model, its predicted quality and expected cost; a chat completion to the
profile goes to the chosen candidate's upstream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .config import ServeConfig
from .upstreams import Upstream


def profiles_from_upstreams(doc: dict, path: "str | Path", upstreams: dict[str, Upstream]) -> dict[str, Any]:
    """The [profiles.*] tables of an upstreams file, as RoutingProfiles."""
    from ..profile import profile_from_dict

    tables = doc.get("profiles", {})
    if not isinstance(tables, dict):
        raise ValueError(f'{path}: expected [profiles."<name>"] tables')
    out = {}
    for name, table in tables.items():
        if not isinstance(table, dict) or not isinstance(table.get("candidates"), list):
            raise ValueError(f"{path}: profile {name!r} needs a list of candidates")
        table = dict(table, candidates=[_with_upstream_defaults(c, upstreams) for c in table["candidates"]])
        out[name] = profile_from_dict(table, f"{path}: profile {name!r}", base_dir=Path(path).parent)
    return out


def _with_upstream_defaults(candidate: Any, upstreams: dict[str, Upstream]) -> Any:
    name = candidate.get("name") if isinstance(candidate, dict) else None
    up = upstreams.get(name) if isinstance(name, str) else None
    if up is None:
        return candidate
    defaults = {"input_price": up.price_per_1m_input, "output_price": up.price_per_1m_output, "scored_as": up.scored_as}
    return {**{k: v for k, v in defaults.items() if v is not None}, **candidate}


def check_profile_names(cfg: ServeConfig) -> None:
    """A profile's name is a `model`: it may not also name an upstream model or a router."""
    for name in cfg.profiles:
        if name in cfg.upstreams or name.startswith("router-"):
            raise ValueError(f"profile {name!r} has the name of an upstream model or a router model string")


def model_entries(cfg: ServeConfig) -> list[dict]:
    """/v1/models entries of the profiles."""
    return [
        {
            "id": name,
            "object": "model",
            "owned_by": "fastroute",
            "profile": name,
            "policy": p.policy,
            "value": p.value,
            "candidates": [
                {"model": c.name, "input_price": c.input_price, "output_price": c.output_price} for c in p.candidates
            ],
        }
        for name, p in sorted(cfg.profiles.items())
    ]
