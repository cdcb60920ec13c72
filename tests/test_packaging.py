"""What a wheel ships: every data directory of the package is declared with its files, so an
install neither drops a shipped bundle nor warns (setuptools warns about data directories
that are not declared packages, ~160 lines on every `make route`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from paths import ROOT  # noqa: E402

PACKAGE = ROOT / "fastroute"


def _package_data() -> dict[str, list[str]]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]


def _data_dirs() -> list[Path]:
    """Directories under fastroute/ holding files that are not Python (no __init__.py)."""
    out = []
    for d in sorted(p for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        if not (d / "__init__.py").exists() and any(f.is_file() for f in d.iterdir()):
            out.append(d)
    return out


def test_every_data_directory_is_declared_with_its_files():
    declared = _package_data()
    for d in _data_dirs():
        name = ".".join(d.relative_to(ROOT).parts)
        assert name in declared, f"{name}: add it to [tool.setuptools.package-data] in pyproject.toml"
        patterns = declared[name]
        for f in d.iterdir():
            if f.is_file():
                assert any(f.match(p) for p in patterns), f"{f.relative_to(ROOT)} is not matched by {patterns}"


def test_the_data_directories_are_found_as_packages():
    from setuptools import find_namespace_packages

    found = set(find_namespace_packages(str(ROOT), include=["fastroute", "fastroute.*"], exclude=["*.__pycache__"]))
    for d in _data_dirs():
        assert ".".join(d.relative_to(ROOT).parts) in found


def _run_from_the_root(code: str) -> "subprocess.CompletedProcess[str]":
    """`python -c code` started in the repository's root, as a REPL or notebook there is: the
    root comes first on sys.path."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LD_PRELOAD")}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_kernels_is_no_top_level_package():
    """kernels/ has no __init__.py and its modules refuse any name but fastroute.kernels.*, so
    from the root `kernels` is never the repository's folder as a package: an installed package
    of that name wins over a plain directory, and `kernels.config` is not fastroute's module."""
    assert not (ROOT / "kernels" / "__init__.py").exists()
    res = _run_from_the_root(
        "import importlib, importlib.util as u, pathlib\n"
        "ours = pathlib.Path('kernels').resolve()\n"
        "spec = u.find_spec('kernels')\n"
        "assert spec is None or spec.origin is None or pathlib.Path(spec.origin).resolve().parent != ours, spec\n"
        "try:\n"
        "    m = importlib.import_module('kernels.config')\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    assert pathlib.Path(m.__file__).resolve().parent != ours, m.__file__\n"
    )
    assert res.returncode == 0, res.stderr[-2000:]


def test_transformers_imports_from_the_repository_root():
    """transformers 5 imports Hugging Face's `kernels` package; started in the root it used to
    find the repository's kernels/ instead and fail (`cannot import name 'CUDAProperties'`)."""
    pytest.importorskip("transformers")
    res = _run_from_the_root("from transformers import PreTrainedModel\nprint(PreTrainedModel.__name__)")
    assert res.returncode == 0 and res.stdout.strip() == "PreTrainedModel", res.stderr[-2000:]
