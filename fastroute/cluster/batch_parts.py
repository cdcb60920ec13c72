"""Pieces of Ray batch scoring that are not the scoring: OpenBLAS's thread count, remote
errors raised as themselves, and one schema for all the parquet parts written.

Each actor writes its units' rows as parquet parts. A JSONL unit's columns and types are
inferred from its own rows, so two parts can disagree (a key some rows lack, an integer
column that holds a float elsewhere), and the output, read as one dataset, would then fail or
drop columns. `unify_parts` gives every part the schema of all of them together, as
in-process `fastroute score` infers it from all the rows at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def blas_threads() -> int:
    """OpenBLAS's thread count here, read as it reads it. On 1 thread its sgemm rounds otherwise
    (a direct kernel); 2, 3, 4 and 8 threads were checked to agree bit for bit."""
    import os

    given = [os.environ.get(v, "").strip() for v in ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS")]
    return next((int(v) for v in given if v.isdigit() and int(v) > 0), os.cpu_count() or 1)


def get(what: Any) -> Any:
    """ray.get(what), or list(what()), with a remote ValueError or OSError raised as itself."""
    import ray

    try:
        return list(what()) if callable(what) else ray.get(what)
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, (ValueError, OSError)):
            raise exc.cause from None
        raise


def _cast_part(path: str, schema: Any) -> None:
    """Rewrites one part with `schema`: missing columns as nulls, types widened, columns in order."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    columns = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    pq.write_table(pa.Table.from_arrays(columns, schema=schema), path)


def unify_parts(out: Path) -> None:
    """Gives every parquet part in `out` the unified schema of them all (remote rewrites, in
    parallel, of only the parts that differ); a column whose types cannot be unified is an error
    naming it."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    import ray

    parts = sorted(str(p) for p in out.resolve().glob("part-*.parquet"))  # absolute: tasks run elsewhere
    schemas = [pq.read_schema(p) for p in parts]
    if len({s.to_string() for s in schemas}) <= 1:
        return
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ValueError(f"{out}: the input's rows disagree on a field's type: {exc}") from None
    rewrite = ray.remote(num_cpus=0)(_cast_part)
    get([rewrite.remote(p, schema) for p, s in zip(parts, schemas) if not s.equals(schema)])
