"""Calibrated win rates: a bundle may store how to turn its router's raw logit z (mf: e . u;
sw_ranking: ln 10 (b_s - b_w)) into a probability that means what it says, sigmoid(scale z +
offset) (Platt scaling), fitted on held-out decisive battles of one pair of models.

Raw sw_ranking win rates, for one, are squeezed into a few hundredths around 0.56 while the
strong model wins 60% to 98% of decisive comparisons across them: calibrated, a threshold
no longer hinges on the fourth decimal. The map is monotone, so which prompts rank above
which (and every APGR, CPT and share-based threshold) is unchanged. It applies only to the
pair it was fitted on; any other pair is scored raw, and so are the strengths routing
profiles compare N models by. RouteLLM's checkpoints carry none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from ..errors import BundleError

META_KEY = "calibration"


@dataclass(frozen=True)
class LogitCalibration:
    strong_model: str
    weak_model: str
    scale: float
    offset: float
    fitted_on: str = ""  # what the map was fitted on, for the reader of the bundle

    def __post_init__(self) -> None:
        if not (math.isfinite(self.scale) and self.scale > 0 and math.isfinite(self.offset)):
            raise ValueError(
                f"calibration scale must be finite and > 0 and offset finite, got {self.scale}, {self.offset}"
            )

    def to_meta(self) -> dict:
        return {
            "pair": [self.strong_model, self.weak_model],
            "scale": self.scale,
            "offset": self.offset,
            "fitted_on": self.fitted_on,
        }

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], where: str = "bundle") -> "LogitCalibration | None":
        doc = meta.get(META_KEY)
        if doc is None:
            return None
        try:
            pair, scale, offset = doc["pair"], doc["scale"], doc["offset"]
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(m, str) for m in pair)):
                raise ValueError("'pair' must be [strong, weak] model names")
            if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (scale, offset)):
                raise ValueError("'scale' and 'offset' must be numbers")
            return cls(pair[0], pair[1], float(scale), float(offset), str(doc.get("fitted_on", "")))
        except (KeyError, TypeError, ValueError) as exc:
            raise BundleError(f"{where}: key {META_KEY!r} is malformed ({exc})") from None


def scale_and_offset(meta: Mapping[str, Any], strong_model: str, weak_model: str) -> tuple[float, float]:
    """(scale, offset) for scoring `strong_model` against `weak_model`: the stored calibration's
    when it was fitted on that pair, else (1, 0), the raw win rate."""
    cal = LogitCalibration.from_meta(meta)
    if cal is None or (cal.strong_model, cal.weak_model) != (strong_model, weak_model):
        return 1.0, 0.0
    return cal.scale, cal.offset
