"""tests/unit runs with the store, socket and process doors shut (tests/unit/conftest.py)."""

from __future__ import annotations

import socket
import sqlite3
import subprocess

import pytest

from tests.kit.no_io import UnitTestIO


def test_a_unit_test_cannot_open_a_database_a_socket_or_a_process() -> None:
    with pytest.raises(UnitTestIO, match=r"sqlite3\.connect"):
        sqlite3.connect(":memory:")
    with pytest.raises(UnitTestIO, match=r"socket\.connect"), socket.socket() as sock:
        sock.connect(("127.0.0.1", 5432))
    with pytest.raises(UnitTestIO, match=r"socket\.create_connection"):
        socket.create_connection(("127.0.0.1", 9092))
    with pytest.raises(UnitTestIO, match=r"subprocess\.Popen"):
        subprocess.run(["true"], check=False)
