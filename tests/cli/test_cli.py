"""The command line: route, score, info."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from fastroute.cli import main

from synthetic import STRONG, WEAK, synthetic_arena


@pytest.fixture(scope="module")
def sw_bundle(tmp_path_factory):
    from fastroute import SWRankingRouter
    from fastroute.embedders import get_embedder

    cols, _, pid = synthetic_arena(seed=41, n_battles=400, n_prompts=40)
    texts = [f"topic {i % 40}: a question about {['math', 'code', 'poems', 'law'][i % 4]}" for i in pid]
    router = SWRankingRouter.from_battles(cols, get_embedder("static").encode(texts), num_tiers=10)
    return router.save(tmp_path_factory.mktemp("b") / "sw")


def test_route(sw_bundle, capsys):
    assert main(["route", "--router", str(sw_bundle), "--threshold", "0", "Prove it.", "hi"]) == 0
    assert capsys.readouterr().out.split() == [STRONG, STRONG]
    assert main(["route", "--router", str(sw_bundle), "--threshold", "1", "-v", "Prove it."]) == 0
    header, line = capsys.readouterr().out.rstrip("\n").split("\n")
    assert header.startswith("# sw_ranking") and "(given)" in header
    model, rate, prompt = line.split("\t")
    assert model == WEAK and 0 < float(rate) < 1 and prompt == "Prove it."


def test_route_model_string_and_calibration(sw_bundle, capsys):
    from fastroute import load_router

    router = load_router(sw_bundle)
    p = router.win_rates(["Prove it."])[0]
    assert main(["route", "--router", f"router-{sw_bundle}-{p:.6f}", "Prove it."]) == 0  # RouteLLM's raw threshold
    assert capsys.readouterr().out.strip() == (STRONG if p >= round(p, 6) else WEAK)
    assert main(["route", "--router", f"router-{sw_bundle}-0.5", "--threshold", "0.2", "x"]) == 2
    assert "already names a threshold" in capsys.readouterr().err
    assert main(["route", "--router", str(sw_bundle), "--strong-pct", "0.5", "x"]) == 2
    assert "stores no win-rate quantiles" in capsys.readouterr().err


def test_route_errors(sw_bundle, capsys):
    assert main(["route", "--router", str(sw_bundle), "--threshold", "1.5", "x"]) == 2
    assert "threshold must be in [0, 1]" in capsys.readouterr().err
    assert main(["route", "--router", "/no/such/bundle", "x"]) == 2
    assert "neither a bundle directory nor a router name" in capsys.readouterr().err
    assert main(["route", "--router", str(sw_bundle), "--strong-model", "o9", "--scored-as", "o9=gpt-9", "x"]) == 2
    assert "unknown model to score 'o9' as 'gpt-9'" in capsys.readouterr().err
    assert main(["route", "--router", str(sw_bundle), "--scored-as", "o9", "x"]) == 2
    assert "expected NAME=MODEL" in capsys.readouterr().err
    # no stored calibration and no threshold: an error saying what to pass, never a silent 0.5
    assert main(["route", "--router", str(sw_bundle), "x"]) == 2
    err = capsys.readouterr().err
    assert f"stores no win-rate quantiles for {STRONG} vs {WEAK}: pass --calibrate-on FILE" in err
    assert "or a raw --threshold" in err


def test_score_jsonl_and_parquet(sw_bundle, tmp_path):
    inp = tmp_path / "in.jsonl"
    prompts = ["a question about math", "write a poem", "hello"]
    inp.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    out = tmp_path / "out.jsonl"
    assert (
        main(
            [
                "score",
                "--router",
                str(sw_bundle),
                "--input",
                str(inp),
                "--output",
                str(out),
                "--threshold",
                "0.5",
                "--batch-size",
                "2",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["index"] for r in rows] == [0, 1, 2]
    from fastroute import load_router

    expected = load_router(sw_bundle).win_rates(prompts)
    np.testing.assert_allclose([r["win_rate"] for r in rows], expected, atol=1e-12)
    assert all(r["model"] == (STRONG if r["win_rate"] >= 0.5 else WEAK) for r in rows)

    pq = pytest.importorskip("pyarrow.parquet")
    txt = tmp_path / "in.txt"
    txt.write_text("\n".join(prompts) + "\n")
    outp = tmp_path / "out.parquet"
    assert main(["score", "--router", str(sw_bundle), "--input", str(txt), "--output", str(outp)]) == 0
    np.testing.assert_allclose(pq.read_table(outp).column("win_rate").to_pylist(), expected, atol=1e-12)


def test_score_bad_input(sw_bundle, tmp_path, capsys):
    inp = tmp_path / "in.jsonl"
    inp.write_text(json.dumps({"text": "x"}) + "\n")
    assert main(["score", "--router", str(sw_bundle), "--input", str(inp), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "no string field 'prompt'" in capsys.readouterr().err
    assert main(["score", "--router", str(sw_bundle), "--input", str(inp), "--output", str(tmp_path / "o.csv")]) == 2


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "fastroute" in out and "numpy" in out and "kernel backends" in out


def test_route_into_a_closed_pipe_exits_quietly(tmp_path):
    """`fastroute route ... | head`: the reader is gone; exit 141 (SIGPIPE's status), no traceback."""
    import os
    import subprocess
    import sys

    r, w = os.pipe()
    os.close(r)  # the reader has already exited: every write fails with EPIPE
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "fastroute.cli",
                "route",
                "--router",
                "random",
                "--threshold",
                "0.5",
                *[f"prompt {i}" for i in range(50)],
            ],
            stdout=w,
            stderr=subprocess.PIPE,
            timeout=120,
        )
    finally:
        os.close(w)
    assert proc.returncode == 141, proc.stderr.decode()
    assert proc.stderr == b""


def test_score_names_file_and_line_of_bad_jsonl(sw_bundle, tmp_path, capsys):
    out = str(tmp_path / "o.jsonl")
    inp = tmp_path / "in.jsonl"
    inp.write_text('{"prompt": "fine"}\n\n{"prompt": "\\ud800 lone"}\n')
    assert main(["score", "--router", str(sw_bundle), "--input", str(inp), "--output", out]) == 2
    err = capsys.readouterr().err
    assert f"{inp}:3: the prompt holds a lone surrogate '\\ud800'" in err and "Traceback" not in err
    inp.write_text('{"prompt": "fine"}\n' + "[" * 100000 + "]" * 100000 + "\n")
    assert main(["score", "--router", str(sw_bundle), "--input", str(inp), "--output", out]) == 2
    assert f"{inp}:2: not valid JSON (nested too deeply)" in capsys.readouterr().err
    inp.write_text('{"prompt": "fine"}\n{"prompt": \n')
    assert main(["score", "--router", str(sw_bundle), "--input", str(inp), "--output", out]) == 2
    assert f"{inp}:2: not valid JSON" in capsys.readouterr().err
    inp.write_bytes(b'{"prompt": "fine"}\n{"prompt": "caf\xe9"}\n')
    assert main(["score", "--router", str(sw_bundle), "--input", str(inp), "--output", out]) == 2
    assert f"{inp}:2: not UTF-8 text (byte b'\\xe9' at byte offset 34" in capsys.readouterr().err


def test_score_names_file_and_line_of_bad_utf8_txt(sw_bundle, tmp_path, capsys):
    inp = tmp_path / "in.txt"
    inp.write_bytes(b"first prompt\nsecond \xff\xfe prompt\n")
    assert main(["score", "--router", str(sw_bundle), "--input", str(inp), "--output", str(tmp_path / "o.jsonl")]) == 2
    err = capsys.readouterr().err
    assert f"{inp}:2: not UTF-8 text (byte b'\\xff' at byte offset 20" in err


def test_txt_prompts_are_split_on_newlines_only(tmp_path):
    from fastroute.cli.score import read_prompts

    inp = tmp_path / "in.txt"
    inp.write_bytes("one\u2028still one\r\ntwo\x0cstill two\n\nfour\n".encode())
    assert read_prompts(inp, "prompt") == ["one\u2028still one", "two\x0cstill two", "", "four"]


def test_route_with_a_routing_profile():
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "fastroute.cli",
            "route",
            "--profile",
            "routerbench",
            "-v",
            "Prove Fermat's theorem.",
            "hi",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    from fastroute.profile import load_profile

    names = load_profile("routerbench").names
    assert out[0].startswith("# profile routerbench: max_value") and len(out) == 3
    for line in out[1:]:
        model, quality, cost, _ = line.split("\t")
        assert model in names and 0 < float(quality) < 1 and float(cost) > 0


def test_router_option_has_both_spellings(sw_bundle, capsys):
    """--router and --routers work in every command; a one-router command takes one value."""
    from fastroute.cli import build_parser

    assert main(["route", "--routers", str(sw_bundle), "--threshold", "0", "hi"]) == 0
    assert capsys.readouterr().out.split() == [STRONG]
    parse = build_parser().parse_args
    for cmd in (["route"], ["score", "--input", "i.txt", "--output", "o.jsonl"], ["calibrate", "--strong-pct", "0.5"]):
        assert parse([*cmd, "--routers", "mf"]).router == parse([*cmd, "--router", "mf"]).router == "mf"
    assert parse(["route", "--routers", "mf", "hi"]).prompts == ["hi"]  # one value, not two routers
    for cmd in (["eval", "--benchmark", "mmlu"], ["serve"], ["extproc"]):
        assert parse([*cmd, "--router", "mf", "length"]).routers == parse([*cmd, "--routers", "mf", "length"]).routers
    assert parse(["train", "defaults", "--data", "d", "--router", "mf"]).routers == ["mf"]


def test_a_directory_as_prompts_file_is_named_as_such(sw_bundle, tmp_path, capsys):
    out = str(tmp_path / "o.jsonl")
    assert main(["score", "--router", str(sw_bundle), "--input", str(tmp_path), "--output", out]) == 2
    assert f"{tmp_path} is a directory, not a prompts file" in capsys.readouterr().err
    assert main(["calibrate", "--router", str(sw_bundle), "--strong-pct", "0.5", "--prompts", str(tmp_path)]) == 2
    assert "is a directory, not a prompts file" in capsys.readouterr().err
    assert main(["score", "--router", str(sw_bundle), "--input", str(tmp_path / "nope.txt"), "--output", out]) == 2
    assert "no such file" in capsys.readouterr().err


def test_score_shows_progress_only_when_asked(sw_bundle, tmp_path, capsys, monkeypatch):
    inp = tmp_path / "in.txt"
    inp.write_text("".join(f"prompt {i}\n" for i in range(5)))
    argv = ["score", "--router", str(sw_bundle), "--input", str(inp), "--output", str(tmp_path / "o.jsonl")]
    monkeypatch.delenv("FASTROUTE_PROGRESS", raising=False)
    assert main([*argv, "--batch-size", "2"]) == 0
    assert capsys.readouterr().err == ""  # captured stderr is not a terminal
    monkeypatch.setenv("FASTROUTE_PROGRESS", "1")
    assert main([*argv, "--batch-size", "2"]) == 0
    err = capsys.readouterr().err
    assert "\rscoring: " in err and "5/5 prompts (100%)" in err and err.endswith("\n")
