"""Reads the prompts a user has: a text file (one prompt a line), JSONL/JSON/parquet records
with a `prompt`, or the chat-completions request bodies a gateway logs (`messages`, at the
top of a record or under `request`, `body` or `request_body`, as an object or a JSON string).
A directory is read recursively. A record with no prompt is counted and reported, never
dropped silently; an optional `reference` (or `answer`) field is kept for grading.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.tables import read_records

SUFFIXES = (".txt", ".jsonl", ".json", ".parquet", ".jsonl.gz", ".json.gz")
BODY_KEYS = ("request", "body", "request_body")


@dataclass(frozen=True)
class Prompt:
    text: str  # what the router sees: the last user message
    messages: tuple  # what the models are sent: the conversation, as the request had it
    reference: "str | None" = None
    origin: str = ""  # file:line


@dataclass
class ReadReport:
    files: int = 0
    records: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # why -> how many
    first_skipped: dict[str, str] = field(default_factory=dict)  # why -> file:line of the first

    def skip(self, why: str, where: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1
        self.first_skipped.setdefault(why, where)

    def lines(self) -> list[str]:
        out = [f"read {self.records} records from {self.files} files"]
        out += [f"skipped {n} records: {why} (first at {self.first_skipped[why]})" for why, n in self.skipped.items()]
        return out


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such file or directory")
    found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
    if not found:
        raise FileNotFoundError(f"{path}: no prompt files ({', '.join(SUFFIXES)}) in this directory")
    return found


def _body(record: dict) -> "dict | None":
    """The chat request body a log record holds: the record itself, or one of BODY_KEYS."""
    if "messages" in record:
        return record
    for key in BODY_KEYS:
        value = record.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                continue
        if isinstance(value, dict) and "messages" in value:
            return value
    return None


def _prompt(record: Any, where: str, report: ReadReport) -> "Prompt | None":
    from ..decision.errors import APIError
    from ..decision.messages import routing_text

    if not isinstance(record, dict):
        report.skip("not a JSON object", where)
        return None
    ref = record.get("reference", record.get("answer"))
    if ref is not None and not isinstance(ref, str):
        ref = json.dumps(ref) if isinstance(ref, (int, float)) else None
    if isinstance(record.get("prompt"), str):
        text = record["prompt"]
        messages: tuple = ({"role": "user", "content": text},)
    else:
        body = _body(record)
        if body is None:
            report.skip("no prompt, messages or logged request body", where)
            return None
        try:
            text = routing_text(body["messages"])
        except APIError as exc:
            report.skip(f"malformed messages ({exc.message})", where)
            return None
        messages = tuple(body["messages"])
    if not text.strip():
        report.skip("empty prompt", where)
        return None
    return Prompt(text, messages, ref, where)


def read_prompts(path: "str | Path") -> tuple[list[Prompt], ReadReport]:
    """Every prompt under `path` (a file or a directory), in file order."""
    report = ReadReport()
    out: list[Prompt] = []
    for f in _files(Path(path)):
        report.files += 1
        if f.suffix == ".txt":
            for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
                report.records += 1
                text = line.strip()
                if text:
                    out.append(Prompt(text, ({"role": "user", "content": text},), None, f"{f}:{n}"))
                else:
                    report.skip("empty line", f"{f}:{n}")
            continue
        for n, record in enumerate(read_records(f), 1):
            report.records += 1
            p = _prompt(record, f"{f}:{n}", report)
            if p is not None:
                out.append(p)
    return out, report
