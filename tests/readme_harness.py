"""Runs the README as a user would: its sections, fenced blocks and commands, in order.

The README is cut into its `## ` sections; each section's blocks run in one sandbox
directory (a copy of `examples/`, with `../shared` beside it as in a checkout), in order:

* `sh` blocks: each command runs as a subprocess (the test environment's `fastroute` first on
  PATH). A server (`fastroute serve`, `fastroute extproc`, `envoy`) starts in the background
  and is stopped at the end of the section; the commands after it reach it.
* `python` blocks: executed in one namespace per section.
* `toml`, `jsonl`, `json`, `yaml` blocks: excerpts of a shipped file, named by the last code
  span of the paragraph before the block; each must appear in that file, in order.
* `text` blocks: diagrams and output shown, not run.

What is not the user's own machine is replaced, and only this (see `Sandbox.rewrite`): the
public upstream `https://api.openai.com/v1` becomes a stub OpenAI-compatible server; the
ports a server listens on become free ones; `hf download` (no Hub here) writes a RouteLLM-format
checkpoint; `pip install` checks that each fastroute extra named exists, and that any other
package named is installed, instead of installing (the test environment has them all); `make test` is dry-run (it is what runs this).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
PUBLIC_UPSTREAM = "https://api.openai.com/v1"
# LiteLLM reads its cost map from GitHub unless told not to (no network in CI)
LITELLM_OFFLINE = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}


def _server_ports() -> dict[str, int]:
    """The ports the README's servers listen on by default, read from the CLI and the shipped
    Envoy config (so a changed default that the README does not follow fails here)."""
    from fastroute.cli import build_parser

    from envoy_helpers import DEFAULT_PORTS, ENVOY_YAML

    listener = DEFAULT_PORTS["listener"]
    assert f"port_value: {listener}" in ENVOY_YAML.read_text()
    parse = build_parser().parse_args
    return {"serve": parse(["serve"]).port, "extproc": parse(["extproc"]).port, "envoy": listener}


SERVER_PORTS = _server_ports()
FENCE_LINE = re.compile(r"^\s*(```|~~~)", re.M)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.M | re.S)


@dataclass
class Block:
    lang: str
    code: str
    line: int  # 1-based line of the opening fence in README.md
    before: str  # the paragraph just before the fence


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)
    text: str = ""


def sections(text: "str | None" = None) -> list[Section]:
    text = README.read_text() if text is None else text
    out: list[Section] = []
    for chunk in re.split(r"^(?=## )", text, flags=re.M):
        title = chunk.splitlines()[0][3:].strip() if chunk.startswith("## ") else "(top)"
        sec = Section(title, text=chunk)
        offset = text.index(chunk)
        for m in FENCE.finditer(chunk):
            head = chunk[: m.start()].rstrip("\n")
            para = head[head.rfind("\n\n") + 2 :] if "\n\n" in head else head
            line = text.count("\n", 0, offset + m.start()) + 1
            sec.blocks.append(Block(m.group(1), m.group(2), line, para))
        out.append(sec)
    fences = len(FENCE_LINE.findall(text))
    parsed = 2 * sum(len(sec.blocks) for sec in out)
    assert fences == parsed, (
        f"README.md: {fences} fence lines but {parsed} parsed: fence blocks at the top level, with ```"
    )
    return out


def commands(code: str) -> list[str]:
    """The commands of an sh block: continuation lines joined, comments and blank lines dropped."""
    joined = re.sub(r"\\\n\s*", " ", code)
    out = []
    for line in joined.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.commenters = "#"
        ops = [t for t in lexer if t and set(t) <= set("();<>|&")]
        assert not ops, f"README command {line!r}: shell operators {ops} are not run here; one command per line"
        words = shlex.split(line, comments=True)
        if words:
            out.append(shlex.join(words))
    return out


def wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(
        f"nothing listens on port {port} after {timeout} s:\n{log.read_text(errors='replace')[-3000:]}"
    )


HF_STUB = """#!{python}
# `hf` (huggingface_hub's CLI) stand-in for the README test: writes a RouteLLM-format MF checkpoint.
import json, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from safetensors.numpy import save_file
from synthetic import synthetic_mf_checkpoint
args = sys.argv[1:]
if args[:1] != ["download"] or "--local-dir" not in args or args[1] != "routellm/mf_gpt4_augmented":
    sys.exit("stub hf: only 'download routellm/mf_gpt4_augmented --local-dir DIR'")
out = Path(args[args.index("--local-dir") + 1]); out.mkdir(parents=True, exist_ok=True)
config, tensors = synthetic_mf_checkpoint(seed=7, dim=128)
(out / "config.json").write_text(json.dumps(config))
save_file(tensors, str(out / "model.safetensors"))
"""


class Sandbox:
    """One section's working directory, environment, servers and Python namespace."""

    def __init__(self, root: Path, stub_url: str, stub_port: int) -> None:
        self.dir = root / "checkout"
        shutil.copytree(REPO / "examples", self.dir / "examples")
        for f in (self.dir / "examples").rglob("*"):
            if f.is_file() and f.suffix in (".toml", ".yaml", ".json", ".py", ".md"):
                f.write_text(f.read_text().replace(PUBLIC_UPSTREAM, stub_url + "/v1"))
        (root / "shared").symlink_to(REPO.parent / "shared")
        bin_dir = root / "bin"
        bin_dir.mkdir()
        # the stand-in replaces a command that exists: huggingface_hub's own `hf` must be installed
        assert (Path(sys.executable).parent / "hf").is_file(), "huggingface_hub's `hf` command is not installed"
        hf = bin_dir / "hf"
        hf.write_text(HF_STUB.format(python=sys.executable, tests=str(REPO / "tests")))
        hf.chmod(0o755)
        self.stub_url, self.stub_port = stub_url, stub_port
        self.env = {
            **os.environ,
            "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
            "OPENAI_API_KEY": "sk-readme-test",
            "FASTROUTE_PROGRESS": "0",
            "PYTHONUNBUFFERED": "1",
            **LITELLM_OFFLINE,
        }
        self.ports: dict[int, int] = {}  # a port the README names -> the port used here
        self.procs: list[tuple[subprocess.Popen, object]] = []
        self.namespace: dict = {"__name__": "__readme__"}

    def rewrite(self, text: str) -> str:
        text = text.replace(PUBLIC_UPSTREAM, self.stub_url + "/v1")
        for readme_port, port in self.ports.items():
            text = re.sub(rf"(localhost|127\.0\.0\.1):{readme_port}\b", rf"\g<1>:{port}", text)
        return text

    def run(self, command: str, timeout: float = 600) -> str:
        words = shlex.split(self.rewrite(command))
        if words[0] == "pip":
            return check_pip_extras(words)
        if words[:2] == ["make", "test"]:
            words = ["make", "-n", "-C", str(REPO), *words[1:]]
        elif words[0] == "make":
            words = ["make", "-C", str(REPO), *words[1:]]
        elif words[0] == "curl":
            words = ["curl", "--fail-with-body", "--max-time", "60", *words[1:]]
        if words[0] == "envoy":
            return self.start_envoy(words)
        if words[:2] in (["fastroute", "serve"], ["fastroute", "extproc"]):
            return self.start_server(words)
        proc = subprocess.run(words, cwd=self.dir, env=self.env, capture_output=True, text=True, timeout=timeout)
        out = proc.stdout + proc.stderr
        if proc.returncode != 0:
            raise AssertionError(f"`{command}` exited with {proc.returncode}:\n{out[-4000:]}")
        return out

    def start_server(self, words: list[str]) -> str:
        kind = words[1]
        readme_port = int(words[words.index("--port") + 1]) if "--port" in words else SERVER_PORTS[kind]
        from envoy_helpers import free_port

        port = free_port()
        if "--port" in words:
            words[words.index("--port") + 1] = str(port)
        else:
            words += ["--port", str(port)]
        log = self.dir / f"{kind}-{port}.log"
        fh = open(log, "wb")
        proc = subprocess.Popen(words, cwd=self.dir, env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        self.procs.append((proc, fh))
        wait_port(port, proc, log)
        self.ports[readme_port] = port
        return ""

    def start_envoy(self, words: list[str]) -> str:
        from envoy_helpers import Envoy, envoy_config

        config = (self.dir / words[words.index("-c") + 1]).read_text()
        ports = {"strong": self.stub_port, "weak": self.stub_port}
        if "envoy.filters.http.ext_proc" in config:  # the ext_proc config calls fastroute extproc
            extproc = self.ports.get(SERVER_PORTS["extproc"])
            assert extproc, "the README starts envoy before fastroute extproc"
            ports["extproc"] = extproc
        envoy = Envoy(envoy_config(ports, text=config)).start().wait_ready()
        self.procs.append((envoy, None))
        self.ports[SERVER_PORTS["envoy"]] = envoy.port
        return ""

    def exec_python(self, code: str, where: str) -> None:
        """In this process (one namespace per section), in the sandbox, with its environment."""
        cwd, saved = os.getcwd(), dict(os.environ)
        os.chdir(self.dir)
        os.environ.update({k: v for k, v in self.env.items() if k != "PATH"})
        try:
            exec(compile(self.rewrite(code), where, "exec"), self.namespace)
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)

    def close(self) -> None:
        for proc, fh in reversed(self.procs):
            if hasattr(proc, "terminate") and isinstance(proc, subprocess.Popen):
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(15)
                if fh is not None:
                    fh.close()
            else:
                proc.stop()  # type: ignore[attr-defined]


def check_pip_extras(words: list[str]) -> str:
    """`pip install '.[a,b]'` / `'fastroute[a]'`: each extra must exist in pyproject.toml."""
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    from importlib.metadata import PackageNotFoundError, version

    for w in words[2:]:
        if not w.startswith("-") and not re.search(r"\[[\w,-]+\]$", w):
            try:
                version(w)
            except PackageNotFoundError:
                raise AssertionError(f"`{shlex.join(words)}`: {w} is not installed in the test environment") from None
    named = [e for w in words if (m := re.search(r"\[([\w,-]+)\]$", w)) for e in m.group(1).split(",")]
    missing = [e for e in named if e not in extras]
    assert not missing, f"`{shlex.join(words)}`: no such extra {missing} (extras: {sorted(extras)})"
    return ""


def excerpt_file(block: Block) -> Path:
    spans = re.findall(r"`([^`\s]+)`", block.before)
    for span in reversed(spans):
        if (REPO / span).is_file():
            return REPO / span
    raise AssertionError(f"README.md:{block.line}: a {block.lang} block must follow a paragraph naming its file")


def check_excerpt(block: Block) -> None:
    """Each line of the block appears in the named file, in the same order."""
    path = excerpt_file(block)
    lines = path.read_text().splitlines()
    text = "\n".join(lines)
    for run in re.split(r"^\s*(?:#\s*)?\.\.\.\s*$", block.code, flags=re.M):  # a "..." line marks a gap
        run = run.strip("\n")
        if run and run not in text:
            raise AssertionError(
                f"README.md:{block.line}: these lines are not in {path.relative_to(REPO)} as shown:\n{run}"
            )
