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

from ledger.audit.store import AuditLog, AuditTables, Batch
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

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert events, their audit entries drafted before the write transaction begins."""
        if stored_events:
            kwargs["audit_batch"] = self.audit.draft(stored_events)
        return super().insert_events(stored_events, **kwargs)

    def after_insert(self, c: Any, stored_events: Sequence[StoredEvent], ids: Sequence[int], **kwargs: Any) -> None:
        super().after_insert(c, stored_events, ids, **kwargs)
        self.audit.append(c, stored_events, ids, kwargs.get("audit_batch"))


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

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """Insert events; the audit log's share of the work is split around the insert lock.

        Before the transaction: the entries are drafted (``AuditLog.draft``: decoding, salted
        commitments, canonical JSON). In the pipeline that takes the lock and inserts, the head of
        the log and the previous leaves are read (one round trip for all of it). Under the lock:
        ``seq`` and ``prev`` go into the drafts, the leaves and tree nodes are hashed, and the rows
        go out with the commit. The lock is held for two round trips and the commit.
        """
        if stored_events:
            kwargs["audit_batch"] = self.audit.draft(stored_events)
        return super().insert_events(stored_events, **kwargs)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        super()._insert_stored_events(curs, stored_events, **kwargs)
        batch: Batch | None = kwargs.get("audit_batch")
        if batch is not None:
            self.audit.queue_reads(curs.connection, batch, stored_events)

    def after_insert(
        self, curs: Any, stored_events: Sequence[StoredEvent], ids: Sequence[int], **kwargs: Any
    ) -> None:
        super().after_insert(curs, stored_events, ids, **kwargs)
        batch: Batch | None = kwargs.get("audit_batch")
        if batch is not None and batch.cursors:
            self.audit.finish(curs, batch, stored_events, ids)
        else:
            self.audit.append(curs, stored_events, ids, batch)


def recorder_topic(kind: str) -> str:
    from eventsourcing.utils import get_topic

    return get_topic(AuditedSQLiteRecorder if kind == "sqlite" else AuditedPostgresRecorder)
