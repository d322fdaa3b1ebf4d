"""A real local Ray cluster for tests: a head node and worker nodes started with
`ray start`, each with one CPU, all in one temp folder; stopped by killing the process
sessions this helper started (never a `ray stop` that could reach another cluster)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

import psutil

RAY = str(Path(sys.executable).parent / "ray")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RayCluster:
    """`RayCluster(env).start()`; `add_worker()`, `kill(node)`, `stop()`.

    Every node runs with `env` (plus PYTHONPATH pointing at this checkout), so that is
    the only way a variable (an API key) reaches the workers.
    """

    def __init__(self, env: Mapping[str, str]) -> None:
        # Ray's socket paths must stay short: a folder right under /tmp.
        self.temp_dir = Path(tempfile.mkdtemp(prefix="synthc-ray-", dir="/tmp"))
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.env = {
            **env,
            "PYTHONPATH": str(REPO),
            "RAY_USAGE_STATS_ENABLED": "0",
            # a dead node is noticed in ~2 s instead of ~30 s
            "RAY_health_check_period_ms": "500",
            "RAY_health_check_timeout_ms": "500",
            "RAY_health_check_failure_threshold": "3",
        }
        self.nodes: list[subprocess.Popen[bytes]] = []

    def start(self) -> RayCluster:
        self._node("--head", "--port", str(self.port), "--temp-dir", str(self.temp_dir),
                   "--include-dashboard=false")  # fmt: skip
        self._wait(lambda: self._status_ok(), "the head node")
        self.add_worker()
        return self

    def add_worker(self) -> subprocess.Popen[bytes]:
        """One more worker node with one CPU; returns once the cluster counts it."""
        expected = len(self.nodes) + 1
        node = self._node("--address", self.address)
        self._wait(lambda: self._alive_nodes() >= expected, "a worker node")
        return node

    def kill(self, node: subprocess.Popen[bytes]) -> None:
        """SIGKILL every process of that node (its `ray start`, raylet, workers)."""
        for process in self._session(node.pid):
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        node.wait(timeout=30)
        self.nodes.remove(node)

    def stop(self) -> None:
        for node in list(self.nodes):
            self.kill(node)
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def session_files(self) -> list[Path]:
        """Every file of the cluster's session folders (logs, metadata, sockets)."""
        return [p for p in self.temp_dir.rglob("*") if p.is_file() and not p.is_symlink()]

    def _node(self, *arguments: str) -> subprocess.Popen[bytes]:
        log = (self.temp_dir / f"node{len(self.nodes)}.out").open("wb")
        node = subprocess.Popen(
            [RAY, "start", *arguments, "--num-cpus", "1", "--node-ip-address", "127.0.0.1",
             "--block", "--disable-usage-stats"],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.nodes.append(node)
        return node

    def _status_ok(self) -> bool:
        status = subprocess.run(
            [RAY, "status", "--address", self.address], env=self.env, capture_output=True
        )
        return status.returncode == 0

    def _alive_nodes(self) -> int:
        status = subprocess.run(
            [RAY, "status", "--address", self.address], env=self.env, capture_output=True,
            text=True,
        )  # fmt: skip
        active = status.stdout.split("Active:", 1)[-1].split("Pending:", 1)[0]
        return active.count("node_")

    def _wait(self, ready: object, what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not ready():  # type: ignore[operator]
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{what} did not start within {timeout:.0f} s")
            time.sleep(0.5)

    @staticmethod
    def _session(leader: int) -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter():
            try:
                if os.getsid(process.pid) == leader:
                    found.append(process)
            except (ProcessLookupError, PermissionError, psutil.Error):
                continue
        return found
