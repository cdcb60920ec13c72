"""A local Ray cluster for the tests: a head and one worker node, separate processes on
loopback, started once per test session and stopped at its end (`ray_cluster`), bounded in
time. Each node runs `ray start --block` in a process group of its own, and stopping signals
those groups only: another Ray on the machine (a developer's, a parallel CI job's) is left
alone, which `ray stop` would not do. The tests that need it skip only where `ray` is not installed, and never in CI
(FASTROUTE_REQUIRE_RAY=1 or CI set: a missing ray fails them). The fixture is imported by
conftest.py, so every test file shares the one cluster: take `ray_cluster` as an argument,
never import it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from envoy_helpers import free_port

RAY_ENV = {
    # Ray 2.60 turns token auth on once any local ray.init() has written ~/.ray/auth_token; then
    # `ray start --address` worker nodes are refused. The test cluster is loopback-only: no auth.
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",  # no network
    "RAY_DISABLE_DOCKER_CPU_WARNING": "1",
    "RAY_ENABLE_UV_RUN_RUNTIME_ENV": "0",
}


def require_ray():
    """The ray module, or a skip (a failure in CI: ray is in the dev extra there)."""
    if os.environ.get("CI") or os.environ.get("FASTROUTE_REQUIRE_RAY") == "1":
        import ray

        return ray
    return pytest.importorskip("ray")


def _ray_cli() -> str:
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.is_file() else (shutil.which("ray") or "ray")


class LocalCluster:
    """`ray start --head` plus one `ray start --address` worker node, each with one CPU, each
    run with `--block` in a process group of its own: stopping kills those groups only, never
    another Ray on the machine (`ray stop` would stop every node of this user)."""

    def __init__(self, worker_cpus: int = 1, head_cpus: int = 1) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="fr-ray-")
        self.env = {**os.environ, **RAY_ENV}
        self.head_cpus, self.worker_cpus = head_cpus, worker_cpus
        self.procs: list[subprocess.Popen] = []

    def _spawn(self, *args: str) -> subprocess.Popen:
        log = open(Path(self.tmp) / f"node{len(self.procs)}.log", "wb")
        command = [_ray_cli(), "start", *args, "--disable-usage-stats", "--include-log-monitor=false", "--block"]
        proc = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(proc)
        return proc

    def _log(self, n: int) -> str:
        path = Path(self.tmp) / f"node{n}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def start(self) -> "LocalCluster":
        try:
            self._start()
        except BaseException:
            self.stop()  # a head that started must not outlive a failed start
            raise
        return self

    def _start(self) -> None:
        head = self._spawn(
            "--head", f"--port={self.port}", "--node-ip-address=127.0.0.1", f"--num-cpus={self.head_cpus}",
            "--include-dashboard=false", f"--temp-dir={self.tmp}",
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:  # the head's GCS answers on its port
            if head.poll() is not None:
                raise RuntimeError(f"ray start --head exited with {head.returncode}:\n{self._log(0)}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the Ray head did not listen within 120 s:\n{self._log(0)}") from None
                time.sleep(0.2)
        self._spawn(f"--address={self.address}", "--node-ip-address=127.0.0.1", f"--num-cpus={self.worker_cpus}")

    def stop(self) -> None:
        """SIGTERM to each node's process group (its raylet, GCS and workers), then SIGKILL."""
        try:
            for proc in reversed(self.procs):
                for sig, wait in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        break
                    try:
                        proc.wait(wait)
                        break
                    except subprocess.TimeoutExpired:
                        continue
                _reap_group(proc.pid)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _reap_group(pgid: int, grace: float = 5.0) -> None:
    """Waits for the rest of a process group to exit after its leader, then kills what is left."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)  # anyone left in the group?
        except ProcessLookupError:
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def ray_cluster():
    """The address of a running two-node local cluster; the driver is connected to it."""
    ray = require_ray()
    for k, v in RAY_ENV.items():
        os.environ[k] = v  # the driver, and every `fastroute ... --ray` subprocess the tests start
    cluster = LocalCluster().start()
    t0 = time.monotonic()
    try:
        ray.init(address=cluster.address, log_to_driver=False)
        deadline = time.monotonic() + 60
        while len([n for n in ray.nodes() if n["Alive"]]) < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len([n for n in ray.nodes() if n["Alive"]]) == 2, ray.nodes()
        cluster.startup_s = time.monotonic() - t0
        yield cluster
    finally:
        ray.shutdown()
        cluster.stop()
