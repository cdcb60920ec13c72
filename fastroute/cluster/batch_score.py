"""Batch scoring on a Ray cluster (`fastroute score --ray`): Ray Data hands units of parquet/JSONL
rows to a pool of actors, each loading the router once and writing a parquet shard of the input's
fields plus `index`, `win_rate` and (given a threshold) `model`.

The rows equal in-process `fastroute score` on the files concatenated in sorted order, bit for
bit. sw_ranking's similarity GEMM (OpenBLAS) rounds a row differently with its batch's size and
neighbours, and on one thread; so units start on in-process batch boundaries (global row //
batch_size), actors score them in exactly those batches, and OpenBLAS runs threaded in actors
when it does here. Row counts come from parquet metadata and one Ray task per JSONL file (which
records where rows start, so actors read only their bytes). Input, bundles and output must be
visible to every node (paths are resolved here). Shards are `part-<first index>.parquet`: sorted
names, input order, one schema (batch_parts.unify_parts)."""

from __future__ import annotations

import glob
import math
import sys
from collections.abc import Mapping, Sequence
from itertools import accumulate
from pathlib import Path
from typing import Any, NamedTuple

from .batch_parts import blas_threads as _blas_threads
from .batch_parts import get as _get
from .batch_parts import unify_parts

SUFFIXES = (".parquet", ".jsonl")


class _File(NamedTuple):
    path: str
    rows: int
    row_starts: Any  # JSONL: an ObjectRef to int64 [rows, 2] (byte offset, line number); parquet: None


def input_files(spec: "str | Path") -> list[Path]:
    """The files `spec` names (a .parquet/.jsonl file, a directory: every such file below it, or
    a glob), sorted by path: their rows, in that order, are the input."""
    path, text = Path(spec), str(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    elif path.is_file():
        files = [path]
    elif glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
    else:
        raise FileNotFoundError(f"{path}: no such file or directory")
    if not files:
        raise ValueError(f"{text}: no .parquet or .jsonl files {'in the directory' if path.is_dir() else 'match'}")
    for f in files:
        if f.suffix not in SUFFIXES:
            raise ValueError(f"{f}: scoring on Ray reads .parquet and .jsonl files, not {f.suffix or 'this'}")
    return [f.resolve() for f in files]  # actors run in their own working directories


def _jsonl_row_starts(path: str) -> tuple[int, Any]:
    """(rows, int64 [rows, 2]: byte offset and 1-based line of each non-blank line) of a JSONL file."""
    import numpy as np

    data = Path(path).read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, byte = data.count(b"\n", 0, exc.start) + 1, data[exc.start : exc.start + 1]
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte {byte!r} at byte offset {exc.start}: {exc.reason})") from None  # fmt: skip
    starts, at = [], 0
    for n, raw in enumerate(data.split(b"\n"), 1):
        if raw.decode("utf-8").strip():
            starts.append((at, n))
        at += len(raw) + 1
    return len(starts), np.asarray(starts, dtype=np.int64).reshape(-1, 2)


def _plan(files: Sequence[Path], field: str, batch_size: int, workers: int) -> tuple[list[_File], list[list]]:
    """Row counts of `files` and the units: lists of (file number, first row, stop), each
    starting on a multiple of `batch_size` in the global row order."""
    import pyarrow.parquet as pq
    import ray

    remote = ray.remote(num_returns=2, num_cpus=0)(_jsonl_row_starts)
    pending = {i: remote.remote(str(f)) for i, f in enumerate(files) if f.suffix == ".jsonl"}
    out: list[_File] = []
    for i, path in enumerate(files):
        if i in pending:
            out.append(_File(str(path), int(_get(pending[i][0])), pending[i][1]))
            continue
        schema = pq.read_schema(path)
        if field not in schema.names or not str(schema.field(field).type).endswith("string"):
            raise ValueError(f"{path}: no string field {field!r} (columns: {', '.join(schema.names)})")
        out.append(_File(str(path), pq.ParquetFile(path).metadata.num_rows, None))
    first = [0, *accumulate(f.rows for f in out)]  # global index of each file's first row
    per_unit = batch_size * max(1, min(64, math.ceil(first[-1] / (batch_size * workers * 4))))
    units = [
        [(i, max(a, first[i]) - first[i], min(a + per_unit, first[i + 1]) - first[i]) for i in range(len(out)) if first[i] < a + per_unit and first[i + 1] > a]
        for a in range(0, first[-1], per_unit)
    ]  # fmt: skip
    return out, units


class BatchScorer:
    """One Ray Data actor: loads the router once, then scores and writes whole units."""

    def __init__(self, files: list, units: list, out: str, router: str, options: Mapping[str, Any]) -> None:
        from ..loader import load_router

        self.files, self.units, self.out = [_File(*f) for f in files], units, Path(out)
        self.field, self.batch_size, self.threshold = options["field"], options["batch_size"], options["threshold"]
        self.router = load_router(router, **options["router"])
        self.first = [sum(f.rows for f in self.files[:i]) for i in range(len(self.files))]
        self._starts: tuple[int, Any] = (-1, None)  # the row starts of the last JSONL file read

    def __call__(self, batch: Mapping[str, Any]) -> dict[str, list]:
        return {"rows": [self._score(int(u)) for u in batch["unit"]]}

    def _score(self, unit: int) -> int:
        import numpy as np
        import pyarrow as pa
        import pyarrow.parquet as pq

        pieces, bs = self.units[unit], self.batch_size
        table = pa.concat_tables([self._read(*piece) for piece in pieces], promote_options="permissive")
        start, prompts = self.first[pieces[0][0]] + pieces[0][1], table.column(self.field).to_pylist()
        # the in-process batches, exactly: the unit starts on a multiple of the batch size
        rates = np.concatenate([self.router.win_rates(prompts[lo : lo + bs]) for lo in range(0, len(prompts), bs)])
        table = table.drop_columns([c for c in ("index", "win_rate", "model") if c in table.column_names])
        table = table.append_column("index", pa.array(range(start, start + len(rates)), pa.int64()))
        table = table.append_column("win_rate", pa.array(rates, pa.float64()))
        if self.threshold is not None:
            table = table.append_column("model", pa.array(self.router.decide(rates, self.threshold), pa.string()))
        pq.write_table(table, self.out / f"part-{start:012d}.parquet")
        return len(rates)

    def _read(self, i: int, lo: int, hi: int):
        """Rows lo..hi of file i, as a table."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        if self.files[i].row_starts is not None:
            return self._jsonl(i, lo, hi)
        f, pf = self.files[i], pq.ParquetFile(self.files[i].path)
        at = [0, *accumulate(pf.metadata.row_group(g).num_rows for g in range(pf.metadata.num_row_groups))]
        groups = [g for g in range(len(at) - 1) if at[g + 1] > lo and at[g] < hi]  # the row groups of rows lo..hi
        table = pf.read_row_groups(groups).slice(lo - at[groups[0]], hi - lo)
        nulls = pc.is_null(table.column(self.field))
        if pc.any(nulls).as_py():
            row = lo + pc.index(nulls, True).as_py()
            raise ValueError(f"{f.path}: row {row} has no string field {self.field!r}")
        return table

    def _jsonl(self, i: int, lo: int, hi: int):
        import pyarrow as pa
        import ray

        from ..data.tables import prompt_row

        f = self.files[i]
        if self._starts[0] != i:
            self._starts = (i, ray.get(f.row_starts))  # one file's row starts at a time
        starts = self._starts[1]
        end = int(starts[hi, 0]) if hi < f.rows else None
        with open(f.path, "rb") as fh:
            fh.seek(int(starts[lo, 0]))
            text = fh.read(-1 if end is None else end - int(starts[lo, 0])).decode("utf-8")
        first = int(starts[lo, 1])
        parsed = (prompt_row(f.path, n, line, self.field) for n, line in enumerate(text.split("\n"), first))
        rows = [row for row in parsed if row is not None]
        keys = list(dict.fromkeys(k for row in rows for k in row))  # as in-process score writes them
        return pa.table({k: [row.get(k) for row in rows] for k in keys})


def score_files(
    input: "str | Path", output: "str | Path", router: str = "sw_ranking", *,
    strong_model: "str | None" = None, weak_model: "str | None" = None, scored_as: "Mapping[str, str] | None" = None,
    backend: "str | None" = None, field: str = "prompt", threshold: "float | None" = None, batch_size: int = 1024,
    workers: "int | None" = None, cpus_per_worker: float = 1,
) -> int:  # fmt: skip
    """Scores every prompt of `input` (see input_files) on the connected Ray cluster (else a local
    one), into parquet shards in the directory `output`; returns the rows scored. Why: logs too
    big for one machine, with rows equal to in-process `fastroute score` on the files concatenated
    (bit for bit). `threshold` (resolved once by the caller, e.g. `router.threshold_for`) adds
    `model`. `workers` actors (default: the cluster's CPUs / `cpus_per_worker`)."""
    import ray

    from ..loader import load_router
    from ..routers.inputs import check_threshold

    if (out := Path(output)).suffix in (".jsonl", ".txt") or out.is_file():
        raise ValueError(f"{out}: scoring on Ray writes parquet shards into a directory, not one {out.suffix} file")
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"{out}: the output directory is not empty")
    if batch_size < 1:
        raise ValueError("--batch-size must be >= 1")
    threshold = None if threshold is None else check_threshold(threshold)
    options: dict[str, Any] = dict(strong_model=strong_model, weak_model=weak_model, backend=backend)
    options["scored_as"] = dict(scored_as or {})
    load_router(router, **options)  # a bad name, bundle or model fails here, not in every actor
    router = str(Path(router).resolve()) if Path(router).is_dir() else router  # a bundle, from any directory
    files = input_files(input)
    if not ray.is_initialized():
        ray.init()
    workers = workers if workers is not None else max(1, int(ray.cluster_resources().get("CPU", 1) // cpus_per_worker))
    if workers < 1:
        raise ValueError("--workers must be >= 1")
    if workers * cpus_per_worker > (cpus := ray.cluster_resources().get("CPU", 0)):  # else Ray waits forever
        raise ValueError(f"{workers} workers of {cpus_per_worker:g} CPU need more than the cluster's {cpus:g} CPUs")
    found, units = _plan(files, field, batch_size, workers)
    out.mkdir(parents=True, exist_ok=True)
    if not units:
        return 0
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars, ctx.raise_original_map_exception = sys.stderr.isatty(), True
    threads = max(1, int(cpus_per_worker))
    blas = 1 if _blas_threads() == 1 else max(2, threads)  # OpenBLAS rounds differently on 1 thread
    env = {"FASTROUTE_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(blas)}
    args = ([tuple(f) for f in found], units, str(out.resolve()), router)
    opts = dict(field=field, batch_size=batch_size, threshold=threshold, router=options)
    ds = ray.data.from_items([{"unit": u} for u in range(len(units))], override_num_blocks=len(units))
    done = ds.map_batches(
        BatchScorer, batch_size=1, batch_format="numpy", compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=cpus_per_worker, runtime_env={"env_vars": env}, fn_constructor_args=(*args, opts),
    )  # fmt: skip
    rows = sum(int(r["rows"]) for r in _get(done.iter_rows))
    unify_parts(out)  # JSONL units infer their own columns and types: one schema for the whole output
    return rows
