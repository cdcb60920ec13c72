"""The kernels' shared numbers have one source per language, and they agree:
fastroute/ops/constants.py (Python, and the Triton kernels' tl.constexpr globals) and
csrc/fr_constants.h (C), whose every #define is checked here against the Python value."""

from __future__ import annotations

import math
import re

import pytest

from fastroute.ops import constants

from paths import ROOT  # noqa: E402

HEADER = ROOT / "csrc" / "fr_constants.h"


def _c_defines() -> dict[str, float]:
    out = {}
    for name, value in re.findall(r"^#define (FR_\w+) (.+)$", HEADER.read_text(), flags=re.M):
        if name == "FR_CONSTANTS_H":
            continue
        out[name] = float(value.strip().strip("()").rstrip("f"))
    return out


def test_c_header_matches_python():
    defines = _c_defines()
    py = {name: getattr(constants, name) for name in dir(constants) if name.isupper()}
    assert set(defines) == {f"FR_{name}" for name in py}, "fr_constants.h and constants.py name different constants"
    for name, value in py.items():  # decimal literals parsed to the nearest double, as the C compiler does
        assert defines[f"FR_{name}"] == value, (name, defines[f"FR_{name}"], value)


def test_values():
    assert constants.LOG2_10 == math.log2(10.0) and constants.LOG2_E == math.log2(math.e)
    assert constants.LN10 == math.log(10.0) and 2.0**constants.LOG2_10 == pytest.approx(constants.ROUTELLM_WEIGHT_BASE)
    assert (constants.BT_RIDGE, constants.BT_TOL, constants.BT_MAX_ITER, constants.BT_MAX_HALVINGS) == (
        1e-9,
        1e-11,
        100,
        60,
    )


@pytest.mark.parametrize(
    "literal",
    ["1.4426950408889634", "3.321928094887362", "113.0", "1e-11", "1e-12", "1e-9", "2.302585092994045", "range(60)"],
)
def test_no_copies_of_the_constants_in_kernel_code(literal):
    """The numbers appear once per language: not as literals in the kernels or backends."""
    files = [*ROOT.glob("kernels/*.py"), *ROOT.glob("fastroute/ops/*.py"), *ROOT.glob("csrc/*.c")]
    files = [f for f in files if f.name != "constants.py"]
    assert files
    for f in files:
        assert literal not in f.read_text(), (f.name, literal)


def test_triton_kernels_take_constexpr_globals():
    pytest.importorskip("triton")
    from fastroute.ops.triton_backend import kernel_module

    sw = kernel_module("sw_stats")
    import triton.language as tl

    for name, value in [
        ("_LOG2_10_C", constants.LOG2_10),
        ("_LOG2_E_C", constants.LOG2_E),
        ("_EXP2_MIN_C", constants.EXP2_MIN),
    ]:
        g = getattr(sw, name)
        assert isinstance(g, tl.constexpr) and g.value == value, name
