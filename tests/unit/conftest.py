"""``tests/unit`` touches no I/O beyond reading the repository's files: no event store, database,
socket connection or process. Every test here runs with those doors shut, so a test that needs one fails and
belongs in ``tests/rules`` (through the application) or ``tests/integration``."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
from collections.abc import Iterator

import pytest

from tests.kit.no_io import refuse_io


@pytest.fixture(autouse=True)
def no_io(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(sqlite3, "connect", refuse_io("sqlite3.connect"))
    # In-process pipes (asyncio's self-pipe, an ASGI test client) stay open; connecting anywhere does not.
    monkeypatch.setattr(socket.socket, "connect", refuse_io("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_io("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse_io("socket.create_connection"))
    monkeypatch.setattr(subprocess, "Popen", refuse_io("subprocess.Popen"))
    try:
        import psycopg
    except ImportError:  # pragma: no cover - psycopg is a dependency of the ledger
        pass
    else:
        monkeypatch.setattr(psycopg, "connect", refuse_io("psycopg.connect"))
        monkeypatch.setattr(psycopg.Connection, "connect", classmethod(refuse_io("psycopg.Connection.connect")))
    yield
