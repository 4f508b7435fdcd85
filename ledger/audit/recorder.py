"""The event store's recorders with the audit log hooked into their insert transaction.

They extend the ledger's recorders (``ledger.library``, the seam into the library): each logs the
events right after inserting them (and their ``Idempotency-Key`` answers), in the same transaction
and under the same lock (PostgreSQL: ``LOCK TABLE … IN EXCLUSIVE MODE``, taken by the library before
the insert; SQLite: the database write lock). Selected by the configuration
(``APPLICATION_RECORDER_TOPIC``) unless ``LEDGER_AUDIT=n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from ledger.audit.store import AuditLog, AuditTables
from ledger.library import LedgerPostgresRecorder, LedgerSQLiteRecorder


class AuditedSQLiteRecorder(LedgerSQLiteRecorder):
    """SQLite application recorder that appends every inserted event to the audit log."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self.audit = AuditLog(AuditTables("sqlite", events_table_name))

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as c:
            for statement in self.audit.t.create_statements():
                c.execute(statement)

    def after_insert(self, c: Any, stored_events: Sequence[StoredEvent], ids: Sequence[int]) -> None:
        super().after_insert(c, stored_events, ids)
        self.audit.append(c, stored_events, ids)


class AuditedPostgresRecorder(LedgerPostgresRecorder):
    """PostgreSQL application recorder that appends every inserted event to the audit log."""

    def __init__(self, datastore: PostgresDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.audit = AuditLog(AuditTables("postgres", events_table_name, datastore.schema or "public"))

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as curs:
            for statement in self.audit.t.create_statements():
                curs.execute(statement.encode(), prepare=False)

    def after_insert(self, curs: Any, stored_events: Sequence[StoredEvent], ids: Sequence[int]) -> None:
        super().after_insert(curs, stored_events, ids)
        self.audit.append(curs, stored_events, ids)


def recorder_topic(kind: str) -> str:
    from eventsourcing.utils import get_topic

    return get_topic(AuditedSQLiteRecorder if kind == "sqlite" else AuditedPostgresRecorder)
