"""Where things are, for tests in any folder of tests/: the repository's root and the real
data beside the checkout."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SHARED_DATA = ROOT.parent / "shared" / "data"
