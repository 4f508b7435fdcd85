"""The seam the audit log hooks into (``ledger/audit/recorder.py``) is still where it was written for.

The audit rows must be written in the transaction that inserts the events, after the insert, while
the insert lock is held. When this fails after an upgrade of ``eventsourcing``, read
``ledger/audit/recorder.py`` against the new release.
"""

from __future__ import annotations

import inspect

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteFactory

from ledger.audit.recorder import AuditedPostgresRecorder, AuditedSQLiteRecorder
from ledger.config import AUDIT_RECORDERS, PLAIN_RECORDERS, parse_db_url
from ledger.library import LedgerPostgresRecorder, LedgerSQLiteRecorder


def test_s8_sqlite_inserts_events_and_returns_ids_inside_one_write_transaction() -> None:
    assert list(inspect.signature(SQLiteApplicationRecorder._insert_events).parameters)[:3] == [
        "self", "c", "stored_events"]
    source = inspect.getsource(SQLiteAggregateRecorder.insert_events)
    assert "transaction(commit=True)" in source and "self._insert_events(c" in source
    assert "return returning" in inspect.getsource(SQLiteApplicationRecorder._insert_events)


def test_s8_postgres_fetches_ids_after_the_locked_insert_in_the_same_transaction() -> None:
    source = inspect.getsource(PostgresApplicationRecorder.insert_events)
    assert "conn.transaction()" in source
    assert (source.index("self._insert_stored_events(") < source.index("pipeline.sync()")
            < source.index("self._fetch_ids_after_insert_events("))
    assert "self._lock_table(curs)" in inspect.getsource(PostgresApplicationRecorder._insert_stored_events)
    assert list(inspect.signature(PostgresApplicationRecorder._fetch_ids_after_insert_events).parameters)[:3] == [
        "self", "curs", "stored_events"]


def test_s8_the_factories_take_the_audited_recorders_from_the_configuration() -> None:
    for factory in (SQLiteFactory, PostgresFactory):
        assert "APPLICATION_RECORDER_TOPIC" in inspect.getsource(factory.application_recorder)
    assert parse_db_url("x.db", {}).env["APPLICATION_RECORDER_TOPIC"] == AUDIT_RECORDERS["sqlite"]
    # without the audit log, the ledger's own recorders still write Idempotency-Key answers with the events
    assert parse_db_url("x.db", {"LEDGER_AUDIT": "n"}).env["APPLICATION_RECORDER_TOPIC"] == PLAIN_RECORDERS["sqlite"]
    assert issubclass(AuditedSQLiteRecorder, LedgerSQLiteRecorder)
    assert issubclass(AuditedPostgresRecorder, LedgerPostgresRecorder)
    assert issubclass(LedgerSQLiteRecorder, SQLiteApplicationRecorder)
    assert issubclass(LedgerPostgresRecorder, PostgresApplicationRecorder)
