"""The read-model database and the catch-up runner.

A projection's rows and its position are written in one transaction per batch. The position is
advanced with a compare-and-set (``UPDATE … WHERE position = <what this runner read>``), so a
concurrent or repeated run that read an older position cannot commit: it rolls back and starts
again from the position that won. A crash between batches loses nothing and counts nothing twice.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg
import sqlalchemy.exc
from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine, and_, create_engine, delete, event, insert, inspect, or_, select, update
from sqlalchemy.pool import StaticPool

from aggregates.customer import Customer
from projections.locking import SCHEMA, SCHEMA_WAIT_SECONDS, exclusive
from projections.projectors import PROJECTORS, Apply, Writer
from projections.tables import PROJECTIONS, TableSet, faults, table_set, tracking, tracking_metadata

logger = logging.getLogger(__name__)

CUSTOMER_TOPIC_PREFIX = Customer.__module__ + ":Customer."
DEFAULT_BATCH = 2000

Progress = Callable[[int, int], None]


class ProjectionConflict(Exception):
    """Another runner advanced the same projection first; this batch was rolled back."""


# Failures of the database itself (connection lost, server restarted, locked, disk full): the round
# is given up and tried again later; they are never blamed on an event.
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    ProjectionConflict,
)


@dataclass(frozen=True)
class Fault:
    """Why a stop-policy projection stopped: the event it cannot apply, and the error."""

    projection: str
    position: int
    customer_id: str
    event_type: str
    error: str
    first_failed_at: str
    last_failed_at: str
    attempts: int

    def describe(self) -> str:
        return (
            f"{self.projection}: stopped before position {self.position} ({self.event_type} of customer "
            f"{self.customer_id}): {self.error}; {self.attempts} attempts since {self.first_failed_at}"
        )


@dataclass(frozen=True)
class Undecodable:
    """A notification of a customer event that this code cannot decode (a poison event)."""

    originator_id: Any
    topic: str
    error: str


class _EventFailed(Exception):
    def __init__(self, position: int, domain_event: Any, error: BaseException) -> None:
        super().__init__(position)
        self.position = position
        self.customer_id = str(domain_event.originator_id)
        if isinstance(domain_event, Undecodable):
            self.event_type = domain_event.topic.rpartition(":")[2].removeprefix("Customer.")
            self.error = domain_event.error
        else:
            self.event_type = type(domain_event).__qualname__.removeprefix("Customer.")
            self.error = f"{type(error).__name__}: {error}"


def _is_infrastructure(exc: BaseException) -> bool:
    return isinstance(exc, INFRASTRUCTURE_ERRORS)


def create_read_engine(url: str, *, schema: str | None = None, connect_timeout: int = 10) -> Engine:
    """An engine on the read models' database, given as a SQLAlchemy ``url`` (``sqlite://`` in memory,
    ``sqlite:///FILE``, ``postgresql+psycopg://...`` with its ``schema``); the ledger passes the event
    store's own database (``ledger.readside.read_engine``)."""
    if url.startswith("sqlite"):
        if url == "sqlite://":
            return create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": connect_timeout}
    if schema:
        connect_args["options"] = f"-csearch_path={schema}"
    return create_engine(url, connect_args=connect_args, pool_pre_ping=True)


@dataclass(frozen=True)
class Target:
    """Where one projection writes: its tracking row name, its tables and its projectors."""

    name: str
    tables: TableSet
    applies: dict[type, Apply]


def live_target(projection: str) -> Target:
    return Target(projection, table_set(projection), PROJECTORS[projection])


class ReadModels:
    """The read-model database: creates tables, reads positions, catches projections up."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # Any number of processes may start on a new store at once: the tables are created (or
        # reshaped) by one at a time, so none fails with "already exists" (projections.locking).
        with exclusive(engine, SCHEMA, timeout=SCHEMA_WAIT_SECONDS):
            self._create_tables()

    def _create_tables(self) -> None:
        engine = self.engine
        tracking_metadata.create_all(engine)
        existing = inspect(engine)
        for projection in PROJECTIONS:
            tables = table_set(projection)
            stale = [
                t for t in tables.tables.values()
                if existing.has_table(t.name)
                and {c["name"] for c in existing.get_columns(t.name)} != {c.name for c in t.columns}
            ]
            if stale:
                # The code's tables changed shape: start this projection afresh from the log.
                with engine.begin() as conn:
                    tables.metadata.drop_all(conn)
                    conn.execute(delete(tracking).where(tracking.c.name == projection))
            tables.metadata.create_all(engine)

    def close(self) -> None:
        self.engine.dispose()

    def position(self, name: str) -> int:
        with self.engine.connect() as conn:
            value = conn.execute(select(tracking.c.position).where(tracking.c.name == name)).scalar()
        return int(value or 0)

    def positions(self) -> dict[str, int]:
        return {name: self.position(name) for name in PROJECTIONS}

    def _ensure_tracking(self, name: str, suffix: str | None = None) -> None:
        with self.engine.connect() as conn:
            if conn.execute(select(tracking.c.name).where(tracking.c.name == name)).first() is not None:
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(tracking).values(name=name, position=0, suffix=suffix))
        except sqlalchemy.exc.IntegrityError:
            pass  # another runner created it first: the same row

    def catch_up(
        self,
        recorder: Any,
        mapper: Any,
        targets: Sequence[Target] | None = None,
        *,
        batch_size: int = DEFAULT_BATCH,
        stop: int | None = None,
        progress: Progress | None = None,
        max_batches: int | None = None,
    ) -> int:
        """Apply every notification after each target's position, up to ``stop`` (default: the end).

        Returns the number of notifications read. Each batch is one transaction per call.
        """
        targets = list(targets or [live_target(p) for p in PROJECTIONS])
        for target in targets:
            self._ensure_tracking(target.name)
        end = (recorder.max_notification_id() or 0) if stop is None else stop
        stopped = {f.projection for f in self.faults() if f.projection in {t.name for t in targets}}
        for target in [t for t in targets if t.name in stopped]:
            if self._retry_stopped(recorder, mapper, target):
                stopped.discard(target.name)
        running = [t for t in targets if t.name not in stopped]
        read = 0
        batches = 0
        while running:
            positions = {t.name: self.position(t.name) for t in running}
            start = min(positions.values())
            if start >= end or (max_batches is not None and batches >= max_batches):
                return read
            notifications = recorder.select_notifications(start + 1, batch_size, stop=end)
            if not notifications:
                return read
            events = decode_checked(mapper, notifications)
            try:
                self._apply_batch(running, positions, events, notifications[-1].id)
            except ProjectionConflict:
                continue
            except Exception as exc:
                if _is_infrastructure(exc):
                    raise
                failed = self._apply_isolated(running, positions, events, notifications[-1].id)
                running = [t for t in running if t.name not in failed]
            read += len(notifications)
            batches += 1
            if progress is not None:
                progress(notifications[-1].id, end)
        return read

    # ----- the stop policy (SPEC 9): never skip an event, never advance past it

    def faults(self) -> list[Fault]:
        """Every projection (or rebuild) stopped at an event it cannot apply."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(faults).order_by(faults.c.name)).all()
        return [
            Fault(r.name, r.position, r.customer_id, r.event_type, r.error, r.first_failed_at, r.last_failed_at,
                  r.attempts)
            for r in rows
        ]

    def fault(self, name: str) -> Fault | None:
        return next((f for f in self.faults() if f.projection == name), None)

    def _record_fault(self, name: str, failed: _EventFailed) -> None:
        now = datetime.now(UTC).isoformat()
        with self.engine.begin() as conn:
            found = conn.execute(select(faults.c.attempts).where(faults.c.name == name)).first()
            if found is None:
                conn.execute(insert(faults).values(
                    name=name, position=failed.position, customer_id=failed.customer_id,
                    event_type=failed.event_type, error=failed.error[:2000], first_failed_at=now,
                    last_failed_at=now, attempts=1,
                ))
            else:
                conn.execute(update(faults).where(faults.c.name == name).values(
                    position=failed.position, error=failed.error[:2000], last_failed_at=now,
                    attempts=faults.c.attempts + 1,
                ))
        if found is None:
            logger.error(
                "projection stopped",
                extra={"projection": name, "position": failed.position, "customer_id": failed.customer_id,
                       "event_type": failed.event_type, "error": failed.error},
            )

    def _clear_fault(self, name: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(faults).where(faults.c.name == name))
        logger.warning("projection resumed", extra={"projection": name})

    def _apply_one_by_one(self, target: Target, old: int, events: list[tuple[int, Any]], last: int) -> None:
        """Apply ``events`` after ``old`` to one target and claim ``last``, flushing after each event so
        that a failure is the event's: raises _EventFailed naming it (the transaction rolls back)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(tracking).where(tracking.c.name == target.name, tracking.c.position == old)
                .values(position=last)
            )
            if result.rowcount != 1:
                raise ProjectionConflict(target.name)
            writer = Writer(conn, target.tables)
            for position, domain_event in events:
                if position <= old or position > last:
                    continue
                try:
                    if isinstance(domain_event, Undecodable):
                        raise ValueError(domain_event.error)
                    apply = target.applies.get(type(domain_event))
                    if apply is not None:
                        apply(writer, domain_event)
                    writer.flush()
                except Exception as exc:
                    if _is_infrastructure(exc):
                        raise
                    raise _EventFailed(position, domain_event, exc) from exc

    def _apply_isolated(
        self, targets: Sequence[Target], positions: dict[str, int], events: list[tuple[int, Any]], last: int
    ) -> set[str]:
        """A batch failed: each target on its own, event by event. A target that cannot apply an event
        commits what comes before it, stops there and records the fault. Returns the stopped ones."""
        stopped: set[str] = set()
        for target in targets:
            old = positions[target.name]
            if last <= old:
                continue
            try:
                self._apply_one_by_one(target, old, events, last)
            except ProjectionConflict:
                continue
            except _EventFailed as failed:
                if failed.position - 1 > old:
                    self._apply_one_by_one(target, old, events, failed.position - 1)
                self._record_fault(target.name, failed)
                stopped.add(target.name)
        return stopped

    def _retry_stopped(self, recorder: Any, mapper: Any, target: Target) -> bool:
        """Try a stopped target's failing event again (it may apply now); True when it did."""
        old = self.position(target.name)
        page = recorder.select_notifications(old + 1, 1)
        if not page:
            self._clear_fault(target.name)
            return True
        try:
            self._apply_one_by_one(target, old, decode_checked(mapper, page), page[0].id)
        except ProjectionConflict:
            return False
        except _EventFailed as failed:
            self._record_fault(target.name, failed)
            return False
        self._clear_fault(target.name)
        return True

    def expiry_candidates(self, recorder: Any, mapper: Any, at: datetime) -> list[UUID]:
        """Customers with a live contract whose grace period or term has ended by ``at``."""
        self.catch_up(recorder, mapper, [live_target("contracts")])
        t = table_set("contracts")["contracts"]
        moment = at.isoformat()
        stmt = (
            select(t.c.customer_id)
            .where(t.c.cancelled_at.is_(None), t.c.expired_at.is_(None))
            .where(or_(and_(t.c.started_at.is_(None), t.c.grace_ends_at <= moment), t.c.ends_at <= moment))
            .distinct()
        )
        with self.engine.connect() as conn:
            return sorted(UUID(row.customer_id) for row in conn.execute(stmt))

    def _apply_batch(
        self, targets: Sequence[Target], positions: dict[str, int], events: list[tuple[int, Any]], last: int
    ) -> None:
        with self.engine.begin() as conn:
            for target in targets:
                old = positions[target.name]
                if last <= old:
                    continue
                # Claim the batch first: a runner that read an older position stops here, before it
                # writes a row (on PostgreSQL the row lock also makes a concurrent runner wait).
                result = conn.execute(
                    update(tracking)
                    .where(tracking.c.name == target.name, tracking.c.position == old)
                    .values(position=last)
                )
                if result.rowcount != 1:
                    raise ProjectionConflict(target.name)
                with _pipelined(conn):
                    writer = Writer(conn, target.tables)
                    for position, domain_event in events:
                        if position <= old:
                            continue
                        if isinstance(domain_event, Undecodable):
                            raise ValueError(domain_event.error)
                        apply = target.applies.get(type(domain_event))
                        if apply is not None:
                            apply(writer, domain_event)
                    writer.flush()


def _pipelined(conn: Connection) -> contextlib.AbstractContextManager[Any]:
    """On PostgreSQL, the batch's statements go out in pipeline mode: sent without waiting for each
    answer (one round trip per sync, not per statement); errors still abort the transaction."""
    if conn.dialect.name != "postgresql":
        return contextlib.nullcontext()
    return conn.connection.dbapi_connection.pipeline()  # type: ignore[union-attr, no-any-return]


def decode_checked(mapper: Any, notifications: Iterable[Notification]) -> list[tuple[int, Any]]:
    """``decode``, but a customer event that cannot be decoded becomes an ``Undecodable`` in its place."""
    out: list[tuple[int, Any]] = []
    for n in notifications:
        if not n.topic.startswith(CUSTOMER_TOPIC_PREFIX):
            continue
        try:
            out.append((n.id, mapper.to_domain_event(n)))
        except Exception as exc:
            out.append((n.id, Undecodable(n.originator_id, n.topic, f"{type(exc).__name__}: {exc}")))
    return out


def decode(mapper: Any, notifications: Iterable[Notification]) -> list[tuple[int, Any]]:
    """Customer events of a page of notifications, as domain events (upcast by the library)."""
    return [
        (n.id, mapper.to_domain_event(n)) for n in notifications if n.topic.startswith(CUSTOMER_TOPIC_PREFIX)
    ]


def iter_customer_events(recorder: Any, mapper: Any, batch_size: int = DEFAULT_BATCH) -> Iterator[tuple[int, Any]]:
    """Stream every customer event of the log in order, one page in memory at a time."""
    start = 1
    while True:
        page = recorder.select_notifications(start, batch_size)
        yield from decode(mapper, page)
        if len(page) < batch_size:
            return
        start = page[-1].id + 1
