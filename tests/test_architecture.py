"""The package's structure, checked: no import cycles (deferred imports included), imports
that only run downhill through the layers below, one registry per kind, no module that
asks a kernel backend its name outside fastroute.ops, and modules small enough to read.

The import graph is read from the source (ast), not by importing: an import inside a
function counts, since deferring an import hides a cycle instead of removing it; an
import under `if TYPE_CHECKING:` does not (it never runs).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The Triton kernels live in the top-level kernels/ and install as fastroute.kernels.
PACKAGES = {"fastroute": ROOT / "fastroute", "fastroute.kernels": ROOT / "kernels"}
MAX_LINES = 250

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
    ("fastroute.sw", "fastroute.embedders", "fastroute.bundle_schema", "fastroute.bundle_tensors", "fastroute.policy"),
    ("fastroute.bundle",),
    ("fastroute.routers",),
    ("fastroute.loader", "fastroute.model_string", "fastroute.data", "fastroute.profile"),
    ("fastroute.train", "fastroute.eval"),
    ("fastroute.serve",),
    ("fastroute.gateways",),
    ("fastroute.cluster",),
    ("fastroute.cli",),
]


def _modules() -> dict[str, Path]:
    mods = {}
    for pkg, root in PACKAGES.items():
        for path in sorted(root.rglob("*.py")):
            rel = path.relative_to(root).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if "defaults" in parts or "static_model" in parts:
                continue
            if pkg == "fastroute" and parts[:1] == ["kernels"]:
                continue
            mods[".".join([pkg, *parts])] = path
    return mods


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The modules of the package that `module` imports, anywhere but under TYPE_CHECKING."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()

    def resolve(name: str) -> str | None:
        while name and name not in known:  # `from .x import f` where f is not a module
            name = name.rpartition(".")[0]
        return name or None

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (hit := resolve(alias.name)) is not None:
                    found.add(hit)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                hit = resolve(f"{prefix}.{alias.name}") if f"{prefix}.{alias.name}" in known else resolve(prefix)
                if hit is not None:
                    found.add(hit)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = _modules()
    return {m: _imports(m, p, set(mods)) for m, p in mods.items()}


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
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def test_the_package_has_no_import_cycle():
    assert find_cycles(import_graph()) == []


def test_cycle_finder_finds_a_deferred_cycle(tmp_path):
    """The check can fail: two modules importing each other inside functions form a cycle."""
    (tmp_path / "a.py").write_text("def f():\n    from . import b\n")
    (tmp_path / "b.py").write_text("def g():\n    from .a import f\n")
    (tmp_path / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
    known = {"p.a", "p.b", "p.c"}
    graph = {f"p.{n}": _imports(f"p.{n}", tmp_path / f"{n}.py", known) for n in "abc"}
    assert graph["p.c"] == set()  # type-only imports do not count
    assert find_cycles(graph) == [["p.a", "p.b"]]


def test_every_module_has_a_layer():
    assert [m for m in _modules() if m != "fastroute" and layer_of(m) is None] == []


def test_imports_run_downhill():
    """ops and kernels know nothing of routers; routers nothing of datasets, training,
    evaluation or serving; bundle.py (the file format) nothing of the routers."""
    uphill = []
    for mod, deps in import_graph().items():
        if mod == "fastroute":  # the package's lazy __init__ re-exports from every layer
            continue
        for dep in sorted(deps):
            if dep != "fastroute" and layer_of(dep) > layer_of(mod):  # type: ignore[operator]
                uphill.append(f"{mod} -> {dep}")
    assert uphill == []


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


@pytest.mark.parametrize("root", sorted(PACKAGES.values()), ids=lambda p: p.name)
def test_modules_are_small(root):
    big = {
        str(p.relative_to(ROOT)): n for p in root.rglob("*.py") if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert big == {}


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
