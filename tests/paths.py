"""Where things are, for tests in any folder of tests/: the repository's root, the real data
beside the checkout, and the conformance tables both the Python package and the native engine
are tested against."""

import json
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
CONFORMANCE = TESTS / "conformance"


def conformance(name: str) -> dict:
    """tests/conformance/<name>.json"""
    return json.loads((CONFORMANCE / f"{name}.json").read_text())
