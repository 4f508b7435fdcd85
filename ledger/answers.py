"""Answers recorded with the events: an ``Idempotency-Key``'s response commits or rolls back with them.

A command that came with a key records its answer (status 200 and the body the client gets) in
the ``idempotency_keys`` table *in the transaction that inserts its events*, through the
recorders of :mod:`ledger.library`. A crash at any moment leaves either both (a retry gets the
answer back) or neither (a retry runs the command afresh); never events without the answer, nor a
key stuck "in progress".

The key's row is the claim: its primary key (principal, key) makes a second recording of the same
key fail the whole transaction, so two servers running the same key at once record it once; the
loser is told with :class:`AlreadyAnswered` and replays the winner's answer.

The table itself (and refusals, which record no events) belong to :mod:`ledger.http.idempotency`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from aggregates.errors import Conflict

TABLE = "idempotency_keys"
COLUMNS = ("principal", "key", "fingerprint", "state", "status", "body", "created_at")


class AlreadyAnswered(Conflict):
    """The key was recorded by another request meanwhile: nothing of this one was; replay that answer."""

    code = "idempotency_replay"


@dataclass(frozen=True)
class Answer:
    """Who asked with which key and request; how a body is stored; whether the key is recorded now."""

    principal: str
    key: str
    fingerprint: str
    encode: Callable[[dict[str, Any]], str]
    recorded: Callable[[], bool]


@dataclass(frozen=True)
class Pending:
    """One command's answer, to be written once its events have their positions."""

    answer: Answer
    body: Callable[[dict[tuple[UUID, int], int]], dict[str, Any]]
    events: frozenset[tuple[UUID, int]]

    def row(self, positions: dict[tuple[UUID, int], int]) -> tuple[Any, ...] | None:
        if not self.events or not self.events <= positions.keys():
            return None
        a = self.answer
        text = a.encode(self.body(positions))
        return (a.principal, a.key, a.fingerprint, "done", 200, text, datetime.now(UTC).isoformat())


_PENDING: ContextVar[tuple[Pending, ...]] = ContextVar("ledger_pending_answers", default=())


@contextlib.contextmanager
def recording(pending: Sequence[Pending]) -> Iterator[None]:
    """Within this block, the events inserted carry these answers into their transaction."""
    token = _PENDING.set(tuple(pending))
    try:
        yield
    finally:
        _PENDING.reset(token)


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def write(curs: Any, kind: str, schema: str | None, stored_events: Sequence[StoredEvent], ids: Sequence[int]) -> None:
    """Insert the answers pending for these just-inserted events (same transaction, insert lock held).

    A key recorded already makes the insert, hence the transaction, fail with the database's
    integrity error: the events are not recorded either."""
    pending = _PENDING.get()
    if not pending:
        return
    positions = {(_uuid(s.originator_id), s.originator_version): nid for s, nid in zip(stored_events, ids, strict=True)}
    rows = [r for r in (p.row(positions) for p in pending) if r is not None]
    if not rows:
        return
    table = f'"{schema}"."{TABLE}"' if schema else f'"{TABLE}"'
    mark = "?" if kind == "sqlite" else "%s"
    names = ",".join(f'"{c}"' for c in COLUMNS)
    statement = f"INSERT INTO {table} ({names}) VALUES ({','.join([mark] * len(COLUMNS))})"
    if kind == "sqlite":
        curs.executemany(statement, rows)
    else:
        for row in rows:
            curs.execute(statement, row)
