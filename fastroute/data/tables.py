"""Reads small tabular files (CSV, JSON, JSONL, optionally gzipped; parquet with
pyarrow) into a dict of columns, without pandas."""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any


def _open_text(path: Path) -> io.TextIOBase:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8", newline="")


def read_records(path: "str | Path") -> list[dict[str, Any]]:
    """Rows of a .csv, .json (a list of objects), .jsonl or .parquet file, as dicts."""
    p = Path(path)
    if p.is_dir():
        raise FileNotFoundError(f"{p} is a directory, not a data file (.csv, .json, .jsonl or .parquet)")
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such file")
    kind = p.suffixes[-2] if p.suffix == ".gz" and len(p.suffixes) > 1 else p.suffix
    try:
        if kind == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as exc:
                raise ImportError(f"reading {p} needs pyarrow: pip install 'fastroute[io]'") from exc
            return pq.read_table(p).to_pylist()
        with _open_text(p) as fh:
            if kind == ".csv":
                return list(csv.DictReader(fh))
            if kind == ".jsonl":
                rows = []
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        try:
                            rows.append(json.loads(line))
                        except json.JSONDecodeError as exc:
                            raise ValueError(f"{p}:{n}: not valid JSON ({exc.msg})") from None
                return rows
            if kind == ".json":
                data = json.load(fh)
                if isinstance(data, dict):  # column-oriented {"col": [..]} or {"col": {"0": ..}}
                    cols = {k: list(v.values()) if isinstance(v, dict) else list(v) for k, v in data.items()}
                    n = len(next(iter(cols.values()), []))
                    return [{k: cols[k][i] for k in cols} for i in range(n)]
                if not isinstance(data, list):
                    raise ValueError(f"{p}: expected a list of records")
                return data
    except UnicodeDecodeError as exc:
        raise ValueError(f"{p}: not UTF-8 text ({exc})") from None
    raise ValueError(f"{p}: unsupported file type {kind!r} (use .csv, .json, .jsonl or .parquet)")


def columns(records: list[dict[str, Any]], names: "list[str]", where: str = "table") -> dict[str, list[Any]]:
    """The named columns of a list of records; a missing column is an error naming it."""
    if records:
        missing = [n for n in names if n not in records[0]]
        if missing:
            raise ValueError(f"{where} lacks column(s) {missing}; it has {sorted(records[0])}")
    return {n: [r.get(n) for r in records] for n in names}


def prompt_row(path: "str | Path", n: int, line: str, field: str) -> "dict[str, Any] | None":
    """Line n of a prompts JSONL file as its row (None for a blank line), or a ValueError naming
    the file and the line: not JSON, no string `field`, or a prompt that is not valid Unicode
    (a JSON escape can make a lone surrogate). One wording for in-process and Ray scoring."""
    from ..embedders.base import lone_surrogate

    if not line.strip():
        return None
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except RecursionError:
        raise ValueError(f"{path}:{n}: not valid JSON (nested too deeply)") from None
    value = row.get(field) if isinstance(row, dict) else None
    if not isinstance(value, str):
        raise ValueError(f"{path}:{n}: no string field {field!r}")
    if (at := lone_surrogate(value)) is not None:
        raise ValueError(
            f"{path}:{n}: the prompt holds a lone surrogate {value[at]!r} at "
            f"character {at}, which is not valid Unicode text"
        )
    return row
