"""Parked events of the park-policy consumers (the notifier and other side effects, SPEC 9).

An event a consumer cannot handle is parked under its customer, in the consumer's own store, and
that customer's later events are parked behind it, in order, while other customers go on. An
operator works them with ``ledger parked list|retry|discard`` in bounded chunks, in original order;
every action (parked, retry requested, retried, retry failed, discarded) is an audit row with who,
when and why. A retry is carried out by the consumer itself (it picks up the events marked for
retry), which keeps its delivery log: an event is never delivered twice (idempotent by event id).

Statuses: ``parked`` (waiting), ``retry`` (marked by an operator, the consumer will try it again),
``delivered`` (a retry succeeded), ``discarded`` (an operator gave it up, with a reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    insert,
    select,
    update,
)

OPEN = ("parked", "retry")
DEFAULT_CHUNK = 100
MAX_CHUNK = 1000

metadata = MetaData()
parked_events = Table(
    "parked_events", metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(300), nullable=False),  # relay:<topic> (a topic: up to 249)
    Column("event_id", String(128), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("position", Integer),
    Column("event_type", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("parked_at", String(40), nullable=False),
    Column("resolved_at", String(40)),
    UniqueConstraint("consumer", "event_id"),
)
parked_actions = Table(
    "parked_actions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("consumer", String(300), nullable=False),  # relay:<topic> (a topic: up to 249)
    Column("event_id", String(128), nullable=False),
    Column("customer_id", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("actor", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", String(40), nullable=False),
)


@dataclass(frozen=True)
class Parked:
    """One parked event: where it came from, why it is parked, and what became of it."""

    seq: int
    consumer: str
    event_id: str
    customer_id: str
    position: int | None
    event_type: str
    error: str
    payload: str
    status: str
    attempts: int
    parked_at: str
    resolved_at: str | None

    def as_dict(self, payload: bool = False) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "payload"}
        if payload:
            out["payload"] = self.payload
        return out


@dataclass(frozen=True)
class Action:
    consumer: str
    event_id: str
    customer_id: str
    action: str
    actor: str
    reason: str
    at: str


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _chunk(limit: int) -> int:
    if limit < 1:
        raise ValueError("limit: give at least 1")
    return min(limit, MAX_CHUNK)


class ParkedStore:
    """The parked events and their audit trail, in a consumer's database (SQLAlchemy Core)."""

    def __init__(self, engine: Engine, create: bool = True) -> None:
        self.engine = engine
        if create:
            self.create_tables()

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def has_tables(self) -> bool:
        """Whether the tables exist (a consumer that has never parked anything may not have them)."""
        from sqlalchemy import inspect

        return bool(inspect(self.engine).has_table(parked_events.name))

    # ----- the consumer's side

    def park(
        self,
        consumer: str,
        *,
        event_id: str,
        customer_id: str,
        position: int | None,
        event_type: str,
        error: str,
        payload: str,
        actor: str,
    ) -> bool:
        """Park one event (idempotent by event id: parking it again changes nothing); True when new."""
        now = _now()
        with self.engine.begin() as conn:
            found = conn.execute(
                select(parked_events.c.seq).where(
                    parked_events.c.consumer == consumer, parked_events.c.event_id == event_id
                )
            ).first()
            if found is not None:
                return False
            conn.execute(insert(parked_events).values(
                consumer=consumer, event_id=event_id, customer_id=customer_id, position=position,
                event_type=event_type, error=error[:4000], payload=payload, status="parked", attempts=1,
                parked_at=now, resolved_at=None,
            ))
            self._audit(conn, consumer, event_id, customer_id, "parked", actor, error[:4000], now)
        return True

    def blocked_customers(self, consumer: str) -> set[str]:
        """Customers whose events wait behind a parked one."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(parked_events.c.customer_id).where(
                    parked_events.c.consumer == consumer, parked_events.c.status.in_(OPEN)
                ).distinct()
            )
            return {row[0] for row in rows}

    def due_retries(self, consumer: str, limit: int = DEFAULT_CHUNK) -> list[Parked]:
        """Events an operator marked for retry, in original order."""
        return self._select(consumer, statuses=("retry",), limit=limit)

    def earlier_waiting(self, parked: Parked) -> bool:
        """Whether an earlier event of the same customer is still parked (not marked for retry)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(parked_events.c.seq).where(
                parked_events.c.consumer == parked.consumer,
                parked_events.c.customer_id == parked.customer_id,
                parked_events.c.seq < parked.seq,
                parked_events.c.status.in_(OPEN),
            ).limit(1)).first()
        return row is not None

    def retried(self, parked: Parked, *, delivered: bool, actor: str, error: str = "") -> None:
        """Record the outcome of a retry: delivered, or parked again (with the new error)."""
        now = _now()
        with self.engine.begin() as conn:
            if delivered:
                conn.execute(update(parked_events).where(parked_events.c.seq == parked.seq)
                             .values(status="delivered", resolved_at=now))
                self._audit(conn, parked.consumer, parked.event_id, parked.customer_id, "retried", actor,
                            "delivered", now)
            else:
                conn.execute(update(parked_events).where(parked_events.c.seq == parked.seq).values(
                    status="parked", attempts=parked_events.c.attempts + 1, error=error[:4000] or parked.error
                ))
                self._audit(conn, parked.consumer, parked.event_id, parked.customer_id, "retry_failed", actor,
                            error[:4000], now)

    # ----- the operator's side

    def listing(
        self,
        consumer: str | None = None,
        *,
        customer_id: str | None = None,
        include_resolved: bool = False,
        after: int = 0,
        limit: int = DEFAULT_CHUNK,
    ) -> list[Parked]:
        """Parked events in original order, a chunk at a time (``after``: the last ``seq`` seen)."""
        statuses = None if include_resolved else OPEN
        return self._select(consumer, statuses=statuses, customer_id=customer_id, after=after, limit=limit)

    def request_retry(
        self, consumer: str, *, actor: str, reason: str, customer_id: str | None = None,
        event_ids: Sequence[str] = (), limit: int = DEFAULT_CHUNK,
    ) -> list[Parked]:
        """Mark the first ``limit`` parked events (in original order) for the consumer to retry."""
        return self._act(consumer, "retry_requested", "retry", actor=actor, reason=reason, customer_id=customer_id,
                         event_ids=event_ids, limit=limit, statuses=("parked",))

    def discard(
        self, consumer: str, *, actor: str, reason: str, customer_id: str | None = None,
        event_ids: Sequence[str] = (), limit: int = DEFAULT_CHUNK,
    ) -> list[Parked]:
        """Give up the first ``limit`` open parked events (in original order): never delivered."""
        return self._act(consumer, "discarded", "discarded", actor=actor, reason=reason, customer_id=customer_id,
                         event_ids=event_ids, limit=limit, statuses=OPEN)

    def actions(self, consumer: str | None = None, event_id: str | None = None) -> list[Action]:
        """The audit trail, oldest first."""
        stmt = select(parked_actions).order_by(parked_actions.c.id)
        if consumer is not None:
            stmt = stmt.where(parked_actions.c.consumer == consumer)
        if event_id is not None:
            stmt = stmt.where(parked_actions.c.event_id == event_id)
        with self.engine.connect() as conn:
            return [Action(r.consumer, r.event_id, r.customer_id, r.action, r.actor, r.reason, r.at)
                    for r in conn.execute(stmt)]

    def count(self, consumer: str) -> int:
        """Open parked events (parked or marked for retry)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(parked_events).where(
                parked_events.c.consumer == consumer, parked_events.c.status.in_(OPEN)
            )).scalar_one())

    def close(self) -> None:
        self.engine.dispose()

    # -----

    def _select(
        self, consumer: str | None, *, statuses: Sequence[str] | None, customer_id: str | None = None,
        after: int = 0, limit: int = DEFAULT_CHUNK, event_ids: Sequence[str] = (),
    ) -> list[Parked]:
        conditions = [parked_events.c.seq > after]
        if consumer is not None:
            conditions.append(parked_events.c.consumer == consumer)
        if statuses is not None:
            conditions.append(parked_events.c.status.in_(statuses))
        if customer_id is not None:
            conditions.append(parked_events.c.customer_id == customer_id)
        if event_ids:
            conditions.append(parked_events.c.event_id.in_(list(event_ids)))
        stmt = select(parked_events).where(and_(*conditions)).order_by(parked_events.c.seq).limit(_chunk(limit))
        with self.engine.connect() as conn:
            return [Parked(**row._asdict()) for row in conn.execute(stmt)]

    def _act(
        self, consumer: str, action: str, status: str, *, actor: str, reason: str, customer_id: str | None,
        event_ids: Sequence[str], limit: int, statuses: Sequence[str],
    ) -> list[Parked]:
        if not reason.strip():
            raise ValueError("reason: say why (it is recorded with the action)")
        chosen = self._select(consumer, statuses=statuses, customer_id=customer_id, limit=limit, event_ids=event_ids)
        now = _now()
        with self.engine.begin() as conn:
            for parked in chosen:
                result = conn.execute(
                    update(parked_events)
                    .where(parked_events.c.seq == parked.seq, parked_events.c.status == parked.status)
                    .values(status=status, resolved_at=now if status == "discarded" else None)
                )
                if result.rowcount == 1:
                    self._audit(conn, consumer, parked.event_id, parked.customer_id, action, actor, reason, now)
        return chosen

    @staticmethod
    def _audit(conn: Any, consumer: str, event_id: str, customer_id: str, action: str, actor: str, reason: str,
               at: str) -> None:
        conn.execute(insert(parked_actions).values(
            consumer=consumer, event_id=event_id, customer_id=customer_id, action=action, actor=actor,
            reason=reason, at=at,
        ))


STATE_PAGE_CACHE_KIB = 256
"""SQLite's page cache per connection to a consumer's state file. SQLite's default (2000 KiB) fills
as the state file grows (the sent-log gains a row per mail), so a notifier's RSS rose by up to 2 MiB
per connection over hours; the state is read by key, a small cache serves it as well."""


def state_pragmas(cursor: Any) -> None:
    """The pragmas of every connection to a consumer's state file: WAL, a bounded page cache."""
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA cache_size=-{STATE_PAGE_CACHE_KIB}")


def sqlite_engine(path: str) -> Engine:
    """An engine on a consumer's SQLite state file (``state_pragmas``; waits for a lock instead of failing)."""
    from sqlalchemy import create_engine, event

    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        state_pragmas(cursor)
        cursor.close()

    return engine
