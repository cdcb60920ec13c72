"""The Python parser against the model-string table the native engine is tested against too
(tests/conformance/model_strings.json): the same router and value, or the same message."""

from __future__ import annotations

import pytest

from fastroute.decision.model_string import parse_model_string

from paths import conformance

CASES = conformance("model_strings")["cases"]


@pytest.mark.parametrize("case", CASES, ids=[repr(c["model"]) for c in CASES])
def test_python_parses_as_the_table_says(case):
    if "error" in case:
        with pytest.raises(ValueError) as info:
            parse_model_string(case["model"])
        assert str(info.value) == case["error"]
        return
    got = parse_model_string(case["model"])
    assert (got.router, got.threshold, got.strong_pct) == (
        case["router"],
        case.get("threshold"),
        case.get("strong_pct"),
    )


def test_the_table_covers_each_kind_of_answer():
    kinds = {("error" in c, "threshold" in c, "strong_pct" in c) for c in CASES}
    assert kinds == {(True, False, False), (False, True, False), (False, False, True)}
    assert len({c["model"] for c in CASES}) == len(CASES)
