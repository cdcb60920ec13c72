"""`load_router`: a router from a bundle directory, a RouteLLM checkpoint directory, or a
name ("random", or a default shipped in the package: see fastroute.routers.registry).

The router kind comes from the bundle's manifest and its class from the registry; the
files themselves are read by fastroute.bundle. Torch files of RouteLLM's older
checkpoints are read with `torch.load(weights_only=True)`, never unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from .bundle import META_FILE, read_bundle
from .bundle_schema import read_json
from .errors import BundleError
from .routers.registry import ROUTERS, router_class, router_kinds

if TYPE_CHECKING:
    from .routers.base import Router

DEFAULTS_DIR = Path(__file__).resolve().parent / "defaults"


def default_bundle_dir(name: str) -> Path:
    return DEFAULTS_DIR / name


def is_router_name(target: "str | Path") -> bool:
    """True when `target` names a router kind rather than a directory."""
    return str(target) in ROUTERS and not Path(target).is_dir()


def load_router(
    name_or_dir: "str | Path",
    *,
    strong_model: "str | None" = None,
    weak_model: "str | None" = None,
    backend: "str | None" = None,
    scored_as: "Mapping[str, str] | None" = None,
) -> "Router":
    """A router from a bundle directory, or by name ("random", or a default: "mf", "sw_ranking").

    `strong_model` / `weak_model` are the models to route to (RouteLLM's meaning: any names,
    e.g. "gpt-4o", "anyscale/mistralai/Mixtral-8x7B-Instruct-v0.1"; default: the bundle's own
    pair). One the bundle knows, exactly or as an alias (fastroute.data.aliases), is scored
    as that model, so naming two known models picks that scored pair; `scored_as` maps a
    name to the known model it is scored as; any other name is scored as the bundle's own
    strong / weak model. See Router.with_targets.
    """
    target = str(name_or_dir)
    if is_router_name(target):
        entry = ROUTERS[target]
        if not entry.needs_bundle:
            kwargs: dict[str, Any] = {
                k: (scored_as or {}).get(v, v)
                for k, v in (("strong_model", strong_model), ("weak_model", weak_model))
                if v
            }
            return _targeted(entry.load()(backend=backend, **kwargs), strong_model, weak_model, scored_as)
        if not entry.shipped_default:
            raise BundleError(f"no default {target!r} router is shipped; pass a bundle or checkpoint directory")
        root = default_bundle_dir(target)
        if not (root / META_FILE).is_file():
            raise BundleError(
                f"no default {target!r} bundle is shipped in this installation ({root}); "
                "pass a bundle directory instead"
            )
    else:
        root = Path(target)
        if not root.exists():
            hub = (
                f"; a Hugging Face Hub id? download it first (hf download {target} --local-dir DIR) and pass DIR"
                if str(target).count("/") == 1 and not str(target).startswith((".", "/"))
                else ""
            )
            raise BundleError(
                f"{target!r} is neither a bundle directory nor a router name ({', '.join(router_kinds())}){hub}"
            )
    if not (root / META_FILE).is_file() and (root / "config.json").is_file():
        return _targeted(_load_hf_checkpoint(root, backend), strong_model, weak_model, scored_as)
    doc, tensors = read_bundle(root)
    router = router_class(doc["kind"])._from_bundle(doc, tensors, where=str(root), backend=backend)
    if "train_prompt_hashes" in tensors:
        router.train_prompt_hashes = tensors["train_prompt_hashes"].astype(np.uint64)
    if "win_rate_quantiles" in tensors and doc.get("win_rate_quantiles_pair") == [
        router.strong_model,
        router.weak_model,
    ]:
        router.win_rate_quantiles = tensors["win_rate_quantiles"].astype(np.float64)
    return _targeted(router, strong_model, weak_model, scored_as)


def scored_as_aliases(router: "Router", names: "list[str]", scored_as: "Mapping[str, str] | None") -> dict[str, str]:
    """`scored_as`, plus each name in `names` that matches one of the router's models only
    through an alias (fastroute.data.aliases.canonical_model) mapped to that model."""
    from .data.aliases import canonical_model

    out = dict(scored_as or {})
    known: dict[str, str] = {}
    for m in router.models:
        known.setdefault(canonical_model(m), m)
    for name in names:
        if name not in out and not router.knows(name) and canonical_model(name) in known:
            out[name] = known[canonical_model(name)]
    for name, model in list(out.items()):  # a mapped model spelled as an alias of a known one
        if isinstance(model, str) and not router.knows(model) and canonical_model(model) in known:
            out[name] = known[canonical_model(model)]
    return out


def _targeted(
    router: "Router", strong: "str | None", weak: "str | None", scored_as: "Mapping[str, str] | None"
) -> "Router":
    if not (strong or weak or scored_as):
        return router
    strong, weak = strong or router.strong_target, weak or router.weak_target
    return router.with_targets(strong, weak, scored_as_aliases(router, [strong, weak], scored_as))


def _load_hf_checkpoint(root: Path, backend: "str | None" = None) -> "Router":
    """A bare Hugging Face checkpoint directory: RouteLLM's mf checkpoint (a config.json of
    its MFModel's arguments), a sequence classifier (bert) or a causal LM (causal_llm), in
    RouteLLM's own layouts, trained on its default pair: other names are targets."""
    from .routellm_models import DEFAULT_STRONG, DEFAULT_WEAK

    config = read_json(root / "config.json", "config.json")
    if not isinstance(config, dict):
        raise BundleError(f"{root / 'config.json'}: expected a JSON object")
    if "architectures" not in config and {"dim", "num_models"} <= config.keys():
        from .routers.mf import MFRouter  # RouteLLM's MF checkpoint (PyTorchModelHubMixin: its init kwargs)

        return MFRouter.from_routellm(root, backend=backend)
    archs = config.get("architectures") or []
    if not isinstance(archs, list) or not all(isinstance(a, str) for a in archs):
        raise BundleError(f"{root / 'config.json'}: key 'architectures': expected a list of strings")
    for suffix, kind in (("ForSequenceClassification", "bert"), ("ForCausalLM", "causal_llm")):
        if any(a.endswith(suffix) for a in archs):
            return router_class(kind).from_pretrained(root, DEFAULT_STRONG, DEFAULT_WEAK)  # type: ignore[attr-defined]
    raise BundleError(
        f"{root}: neither a fastroute bundle nor a sequence-classifier or causal-LM checkpoint (architectures {archs})"
    )
