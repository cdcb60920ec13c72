"""What a wheel ships: every data directory of the package is declared with its files, so an
install neither drops a shipped bundle nor warns (setuptools warns about data directories
that are not declared packages, ~160 lines on every `make route`)."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
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
