"""The numbers the kernels share, in one place for Python.

C has the same values in csrc/fr_constants.h (tests/ops/test_op_constants.py parses that header
and checks each value against this module); the Triton kernels take them from here as
tl.constexpr globals. Change a value here, in the header, and nowhere else.
"""

from __future__ import annotations

import math

# ---- similarity weights (sw_stats) ----------------------------------------------------
# RouteLLM weights a battle 10 * 10^(s / max s) = 2^(log2(10) * (s / max s + 1)); the
# sharper alternative is exp(g (s - max s)) = 2^(g log2(e) (s - max s)).
ROUTELLM_WEIGHT_BASE = 10.0  # also the uniform weight of a row whose maximum is <= 0
LOG2_10 = math.log2(ROUTELLM_WEIGHT_BASE)
LOG2_E = math.log2(math.e)
# Exponents below 2^-113 (~1e-34) are clamped, so that no battle ever gets weight 0.
EXP2_MIN = -113.0

# ---- Bradley-Terry Newton solve (bt_fit) ----------------------------------------------
LN10 = math.log(10.0)  # Bradley-Terry coefficients are on RouteLLM's log10 scale
BT_RIDGE = 1e-9  # ridge, times a row's total weight, that keeps the Newton system well-posed
BT_TOL = 1e-11  # converged when |ln10 * step| < BT_TOL for every player
BT_MAX_ITER = 100  # Newton iterations before a row counts as not converged
BT_MAX_HALVINGS = 60  # step halvings per iteration while the objective goes down
BT_DESCENT_RTOL = 1e-12  # a step is "worse" when it lowers the objective by more than this, relatively
