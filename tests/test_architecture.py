"""The package's architecture, as rules that can fail:

* layers: a module imports only from its own layer or the layers below, never above;
* the decision layer (fastroute.decision) sits below every front door and imports none of
  the transports' libraries (aiohttp, grpc, litellm, ray, ...), deferred imports included;
* every front door (fastroute.frontends.*) decides through the decision layer and imports no
  other front door;
* a deprecated alias (an old import path kept for users' configs) re-exports its new home
  and nothing else, and nothing in the package imports it;
* no import cycle; one registry per kind; no code outside fastroute.ops asks a kernel
  backend its name.

The import graph is read from the source (ast), not by importing: an import inside a
function counts, since deferring an import hides a cycle instead of removing it; an import
under `if TYPE_CHECKING:` does not (it never runs). Each rule is a function of the graph, and
test_*_catches_* below feed it a violation to show that it fails.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
# The Triton kernels live in the top-level kernels/ and install as fastroute.kernels.
PACKAGES = {"fastroute": ROOT / "fastroute", "fastroute.kernels": ROOT / "kernels"}

# Low to high: a module may import from its own layer or any layer below, never above.
LAYERS: list[tuple[str, ...]] = [
    (
        "fastroute._version",
        "fastroute.errors",
        "fastroute.routellm_models",
        "fastroute.prompt_hash",
        "fastroute.progress",
    ),
    ("fastroute.ops", "fastroute.kernels"),
    ("fastroute.sw", "fastroute.embedders", "fastroute.bundle_schema", "fastroute.bundle_tensors"),
    ("fastroute.bundle",),
    ("fastroute.routers",),
    ("fastroute.loader", "fastroute.data", "fastroute.profile", "fastroute.native"),
    ("fastroute.train", "fastroute.eval", "fastroute.cluster"),
    ("fastroute.decision",),
    ("fastroute.learn",),  # calls models as a client; serves nothing
    ("fastroute.frontends",),
    ("fastroute.cli",),
]
DECISION = "fastroute.decision"
# One adapter per front door: a module, or a package of modules that only it uses.
FRONT_DOORS = (
    "fastroute.frontends.http",
    "fastroute.frontends.envoy",
    "fastroute.frontends.litellm_plugin",
    "fastroute.frontends.controller",
)
# The libraries of the transports: the decision layer must run where none is installed.
TRANSPORT_LIBRARIES = frozenset(
    {"aiohttp", "grpc", "grpclib", "litellm", "ray", "envoy", "openai", "fastapi", "starlette", "uvicorn", "uvloop"}
)
# Old import paths that users' configs name (a LiteLLM proxy's callbacks, a Ray Serve import
# path), kept working with a DeprecationWarning: alias -> its new home.
DEPRECATED = {
    "fastroute.gateways": None,
    "fastroute.gateways.litellm_plugin": "fastroute.frontends.litellm_plugin",
    "fastroute.cluster.serve_deployment": "fastroute.frontends.http.ray_serve",
    "fastroute.policy": "fastroute.profile.policy",
}


class Imports(NamedTuple):
    internal: set[str]  # modules of the package
    external: set[str]  # top-level names of everything else (numpy, aiohttp, ...)


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if "defaults" in parts or "static_model" in parts:
                continue
            mods[".".join([pkg, *parts])] = path
    return mods


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def imports_of(module: str, source: str, known: set[str], is_pkg: bool = False) -> Imports:
    """What `module` (its `source`) imports, anywhere but under TYPE_CHECKING."""
    tree = ast.parse(source)
    found, external = set(), set()

    def resolve(name: str) -> str | None:
        while name and name not in known:  # `from .x import f` where f is not a module
            name = name.rpartition(".")[0]
        return name or None

    def note(name: str) -> None:
        hit = resolve(name)
        if hit is not None:
            found.add(hit)
        elif not name.startswith("fastroute"):
            external.add(name.partition(".")[0])

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                note(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                note(f"{prefix}.{alias.name}" if f"{prefix}.{alias.name}" in known else prefix)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return Imports(found, external)


def import_graph() -> dict[str, Imports]:
    mods = _modules()
    return {m: imports_of(m, p.read_text(), set(mods), p.name == "__init__.py") for m, p in mods.items()}


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def layer_of(module: str) -> int | None:
    for i, prefixes in enumerate(LAYERS):
        if any(_within(module, p) for p in prefixes):
            return i
    return None


def front_door_of(module: str) -> str | None:
    return next((door for door in FRONT_DOORS if _within(module, door)), None)


# -- the rules: each returns its violations, one line each -------------------------------------
def uphill_imports(graph: dict[str, Imports]) -> list[str]:
    out = []
    for mod, deps in graph.items():
        if mod == "fastroute" or mod in DEPRECATED:  # the lazy __init__ re-exports from every layer
            continue
        for dep in sorted(deps.internal):
            if dep != "fastroute" and dep not in DEPRECATED and layer_of(dep) > layer_of(mod):  # type: ignore[operator]
                out.append(f"{mod} -> {dep}")
    return out


def transports_in_the_decision_layer(graph: dict[str, Imports]) -> list[str]:
    return [
        f"{mod} imports {lib}"
        for mod, deps in graph.items()
        if _within(mod, DECISION)
        for lib in sorted(deps.external & TRANSPORT_LIBRARIES)
    ]


def front_doors_importing_each_other(graph: dict[str, Imports]) -> list[str]:
    out = []
    for mod, deps in graph.items():
        door = front_door_of(mod)
        if door is None:
            continue
        out += [f"{mod} -> {dep}" for dep in sorted(deps.internal) if front_door_of(dep) not in (None, door)]
    return out


def front_doors_deciding_elsewhere(graph: dict[str, Imports]) -> list[str]:
    """Front doors none of whose modules imports the decision layer: they decide on their own."""
    users = {front_door_of(m) for m, deps in graph.items() if any(_within(d, DECISION) for d in deps.internal)}
    present = {front_door_of(m) for m in graph} - {None}
    return sorted(str(door) for door in present - users)


def frontends_outside_a_front_door(graph: dict[str, Imports]) -> list[str]:
    return sorted(
        m for m in graph if _within(m, "fastroute.frontends") and m != "fastroute.frontends" and not front_door_of(m)
    )


def misused_aliases(graph: dict[str, Imports]) -> list[str]:
    out = []
    for mod, deps in graph.items():
        if mod in DEPRECATED:
            target = DEPRECATED[mod]
            extra = deps.internal - {target, "fastroute"} - {m for m in DEPRECATED if _within(m, mod)}
            out += [f"alias {mod} imports {dep}" for dep in sorted(extra)]
        else:
            out += [f"{mod} imports the deprecated {dep}" for dep in sorted(deps.internal & set(DEPRECATED))]
    return out


# -- the rules hold ----------------------------------------------------------------------------
def test_the_package_has_no_import_cycle():
    assert find_cycles({m: deps.internal for m, deps in import_graph().items()}) == []


def test_every_module_has_a_layer():
    """Every module but the package's lazy __init__ and the deprecated aliases (which stand
    outside the layers: they only re-export their new home)."""
    assert [m for m in _modules() if m != "fastroute" and m not in DEPRECATED and layer_of(m) is None] == []


def test_imports_run_downhill():
    """ops and kernels know nothing of routers; routers nothing of datasets, training,
    evaluation or deciding; the decision layer nothing of any front door."""
    assert uphill_imports(import_graph()) == []


def test_the_decision_layer_imports_no_transport():
    assert transports_in_the_decision_layer(import_graph()) == []


def test_front_doors_stand_beside_each_other():
    graph = import_graph()
    assert frontends_outside_a_front_door(graph) == []
    assert front_doors_importing_each_other(graph) == []
    assert front_doors_deciding_elsewhere(graph) == []


def test_deprecated_aliases_only_point_at_their_new_home():
    assert set(DEPRECATED) <= set(_modules())
    assert misused_aliases(import_graph()) == []


# -- the rules fail on a violation ---------------------------------------------------------------
def _graph(modules: dict[str, str]) -> dict[str, Imports]:
    known = set(modules) | {"fastroute"}
    return {m: imports_of(m, src, known) for m, src in modules.items()}


def test_cycle_finder_finds_a_deferred_cycle():
    """Two modules importing each other inside functions form a cycle; type-only imports do not count."""
    g = _graph(
        {
            "p.a": "def f():\n    from . import b\n",
            "p.b": "def g():\n    from .a import f\n",
            "p.c": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n",
        }
    )
    assert g["p.c"].internal == set()
    assert find_cycles({m: d.internal for m, d in g.items()}) == [["p.a", "p.b"]]


def test_layer_rule_catches_an_uphill_import():
    g = _graph(
        {
            "fastroute.routers.mf": "def f():\n    from ..decision.config import DecisionConfig\n",
            "fastroute.decision.config": "import numpy\n",
        }
    )
    assert uphill_imports(g) == ["fastroute.routers.mf -> fastroute.decision.config"]


def test_transport_rule_catches_a_deferred_transport_import():
    g = _graph(
        {
            "fastroute.decision.decider": "def serve():\n    from aiohttp import web\n",
            "fastroute.decision.config": "import numpy\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import ray\n",
        }
    )
    assert transports_in_the_decision_layer(g) == ["fastroute.decision.decider imports aiohttp"]


def test_front_door_rules_catch_a_door_reaching_into_another():
    g = _graph(
        {
            "fastroute.decision.decider": "",
            "fastroute.frontends.http.app": "from ...decision.decider import Decider\n",
            "fastroute.frontends.litellm_plugin": "from .http.app import create_app\n",
            "fastroute.frontends.controller": "import numpy\n",
            "fastroute.frontends.helpers": "",
        }
    )
    assert front_doors_importing_each_other(g) == ["fastroute.frontends.litellm_plugin -> fastroute.frontends.http.app"]
    assert front_doors_deciding_elsewhere(g) == ["fastroute.frontends.controller", "fastroute.frontends.litellm_plugin"]
    assert frontends_outside_a_front_door(g) == ["fastroute.frontends.helpers"]


def test_alias_rule_catches_an_alias_in_use():
    g = _graph(
        {
            "fastroute.frontends.litellm_plugin": "",
            "fastroute.gateways.litellm_plugin": "from ..frontends.litellm_plugin import *\nfrom ..loader import x\n",
            "fastroute.loader": "",
            "fastroute.cli.serve": "from ..gateways.litellm_plugin import response_headers\n",
        }
    )
    assert misused_aliases(g) == [
        "alias fastroute.gateways.litellm_plugin imports fastroute.loader",
        "fastroute.cli.serve imports the deprecated fastroute.gateways.litellm_plugin",
    ]


# -- registries and backends ---------------------------------------------------------------------
def test_no_backend_name_branches_outside_ops():
    """Code outside fastroute.ops asks a backend for a capability, never for its name."""
    offenders = []
    for mod, path in _modules().items():
        if mod.startswith(("fastroute.ops", "fastroute.kernels", "fastroute.cli.info")):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                sides = [node.left, *node.comparators]
                if any(isinstance(s, ast.Attribute) and s.attr == "NAME" for s in sides):
                    offenders.append(f"{mod}:{node.lineno}")
    assert offenders == []


def test_one_registry_per_kind():
    """The public router classes, load_router's kinds and `fastroute.__all__` all come from
    the router registry; every Router subclass in the package is registered."""
    import fastroute
    from fastroute.routers.registry import ROUTERS

    for kind, entry in ROUTERS.items():
        cls = entry.load()
        assert cls.kind == kind
        assert entry.class_name in fastroute.__all__ and getattr(fastroute, entry.class_name) is cls
    defined = set()
    for mod, path in _modules().items():
        if mod.startswith("fastroute.routers."):
            for node in ast.parse(path.read_text()).body:
                if isinstance(node, ast.ClassDef) and any(
                    isinstance(s, ast.Assign) and any(getattr(t, "id", "") == "kind" for t in s.targets)
                    for s in node.body
                ):
                    defined.add(f"{mod}:{node.name}")
    assert defined == {e.target for e in ROUTERS.values()}


def test_every_registered_embedder_describes_itself():
    from fastroute.embedders.registry import EMBEDDERS

    for name, entry in EMBEDDERS.items():
        cls = entry.load()
        assert callable(getattr(cls, "described", None)), name


def test_bundle_schema_knows_every_router_kind():
    """The bundle format's per-kind manifest checks cover exactly the registered kinds."""
    from fastroute.bundle_schema import KIND_CHECKS
    from fastroute.routers.registry import ROUTERS

    assert set(KIND_CHECKS) == set(ROUTERS)
