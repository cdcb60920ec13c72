"""Under `make asan` the native tests must run the sanitizer build, not the normal one: the
libraries loaded then carry AddressSanitizer's and UBSan's checks (and this fails otherwise)."""

from __future__ import annotations

import os
import subprocess

import pytest


def _undefined(path) -> str:
    return subprocess.run(["nm", "-D", "--undefined-only", str(path)], capture_output=True, text=True).stdout


@pytest.mark.skipif(os.environ.get("FASTROUTE_EXPECT_SANITIZERS") != "1", reason="runs under `make asan`")
def test_the_loaded_libraries_are_the_sanitizer_build(native):
    for name in (native.ENGINE_LIBRARY, native.ENVOY_MODULE):
        syms = _undefined(native.library_path(name))
        assert "__asan_report_load" in syms and "__ubsan_handle" in syms, name
