"""csrc/examples/route.c, the C program that shows how to embed the engine without Envoy or
Python: it compiles against csrc/fastroute.h and libfastroute.so, and routes as Python does."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from fastroute import load_router
from fastroute.embedders.static import MODEL_DIR
from fastroute.loader import default_bundle_dir

from paths import ROOT

PROMPTS = ["Prove that there are infinitely many primes.", "hi", "Écris un poème sur la mer."]


@pytest.fixture(scope="module")
def route_program(native, tmp_path_factory):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    lib = native.library_path().parent
    exe = tmp_path_factory.mktemp("example") / "route"
    cmd = [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", str(ROOT / "csrc" / "examples" / "route.c"), f"-I{ROOT / 'csrc'}",
           f"-L{lib}", "-l:libfastroute.so", f"-Wl,-rpath,{lib}", "-o", str(exe)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return exe


@pytest.mark.parametrize("kind", ["mf", "sw_ranking"])
def test_the_example_routes_as_python(route_program, kind):
    res = subprocess.run(
        [str(route_program), str(default_bundle_dir(kind)), str(MODEL_DIR), "0.5", *PROMPTS],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    router = load_router(kind)
    p = router.win_rates(PROMPTS)
    want = [f"{m}\t{x:.6f}" for m, x in zip(router.decide(p, router.threshold_for(0.5)), p.tolist())]
    assert res.stdout.splitlines() == want


def test_the_example_names_a_bad_bundle(route_program, tmp_path):
    res = subprocess.run(
        [str(route_program), str(tmp_path), str(MODEL_DIR), "0.5", "x"], capture_output=True, text=True
    )
    assert res.returncode == 1 and "fastroute.json" in res.stderr
