"""The README runs: every command and snippet in it, section by section (see readme_harness),
so the docs cannot drift from the code. Inline commands (`fastroute ...` in running text)
are parsed by the real command line, so a renamed option fails here too."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from readme_harness import README, REPO, Sandbox, check_excerpt, commands, sections

pytestmark = pytest.mark.external  # the README's commands and servers

pytest.importorskip("aiohttp")
pytest.importorskip("openai")

SECTIONS = sections()
# Commands that rebuild the shipped defaults: a minute or more each.
SLOW = ("fastroute train defaults", "fastroute train routerbench")
RUNS = ("sh", "python")
SHOWS = ("toml", "jsonl", "json", "yaml")


def _params():
    for sec in SECTIONS:
        if not any(b.lang in RUNS for b in sec.blocks):
            continue
        marks = [pytest.mark.slow] if any(cmd in b.code for b in sec.blocks for cmd in SLOW) else []
        yield pytest.param(sec, id=sec.title, marks=marks)


def test_every_block_has_a_known_language():
    for sec in SECTIONS:
        for b in sec.blocks:
            assert b.lang in RUNS + SHOWS + ("text",), (
                f"README.md:{b.line}: block language {b.lang!r} is not run or checked"
            )


@pytest.mark.parametrize("sec", list(_params()))
def test_section_runs(sec, upstream, tmp_path):
    if sec.title == "The two commands" and Path(sys.prefix).resolve() != (REPO / ".venv").resolve():
        pytest.skip("`make route` runs in the repository's .venv: run the tests from it (`make test`)")
    box = Sandbox(tmp_path, upstream.url, upstream.port)
    n_requests = len(upstream.record)
    try:
        for b in sec.blocks:
            if b.lang == "sh":
                for cmd in commands(b.code):
                    out = box.run(cmd)
                    if cmd.startswith("make route"):
                        lines = [x for x in out.splitlines() if x.strip() and not x.startswith("make")]
                        assert len(lines) <= 3, f"`make route` printed more than the decision:\n{out}"
                        assert re.search(r"gpt-4|mixtral", out), out
            elif b.lang == "python":
                box.exec_python(b.code, f"README.md:{b.line}")
            elif b.lang in SHOWS:
                check_excerpt(b)
    finally:
        box.close()
    if any(call in b.code for b in sec.blocks for call in ("chat/completions", "chat.completions.create(")):
        assert len(upstream.record) > n_requests, "the section's chat completions never reached the (stub) upstream"


def test_excerpts_in_sections_without_commands():
    for sec in SECTIONS:
        for b in sec.blocks:
            if b.lang in SHOWS:
                check_excerpt(b)


def _inline_commands() -> list[str]:
    text = FENCE_RE.sub("", README.read_text())
    return sorted({m for m in re.findall(r"`(fastroute [^`]+)`", text) if "..." not in m and "…" not in m})


FENCE_RE = re.compile(r"^```.*?^```\n", re.M | re.S)


@pytest.mark.parametrize("cmd", _inline_commands())
def test_inline_command_parses(cmd, capsys):
    from fastroute.cli import build_parser

    words = shlex.split(cmd)[1:]
    try:
        build_parser().parse_args(words)
        return
    except SystemExit as exc:
        err = capsys.readouterr().err.strip()
        if any(w.startswith("-") for w in words):
            pytest.fail(f"README inline `{cmd}` does not parse: {err} ({exc.code})")
    # Only command words (`fastroute eval`, `fastroute data import arena`): they must name a command.
    with pytest.raises(SystemExit) as help_exit:
        build_parser().parse_args([*words, "--help"])
    assert help_exit.value.code == 0, f"README inline `{cmd}` names no command: {capsys.readouterr().err.strip()}"


def test_dockerfile_command_parses_and_installs_known_extras():
    """examples/deploy/Dockerfile (no Docker daemon here to build it): its CMD is a valid
    `fastroute serve` command line and its pip install names existing extras."""
    import json

    from fastroute.cli import build_parser

    from readme_harness import check_pip_extras

    text = (REPO / "examples" / "deploy" / "Dockerfile").read_text()
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", text, re.M).group(1))
    assert cmd[:2] == ["fastroute", "serve"]
    args = build_parser().parse_args(cmd[1:])
    assert args.host == "0.0.0.0" and args.port == 6060
    pip = re.search(r"^RUN pip install (.*)$", text, re.M).group(1)
    check_pip_extras(["pip", "install", *shlex.split(pip)])
