"""Every paid call's result, so a rerun never pays twice: an append-only JSONL file keyed by
sha256 of (what was asked, of which model, with which parameters). A line is written and
flushed as soon as its call returns, so a crash loses at most the calls in flight; a torn
last line (the process died mid-write) is ignored and counted. Failures are not cached:
a rerun tries them again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence


def call_key(model: str, messages: Sequence[dict], params: dict) -> str:
    doc = json.dumps([model, list(messages), params], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(doc.encode("utf-8")).hexdigest()


class CallCache:
    def __init__(self, path: "str | Path") -> None:
        self.path = Path(path)
        self.entries: dict[str, dict] = {}
        self.torn_lines = 0
        if self.path.is_file():
            with open(self.path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        row = json.loads(line)
                        self.entries[row["key"]] = row
                    except (ValueError, KeyError, TypeError):
                        self.torn_lines += 1
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh: Any = None

    def get(self, key: str) -> "dict | None":
        return self.entries.get(key)

    def put(self, key: str, row: dict) -> None:
        if self._fh is None:
            self._ensure_newline()
            self._fh = open(self.path, "a", encoding="utf-8")
        row = {"key": key, **row}
        self._fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._fh.flush()
        self.entries[key] = row

    def _ensure_newline(self) -> None:
        """A torn last line gets a newline, so the next entry starts a line of its own."""
        if self.path.is_file() and self.path.stat().st_size:
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                torn = fh.read(1) != b"\n"
            if torn:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write("\n")

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def __enter__(self) -> "CallCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
