"""A real ``ledger serve`` process (uvicorn) on a free loopback port, and a small client for it.

Used by the HTTP integration tests and the HTTP benchmark. Keys are created with the installed
``ledger api-key create`` command, exactly as an operator would.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

LEDGER = shutil.which("ledger") or str(Path(sys.executable).with_name("ledger"))
SECRET = "http-test-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ledger_cli(
    db: str, *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "LEDGER_SECRET_KEY": SECRET, **(env or {})}
    proc = subprocess.run([LEDGER, *args, "--db", db], capture_output=True, text=True, env=environ, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"ledger {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def create_key(db: str, name: str, *scope: str) -> str:
    proc = ledger_cli(db, "api-key", "create", "--name", name, *scope, "--json")
    created = json.loads(proc.stdout)
    assert created["name"] == name
    return str(created["key"])


@dataclass
class Server:
    """One ``ledger serve`` process."""

    db: str
    port: int = field(default_factory=free_port)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180.0) -> Server:
        environ = {**os.environ, "LEDGER_SECRET_KEY": SECRET, **self.env}
        out = open(self.log, "wb") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [LEDGER, "serve", "--db", self.db, "--port", str(self.port)],
            env=environ, stdout=out, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ledger serve exited with {self.process.returncode}: {self.log_text()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError("ledger serve did not become ready")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log and self.log.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


class Client:
    """httpx against one server with one bearer credential."""

    def __init__(self, url: str, credential: str | None) -> None:
        headers = {"Authorization": f"Bearer {credential}"} if credential else {}
        self.http = httpx.Client(base_url=url, headers=headers, timeout=30.0)

    def command(self, body: dict[str, Any], idempotency_key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return self.http.post("/v1/commands", json=body, headers=headers)

    def ok(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.command(body)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def close(self) -> None:
        self.http.close()


def without_actor(command: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in command.items() if k != "actor"}


def assert_problem(response: httpx.Response, status: int, **fields: Any) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "code", "rule", "field"}
    assert body["status"] == status
    assert "Traceback" not in response.text
    for name, value in fields.items():
        assert body[name] == value, body
    return body
