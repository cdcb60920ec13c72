"""fastroute score: win rates (and decisions) for a file of prompts.

Each output row is the input row (every field of a .jsonl/.parquet row, e.g. `id`; nothing
for .txt) followed by `index`, `win_rate` and, with --threshold or --strong-pct, `model`
(the target routed to); these replace input fields of the same names.

With --ray, Ray Data scores the rows on a cluster (fastroute.cluster.batch_score): the input may
also be a directory or a glob of .parquet/.jsonl shards, the output is a directory of parquet
shards, and the rows equal this in-process path's on the same rows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..progress import Progress
from .common import (
    add_router_arguments,
    add_threshold_arguments,
    load_router_from_args,
    resolve_threshold,
    scored_as_from_args,
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_router_arguments(p)
    p.add_argument(
        "--input", required=True, type=Path, metavar="FILE", help=".txt (one prompt per line), .jsonl or .parquet"
    )
    p.add_argument(
        "--output", required=True, type=Path, metavar="FILE", help=".jsonl or .parquet (the input's fields are kept)"
    )
    p.add_argument("--field", default="prompt", help="prompt field of jsonl/parquet input")
    add_threshold_arguments(
        p,
        "also write the chosen model (strong when the win rate >= threshold)",
        pct_default="none: no model column unless --threshold, --strong-pct or --calibrate-on is given; "
        "with --calibrate-on alone, 0.5",
    )
    p.add_argument("--batch-size", type=int, default=1024, help="prompts scored per call (memory vs. overhead)")
    p.add_argument(
        "--ray",
        nargs="?",
        const="",
        default=None,
        metavar="ADDRESS",
        help="score on a Ray cluster with Ray Data: connect to ADDRESS (e.g. 127.0.0.1:6379), or without one "
        "start or attach a local Ray (ray.init()); --input may then be a directory or glob of .parquet/.jsonl "
        "shards and --output is a directory of parquet shards (default: off, score in this process)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="with --ray: scoring actors, each loading the router once (default: the cluster's CPUs)",
    )


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


def _jsonl_rows(path: Path, field: str) -> tuple[list[str], list[dict]]:
    from ..data.tables import prompt_row

    rows = [
        row
        for n, line in enumerate(decode_text(path, path.read_bytes()).split("\n"), 1)
        if (row := prompt_row(path, n, line, field)) is not None
    ]
    return [row[field] for row in rows], rows


def read_prompts(path: Path, field: str) -> list[str]:
    """Prompts from a .txt (one per line: only "\\n" ends a line, a trailing "\\r" is dropped),
    .jsonl or .parquet file; errors name the file and the line."""
    return read_rows(path, field)[0]


def read_rows(path: Path, field: str) -> "tuple[list[str], list[dict] | None]":
    """The prompts of `path` (see read_prompts) and, for .jsonl and .parquet, its rows."""
    if path.is_dir():
        raise ValueError(f"{path} is a directory, not a prompts file (.txt, .jsonl or .parquet)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix == ".txt":
        text = decode_text(path, path.read_bytes())
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        return [line[:-1] if line.endswith("\r") else line for line in lines], None
    if path.suffix == ".jsonl":
        return _jsonl_rows(path, field)
    if path.suffix != ".parquet":
        raise ValueError(f"{path}: input must be .txt, .jsonl or .parquet")
    from ..data.tables import read_records

    prompts, rows = [], read_records(path)
    for i, row in enumerate(rows):
        value = row.get(field) if isinstance(row, dict) else None
        if not isinstance(value, str):
            raise ValueError(f"{path}: row {i} has no string field {field!r}")
        prompts.append(value)
    return prompts, rows


def write_rows(path: Path, rows: list[dict]) -> None:
    if path.suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, default=str) + "\n")
    elif path.suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise ImportError(f"writing {path} needs pyarrow: pip install 'fastroute[io]'") from exc
        keys = list(dict.fromkeys(k for row in rows for k in row))
        pq.write_table(pa.table({k: [row.get(k) for row in rows] for k in keys}), path)
    else:
        raise ValueError(f"{path}: output must be .jsonl or .parquet")


def run_on_ray(args: argparse.Namespace) -> int:
    """--ray: the threshold resolved once here, as in-process, then the rows scored by Ray actors."""
    try:
        import ray
    except ImportError as exc:
        raise ImportError(f"--ray needs ray: pip install 'fastroute[ray]' ({exc})") from None

    from ..cluster.batch_score import input_files, score_files

    if args.calibrate_on is not None and args.calibrate_on.resolve() in {f.resolve() for f in input_files(args.input)}:
        raise ValueError(
            "--ray cannot calibrate --strong-pct on its own input (that needs every win rate first): "
            "pass --calibrate-on FILE with a sample, a raw --threshold, or the bundle's quantiles"
        )
    t = None
    if args.threshold is not None or args.strong_pct is not None or args.calibrate_on is not None:
        texts = read_prompts(args.calibrate_on, args.field) if args.calibrate_on is not None else None
        t, _ = resolve_threshold(load_router_from_args(args), args.threshold, args.strong_pct, texts)
    if not ray.is_initialized():
        try:
            ray.init(address=args.ray or None)
        except ConnectionError as exc:
            raise ValueError(f"--ray {args.ray}: cannot connect to a Ray cluster there ({exc})") from None
    score_files(
        args.input,
        args.output,
        args.router,
        strong_model=args.strong_model,
        weak_model=args.weak_model,
        scored_as=scored_as_from_args(args),
        backend=args.backend,
        field=args.field,
        threshold=t,
        batch_size=args.batch_size,
        workers=args.workers,
    )
    return 0


def run(args: argparse.Namespace) -> int:
    import numpy as np

    if args.ray is not None:
        return run_on_ray(args)
    if args.workers is not None:
        raise ValueError("--workers needs --ray")
    if args.output.suffix not in (".jsonl", ".parquet"):
        raise ValueError(f"{args.output}: output must be .jsonl or .parquet")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be >= 1")
    decide = args.threshold is not None or args.strong_pct is not None or args.calibrate_on is not None
    own = args.calibrate_on is not None and args.calibrate_on.resolve() == args.input.resolve()
    prompts, inputs = read_rows(args.input, args.field)
    router = load_router_from_args(args)
    t = None
    if decide and not own:  # before scoring: a missing calibration fails fast
        texts = read_prompts(args.calibrate_on, args.field) if args.calibrate_on is not None else None
        t, _ = resolve_threshold(router, args.threshold, args.strong_pct, texts)
    rates: list[float] = []
    with Progress(len(prompts), "scoring", unit="prompts") as bar:
        for lo in range(0, len(prompts), args.batch_size):
            batch = prompts[lo : lo + args.batch_size]
            rates.extend(router.win_rates(batch).tolist())
            bar.update(len(batch))
    if own:  # calibrated on the input itself: the win rates just computed (as Router.threshold_for does)
        if args.threshold is not None:
            raise ValueError("--calibrate-on calibrates --strong-pct; it does nothing with a raw --threshold")
        pct = 0.5 if args.strong_pct is None else args.strong_pct
        if not 0.0 <= pct <= 1.0:
            raise ValueError(f"--strong-pct must be a share in [0, 1], got {pct!r}")
        if not rates:
            raise ValueError(f"{args.input}: no prompts to calibrate on")
        t = float(np.quantile(rates, 1.0 - pct))
    models = router.decide(rates, t) if t is not None else None
    rows = []
    for i, rate in enumerate(rates):
        row = dict(inputs[i]) if inputs is not None else {}
        row.update(index=i, win_rate=rate)
        if models is not None:
            row["model"] = models[i]
        rows.append(row)
    write_rows(args.output, rows)
    return 0
