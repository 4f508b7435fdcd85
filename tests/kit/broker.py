"""A Kafka broker of a test's own: ``scripts/kafka.sh`` on free ports with its own data directory.

For tests that stop and restart a broker; they never touch the shared one on 127.0.0.1:9092. The
jars are the repository's (``.cache/kafka/libs``, fetched once from Maven Central when missing).
"""

from __future__ import annotations

import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
KAFKA_SH = ROOT / "scripts" / "kafka.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OwnBroker:
    """One single-node KRaft broker under ``home`` on ``port`` (controller on ``controller_port``)."""

    home: Path
    port: int
    controller_port: int

    @classmethod
    def on_free_ports(cls, home: Path) -> OwnBroker:
        return cls(home, free_port(), free_port())

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self, verb: str) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KAFKA_HOME": str(self.home),
            "KAFKA_LIBS": str(ROOT / ".cache" / "kafka" / "libs"),
            "KAFKA_START_TIMEOUT": "120",
        }
        return subprocess.run([str(KAFKA_SH), verb], capture_output=True, text=True, timeout=600, env=env)

    def start(self) -> None:
        started = self._run("start")
        assert started.returncode == 0, started.stderr

    def stop(self) -> None:
        stopped = self._run("stop")
        assert stopped.returncode == 0, stopped.stderr
