"""The import paths users' configs name keep working after the move to fastroute.frontends,
each with a DeprecationWarning naming the new path, and give the very same objects."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

ALIASES = [
    # (old module, new module, a name configs use, what it needs)
    ("fastroute.gateways.litellm_plugin", "fastroute.frontends.litellm_plugin", "response_headers", "litellm"),
    ("fastroute.cluster.serve_deployment", "fastroute.frontends.http.ray_serve", "build_app", "ray"),
    ("fastroute.policy", "fastroute.profile.policy", "max_value", "numpy"),
]


@pytest.mark.parametrize("old,new,name,needs", ALIASES, ids=[a[0] for a in ALIASES])
def test_an_old_path_warns_and_is_the_new_one(old, new, name, needs):
    if importlib.util.find_spec(needs) is None:
        pytest.skip(f"{needs} is not installed")
    code = (
        "import importlib, warnings\n"
        "with warnings.catch_warnings(record=True) as seen:\n"
        "    warnings.simplefilter('always')\n"
        f"    old = importlib.import_module({old!r})\n"
        f"new = importlib.import_module({new!r})\n"
        f"assert getattr(old, {name!r}) is getattr(new, {name!r})\n"
        "assert set(old.__all__) == set(new.__all__) and all(getattr(old, n) is getattr(new, n) for n in new.__all__)\n"
        f"msgs = [str(w.message) for w in seen if issubclass(w.category, DeprecationWarning) and {old!r} in str(w.message)]\n"
        f"assert msgs and {new!r} in msgs[0], [str(w.message) for w in seen]\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
