"""A local Ray cluster for the tests: a head and one worker node, separate processes on
loopback, started once per test session and stopped at its end (`ray_cluster`), bounded in
time. The tests that need it skip only where `ray` is not installed, and never in CI
(FASTROUTE_REQUIRE_RAY=1 or CI set: a missing ray fails them). The fixture is imported by
conftest.py, so every test file shares the one cluster: take `ray_cluster` as an argument,
never import it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ray_cli() -> str:
    beside = Path(sys.executable).with_name("ray")
    return str(beside) if beside.is_file() else (shutil.which("ray") or "ray")


class LocalCluster:
    """`ray start --head` plus one `ray start --address` worker node, each with one CPU."""

    def __init__(self, worker_cpus: int = 1, head_cpus: int = 1) -> None:
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.tmp = tempfile.mkdtemp(prefix="fr-ray-")
        self.env = {**os.environ, **RAY_ENV}
        self.head_cpus, self.worker_cpus = head_cpus, worker_cpus

    def _ray(self, *args: str, timeout: float = 120) -> None:
        proc = subprocess.run([_ray_cli(), *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(
                f"ray {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}"
            )

    def start(self) -> "LocalCluster":
        try:
            self._start()
        except BaseException:
            self.stop()  # a head that started must not outlive a failed start
            raise
        return self

    def _start(self) -> None:
        common = ["--disable-usage-stats", "--include-log-monitor=false"]
        self._ray(
            "start", "--head", f"--port={self.port}", "--node-ip-address=127.0.0.1", f"--num-cpus={self.head_cpus}",
            "--include-dashboard=false", f"--temp-dir={self.tmp}", *common,
        )  # fmt: skip
        self._ray(
            "start", f"--address={self.address}", "--node-ip-address=127.0.0.1", f"--num-cpus={self.worker_cpus}",
            *common,
        )  # fmt: skip

    def stop(self) -> None:
        """`ray stop --force` stops every Ray node of this user on the machine: the tests own it."""
        try:
            self._ray("stop", "--force", timeout=60)
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


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
