"""A bounded cache of live view answers for the HTTP reads, which is never stale.

:meth:`ledger.http.app.ServerState.view_page` checks the principal's visibility first (R16–R18, R21–R23:
a customer it may not see is a 404 before the cache is asked), then serves one customer's live view (or
a page of it) from here when the answer computed earlier is still the answer a fresh read would give:

- **Key**: customer id, view, page (``after``, ``limit``). Views ``as_of`` a time are not cached.
- **Stamp**, read from the database before the rows, in one statement: the projection's tracking
  position and generation (``suffix``, set by a rebuild's swap) and the log position of the customer's
  last event. An answer is stored only when the projection had applied that event (position >= it), so
  its rows were the customer's rows at that event; it is served while the customer's last event is the
  same one, the projection still includes it and its tables are the same generation. Another
  customer's writes do not invalidate it; any write of this customer does, from any process.
- **Time**: the view's time-dependent values (a contract's start, end and status, coverage and
  warranty ends, an invitation's status) change only at the moments the rule functions'
  ``*_changes`` give (``projections.queries`` collects them): an answer computed at ``t`` is served
  for requests at ``t`` up to (not including) the first such moment after ``t``.

Bound: at most :data:`MAX_BYTES` (8 MiB) of cached bodies, counting :data:`ENTRY_OVERHEAD` per entry
for keys and bookkeeping, least recently used first out; a body larger than :data:`MAX_ENTRY_BYTES`
(512 KiB) is not stored (a large customer's whole view; its pages are). So the server's memory for
this cache stays below about 8 MiB whatever the ledger's size.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine, text

from ledger.library import last_position_sql
from projections.tables import tracking

MAX_BYTES = 8 * 1024 * 1024
MAX_ENTRY_BYTES = 512 * 1024
ENTRY_OVERHEAD = 512


@dataclass(frozen=True)
class Stamp:
    """What the database says now about one customer's view: the projection's position and generation,
    and the log position of the customer's last event (None: no event)."""

    position: int
    generation: str | None
    last: int | None

    @property
    def complete(self) -> bool:
        """Whether the projection has applied the customer's last event (its rows are the customer's)."""
        return self.last is not None and self.position >= self.last


@dataclass(frozen=True)
class Page:
    """One answer: the encoded JSON body and the key of its last row when a next page follows."""

    body: bytes
    next_key: Any = None


@dataclass(frozen=True)
class _Entry:
    last: int
    generation: str | None
    computed_at: datetime
    valid_until: datetime | None
    page: Page

    @property
    def size(self) -> int:
        return len(self.page.body) + ENTRY_OVERHEAD


class ViewCache:
    """Live view answers keyed by (customer, view, page), each valid for one stamp and one span of time.

    Thread-safe (the reads run on worker threads). ``engine``: the read models' engine, on the events'
    own database; ``recorder``: the application's recorder (whose events table gives the customer's
    last position, :func:`ledger.library.last_position_sql`).
    """

    def __init__(self, engine: Engine, recorder: Any, max_bytes: int = MAX_BYTES,
                 max_entry_bytes: int = MAX_ENTRY_BYTES) -> None:
        self.engine = engine
        self.max_bytes, self.max_entry_bytes = max_bytes, max_entry_bytes
        last_sql, self._bind = last_position_sql(recorder)
        self._statement = text(
            f"SELECT position, suffix, {last_sql} AS last FROM {tracking.name} WHERE name = :name"
        )
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    @property
    def size_bytes(self) -> int:
        """The bytes counted against :attr:`max_bytes` now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def stamp(self, projection: str, customer_id: UUID, conn: Connection | None = None) -> Stamp | None:
        """The stamp of ``customer_id``'s view of ``projection`` now (None: the projection has no position yet),
        on ``conn`` if given. Read it before the rows: an answer then holds at least the events it names."""
        if conn is None:
            with self.engine.connect() as own:
                return self.stamp(projection, customer_id, own)
        row = conn.execute(self._statement, {"name": projection, "aggregate_id": self._bind(customer_id)}).first()
        if row is None:
            return None
        return Stamp(int(row[0]), row[1], None if row[2] is None else int(row[2]))

    def get(self, key: Hashable, stamp: Stamp | None, now: datetime) -> Page | None:
        """The answer stored for ``key`` if it is the answer at ``now`` under ``stamp``, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or stamp is None or not stamp.complete or entry.last != stamp.last \
                    or entry.generation != stamp.generation or not entry.computed_at <= now \
                    or (entry.valid_until is not None and now >= entry.valid_until):
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.page

    def put(self, key: Hashable, stamp: Stamp | None, computed_at: datetime, valid_until: datetime | None,
            page: Page) -> None:
        """Store the answer computed at ``computed_at`` from rows read after ``stamp`` was; it holds until
        ``valid_until`` (None: no time-dependent value changes). Not stored unless the stamp was complete."""
        if stamp is None or not stamp.complete or stamp.last is None:
            return
        entry = _Entry(stamp.last, stamp.generation, computed_at, valid_until, page)
        if entry.size > self.max_entry_bytes + ENTRY_OVERHEAD:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.size
            self._entries[key] = entry
            self._bytes += entry.size
            while self._bytes > self.max_bytes and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
