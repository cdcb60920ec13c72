"""`fastroute envoy-module`: the module's path, its config, a whole Envoy config; the shipped
examples/envoy/envoy-module.yaml is exactly what the command prints for a checkout (so the two
never drift), and Envoy 1.40 accepts it with the module loaded."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from fastroute.cli import main

from paths import ROOT

EXAMPLE = ROOT / "examples" / "envoy" / "envoy-module.yaml"


def test_the_shipped_example_is_the_commands_output(capsys):
    assert main(["envoy-module", "--envoy-config", "--relative-to", str(ROOT)]) == 0
    assert capsys.readouterr().out == EXAMPLE.read_text()


def test_the_filter_config_opens_a_native_decider(native, capsys):
    args = ["envoy-module", "--filter-config", "--routers", "mf", "length", "--strong-model", "big", "--weak-model", "small",
            "--alias", "auto=router-mf-50%", "--profile", "routerbench", "--fail-open"]  # fmt: skip
    assert main(args) == 0
    cfg = json.loads(capsys.readouterr().out)
    assert cfg["fail_open"] is True and cfg["aliases"] == {"auto": "router-mf-50%"} and "routerbench" in cfg["profiles"]
    d = native.Decider(cfg)
    assert d.decide_chat(b'{"model": "auto", "messages": [{"role": "user", "content": "hi"}]}').model in (
        "big",
        "small",
    )


def test_the_module_path_and_bad_options(native, capsys):
    assert main(["envoy-module"]) == 0
    out = capsys.readouterr().out
    assert str(native.library_path(native.ENVOY_MODULE)) in out and "ENVOY_DYNAMIC_MODULES_SEARCH_PATH=" in out
    assert main(["envoy-module", "--envoy-config", "--upstream", "gpt-4o"]) == 2
    assert "expected NAME=VALUE" in capsys.readouterr().err


@pytest.mark.external  # starts Envoy
def test_envoy_accepts_the_example(native):
    from envoy_helpers import envoy_binary

    binary = envoy_binary()
    if binary is None:
        pytest.skip("no envoy binary")
    env = {**os.environ, "ENVOY_DYNAMIC_MODULES_SEARCH_PATH": str(native.library_path().parent)}
    res = subprocess.run([binary, "--mode", "validate", "-c", str(EXAMPLE), "--disable-hot-restart"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env=env)  # fmt: skip
    assert res.returncode == 0 and "OK" in res.stdout + res.stderr, (res.stdout + res.stderr)[-2000:]
    assert "fastroute 0.1.0 api 1 loaded" in res.stdout + res.stderr
