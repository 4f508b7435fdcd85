"""A PostgreSQL cluster of the test's own (initdb + pg_ctl in a temporary folder), to restart at will.

The shared server on 5432 is never touched. Needs the PostgreSQL server binaries (the test command
installs them with the shared cluster) and root (it runs them as the ``postgres`` user).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL server binaries not found (/usr/lib/postgresql/*/bin): install postgresql")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_postgres(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, check=check)


@dataclass
class Cluster:
    base: Path
    port: int
    bindir: Path

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def url(self) -> str:
        return f"postgresql://ledger:ledger@127.0.0.1:{self.port}/ledger"

    def pg_ctl(self, *args: str) -> None:
        result = _as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), *args, check=False)
        if result.returncode != 0:
            log = (self.base / "server.log").read_text() if (self.base / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl {' '.join(args)} failed: {result.stderr}\n{log[-2000:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg_ctl("-o", options, "-l", str(self.base / "server.log"), "-w", "-t", "60", "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("-m", mode, "-w", "-t", "60", "stop")

    def drop(self) -> None:
        _as_postgres(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.base, ignore_errors=True)


def create_cluster() -> Cluster:
    """initdb a new cluster on a free port, start it, create the ``ledger`` role and database."""
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="ledger-faults-pg-"))
    shutil.chown(base, "postgres", "postgres")
    os.chmod(base, 0o755)
    cluster = Cluster(base, _free_port(), bindir)
    try:
        _as_postgres(str(bindir / "initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres", "--no-sync")
        cluster.start()
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:{cluster.port}/postgres", autocommit=True) as conn:
            conn.execute("CREATE ROLE ledger LOGIN PASSWORD 'ledger'")
            conn.execute("CREATE DATABASE ledger OWNER ledger")
    except BaseException:
        cluster.drop()
        raise
    return cluster


def wait_until_accepting(cluster: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(cluster.url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
