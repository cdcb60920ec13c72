"""Rendering a result table (a header row, then rows of strings) as aligned text or Markdown,
and writing a report's results files: shared by the two-model (pair/report.py) and routing-profile
(profile/report.py) reports."""

from __future__ import annotations

import json
from pathlib import Path


def text_table(notes: list[str], rows: list[list[str]]) -> str:
    """`notes` lines, then the rows in columns padded to their widest cell."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = list(notes)
    out.append("  ".join(c.ljust(w) for c, w in zip(rows[0], widths)))
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
    return "\n".join(out)


def markdown_table(title: str, notes: list[str], rows: list[list[str]]) -> str:
    """A `## title` section: the notes as a list, then the rows as a Markdown table."""
    out = [f"## {title}", ""] + [f"- {line}" for line in notes] + [""]
    out.append("| " + " | ".join(rows[0]) + " |")
    out.append("|" + "---|" * len(rows[0]))
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out) + "\n"


def write_results(output: "str | Path", doc: dict, markdown: str) -> list[Path]:
    """results.json and results.md in `output` (made if missing); returns their paths."""
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=2) + "\n")
    (out / "results.md").write_text(markdown)
    return [out / "results.json", out / "results.md"]
