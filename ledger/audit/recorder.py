"""The event store's recorders with the audit log hooked into their insert transaction.

The only seam into the library: each recorder logs the events right after inserting them, in the
same transaction and under the same lock (PostgreSQL: ``LOCK TABLE … IN EXCLUSIVE MODE``, taken by
the library before the insert; SQLite: the database write lock). Selected by the configuration
(``APPLICATION_RECORDER_TOPIC``) unless ``LEDGER_AUDIT=n``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

from ledger.audit.store import AuditLog, AuditTables


class AuditedSQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite application recorder that appends every inserted event to the audit log."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name)
        self.audit = AuditLog(AuditTables("sqlite", events_table_name))

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as c:
            for statement in self.audit.t.create_statements():
                c.execute(statement)

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if ids:
            self.audit.append(c, stored_events, ids)
        return ids


class AuditedPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL application recorder that appends every inserted event to the audit log."""

    def __init__(self, datastore: PostgresDatastore, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        self.audit = AuditLog(AuditTables("postgres", events_table_name, datastore.schema or "public"))

    def create_table(self) -> None:
        super().create_table()
        with self.datastore.transaction(commit=True) as curs:
            for statement in self.audit.t.create_statements():
                curs.execute(statement.encode(), prepare=False)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            self.audit.append(curs, stored_events, ids)
        return ids


def recorder_topic(kind: str) -> str:
    from eventsourcing.utils import get_topic

    return get_topic(AuditedSQLiteRecorder if kind == "sqlite" else AuditedPostgresRecorder)
