"""The ledger application: the event store, the unit of work handlers run in, and retries."""

from __future__ import annotations

import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any, ClassVar, TypeVar, cast
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ApplicationRecorder,
    EventStore,
    IntegrityError,
    InternalError,
    PersistenceError,
    ProgrammingError,
    Transcoder,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic
from psycopg.sql import SQL, Identifier

from aggregates.customer import Customer
from aggregates.errors import Conflict, LedgerError, NotFound
from aggregates.ids import partner_id_for, purchase_order_id_for, serial_number_id_for
from aggregates.partner import Partner
from aggregates.reservations import PurchaseOrder, SerialNumber
from aggregates.timeutil import as_utc
from commands.auth import Principal
from commands.handlers import HANDLERS, Context
from commands.models import Command, ExpireContracts
from ledger.config import Settings
from ledger.transcoding import ledger_transcoder

logger = logging.getLogger(__name__)


class _RegroupError(Exception):
    """A group cannot be committed as one; its commands are run one by one instead."""


STARTUP_ATTEMPTS = 6
# What the losers are told when several processes create the same tables, types or functions at
# the same moment: PostgreSQL's catalog races (and SQLite's, for SQLAlchemy's check-then-create);
# on a new SQLite file, the switch to WAL mode, whose exclusive lock SQLite refuses at once
# ("database is locked") while another process is switching too.
STORE_RACES: tuple[type[Exception], ...] = (InternalError, IntegrityError, ProgrammingError, sqlite3.OperationalError)
READ_MODEL_RACES: tuple[type[Exception], ...] = (
    sqlalchemy.exc.InternalError,
    sqlalchemy.exc.IntegrityError,
    sqlalchemy.exc.ProgrammingError,
    sqlalchemy.exc.OperationalError,
)
T = TypeVar("T")
ENVELOPE_FIELDS = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp", "at", "actor"})


def event_type(domain_event: object) -> str:
    """Public name of an event type: ``OrderPlaced`` for customer events, else ``Partner.Registered``."""
    name = type(domain_event).__qualname__
    return name.removeprefix("Customer.")


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, UUID)):
        return str(value) if isinstance(value, UUID) else value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def event_data(domain_event: object) -> dict[str, Any]:
    return {k: jsonable(v) for k, v in vars(domain_event).items() if k not in ENVELOPE_FIELDS}


class UnitOfWork:
    """Reads current aggregates for one command and collects those to be saved together."""

    def __init__(self, app: LedgerApplication) -> None:
        self._app = app
        self.staged: dict[UUID, Aggregate] = {}
        self.loaded: dict[UUID, Aggregate] = {}
        self.read_versions: dict[UUID, int] = {}  # 0: read as absent

    def _get(self, aggregate_id: UUID, kind: type[Aggregate]) -> Any:
        if aggregate_id in self.staged:
            return self.staged[aggregate_id]
        try:
            aggregate: Aggregate = (
                self._app.repository.get(aggregate_id, deepcopy_from_cache=self._app.copy_from_cache)
                if kind is Customer
                else self._app.unsnapshotted(aggregate_id)
            )
        except AggregateNotFoundError:
            self.read_versions.setdefault(aggregate_id, 0)
            return None
        self.loaded[aggregate_id] = aggregate
        self.read_versions.setdefault(aggregate_id, aggregate.version)
        return aggregate if isinstance(aggregate, kind) else None

    def changed_since_read(self) -> bool:
        """Whether another writer recorded events on any aggregate this command read (or found absent).

        The reads of one command are not one snapshot: a writer can commit between two of them. A
        refusal decided on such a torn read may be one that no order of the two commands gives (an
        identical order resubmitted while its first submission commits: the PO reservation read as
        absent, then the customer read with the PO on it), so it is decided again on fresh reads.
        All the versions are read in one query.
        """
        latest = self._app.latest_versions(list(self.read_versions))
        return any(latest.get(k, 0) != v for k, v in self.read_versions.items())

    def clock_raced(self, moment: datetime) -> bool:
        """Whether every aggregate read is dated at or before ``moment`` (a fresh reading of the clock).

        A command without ``at`` reads the clock before it reads the aggregates. If another writer
        committed an event dated between those two reads, the command is refused by R20 although a
        new reading of the clock would be accepted: that is a lost race, not a rule violation.
        """
        return all(getattr(a, "last_at", moment) <= moment for a in self.loaded.values())

    def customer(self, customer_id: UUID) -> Customer | None:
        return cast("Customer | None", self._get(customer_id, Customer))

    def partner(self, partner_id: str) -> Partner | None:
        return cast("Partner | None", self._get(partner_id_for(partner_id), Partner))

    def purchase_order(self, po_number: str) -> PurchaseOrder | None:
        return cast("PurchaseOrder | None", self._get(purchase_order_id_for(po_number), PurchaseOrder))

    def serial_number(self, serial_number: str) -> SerialNumber | None:
        return cast("SerialNumber | None", self._get(serial_number_id_for(serial_number), SerialNumber))

    def expiry_candidates(self, at: datetime) -> Iterator[UUID]:
        return self._app.expiry_candidates(at)

    def stage(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.staged[aggregate.id] = aggregate


class LedgerApplication(Application[UUID]):
    """Event-sourced entitlement ledger on the ``eventsourcing`` library (SQLite or PostgreSQL).

    ``execute`` runs one command atomically: every aggregate it changed is saved in one
    transaction, or nothing is when it is refused. Losing an optimistic-concurrency race is retried
    with jitter up to ``settings.max_attempts`` times; a command that still loses is refused.
    """

    name = "Ledger"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Customer: 100}

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        env = dict(settings.store.env)
        env.setdefault("CREATE_TABLE", "y")
        env.setdefault("AGGREGATE_CACHE_MAXSIZE", "2000")
        # Commands work on the cached aggregate itself (no copy per read); a command that fails or
        # is refused drops what it read from the cache. LEDGER_COPY_ON_READ=y copies instead, for
        # a process that shares one application between threads.
        self.copy_from_cache = settings.copy_on_read
        self._read_models: Any = None
        super().__init__(env=env)

    def construct_recorder(self) -> ApplicationRecorder:
        """The recorder, creating the tables where missing; retried when other processes do it too.

        On PostgreSQL the library creates its table, index, composite type and insert function on
        start-up. When several processes start at once, those statements race: PostgreSQL answers
        the losers with ``tuple concurrently updated`` (InternalError) or a duplicate key in the
        catalogs (IntegrityError/ProgrammingError). Every statement is idempotent, so it is run again.
        """
        return self._created_concurrently(super().construct_recorder)

    def construct_snapshot_store(self) -> EventStore[UUID]:
        return self._created_concurrently(super().construct_snapshot_store)

    def _created_concurrently(self, create: Callable[[], T], races: tuple[type[Exception], ...] = STORE_RACES) -> T:
        for attempt in range(1, STARTUP_ATTEMPTS + 1):
            try:
                return create()
            except races:
                if attempt == STARTUP_ATTEMPTS:
                    raise
                time.sleep(random.uniform(0.05, 0.25) * attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshots are taken after the command's events are committed; failing to store one loses
        nothing (the events are the record). It must not fail a command that is already recorded,
        least of all with an IntegrityError, which ``execute`` would take for a lost race and run the
        command a second time.
        """
        try:
            super()._take_snapshots(processing_event)
        except PersistenceError:
            logger.warning("snapshot not stored; the events are recorded", exc_info=True)

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON format with a faster decoder (``ledger.transcoding``)."""
        return ledger_transcoder()

    def context(self, command: Command, now: datetime | None = None, principal: Principal | None = None) -> Context:
        at = as_utc(command.at) if command.at is not None else (now or datetime.now(UTC))
        return Context(
            at=at,
            actor=command.actor,
            secret_key=self.settings.secret_key,
            countries=self.settings.countries,
            grace_days=self.settings.grace_days,
            principal=principal,
        )

    def execute(
        self, command: Command, now: datetime | None = None, principal: Principal | None = None
    ) -> dict[str, Any]:
        """Run one command; return its result or raise a LedgerError saying why it was refused.

        ``principal`` is who the command is authorized for (HTTP: the authenticated credential);
        without one, the command's ``actor`` (the command line).
        """
        handler = HANDLERS[type(command)]
        attempts = self.settings.max_attempts
        implicit_time = command.at is None and now is None
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
            # "Now" is read afresh on every attempt: an attempt that follows a lost race must not be
            # dated before the events of the writer that won it (R20).
            ctx = self.context(command, now, principal)
            uow = UnitOfWork(self)
            try:
                try:
                    result = handler(command, uow, ctx)
                    recordings = self.save(*uow.staged.values()) if uow.staged else []
                except BaseException:
                    self._forget(uow)
                    raise
            except LedgerError as refusal:
                if implicit_time and refusal.code == "time_went_backwards" and uow.clock_raced(datetime.now(UTC)):
                    # Another writer committed an event dated after our reading of the clock
                    # but before our read of the aggregate: a lost race, not a rule violation.
                    if attempt == attempts:
                        raise self._lost_race(attempts) from None
                    continue
                if attempt < attempts and uow.changed_since_read():
                    continue  # decided on a torn read: decide again
                raise
            except IntegrityError:
                if attempt == attempts:
                    raise self._lost_race(attempts) from None
                continue
            events = [
                {
                    "type": event_type(r.domain_event),
                    "aggregate_id": str(r.domain_event.originator_id),
                    "version": r.domain_event.originator_version,
                    "position": r.notification.id,
                }
                for r in recordings
            ]
            return {"ok": True, "customer_id": result.pop("customer_id", None), "events": events, **result}
        raise AssertionError("unreachable")  # pragma: no cover

    def execute_many(
        self,
        commands: list[Command],
        now: datetime | None = None,
        principals: list[Principal | None] | None = None,
    ) -> list[dict[str, Any] | LedgerError]:
        """Group commit: run ``commands`` in order on shared aggregates and save them in one transaction.

        Each command stays atomic and isolated: its result, or its refusal, is exactly what running
        the commands one by one with ``execute`` gives. A refused command changes nothing (checked:
        if it left an aggregate changed, or was decided on a read another writer changed, or the
        save loses a race, the whole group is run again command by command). ``ExpireContracts``
        runs on its own, after the commands before it are saved, because it reads the read models.
        """
        who = principals if principals is not None else [None] * len(commands)
        outcomes: list[dict[str, Any] | LedgerError] = []
        group: list[tuple[Command, Principal | None]] = []
        for command, principal in zip(commands, who, strict=True):
            if isinstance(command, ExpireContracts):
                outcomes.extend(self._execute_group(group, now))
                group = []
                outcomes.append(self._outcome(command, now, principal))
            else:
                group.append((command, principal))
        outcomes.extend(self._execute_group(group, now))
        return outcomes

    def _outcome(
        self, command: Command, now: datetime | None, principal: Principal | None = None
    ) -> dict[str, Any] | LedgerError:
        try:
            return self.execute(command, now, principal)
        except LedgerError as refusal:
            return refusal

    def _execute_group(
        self, group: list[tuple[Command, Principal | None]], now: datetime | None
    ) -> list[dict[str, Any] | LedgerError]:
        if len(group) <= 1:
            return [self._outcome(command, now, principal) for command, principal in group]
        uow = UnitOfWork(self)
        partial: list[tuple[dict[str, Any] | LedgerError, list[Any]]] = []
        refused = False
        try:
            for command, principal in group:
                before = {k: len(a.pending_events) for k, a in {**uow.loaded, **uow.staged}.items()}
                ctx = self.context(command, now, principal)
                try:
                    result = HANDLERS[type(command)](command, uow, ctx)
                except LedgerError as refusal:
                    touched = {**uow.loaded, **uow.staged}
                    if any(len(a.pending_events) != before.get(k, 0) for k, a in touched.items()):
                        raise _RegroupError from None
                    refused = True
                    partial.append((refusal, []))
                    continue
                produced = [e for k, a in uow.staged.items() for e in a.pending_events[before.get(k, 0):]]
                partial.append((result, produced))
            # A refusal decided on a read that another writer has since changed is decided again,
            # command by command (one query for every aggregate the group read).
            if refused and uow.changed_since_read():
                raise _RegroupError
            # The log keeps the order of the commands: their events go in as they were produced.
            processing: ProcessingEvent[UUID] = ProcessingEvent()
            for aggregate in uow.staged.values():
                aggregate.collect_events()
                processing.aggregates[aggregate.id] = aggregate
            processing.events.extend(e for _, produced in partial for e in produced)
            recordings = self._record(processing) if processing.events else []
        except (_RegroupError, IntegrityError):
            self._forget(uow)
            return [self._outcome(command, now, principal) for command, principal in group]
        except BaseException:
            self._forget(uow)
            raise
        self._take_snapshots(processing)
        self._notify(recordings)
        by_event = {(r.domain_event.originator_id, r.domain_event.originator_version): r for r in recordings}
        outcomes: list[dict[str, Any] | LedgerError] = []
        for outcome, produced in partial:
            if isinstance(outcome, LedgerError):
                outcomes.append(outcome)
                continue
            events = [
                {
                    "type": event_type(r.domain_event),
                    "aggregate_id": str(r.domain_event.originator_id),
                    "version": r.domain_event.originator_version,
                    "position": r.notification.id,
                }
                for r in (by_event[(e.originator_id, e.originator_version)] for e in produced)
            ]
            outcomes.append({"ok": True, "customer_id": outcome.pop("customer_id", None), "events": events, **outcome})
        return outcomes

    def _forget(self, uow: UnitOfWork) -> None:
        """Drop from the cache every aggregate a failed command read: it may hold unsaved changes."""
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in [*uow.loaded, *uow.staged]:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    @staticmethod
    def _lost_race(attempts: int) -> Conflict:
        return Conflict(
            f"command: other writers changed the same records {attempts} times in a "
            "row; nothing was recorded, submit it again (R18)",
            rule="R18",
            field="command",
            code="concurrency_conflict",
        )

    def unsnapshotted(self, aggregate_id: UUID) -> Aggregate:
        """An aggregate that is never snapshotted (reservations, partners), folded from its events in
        one query: the repository would first look for a snapshot, a round trip that finds nothing."""
        aggregate: Any = None
        for domain_event in self.events.get(aggregate_id):
            aggregate = cast("Aggregate.Event", domain_event).mutate(aggregate)
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        return cast("Aggregate", aggregate)

    def latest_versions(self, aggregate_ids: list[UUID]) -> dict[UUID, int]:
        """The latest recorded version of each of ``aggregate_ids`` that has events, in one query."""
        if not aggregate_ids:
            return {}
        recorder: Any = self.recorder
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

    def expiry_candidates(self, at: datetime) -> Iterator[UUID]:
        """Customers with a live contract whose grace period or term has ended by ``at``.

        Found in the contracts read model, caught up to the end of the log first; the handler then
        decides on each customer's own recorded state, so the read model only narrows the search.
        """
        from projections.store import ReadModels, create_read_engine

        if self._read_models is None:
            engine = create_read_engine(self.settings.store)
            try:
                # Writer processes that run their first expiry at the same moment all create the
                # read-model tables; the losers of that race create them again (all idempotent).
                self._read_models = self._created_concurrently(lambda: ReadModels(engine), READ_MODEL_RACES)
            except BaseException:
                engine.dispose()
                raise
        return iter(self._read_models.expiry_candidates(self.recorder, self.mapper, at))

    def close(self) -> None:
        if self._read_models is not None:
            self._read_models.close()
            self._read_models = None
        super().close()

    def customer_ids(self) -> Iterator[UUID]:
        """Every customer, in the order they were first recorded."""
        topic = get_topic(Customer.Registered)
        start = 1
        while True:
            page = self.recorder.select_notifications(start, 500, topics=[topic])
            for notification in page:
                yield UUID(str(notification.originator_id))
            if len(page) < 500:
                return
            start = page[-1].id + 1

    def customer(self, customer_id: UUID) -> Customer:
        aggregate: Aggregate | None
        try:
            aggregate = self.repository.get(customer_id)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, Customer):
            raise NotFound(f"customer_id: no customer {customer_id} (R1)", rule="R1", field="customer_id")
        return aggregate

    def customer_events(self, customer_id: UUID) -> list[Customer.Event]:
        """Every event of one customer, read from the store (never the cache, so any thread may call it)."""
        found = list(self.events.get(customer_id))
        if not found or not isinstance(found[0], Customer.Registered):
            raise NotFound(f"customer_id: no customer {customer_id} (R1)", rule="R1", field="customer_id")
        return cast("list[Customer.Event]", found)

    def history(self, customer_id: UUID, as_of: datetime | None = None) -> list[dict[str, Any]]:
        """Every event of one customer in order: position, type, effective and recorded time, actor."""
        rows = []
        for domain_event in self.customer_events(customer_id):
            effective = domain_event.at
            if as_of is not None and effective > as_of:
                break
            rows.append(
                {
                    "position": domain_event.originator_version,
                    "type": event_type(domain_event),
                    "effective_at": effective.isoformat(),
                    "recorded_at": domain_event.timestamp.isoformat(),
                    "actor": domain_event.actor,
                    "data": event_data(domain_event),
                }
            )
        return rows


__all__ = ["LedgerApplication", "LedgerError", "UnitOfWork", "event_data", "event_type"]
