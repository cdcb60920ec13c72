"""fastroute score: win rates (and decisions) for a file of prompts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..embedders.base import lone_surrogate
from .common import Progress, add_router_arguments, load_router_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_router_arguments(p)
    p.add_argument("--input", required=True, type=Path, help=".txt (one prompt per line), .jsonl or .parquet")
    p.add_argument("--output", required=True, type=Path, help=".jsonl or .parquet")
    p.add_argument("--field", default="prompt", help="prompt field of jsonl/parquet input (default: prompt)")
    p.add_argument("--threshold", type=float, default=None, help="also write the chosen model")
    p.add_argument("--batch-size", type=int, default=1024)


def decode_text(path: "Path | str", data: bytes) -> str:
    """`data` as UTF-8; a ValueError naming the file, line and byte offset otherwise."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ValueError(
            f"{path}:{line}: not UTF-8 text (byte {data[exc.start : exc.start + 1]!r} at byte offset "
            f"{exc.start}: {exc.reason})"
        ) from None


def _check_text(path: Path, line: int, text: str) -> str:
    """A prompt that encodes as UTF-8 (a JSON escape can produce a lone surrogate, which does not)."""
    at = lone_surrogate(text)
    if at is not None:
        raise ValueError(
            f"{path}:{line}: the prompt holds a lone surrogate {text[at]!r} at "
            f"character {at}, which is not valid Unicode text"
        )
    return text


def _jsonl_prompts(path: Path, field: str) -> list[str]:
    prompts = []
    for n, line in enumerate(decode_text(path, path.read_bytes()).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}:{n}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        except RecursionError:
            raise ValueError(f"{path}:{n}: not valid JSON (nested too deeply)") from None
        value = row.get(field) if isinstance(row, dict) else None
        if not isinstance(value, str):
            raise ValueError(f"{path}:{n}: no string field {field!r}")
        prompts.append(_check_text(path, n, value))
    return prompts


def read_prompts(path: Path, field: str) -> list[str]:
    """Prompts from a .txt (one per line: only "\\n" ends a line, a trailing "\\r" is dropped),
    .jsonl or .parquet file; errors name the file and the line."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".txt":
        text = decode_text(path, path.read_bytes())
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [line[:-1] if line.endswith("\r") else line for line in lines]
    if path.suffix == ".jsonl":
        return _jsonl_prompts(path, field)
    if path.suffix != ".parquet":
        raise ValueError(f"{path}: input must be .txt, .jsonl or .parquet")
    from ..data.tables import read_records

    prompts = []
    for i, row in enumerate(read_records(path)):
        value = row.get(field) if isinstance(row, dict) else None
        if not isinstance(value, str):
            raise ValueError(f"{path}: row {i} has no string field {field!r}")
        prompts.append(value)
    return prompts


def write_rows(path: Path, rows: dict[str, list]) -> None:
    if path.suffix == ".jsonl":
        keys = list(rows)
        with open(path, "w", encoding="utf-8") as fh:
            for values in zip(*rows.values()):
                fh.write(json.dumps(dict(zip(keys, values))) + "\n")
    elif path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError(f"writing {path} needs pyarrow: pip install 'fastroute[io]'") from exc
        pq.write_table(pa.table(rows), path)
    else:
        raise ValueError(f"{path}: output must be .jsonl or .parquet")


def run(args: argparse.Namespace) -> int:
    from ..routers.inputs import check_threshold

    if args.output.suffix not in (".jsonl", ".parquet"):
        raise ValueError(f"{args.output}: output must be .jsonl or .parquet")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be >= 1")
    if args.threshold is not None:
        check_threshold(args.threshold)
    prompts = read_prompts(args.input, args.field)
    router = load_router_from_args(args)
    rates: list[float] = []
    bar = Progress(len(prompts), "scoring")
    for lo in range(0, len(prompts), args.batch_size):
        batch = prompts[lo : lo + args.batch_size]
        rates.extend(router.win_rates(batch).tolist())
        bar.update(len(batch))
    bar.close()
    rows: dict[str, list] = {"index": list(range(len(prompts))), "win_rate": rates}
    if args.threshold is not None:
        rows["model"] = router.decide(rates, args.threshold)
    write_rows(args.output, rows)
    return 0
