"""Clear errors for an event store that cannot be written: a full disk, a read-only file or file system.

SQLite reports these as ``database or disk is full``, ``attempt to write a readonly database`` or a
bare ``disk I/O error`` (and the library's connection pool may then only say that it timed out
waiting for the writer). The cause is read from the file system itself, so the message names it
whatever the library said.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

LOW_SPACE_BYTES = 256 * 1024
_FULL = ("database or disk is full", "no space left")
_READ_ONLY = ("readonly database", "read-only file system", "read only")


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def sqlite_store_cause(path: Path, exc: BaseException | None = None) -> str | None:
    """Why the SQLite file ``path`` cannot be written, or None when nothing is wrong with its disk."""
    folder = path.parent if path.parent != Path("") else Path(".")
    texts = " ".join(str(e).lower() for e in _chain(exc)) if exc is not None else ""
    errnos = {getattr(e, "errno", None) for e in _chain(exc)} if exc is not None else set()
    try:
        stats = os.statvfs(folder)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY or errno.EROFS in errnos:
        return f"{folder} is on a read-only file system"
    if path.exists() and not os.access(path, os.W_OK):
        return f"{path} is a read-only file"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is read-only (SQLite needs to create {path.name}-wal and -shm there)"
    if any(t in texts for t in _READ_ONLY):
        return f"{path} is read-only"
    free = stats.f_bavail * stats.f_frsize
    if free < LOW_SPACE_BYTES or errno.ENOSPC in errnos or any(t in texts for t in _FULL):
        return f"the file system holding {path} is full ({free // 1024} KiB free)"
    return None


def explain_store_failure(sqlite_path: Path | None, exc: BaseException) -> str | None:
    """A message naming the cause of a store failure and what to do, or None when it is not one."""
    if sqlite_path is None:
        return None
    cause = sqlite_store_cause(sqlite_path, exc)
    if cause is None:
        return None
    return (
        f"the event store cannot be written: {cause} ({type(exc).__name__}: {exc}). Nothing of the command or "
        "batch that failed was recorded (results printed before it were); make room or make it writable, "
        "then run again"
    )
