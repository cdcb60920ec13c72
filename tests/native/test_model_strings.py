"""The native grammar (fastroute_parse_model_string) against the model-string table the Python
parser is tested against (tests/conformance/model_strings.json): the same router and the same
double, or the same message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastroute.decision.model_string import parse_model_string

from paths import conformance

CASES = conformance("model_strings")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[repr(c["model"]) for c in CASES])
def test_native_parses_as_the_table_says(native, case):
    if "error" in case:
        with pytest.raises(native.NativeError) as info:
            native.parse_model_string(case["model"])
        assert info.value.message == case["error"]
        return
    assert native.parse_model_string(case["model"]) == (case["router"], case.get("threshold"), case.get("strong_pct"))


NUMBERS = st.from_regex(r"[+-]?(?:[0-9]{1,4}(?:\.[0-9]{0,6})?|\.[0-9]{1,6})(?:[eE][+-]?[0-9]{1,3})?%?", fullmatch=True)
# Printable text: Python's repr escapes non-printable non-ASCII code points by the Unicode
# database, which the native engine does not carry (requests only ever reach the grammar with
# printable ASCII model names: decision/validation.py:model_name).
CHARS = st.characters(min_codepoint=32, max_codepoint=126) | st.sampled_from("\u00e9\u00df\u4e2d\u00a0\t\x00\x85\u2028")
NAMES = st.text(CHARS, min_size=0, max_size=12)


@settings(max_examples=400, deadline=None)
@given(NAMES, NUMBERS | st.text(CHARS, max_size=8))
def test_native_agrees_with_python_on_generated_strings(native, router, tail):
    model = f"router-{router}-{tail}"
    try:
        want = parse_model_string(model)
        expected = (want.router, want.threshold, want.strong_pct)
    except ValueError as exc:
        expected = str(exc)
    try:
        got = native.parse_model_string(model)
    except native.NativeError as exc:
        got = exc.message
    assert got == expected
