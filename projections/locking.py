"""Locks that serialise maintenance of the read models across processes.

``exclusive(engine, name)`` holds a lock named ``name`` for one store: a PostgreSQL advisory lock
(keyed by database schema and name, held on a connection of its own, released when it closes,
also when the process dies), or on SQLite an ``flock`` on a file beside the database file (released
by the kernel when the process dies). A second holder waits, says so once through ``on_wait``, and
gives up after ``timeout`` seconds with ``LockTimeout``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sqlalchemy import Engine, text

POLL_SECONDS = 0.1
MAINTENANCE = "maintenance"
"""Held by ``ledger replay`` and ``ledger replay --check`` for their whole run."""
SCHEMA = "schema"
"""Held while the read-model tables are created or reshaped at start-up."""
SCHEMA_WAIT_SECONDS = 120.0
_IN_PROCESS: dict[str, threading.Lock] = {}
_GUARD = threading.Lock()


class LockTimeout(Exception):
    """Another process held the lock for longer than the caller was willing to wait."""


def _key(schema: str, name: str) -> int:
    digest = hashlib.sha256(f"select-ledger:{schema}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _sqlite_file(engine: Engine) -> Path | None:
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file::memory:"):
        return None
    return Path(database)


@contextlib.contextmanager
def exclusive(
    engine: Engine,
    name: str,
    *,
    timeout: float,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the store-wide lock ``name`` for the duration of the block (see the module docstring)."""
    deadline = time.monotonic() + timeout
    told = False

    def waiting(what: str) -> None:
        nonlocal told
        if time.monotonic() >= deadline:
            raise LockTimeout(f"{what} is held by another process; gave up after {timeout:g} s")
        if not told and on_wait is not None:
            on_wait(what)
            told = True
        time.sleep(POLL_SECONDS)

    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            schema = str(conn.execute(text("SELECT current_schema()")).scalar() or "public")
            key = _key(schema, name)
            conn.commit()
            while not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                conn.commit()
                waiting(f"the {name} lock")
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    file = _sqlite_file(engine)
    if file is None:
        with _GUARD:
            lock = _IN_PROCESS.setdefault(f"{id(engine)}:{name}", threading.Lock())
        while not lock.acquire(blocking=False):
            waiting(f"the {name} lock")
        try:
            yield
        finally:
            lock.release()
        return
    path = file.with_name(f"{file.name}.{name}.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        # A read-only (or full) file system: no other process can change this store's tables
        # either, and the store's own error says what is wrong once something is written.
        yield
        return
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waiting(f"the {name} lock ({path})")
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
