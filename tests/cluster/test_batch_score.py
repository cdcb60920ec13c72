"""Batch scoring on Ray (fastroute.cluster.batch_score, `fastroute score --ray`): on the shared
two-node local cluster, the rows written equal in-process `fastroute score` on the same rows
(one file holding them all) exactly: every input field, `index`, `win_rate` bit for bit and
`model`, in the input's order, with 1 and 2 workers, mf and sw_ranking, parquet shards (several
row groups) and a JSONL shard (with blank lines) read from a directory or a glob."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastroute.cli import main

pytestmark = pytest.mark.external  # a local Ray cluster

N_PROMPTS = 600
BATCH = 32  # small, so units and in-process batches cut the shards in many places
SHARDS = [("a.parquet", 0, 250, 60), ("b.parquet", 250, 400, 70), ("c.jsonl", 400, 500, 0), ("d.parquet", 500, 600, 0)]


@pytest.fixture(scope="module")
def inputs(shared_data, tmp_path_factory):
    """A directory of shards, the same rows in one JSONL file, and calibration prompts."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from fastroute.data.correctness import read_mmlu_dir

    prompts, _, subjects = read_mmlu_dir(shared_data / "routellm" / "mmlu" / "responses")
    rows = [{"id": i, "prompt": prompts[i * 7], "subject": subjects[i * 7]} for i in range(N_PROMPTS)]
    root = tmp_path_factory.mktemp("batch_score")
    (root / "shards").mkdir()
    for name, lo, hi, group in SHARDS:
        path = root / "shards" / name
        if name.endswith(".jsonl"):  # blank lines too, which in-process score skips
            path.write_text("".join(json.dumps(r) + ("\n\n" if r["id"] % 17 == 0 else "\n") for r in rows[lo:hi]))
        else:
            table = pa.table({k: [r[k] for r in rows[lo:hi]] for k in ("id", "prompt", "subject")})
            pq.write_table(table, path, row_group_size=group or None)
    (root / "all.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "calib.jsonl").write_text("".join(json.dumps({"prompt": prompts[i * 7 + 3]}) + "\n" for i in range(200)))
    return root


def in_process(inputs: Path, tmp_path: Path, *options: str) -> list[dict]:
    """`fastroute score` in this process on all the rows in one file."""
    import pyarrow.parquet as pq

    out = tmp_path / "in_process.parquet"
    assert main(["score", "--input", str(inputs / "all.jsonl"), "--output", str(out), *options]) == 0
    return pq.read_table(out).to_pylist()


def shards(out: Path) -> list[dict]:
    """The rows of every parquet shard of `out`, the files in sorted order."""
    import pyarrow.parquet as pq

    files = sorted(out.glob("*.parquet"))
    assert files, f"no parquet written into {out}"
    return [row for f in files for row in pq.read_table(f).to_pylist()]


def assert_same(got: list[dict], want: list[dict]) -> None:
    assert [r["index"] for r in got] == list(range(N_PROMPTS))  # global positions, in order
    assert [r["id"] for r in got] == list(range(N_PROMPTS))
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]  # every field; win rates bit for bit
    assert not bad and len(got) == len(want), (bad[:5], got[bad[0]] if bad else None, want[bad[0]] if bad else None)


@pytest.mark.parametrize(("router", "workers", "where"), [("mf", 1, "dir"), ("sw_ranking", 2, "glob")])
def test_score_files_equals_in_process_score(ray_cluster, inputs, tmp_path, router, workers, where):
    from fastroute.cluster.batch_score import score_files

    want = in_process(inputs, tmp_path, "--router", router, "--batch-size", str(BATCH))
    source = inputs / "shards" if where == "dir" else f"{inputs}/shards/*"
    n = score_files(source, tmp_path / "out", router, batch_size=BATCH, workers=workers)
    assert n == N_PROMPTS
    got = shards(tmp_path / "out")
    assert_same(got, want)
    assert "model" not in got[0]
    assert len(list((tmp_path / "out").glob("*.parquet"))) > 2  # several units, so actors shared the work


def cli(ray_cluster, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "FASTROUTE_PROGRESS": "0"}
    command = [str(Path(sys.executable).with_name("fastroute")), "score", "--ray", ray_cluster.address, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)


@pytest.mark.parametrize(
    ("router", "workers", "decide"),
    [("sw_ranking", "2", ["--strong-pct", "0.3"]), ("mf", "1", ["--strong-pct", "0.4", "--calibrate-on", "calib"])],
)
def test_cli_equals_in_process_score_with_decisions(ray_cluster, inputs, tmp_path, router, workers, decide):
    decide = [str(inputs / "calib.jsonl") if a == "calib" else a for a in decide]
    options = ["--router", router, "--batch-size", str(BATCH), *decide]
    want = in_process(inputs, tmp_path, *options)
    out = tmp_path / "out"
    proc = cli(ray_cluster, "--input", str(inputs / "shards"), "--output", str(out), "--workers", workers, *options)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = shards(out)
    assert_same(got, want)
    assert len({r["model"] for r in got}) == 2  # both targets chosen somewhere


def test_bad_input_is_named(ray_cluster, inputs, tmp_path):
    from fastroute.cluster.batch_score import score_files

    (tmp_path / "empty").mkdir()
    (tmp_path / "prompts.txt").write_text("hello\n")
    (tmp_path / "bad.jsonl").write_text('{"prompt": "a"}\n\n{"text": "b"}\n')
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    cases = [
        (tmp_path / "empty", tmp_path / "o1", {}, "no .parquet or .jsonl files in the directory"),
        (tmp_path / "prompts.txt", tmp_path / "o2", {}, "reads .parquet and .jsonl files, not .txt"),
        (inputs / "shards", tmp_path / "out.jsonl", {}, "writes parquet shards into a directory"),
        (inputs / "shards", tmp_path / "full", {}, "output directory is not empty"),
        (inputs / "shards", tmp_path / "o3", {"field": "text"}, "a.parquet: no string field 'text'"),
        (tmp_path / "bad.jsonl", tmp_path / "o4", {}, "bad.jsonl:3: no string field 'prompt'"),  # found by an actor
        (tmp_path / "nothing-*.parquet", tmp_path / "o5", {}, "no .parquet or .jsonl files match"),
    ]
    for source, out, options, message in cases:
        with pytest.raises(ValueError, match=message):
            score_files(source, out, "mf", workers=1, **options)


def test_cli_errors(ray_cluster, inputs, tmp_path):
    proc = cli(ray_cluster, "--input", str(inputs / "shards"), "--output", str(tmp_path / "o"), "--router", "nope")
    assert proc.returncode == 2 and "fastroute score: error:" in proc.stderr and "nope" in proc.stderr
    own = ["--strong-pct", "0.5", "--calibrate-on", str(inputs / "shards" / "c.jsonl")]
    proc = cli(ray_cluster, "--input", str(inputs / "shards"), "--output", str(tmp_path / "o"), *own)
    assert proc.returncode == 2 and "cannot calibrate --strong-pct on its own input" in proc.stderr
    with pytest.raises(ValueError, match="--workers needs --ray"):
        from fastroute.cli import build_parser
        from fastroute.cli.score import run

        run(build_parser().parse_args(["score", "--input", "x.txt", "--output", "y.jsonl", "--workers", "2"]))


def test_jsonl_rows_that_disagree_give_one_schema_and_relative_paths_work(ray_cluster, tmp_path, monkeypatch):
    """Units of a JSONL file infer their own columns: a key only late rows have and a field
    that is an integer early and a float late still make one dataset, read back whole (as
    pyarrow reads a directory), equal to in-process score. The input is named relative to the
    driver's working directory, which the actors do not share."""
    import pyarrow.parquet as pq

    from fastroute.cluster.batch_score import score_files

    rows = [{"prompt": f"question {i} about primes", "n": i} for i in range(40)]
    rows += [{"prompt": f"later question {i}", "n": i + 0.5, "extra": "only here"} for i in range(40)]
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    monkeypatch.chdir(tmp_path)
    score_files("logs", "scored", "mf", batch_size=8, workers=1)
    got = pq.read_table(tmp_path / "scored").to_pylist()
    assert (
        main(["score", "--router", "mf", "--batch-size", "8", "--input", "logs/a.jsonl", "--output", "in.parquet"]) == 0
    )
    want = pq.read_table(tmp_path / "in.parquet").to_pylist()
    assert len(got) == 80 and got == want
    assert got[0]["extra"] is None and got[-1]["extra"] == "only here" and got[-1]["n"] == 39.5


def test_more_workers_than_the_cluster_has_is_named_not_a_hang(ray_cluster, inputs, tmp_path):
    from fastroute.cluster.batch_score import score_files

    with pytest.raises(ValueError, match="CPU"):
        score_files(inputs / "all.jsonl", tmp_path / "out", "mf", workers=64)
