"""Every use of private or undocumented ``eventsourcing`` API, in one place.

Written for ``eventsourcing`` 9.5.6 (pyproject pins ``>=9.5,<9.6``). The library's public API
saves one group of aggregates at a time (``Application.save``); group commit needs the three steps
of ``save`` separately (record the events of many commands in one transaction, then take snapshots,
then notify), and the reads the ledger narrows to one query need the recorders' tables. Nothing
else in the code base calls a private name of the library: when upgrading it, read this module and
run ``tests/integration/test_library_internals.py``, which fails when any of these names or signatures
changes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.persistence import PersistenceError, Recording, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Identifier

from aggregates.packing import uuid_from_hex
from ledger import answers

logger = logging.getLogger(__name__)

WRITTEN_FOR = "9.5.6"
"""The ``eventsourcing`` release this module was written against."""


class LibraryApplication(Application[UUID]):
    """``Application`` with the ledger's uses of the library's private methods.

    - a save takes at most one snapshot per aggregate, of the aggregate as saved, and a snapshot that
      fails to store does not fail a command already recorded (``_take_snapshots``);
    - ``record`` and ``after_record`` are ``Application.save`` split in two, so that group commit can
      record the events of many commands, in their order, in one transaction.
    """

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """At most one snapshot per aggregate per save: of the aggregate as saved, when its events
        crossed a multiple of the snapshotting interval.

        The library takes one snapshot per multiple crossed, each rebuilt from the store (previous
        snapshot plus events): a save of hundreds of events on a big customer (group commit, a room
        import) rebuilt and packed the whole state several times over. The aggregate in hand holds
        exactly the recorded state at its version, so it is packed once, as it is. A snapshot at any
        version serves every read at or after it.

        Snapshots are taken after the command's events are committed; failing to store one loses
        nothing (the events are the record). It must not fail a command that is already recorded,
        least of all with an IntegrityError, which ``execute`` would take for a lost race and run the
        command a second time.
        """
        if self.snapshots is None or not self.snapshotting_intervals:
            return
        due: dict[UUID, Any] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            interval = self.snapshotting_intervals.get(type(aggregate)) if aggregate is not None else None
            if interval and event.originator_version % interval == 0:
                due[event.originator_id] = aggregate
        try:
            for aggregate in due.values():
                snapshot_class: Any = getattr(type(aggregate), "Snapshot", None) or type(self).snapshot_class
                self.snapshots.put([snapshot_class.take(aggregate)])
        except PersistenceError:
            logger.warning("snapshot not stored; the events are recorded", exc_info=True)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Records the events (``save`` and group commit both come here); those not stamped yet get
        the current correlation id and their causation ids first (``ledger.ops.tracing``)."""
        from ledger.ops import tracing

        tracing.stamp([e for e in processing_event.events if tracing.correlation_of(e) is None])
        recordings = super()._record(processing_event)
        reweigh = getattr(self.repository.cache, "reweigh", None)
        if reweigh is not None:  # the cached aggregates grew by these events (``ledger.cache``)
            for aggregate_id in processing_event.aggregates:
                reweigh(aggregate_id)
        return recordings

    def record(self, processing: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Record ``processing``'s events in one transaction and cache its aggregates (``save``'s first step)."""
        return self._record(processing)

    def after_record(self, processing: ProcessingEvent[UUID], recordings: list[Recording[UUID]]) -> None:
        """Take the snapshots due and notify, as ``save`` does after recording."""
        self._take_snapshots(processing)
        self._notify(recordings)

    def evict(self, aggregate_ids: Iterable[UUID]) -> None:
        """Drop these aggregates from the repository's cache (they may hold unsaved changes)."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)


class LedgerSQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite application recorder with a hook inside the insert transaction, after the events.

    ``after_insert`` writes the ``Idempotency-Key`` answers of the commands whose events these are
    (``ledger.answers``); the audit recorder adds its log there. Overrides the library's private
    ``_insert_events`` (it runs inside ``insert_events``' transaction, under the write lock)."""

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if ids:
            self.after_insert(c, stored_events, ids, **kwargs)
        return ids

    def after_insert(self, c: Any, stored_events: Sequence[StoredEvent], ids: Sequence[int], **kwargs: Any) -> None:
        """Runs in the insert's transaction once the events have their notification ids (``kwargs``: those
        given to ``insert_events``)."""
        answers.write(c, "sqlite", None, stored_events, ids)

    def convert_originator_id(self, originator_id: str) -> UUID | str:
        """The stored id (32 hex digits, as the library writes it) as a UUID, without ``UUID.__init__``'s
        parsing of text the library wrote (a tenth of a rebuild's time, profiled)."""
        if len(originator_id) == 32 and self.datastore.originator_id_type == "uuid":
            return uuid_from_hex(originator_id)
        return super().convert_originator_id(originator_id)


class _RollBack(BaseException):
    """Carries an error of the hook past the library, so that the insert's transaction rolls back."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class LedgerPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL application recorder with a hook inside the insert transaction, after the events.

    Overrides the library's private ``_fetch_ids_after_insert_events``: it runs in the insert's
    transaction, ``LOCK TABLE … IN EXCLUSIVE MODE`` held, once the events have their ids. Any error
    there fails the transaction, so the events are not recorded either. (The library catches every
    ``Exception`` of that step and re-raises it *after* leaving ``conn.transaction()``, which then
    commits: right for a database error, which has aborted the transaction already, but a Python
    error of the hook would commit the events without what the hook writes. Such an error is
    carried out as a ``BaseException`` so that the transaction rolls back, and raised as itself.)"""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        try:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
            return ids
        except _RollBack as rolled_back:
            raise rolled_back.error from None

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if ids:
            try:
                self.after_insert(curs, stored_events, ids, **kwargs)
            except psycopg.Error:
                raise  # the database has aborted the transaction: the library's way is right
            except Exception as exc:
                raise _RollBack(exc) from exc
        return ids

    def after_insert(
        self, curs: Any, stored_events: Sequence[StoredEvent], ids: Sequence[int], **kwargs: Any
    ) -> None:
        """Runs in the insert's transaction once the events have their notification ids (``kwargs``: those
        given to ``insert_events``)."""
        answers.write(curs, "postgres", self.datastore.schema or "public", stored_events, ids)


def latest_versions(recorder: Any, aggregate_ids: list[UUID]) -> dict[UUID, int]:
    """The latest recorded version of each of ``aggregate_ids`` that has events, in one query.

    Reads the recorders' events table directly (``datastore``, ``events_table_name``); any other
    recorder is asked aggregate by aggregate through its public API."""
    if not aggregate_ids:
        return {}
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL(
            "SELECT originator_id, max(originator_version) AS v FROM {schema}.{table} "
            "WHERE originator_id = ANY(%s) GROUP BY originator_id"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [aggregate_ids])
            return {UUID(str(row["originator_id"])): int(row["v"]) for row in curs.fetchall()}
    if isinstance(recorder, SQLiteApplicationRecorder):
        marks = ",".join("?" * len(aggregate_ids))
        statement_text = (
            f"SELECT originator_id, max(originator_version) FROM {recorder.events_table_name} "
            f"WHERE originator_id IN ({marks}) GROUP BY originator_id"
        )
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(statement_text, [i.hex for i in aggregate_ids])
            return {UUID(row[0]): int(row[1]) for row in c.fetchall()}
    found = {}
    for aggregate_id in aggregate_ids:
        last = recorder.select_events(aggregate_id, desc=True, limit=1)
        if last:
            found[aggregate_id] = last[0].originator_version
    return found


def last_position_sql(recorder: Any) -> tuple[str, Callable[[UUID], Any]]:
    """A scalar SQL subquery, for a statement on the events' own database (the read engine's), that
    gives the notification id (the log position) of an aggregate's last event, NULL when it has none;
    the aggregate id is the bound parameter ``:aggregate_id``, as the returned function makes it.

    Reads the recorders' events table directly (``datastore``, ``events_table_name``): its primary
    key (originator id, version) finds the last version, and a customer's versions are in log order."""
    if isinstance(recorder, PostgresApplicationRecorder):
        schema = recorder.datastore.schema
        table = f'"{schema}"."{recorder.events_table_name}"' if schema else f'"{recorder.events_table_name}"'
        return (f"(SELECT notification_id FROM {table} WHERE originator_id = :aggregate_id "
                "ORDER BY originator_version DESC LIMIT 1)"), lambda aggregate_id: aggregate_id
    if isinstance(recorder, SQLiteApplicationRecorder):
        return (f'(SELECT rowid FROM "{recorder.events_table_name}" WHERE originator_id = :aggregate_id '
                "ORDER BY originator_version DESC LIMIT 1)"), lambda aggregate_id: aggregate_id.hex
    raise TypeError(f"no events table for {type(recorder).__name__}")


def raw_notification_rows(recorder: Any, start: int, limit: int) -> int:
    """The driver's select of up to ``limit`` notification rows from ``start`` (the statement the
    recorder's ``select_notifications`` runs, rows as the driver returns them, nothing decoded);
    returns the last row's notification id (0: none). The ceiling a reader of the log can reach
    (``benchmarks.replay``)."""
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id>=%s ORDER BY notification_id LIMIT %s"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(statement, [start, limit], prepare=True)
            rows = curs.fetchall()
            return int(rows[-1][0]) if rows else 0
    if isinstance(recorder, SQLiteApplicationRecorder):
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT rowid, * FROM {recorder.events_table_name} WHERE rowid>=? ORDER BY rowid LIMIT ?",
                      [start, limit])
            rows = c.fetchall()
            return int(rows[-1][0]) if rows else 0
    raise TypeError(f"no raw select for {type(recorder).__name__}")
