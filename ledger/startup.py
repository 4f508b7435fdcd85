"""Start-up races: several processes creating the same tables at the same moment.

On PostgreSQL the library creates its table, index, composite type and insert function on
start-up; when several processes start at once those statements race, and PostgreSQL answers the
losers with ``tuple concurrently updated`` (InternalError) or a duplicate key in the catalogs
(IntegrityError/ProgrammingError). SQLAlchemy's check-then-create of the read-model tables races
the same way on both backends. On a new SQLite file, the switch to WAL mode takes an exclusive lock
that SQLite refuses at once ("database is locked") while another process is switching too. Every
one of those statements is idempotent, so the loser runs it again after a short random pause.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy.exc
from eventsourcing.persistence import IntegrityError, InternalError, ProgrammingError

T = TypeVar("T")

STARTUP_ATTEMPTS = 6
STORE_RACES: tuple[type[Exception], ...] = (InternalError, IntegrityError, ProgrammingError, sqlite3.OperationalError)
READ_MODEL_RACES: tuple[type[Exception], ...] = (
    sqlalchemy.exc.InternalError,
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.OperationalError,
)


def created_concurrently(create: Callable[[], T], races: tuple[type[Exception], ...] = STORE_RACES) -> T:
    """``create()``, run again (up to ``STARTUP_ATTEMPTS`` times) when it lost one of ``races``."""
    for attempt in range(1, STARTUP_ATTEMPTS + 1):
        try:
            return create()
        except races:
            if attempt == STARTUP_ATTEMPTS:
                raise
            time.sleep(random.uniform(0.05, 0.25) * attempt)
    raise AssertionError("unreachable")  # pragma: no cover
