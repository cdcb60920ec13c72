"""Rewrites the decisions of chat_bodies.json's accepted bodies from the Python decider, after
the shipped defaults are retrained (their win rates change; what is refused, and why, does not):

    .venv/bin/python tests/conformance/refresh_accepted.py

Every implementation (fastroute serve, the native decider, the Envoy module) is then tested
against the new table. It prints the cases whose routed model changed, to be looked at: a case
meant to reach the weak model must still do so (adjust its threshold by hand if not).
"""

from __future__ import annotations

import json
from pathlib import Path

from fastroute.decision import ModelStrings
from fastroute.decision.build import build_decision
from fastroute.decision.decider import decide_chat_now

PATH = Path(__file__).with_name("chat_bodies.json")


def main() -> None:
    table = json.loads(PATH.read_text())
    cfg = build_decision(table["routers"], table["strong_model"], table["weak_model"])
    strings = ModelStrings(cfg)
    for case in table["accepted"]:
        d = decide_chat_now(cfg, json.loads(case["body"]), strings)
        if d.model != case["model"]:
            print(f"{case['name']}: now {d.model} (was {case['model']})")
        case["model"], case["routed"], case["headers"] = d.model, d.routed, dict(d.headers)
    PATH.write_text(json.dumps(table, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
