"""fastroute score: win rates (and decisions) for a file of prompts."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .common import Progress, add_router_arguments, load_router_from_args


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_router_arguments(p)
    p.add_argument("--input", required=True, type=Path, help=".txt (one prompt per line), .jsonl or .parquet")
    p.add_argument("--output", required=True, type=Path, help=".jsonl or .parquet")
    p.add_argument("--field", default="prompt", help="prompt field of jsonl/parquet input (default: prompt)")
    p.add_argument("--threshold", type=float, default=None, help="also write the chosen model")
    p.add_argument("--batch-size", type=int, default=1024)


def read_prompts(path: Path, field: str) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".txt":
        return [line.rstrip("\n") for line in path.read_text(encoding="utf-8").splitlines()]
    if path.suffix not in (".jsonl", ".parquet"):
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
    from ..routers.base import check_threshold

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
