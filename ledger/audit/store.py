"""The audit log's tables and the code that appends to them inside the event store's transactions.

Tables (beside the events table, in the same schema):

``audit_log``
    one row per logged event: dense ``seq`` (0, 1, 2, … in commit order), the event's
    ``notification_id``, aggregate id and version, the canonical ``entry`` and its ``leaf`` hash.
``audit_salts``
    the salts of the personal values committed to in an entry (JSON pointer → hex), one row per
    entry that has any; erasing a person's data deletes values and salts, never entries.
``audit_erasures``
    one row per erased personal value: the entry's ``seq``, the value's JSON pointer and the
    erasure record (a note signed with the checkpoint key naming the entry's leaf and the pointer),
    so that ``ledger verify`` tells a salt deleted on purpose from one deleted by tampering.
``audit_nodes``
    every complete subtree of the Merkle tree above the leaves, keyed by ``level << 48 | index``.
``audit_head``
    one row: tree size, the right edge of the tree (``frontier``), whether the log covers every
    event (``complete``) and how many checkpoints were signed.
``audit_checkpoints``
    every signed checkpoint, numbered 0, 1, 2, …

:meth:`AuditLog.append` runs inside the transaction that inserts events, after the insert: on
PostgreSQL the library's recorder holds ``LOCK TABLE … IN EXCLUSIVE MODE`` on the events table
there, on SQLite the database's write lock, so sequence numbers are handed out in commit order
with no gaps, and the audit rows commit or roll back with the events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import StoredEvent

from replay.audit.entry import EntryDraft, aggregate_text, draft_entry
from replay.audit.merkle import Frontier, Node, decompose, fold, leaf_hash

NODE_SHIFT = 48


def node_key(node: Node) -> int:
    return (node[0] << NODE_SHIFT) | node[1]


@dataclass(frozen=True)
class Head:
    size: int
    frontier: Frontier
    complete: bool
    checkpoints: int


@dataclass
class Batch:
    """The drafted entries of one insert (:meth:`AuditLog.draft`) and the cursors of its reads."""

    drafts: list[EntryDraft]
    cursors: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class LogRow:
    seq: int
    notification_id: int
    aggregate_id: str  # canonical text
    version: int
    entry: bytes
    leaf: bytes
    salts: dict[str, str] | None
    erased: dict[str, str] | None = None  # JSON pointer → signed erasure record


@dataclass(frozen=True)
class StoredCheckpoint:
    number: int
    size: int
    root: bytes
    note: str
    signed_at: str


class AuditTables:
    """Table names and SQL for one backend (``sqlite`` or ``postgres``)."""

    def __init__(self, kind: str, events_table: str, schema: str | None = None) -> None:
        self.kind = kind
        self.p = "?" if kind == "sqlite" else "%s"

        def q(name: str) -> str:
            return f'"{schema}"."{name}"' if schema else f'"{name}"'

        self.events = q(events_table)
        self.event_id_column = "rowid" if kind == "sqlite" else "notification_id"
        self.log, self.salts, self.nodes = q("audit_log"), q("audit_salts"), q("audit_nodes")
        self.erasures = q("audit_erasures")
        self.head, self.checkpoints = q("audit_head"), q("audit_checkpoints")
        self._index = q("audit_log_aggregate").split(".")[-1] if schema else '"audit_log_aggregate"'
        self._nid_index = q("audit_log_notification").split(".")[-1] if schema else '"audit_log_notification"'

    def create_statements(self) -> list[str]:
        sqlite = self.kind == "sqlite"
        blob = "BLOB" if sqlite else "BYTEA"
        agg = "TEXT" if sqlite else "UUID"
        boolean = "INTEGER" if sqlite else "BOOLEAN"
        # SQLite: ``seq INTEGER PRIMARY KEY`` is the table's rowid (one B-tree search per row, not an
        # index search and then the table's), and the nodes table is its primary key's B-tree
        # (WITHOUT ROWID). Databases made before keep their tables; the statements read both.
        key = "INTEGER" if sqlite else "BIGINT"
        without_rowid = " WITHOUT ROWID" if sqlite else ""
        return [
            f"CREATE TABLE IF NOT EXISTS {self.log} (seq {key} PRIMARY KEY, notification_id BIGINT NOT NULL, "
            f"originator_id {agg} NOT NULL, originator_version INTEGER NOT NULL, entry {blob} NOT NULL, "
            f"leaf {blob} NOT NULL)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {self._index} ON {self.log} (originator_id, originator_version)",
            f"CREATE UNIQUE INDEX IF NOT EXISTS {self._nid_index} ON {self.log} (notification_id)",
            f"CREATE TABLE IF NOT EXISTS {self.salts} (seq {key} PRIMARY KEY, salts TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.erasures} (seq BIGINT NOT NULL, pointer TEXT NOT NULL, "
            f"note TEXT NOT NULL, PRIMARY KEY (seq, pointer))",
            f"CREATE TABLE IF NOT EXISTS {self.nodes} (node BIGINT PRIMARY KEY, hash {blob} NOT NULL){without_rowid}",
            f"CREATE TABLE IF NOT EXISTS {self.head} (id INTEGER PRIMARY KEY, size BIGINT NOT NULL, "
            f"frontier {blob} NOT NULL, complete {boolean} NOT NULL, checkpoints BIGINT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints} (number BIGINT PRIMARY KEY, size BIGINT NOT NULL, "
            f"root {blob} NOT NULL, note TEXT NOT NULL, signed_at TEXT NOT NULL)",
        ]

    def marks(self, n: int) -> str:
        return ",".join([self.p] * n)


def _db_id(kind: str, originator_id: UUID | str) -> Any:
    if kind == "sqlite":
        return originator_id.hex if isinstance(originator_id, UUID) else UUID(str(originator_id)).hex
    return originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))


def _as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


class AuditLog:
    """Reads and writes the audit tables through a DB-API cursor of the event store's connection."""

    def __init__(self, tables: AuditTables) -> None:
        self.t = tables
        # A log row with its salts (``_log_row`` reads these names), for the reads of one or many rows.
        self._row_columns = ("l.seq AS seq, l.notification_id AS notification_id, l.originator_id AS originator_id, "
                             "l.originator_version AS originator_version, l.entry AS entry, l.leaf AS leaf, "
                             "s.salts AS salts")
        self._row_from = f"FROM {tables.log} l LEFT JOIN {tables.salts} s ON s.seq = l.seq"

    # -- the write path (inside the events transaction) ---------------------------------------

    def read_head(self, curs: Any) -> Head | None:
        curs.execute(f"SELECT size, frontier, complete, checkpoints FROM {self.t.head} WHERE id = 1")
        return self._head_of(curs.fetchone())

    @staticmethod
    def _head_of(row: Mapping[str, Any] | None) -> Head | None:
        if row is None:
            return None
        return Head(int(row["size"]), Frontier.from_bytes(int(row["size"]), bytes(row["frontier"])),
                    bool(row["complete"]), int(row["checkpoints"]))

    def _create_head(self, curs: Any, complete: bool) -> Head:
        p = self.t.p
        curs.execute(
            f"INSERT INTO {self.t.head} (id, size, frontier, complete, checkpoints) VALUES (1, 0, {p}, {p}, 0)",
            [b"", complete if self.t.kind == "postgres" else int(complete)],
        )
        return Head(0, Frontier(), complete, 0)

    def append(
        self,
        curs: Any,
        stored_events: Sequence[StoredEvent],
        notification_ids: Sequence[int],
        batch: Batch | None = None,
    ) -> None:
        """Log events just inserted (same transaction, insert lock held), unless a backfill of
        earlier events is still due (they are logged first, by ``ledger audit backfill``); from
        their drafts when ``batch`` has them (:meth:`draft`)."""
        head = self._head_for(curs, self.read_head(curs), notification_ids)
        if head.complete:
            rows = list(zip(notification_ids, stored_events, strict=True))
            self._append(curs, head, rows, batch.drafts if batch is not None else None)

    def _head_for(self, curs: Any, head: Head | None, notification_ids: Sequence[int]) -> Head:
        if head is not None:
            return head
        p = self.t.p
        curs.execute(
            f"SELECT 1 AS found FROM {self.t.events} WHERE {self.t.event_id_column} < {p} LIMIT 1",
            [min(notification_ids)],
        )
        return self._create_head(curs, complete=curs.fetchone() is None)

    # -- the write path in two halves: drafted before the insert lock, finished under it -------

    def draft(self, stored_events: Sequence[StoredEvent]) -> Batch:
        """Everything of the entries of ``stored_events`` that does not depend on their place in the
        log (JSON decoding, commitments to personal values, canonical bytes): done before the insert
        lock is taken, so that the lock is held only for the inserts."""
        return Batch([draft_entry(e.originator_id, e.originator_version, e.topic, e.state) for e in stored_events])

    def queue_reads(self, conn: Any, batch: Batch, stored_events: Sequence[StoredEvent]) -> None:
        """Send the reads the entries still need (the head, the previous leaves) on new cursors of
        ``conn``, in the pipeline that holds the locked insert, so their answers come back with the
        insert's, in the same round trip (PostgreSQL; :meth:`finish` fetches them)."""
        # Never prepared: when the insert fails (a lost race), the pipeline drops the statements
        # queued after it, and psycopg would take a statement it meant to prepare there as prepared.
        self._close(batch)
        head = conn.cursor()
        head.execute(f"SELECT size, frontier, complete, checkpoints FROM {self.t.head} WHERE id = 1", prepare=False)
        batch.cursors.append(head)
        query = self._previous_query(stored_events)
        if query is not None:
            prev = conn.cursor()
            prev.execute(*query, prepare=False)
            batch.cursors.append(prev)

    def finish(self, curs: Any, batch: Batch, stored_events: Sequence[StoredEvent], ids: Sequence[int]) -> None:
        """Log events just inserted from their drafts (insert lock held), after :meth:`queue_reads`."""
        head_cursor, *prev_cursor = batch.cursors
        try:
            row = head_cursor.fetchone()
            prev_rows = prev_cursor[0].fetchall() if prev_cursor else []
        finally:
            self._close(batch)
        head = self._head_for(curs, self._head_of(row), ids)
        if head.complete:
            prev = {(aggregate_text(r["originator_id"]), int(r["originator_version"])): bytes(r["leaf"])
                    for r in prev_rows}
            self._write(curs, head, list(zip(ids, stored_events, strict=True)), prev, batch.drafts)

    @staticmethod
    def _close(batch: Batch) -> None:
        """Close the cursors of an earlier attempt (the library retries an insert on a lost connection)."""
        for c in batch.cursors:
            with contextlib.suppress(Exception):
                c.close()
        batch.cursors.clear()

    def _previous_query(self, stored_events: Sequence[StoredEvent]) -> tuple[str, list[Any]] | None:
        """The query for the leaves of the entries just before these events' (same aggregate) that
        are not in the batch itself."""
        kind, p = self.t.kind, self.t.p
        batch = {(_as_uuid(e.originator_id), e.originator_version) for e in stored_events}
        wanted = {
            (_as_uuid(e.originator_id), e.originator_version - 1) for e in stored_events if e.originator_version > 1
        } - batch
        if not wanted:
            return None
        values = ",".join([f"({p},{p})"] * len(wanted))
        params: list[Any] = []
        for aggregate_id, version in wanted:
            params += [_db_id(kind, aggregate_id), version]
        cast = "" if kind == "sqlite" else "::uuid"
        return (
            f"SELECT a.originator_id AS originator_id, a.originator_version AS originator_version, a.leaf AS leaf "
            f"FROM {self.t.log} a JOIN (VALUES {values}) AS k "
            f"ON a.originator_id = k.column1{cast} AND a.originator_version = k.column2",
            params,
        )

    def _append(
        self, curs: Any, head: Head, rows: list[tuple[int, StoredEvent]], drafts: Sequence[EntryDraft] | None = None
    ) -> int:
        prev: dict[tuple[str, int], bytes] = {}
        query = self._previous_query([e for _, e in rows])
        if query is not None:
            curs.execute(*query)
            for row in curs.fetchall():
                prev[(aggregate_text(row["originator_id"]), int(row["originator_version"]))] = bytes(row["leaf"])
        return self._write(curs, head, rows, prev, drafts)

    def _write(
        self,
        curs: Any,
        head: Head,
        rows: list[tuple[int, StoredEvent]],
        prev: dict[tuple[str, int], bytes],
        drafts: Sequence[EntryDraft] | None,
    ) -> int:
        """Finish the drafts (``prev``: ``(aggregate id text, version) → leaf`` of the entries before
        them not in this batch) and write log, salt and node rows and the new head. Per event, under
        the insert lock: two concatenations, one hash for the leaf (and amortised one per node), and
        dictionary work keyed by text (an ``UUID``'s hash is Python code)."""
        p = self.t.p
        sqlite = self.t.kind == "sqlite"
        if drafts is None:
            drafts = [draft_entry(e.originator_id, e.originator_version, e.topic, e.state) for _, e in rows]
        frontier = head.frontier
        log_rows: list[tuple[Any, ...]] = []
        salt_rows: list[tuple[int, str]] = []
        node_rows: list[tuple[int, bytes]] = []
        for (nid, e), draft in zip(rows, drafts, strict=True):
            aggregate, version = draft.aggregate, e.originator_version
            seq = frontier.size
            entry = draft.finish(seq, prev.get((aggregate, version - 1)) if version > 1 else None)
            leaf = leaf_hash(entry)
            prev[(aggregate, version)] = leaf
            db_id = aggregate.replace("-", "") if sqlite else _as_uuid(e.originator_id)  # (_db_id)
            log_rows.append((seq, nid, db_id, version, entry, leaf))
            if draft.salts:
                salt_rows.append((seq, orjson.dumps(draft.salts).decode()))
            node_rows.extend((node_key((level, index)), h) for level, index, h in frontier.append(leaf))
        curs.executemany(f"INSERT INTO {self.t.log} VALUES ({self.t.marks(6)})", log_rows)
        if salt_rows:
            curs.executemany(f"INSERT INTO {self.t.salts} VALUES ({p},{p})", salt_rows)
        if node_rows:
            curs.executemany(f"INSERT INTO {self.t.nodes} VALUES ({p},{p})", node_rows)
        curs.execute(
            f"UPDATE {self.t.head} SET size = {p}, frontier = {p} WHERE id = 1", [frontier.size, frontier.to_bytes()]
        )
        return len(log_rows)

    def backfill_step(self, curs: Any, limit: int) -> tuple[int, bool]:
        """Log up to ``limit`` events not yet logged, oldest first (insert lock held by the caller).
        Returns how many were logged and whether the log now covers every event."""
        head = self.read_head(curs) or self._create_head(curs, complete=False)
        if head.complete:
            return 0, True
        curs.execute(f"SELECT max(notification_id) AS last_id FROM {self.t.log}")
        row = curs.fetchone()
        last = int(row["last_id"]) if row is not None and row["last_id"] is not None else 0
        p, col = self.t.p, self.t.event_id_column
        curs.execute(
            f"SELECT {col} AS nid, originator_id, originator_version, topic, state FROM {self.t.events} "
            f"WHERE {col} > {p} ORDER BY {col} LIMIT {p}",
            [last, limit],
        )
        found = curs.fetchall()
        rows = [
            (int(r["nid"]), StoredEvent(_as_uuid(r["originator_id"]), int(r["originator_version"]), r["topic"],
                                        bytes(r["state"])))
            for r in found
        ]
        logged = self._append(curs, head, rows) if rows else 0
        done = len(found) < limit
        if done:
            flag = True if self.t.kind == "postgres" else 1
            curs.execute(f"UPDATE {self.t.head} SET complete = {p} WHERE id = 1", [flag])
        return logged, done

    # -- reads ---------------------------------------------------------------------------------

    def read_nodes(self, curs: Any, wanted: set[Node]) -> dict[Node, bytes]:
        """The stored hashes of ``wanted`` complete subtrees (leaves from the log), one statement."""
        found: dict[Node, bytes] = {}
        leaves = [index for level, index in wanted if level == 0]
        inner = [node_key(n) for n in wanted if n[0] > 0]
        parts = []
        if leaves:
            parts.append(f"SELECT 0 AS inner_node, seq AS k, leaf AS h FROM {self.t.log} "
                         f"WHERE seq IN ({self.t.marks(len(leaves))})")
        if inner:
            parts.append(f"SELECT 1 AS inner_node, node AS k, hash AS h FROM {self.t.nodes} "
                         f"WHERE node IN ({self.t.marks(len(inner))})")
        if parts:
            curs.execute(" UNION ALL ".join(parts), leaves + inner)
            mask = (1 << NODE_SHIFT) - 1
            for row in curs.fetchall():
                key = int(row["k"])
                if row["inner_node"]:
                    found[(key >> NODE_SHIFT, key & mask)] = bytes(row["h"])
                else:
                    found[(0, key)] = bytes(row["h"])
        missing = wanted - set(found)
        if missing:
            raise LookupError(f"the audit tree lacks stored nodes {sorted(missing)[:4]} (deleted or never written)")
        return found

    def stored_root(self, curs: Any, size: int) -> bytes:
        nodes = self.read_nodes(curs, set(decompose(0, size)))
        return fold([nodes[n] for n in decompose(0, size)])

    def find(self, curs: Any, aggregate_id: UUID, version: int, erasures: bool = True) -> LogRow | None:
        """The log row of one event (with its erasure records unless ``erasures`` is false)."""
        p = self.t.p
        curs.execute(
            f"SELECT {self._row_columns} {self._row_from} WHERE l.originator_id = {p} AND l.originator_version = {p}",
            [_db_id(self.t.kind, aggregate_id), version],
        )
        row = curs.fetchone()
        if row is None:
            return None
        found = _log_row(row)
        return self._with_erasures(curs, [found])[0] if erasures else found

    def find_with_checkpoint(
        self, curs: Any, aggregate_id: UUID, version: int
    ) -> tuple[LogRow | None, StoredCheckpoint | None]:
        """The log row of one event (without erasure records) and the latest checkpoint, in one
        statement (a proof's first read; ``(None, None)`` when the event is not logged)."""
        p = self.t.p
        curs.execute(
            f"SELECT {self._row_columns}, c.number AS cp_number, c.size AS cp_size, c.root AS cp_root, "
            f"c.note AS cp_note, c.signed_at AS cp_signed_at {self._row_from} "
            f"LEFT JOIN (SELECT number, size, root, note, signed_at FROM {self.t.checkpoints} "
            f"ORDER BY number DESC LIMIT 1) c ON 1 = 1 "
            f"WHERE l.originator_id = {p} AND l.originator_version = {p}",
            [_db_id(self.t.kind, aggregate_id), version],
        )
        row = curs.fetchone()
        if row is None:
            return None, None
        checkpoint = None
        if row["cp_number"] is not None:
            checkpoint = StoredCheckpoint(int(row["cp_number"]), int(row["cp_size"]), bytes(row["cp_root"]),
                                          str(row["cp_note"]), str(row["cp_signed_at"]))
        return _log_row(row), checkpoint

    def _with_erasures(self, curs: Any, rows: list[LogRow]) -> list[LogRow]:
        """``rows`` (in ``seq`` order) with the erasure records of their values attached."""
        if not rows:
            return rows
        p = self.t.p
        curs.execute(f"SELECT seq, pointer, note FROM {self.t.erasures} WHERE seq BETWEEN {p} AND {p}",
                     [rows[0].seq, rows[-1].seq])
        erased: dict[int, dict[str, str]] = {}
        for r in curs.fetchall():
            erased.setdefault(int(r["seq"]), {})[str(r["pointer"])] = str(r["note"])
        if not erased:
            return rows
        return [dataclasses.replace(r, erased=erased[r.seq]) if r.seq in erased else r for r in rows]

    def erase(self, curs: Any, row: LogRow, pointer: str, note: str) -> None:
        """Delete the salt of one personal value of ``row`` and keep its signed erasure record
        (insert lock held by the caller)."""
        p = self.t.p
        salts = {k: v for k, v in (row.salts or {}).items() if k != pointer}
        if salts:
            curs.execute(f"UPDATE {self.t.salts} SET salts = {p} WHERE seq = {p}",
                         [json.dumps(salts, separators=(",", ":")), row.seq])
        else:
            curs.execute(f"DELETE FROM {self.t.salts} WHERE seq = {p}", [row.seq])
        curs.execute(f"INSERT INTO {self.t.erasures} VALUES ({p},{p},{p})", [row.seq, pointer, note])

    def rows(self, curs: Any, start: int, limit: int) -> list[LogRow]:
        p = self.t.p
        curs.execute(
            f"SELECT {self._row_columns} {self._row_from} WHERE l.seq >= {p} ORDER BY l.seq LIMIT {p}",
            [start, limit],
        )
        return self._with_erasures(curs, [_log_row(r) for r in curs.fetchall()])

    # -- the verifier's reads: plain tuples, aggregate ids as canonical text from the database --

    def _tuples(self, curs: Any) -> Any:
        """A cursor on ``curs``' connection (same transaction) whose rows are plain tuples."""
        if self.t.kind == "sqlite":
            plain = getattr(curs, "sqlite_cursor", curs).connection.cursor()  # (the library's wrapper)
            plain.row_factory = None
            return plain
        from psycopg.rows import tuple_row

        return curs.connection.cursor(row_factory=tuple_row)

    def _aggregate_sql(self, column: str) -> str:
        """SQL of an aggregate id column as text: PostgreSQL's ``uuid`` as its canonical text (no
        ``UUID`` object per row); SQLite's 32 hex digits as they are (:func:`aggregate_text` turns
        them into the canonical text faster in Python than SQLite's ``substr`` does)."""
        return f"{column}::text" if self.t.kind == "postgres" else column

    def event_tuples(self, curs: Any, start: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` events from notification id ``start``: ``(notification id, aggregate id
        as stored text, version, topic, state)``, nothing decoded (``ledger verify``)."""
        p, col = self.t.p, self.t.event_id_column
        plain = self._tuples(curs)
        try:
            plain.execute(
                f"SELECT {col}, {self._aggregate_sql('originator_id')}, originator_version, topic, state "
                f"FROM {self.t.events} WHERE {col} >= {p} ORDER BY {col} LIMIT {p}",
                [start, limit],
            )
            return list(plain.fetchall())
        finally:
            plain.close()

    def verify_tuples(self, curs: Any, start: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` log rows from ``seq`` ``start``: ``(seq, notification id, aggregate id
        as stored text, version, entry, leaf, salts JSON or None, erasure records or None)`` (``ledger verify``)."""
        p = self.t.p
        plain = self._tuples(curs)
        try:
            plain.execute(
                f"SELECT l.seq, l.notification_id, {self._aggregate_sql('l.originator_id')}, "
                f"l.originator_version, l.entry, l.leaf, s.salts, NULL {self._row_from} "
                f"WHERE l.seq >= {p} ORDER BY l.seq LIMIT {p}",
                [start, limit],
            )
            rows = list(plain.fetchall())
            if not rows:
                return rows
            plain.execute(f"SELECT seq, pointer, note FROM {self.t.erasures} WHERE seq BETWEEN {p} AND {p}",
                          [rows[0][0], rows[-1][0]])
            erased: dict[int, dict[str, str]] = {}
            for seq, pointer, note in plain.fetchall():
                erased.setdefault(int(seq), {})[str(pointer)] = str(note)
        finally:
            plain.close()
        if erased:
            rows = [(*r[:7], erased[r[0]]) if r[0] in erased else r for r in rows]
        return rows

    def by_notification(self, curs: Any, first: int, last: int) -> dict[int, tuple[int, bytes]]:
        """``notification id → (seq, leaf hash)`` for the logged events in ``[first, last]``."""
        p = self.t.p
        curs.execute(
            f"SELECT notification_id, seq, leaf FROM {self.t.log} WHERE notification_id BETWEEN {p} AND {p}",
            [first, last],
        )
        return {int(r["notification_id"]): (int(r["seq"]), bytes(r["leaf"])) for r in curs.fetchall()}

    def checkpoints_list(self, curs: Any) -> list[StoredCheckpoint]:
        curs.execute(f"SELECT number, size, root, note, signed_at FROM {self.t.checkpoints} ORDER BY number")
        return [
            StoredCheckpoint(int(r["number"]), int(r["size"]), bytes(r["root"]), str(r["note"]), str(r["signed_at"]))
            for r in curs.fetchall()
        ]

    def last_checkpoint(self, curs: Any) -> StoredCheckpoint | None:
        curs.execute(
            f"SELECT number, size, root, note, signed_at FROM {self.t.checkpoints} ORDER BY number DESC LIMIT 1"
        )
        r = curs.fetchone()
        if r is None:
            return None
        return StoredCheckpoint(int(r["number"]), int(r["size"]), bytes(r["root"]), str(r["note"]), str(r["signed_at"]))

    def insert_checkpoint(self, curs: Any, checkpoint: StoredCheckpoint) -> None:
        p = self.t.p
        curs.execute(
            f"INSERT INTO {self.t.checkpoints} VALUES ({self.t.marks(5)})",
            [checkpoint.number, checkpoint.size, checkpoint.root, checkpoint.note, checkpoint.signed_at],
        )
        curs.execute(f"UPDATE {self.t.head} SET checkpoints = {p} WHERE id = 1", [checkpoint.number + 1])

    def lock_head(self, curs: Any) -> None:
        """Take the head row for this transaction (checkpoint signing runs one at a time)."""
        if self.t.kind == "postgres":
            curs.execute(f"SELECT id FROM {self.t.head} WHERE id = 1 FOR UPDATE")
            curs.fetchall()
        else:
            curs.execute(f"UPDATE {self.t.head} SET checkpoints = checkpoints WHERE id = 1")


def _log_row(r: Mapping[str, Any]) -> LogRow:
    salts = json.loads(r["salts"]) if r["salts"] is not None else None
    return LogRow(r["seq"], r["notification_id"], aggregate_text(r["originator_id"]), r["originator_version"],
                  bytes(r["entry"]), bytes(r["leaf"]), salts)


def iter_pages(read: Any, open_cursor: Any, key: int, page: int = 5000) -> Iterator[tuple[Any, ...]]:
    """Every row ``read(curs, start, page)`` gives, a page per read transaction, the next page
    starting after the last row's column ``key`` (a notification id or a ``seq``)."""
    start = 0
    while True:
        with open_cursor() as curs:
            rows = read(curs, start, page)
        yield from rows
        if len(rows) < page:
            return
        start = rows[-1][key] + 1


def iter_rows(log: AuditLog, open_cursor: Any, page: int = 5000) -> Iterator[LogRow]:
    """Every log row in ``seq`` order, a page per read transaction."""
    start = 0
    while True:
        with open_cursor() as curs:
            rows = log.rows(curs, start, page)
        yield from rows
        if len(rows) < page:
            return
        start = rows[-1].seq + 1
