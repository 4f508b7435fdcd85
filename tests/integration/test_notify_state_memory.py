"""SPEC 9 (the soak's RSS flat): a consumer's SQLite state file is read through a bounded page cache.

SQLite's default page cache (2000 KiB a connection) fills as the notifier's state file grows (a
sent-log row per mail), which made its RSS rise for hours; every connection to a state file (the
checkpoint store's and the parked store's engine) gets ``STATE_PAGE_CACHE_KIB`` and WAL.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.ops.parked import STATE_PAGE_CACHE_KIB, ParkedStore, sqlite_engine
from ledger.stream.subscriber import SqliteCheckpointStore

pytestmark = pytest.mark.backend_independent


def test_s9_every_connection_to_a_state_file_has_the_bounded_page_cache(tmp_path: Path) -> None:
    state = tmp_path / "notify.db"
    store = SqliteCheckpointStore(state)
    try:
        assert store.connection.execute("PRAGMA cache_size").fetchone()[0] == -STATE_PAGE_CACHE_KIB
        assert store.connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.save("g", "t", {0: 5}, {"c": 2})
        assert store.load("g", "t") == ({0: 5}, {"c": 2})
    finally:
        store.close()
    engine = sqlite_engine(str(state))
    try:
        ParkedStore(engine)
        with engine.connect() as first, engine.connect() as second:  # each pooled connection, not only the first
            for conn in (first, second):
                assert conn.execute(text("PRAGMA cache_size")).scalar() == -STATE_PAGE_CACHE_KIB
                assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()
    assert 0 < STATE_PAGE_CACHE_KIB < 2000  # below SQLite's default, which is what grew
