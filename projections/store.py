"""The read-model database and the catch-up runner.

A projection's rows and its position are written in one transaction per batch. The position is
advanced with a compare-and-set (``UPDATE … WHERE position = <what this runner read>``), so a
concurrent or repeated run that read an older position cannot commit: it rolls back and starts
again from the position that won. A crash between batches loses nothing and counts nothing twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.persistence import Notification
from sqlalchemy import Connection, Engine, and_, create_engine, delete, event, insert, inspect, or_, select, update
from sqlalchemy.pool import StaticPool

from aggregates.customer import Customer
from ledger.config import StoreSettings
from projections.projectors import PROJECTORS, Apply, Writer
from projections.tables import PROJECTIONS, TableSet, table_set, tracking, tracking_metadata

CUSTOMER_TOPIC_PREFIX = Customer.__module__ + ":Customer."
DEFAULT_BATCH = 2000

Progress = Callable[[int, int], None]


class ProjectionConflict(Exception):
    """Another runner advanced the same projection first; this batch was rolled back."""


def create_read_engine(store: StoreSettings) -> Engine:
    """An engine on the event store's database (same SQLite file, or same PostgreSQL schema)."""
    if store.kind == "sqlite":
        if store.sqlite_path is None:
            return create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        engine = create_engine(store.sqlalchemy_url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    connect_args: dict[str, Any] = {"connect_timeout": int(store.env.get("POSTGRES_CONNECT_TIMEOUT", "10"))}
    if store.schema:
        connect_args["options"] = f"-csearch_path={store.schema}"
    return create_engine(store.sqlalchemy_url, connect_args=connect_args, pool_pre_ping=True)


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
        read = 0
        batches = 0
        while True:
            positions = {t.name: self.position(t.name) for t in targets}
            start = min(positions.values())
            if start >= end or (max_batches is not None and batches >= max_batches):
                return read
            notifications = recorder.select_notifications(start + 1, batch_size, stop=end)
            if not notifications:
                return read
            try:
                self._apply_batch(targets, positions, decode(mapper, notifications), notifications[-1].id)
            except ProjectionConflict:
                continue
            read += len(notifications)
            batches += 1
            if progress is not None:
                progress(notifications[-1].id, end)

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
