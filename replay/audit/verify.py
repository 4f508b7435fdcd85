"""``ledger verify``: recompute every entry, chain and root from the events and name what differs.

The verifier walks the events (in notification order) and the audit log (in sequence order) side
by side. In an honest ledger both orders agree: entry ``seq`` is the ``seq``-th event recorded. It
reports, each with its position, aggregate and what differs:

- ``altered``: the event's recomputed entry differs from the logged one (the fields named), or a
  logged entry no longer hashes to its stored leaf;
- ``deleted``: a logged entry whose event is gone, or a sequence number missing from the log;
- ``inserted``: an event that has no entry in the log (forged, or written around the log);
- ``reordered``: an event found at another position than the one the log gives it;
- ``chain``: an entry whose aggregate version does not follow its previous entry's;
- ``checkpoint``: a signed checkpoint whose root is not the recomputed tree's at its size, a bad
  signature, a missing checkpoint number, or one larger than the log (a rolled-back database);
- ``tree``: stored interior hashes that differ from the recomputed tree (proofs would fail);
- ``incomplete``: events recorded before the log existed and not yet backfilled.

A personal value erased on purpose (its salt deleted, an erasure record signed with the checkpoint
key naming the entry's leaf and the value's JSON pointer kept in ``audit_erasures``) is no
finding: it is listed apart (``Report.erased``) and the rest of its entry is still checked. A salt
missing with no such record, or a record that is not signed or names another entry, is ``altered``.

Memory is bounded by the number of aggregates (the last leaf of each chain) plus the findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import orjson

from replay.audit.entry import (
    COMMITMENT,
    MissingSalt,
    aggregate_text,
    build_entry,
    differences,
    event_type,
    parse_entry,
    value_at,
)
from replay.audit.merkle import Frontier, leaf_hash
from replay.audit.note import Checkpoint, NoteError, Verifier, open_checkpoint, open_erasure

_loads = orjson.loads


EventRow = tuple[int, str, int, str, bytes]
"""An event as the verifier reads it: ``(notification id, aggregate id as stored text (canonical, or
32 hex digits), version, topic, stored state)``."""

AuditRow = tuple[int, int, str, int, bytes, bytes, "str | None", "dict[str, str] | None"]
"""A log row as the verifier reads it: ``(seq, notification id, aggregate id as stored text,
version, entry, leaf, salts as JSON text or None, erasure records (JSON pointer → signed note) or
None)``. Plain tuples: the verifier's pass over a log touches each field of each row once."""


class SignedCheckpoint(Protocol):
    @property
    def number(self) -> int: ...

    @property
    def size(self) -> int: ...

    @property
    def root(self) -> bytes: ...

    @property
    def note(self) -> str: ...


@dataclass(frozen=True)
class Finding:
    kind: str
    detail: str
    position: int | None = None
    customer_id: str | None = None
    version: int | None = None
    type: str | None = None

    def line(self) -> str:
        where = []
        if self.position is not None:
            where.append(f"position {self.position}")
        if self.customer_id is not None:
            where.append(f"aggregate {self.customer_id}" + (f" v{self.version}" if self.version is not None else ""))
        if self.type:
            where.append(self.type)
        return f"{self.kind.upper()}: " + (", ".join(where) + ": " if where else "") + self.detail


@dataclass
class Report:
    events: int = 0
    entries: int = 0
    checkpoints: int = 0
    size: int = 0
    root: bytes = b""
    findings: list[Finding] = field(default_factory=list)
    erased: list[Finding] = field(default_factory=list)  # values erased on purpose: not findings

    @property
    def ok(self) -> bool:
        return not self.findings

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "events": self.events,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "tree_size": self.size,
            "root": self.root.hex(),
            "findings": [{k: v for k, v in asdict(f).items() if v is not None} for f in self.findings],
            "erased": [{k: v for k, v in asdict(f).items() if v is not None} for f in self.erased],
        }


def _text(aggregate_id: str) -> str:
    return aggregate_id if len(aggregate_id) == 36 else aggregate_text(aggregate_id)


Job = tuple[int, str, int, str, bytes, "bytes | None", "str | None", bytes, "tuple[str, ...]"]
Outcome = tuple[str, int, str, int, str, str]
CHUNK = 2000


def _logged_commitments(logged: bytes, pointers: tuple[str, ...]) -> dict[str, Any]:
    """The commitments the logged entry holds at the erased values' pointers (``KeyError`` names
    a pointer where the entry holds none)."""
    entry = parse_entry(logged)
    found = {}
    for pointer in pointers:
        value = value_at(entry, pointer)
        if not (type(value) is dict and list(value) == [COMMITMENT] and type(value[COMMITMENT]) is str):
            raise KeyError(pointer)
        found[pointer] = value
    return found


class _BadSalts(Exception):
    """An entry's stored salts that are not a JSON object of strings."""


def _salts(text: str | None) -> dict[str, str]:
    if not text:
        return {}
    try:
        salts = _loads(text)
    except ValueError as exc:
        raise _BadSalts(str(exc)) from None
    if type(salts) is not dict or not all(type(v) is str for v in salts.values()):
        raise _BadSalts("not an object of hex strings")
    return salts


def check_chunk(jobs: list[Job]) -> list[Outcome]:
    """Rebuild the entries of ``jobs`` ``(seq, aggregate, version, topic, state, prev, salts (JSON
    text), logged entry, erased pointers)``; return ``(kind, seq, aggregate, version, type, detail)``: ``altered``
    for each that is not the logged one, ``erased`` for each erased value of an entry that is.
    Runs in the verifier or in worker processes (pure: no database)."""
    out: list[Outcome] = []
    for seq, aggregate, version, topic, state, prev, salts, logged, pointers in jobs:
        kind = event_type(topic)
        try:
            erased = _logged_commitments(logged, pointers) if pointers else None
        except KeyError as exc:
            out.append(("altered", seq, aggregate, version, kind,
                        f"an erasure record names {exc.args[0]}, where the logged entry holds no commitment"))
            continue
        try:
            given = _salts(salts)
            entry, _ = build_entry(seq, aggregate, version, topic, state, prev, given, erased=erased)
        except _BadSalts as exc:
            out.append(("altered", seq, aggregate, version, kind, f"the stored salts are not readable: {exc}"))
            continue
        except MissingSalt as missing:
            out.append(("altered", seq, aggregate, version, kind,
                        f"no stored salt for the personal value {missing.path} (and no erasure record of it)"))
            continue
        except ValueError as exc:
            out.append(("altered", seq, aggregate, version, kind, f"the event's state is not readable: {exc}"))
            continue
        if entry != logged:
            diffs = differences(parse_entry(logged), parse_entry(entry))
            out.append(("altered", seq, aggregate, version, kind, "; ".join(diffs) or "entry bytes differ"))
            continue
        for pointer in pointers:
            out.append(("erased", seq, aggregate, version, kind,
                        f"the personal value {pointer} was erased (salt deleted, signed erasure record); "
                        "the rest of the entry verifies"))
    return out


class LedgerVerifier:
    """One pass over events and log; see the module docstring."""

    def __init__(self, verifier: Verifier | None, workers: int = 0) -> None:
        self.verifier = verifier
        self.workers = workers
        self.jobs: list[Job] = []
        self.pending: list[Any] = []  # futures (or results) of chunks, in order
        self._pool: Any = None
        self.report = Report()
        self.frontier = Frontier()
        self.chain: dict[str, tuple[int, bytes]] = {}  # stored aggregate id → (version, leaf) of its last entry
        self.lost_events: dict[tuple[str, int], EventRow] = {}
        self.lost_entries: dict[tuple[str, int], tuple[AuditRow, bytes | None]] = {}
        self.expected_seq = 0

    def add(self, finding: Finding) -> None:
        self.report.findings.append(finding)

    def _entry_row(self, row: AuditRow) -> bytes | None:
        """Account for one log row in sequence order; return the prev hash its entry must carry."""
        seq, _, stored_id, version, entry, leaf = row[:6]
        if seq != self.expected_seq:
            if seq > self.expected_seq:
                missing = f"{self.expected_seq}" + (f"..{seq - 1}" if seq - 1 > self.expected_seq else "")
                self.add(Finding("deleted", f"log positions {missing} are missing", position=self.expected_seq))
            self.expected_seq = seq
        self.expected_seq += 1
        recomputed = leaf_hash(entry)
        if recomputed != leaf:
            self.add(Finding("altered", "the logged entry does not hash to its stored leaf", seq, _text(stored_id),
                             version))
        # The tree is rebuilt from the entries' own hashes: that is what checkpoints signed.
        self.frontier.add(recomputed)
        self.report.entries += 1
        chain = self.chain
        last = chain.get(stored_id)
        expected_version = last[0] + 1 if last else 1
        if version != expected_version:
            self.add(Finding("chain", f"version {version} follows version {expected_version - 1} in the log "
                             f"(entries between are missing)", seq, _text(stored_id), version))
        chain[stored_id] = (version, recomputed)
        return last[1] if last and last[0] == version - 1 else None

    def _erased(self, row: AuditRow) -> tuple[str, ...]:
        """The pointers of ``row``'s values erased by a valid erasure record (others are findings)."""
        records = row[7]
        if not records:
            return ()
        valid = []
        seq, _, stored_id, version, entry = row[:5]
        aggregate = _text(stored_id)
        leaf = leaf_hash(entry)
        for pointer, note in sorted(records.items()):
            try:
                open_erasure(note, self.verifier, seq, leaf, pointer)
            except NoteError as exc:
                self.add(Finding("altered", f"the erasure record of {pointer} is not valid: {exc}", seq,
                                 aggregate, version))
                continue
            valid.append(pointer)
        return tuple(valid)

    def _compare(self, row: AuditRow, prev: bytes | None, event: EventRow) -> None:
        """Queue the rebuild of one entry; chunks go to the worker processes (or run here)."""
        self.jobs.append((row[0], _text(row[2]), event[2], event[3], event[4], prev, row[6], row[4],
                          self._erased(row) if row[7] else ()))
        if len(self.jobs) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        jobs, self.jobs = self.jobs, []
        if not jobs:
            return
        pool = self._start_pool()
        self.pending.append(pool.submit(check_chunk, jobs) if pool is not None else check_chunk(jobs))
        while len(self.pending) > 2 * max(1, self.workers):
            self._collect(self.pending.pop(0))

    def _start_pool(self) -> Any:
        if self.workers <= 0:
            return None
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            # Forked workers only run check_chunk (pure, no database, no threads of their own);
            # where fork is not available the entries are rebuilt here.
            if "fork" not in multiprocessing.get_all_start_methods():
                self.workers = 0
                return None
            self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("fork"))
        return self._pool

    def _collect(self, outcome: Any) -> None:
        results = outcome if isinstance(outcome, list) else outcome.result()
        for kind, seq, aggregate, version, type_, detail in results:
            finding = Finding(kind, detail, seq, aggregate, version, type_)
            if kind == "erased":
                self.report.erased.append(finding)
            else:
                self.add(finding)

    def _drain(self) -> None:
        self._flush()
        for outcome in self.pending:
            self._collect(outcome)
        self.pending = []
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        self.workers = 0

    def run(
        self,
        events: Iterable[EventRow],
        rows: Iterable[AuditRow],
        checkpoints: list[SignedCheckpoint],
        recorded_checkpoints: int,
        complete: bool,
        external: list[tuple[str, str]] = (),  # type: ignore[assignment]
        stored_root: Callable[[int], bytes] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> Report:
        report = self.report
        ev_iter: Iterator[EventRow] = iter(events)
        ev = next(ev_iter, None)
        by_size: dict[int, list[tuple[str, Checkpoint]]] = {}
        for cp in self._checkpoints(checkpoints, recorded_checkpoints, external):
            by_size.setdefault(cp[1].size, []).append(cp)
        self._check_roots(by_size.pop(0, []))
        last_logged_nid = 0
        done = 0
        frontier = self.frontier
        entry_row, compare = self._entry_row, self._compare
        for row in rows:
            prev = entry_row(row)
            nid = row[1]
            if nid > last_logged_nid:
                last_logged_nid = nid
            while ev is not None and ev[0] < nid:
                self._lost_event(ev)
                ev = next(ev_iter, None)
            if ev is not None and ev[0] == nid:
                report.events += 1
                if ev[2] == row[3] and (ev[1] == row[2] or _text(ev[1]) == _text(row[2])):
                    compare(row, prev, ev)
                else:
                    self._lost_event(ev, counted=True)
                    self.lost_entries[(_text(row[2]), row[3])] = (row, prev)
                ev = next(ev_iter, None)
            else:
                self.lost_entries[(_text(row[2]), row[3])] = (row, prev)
            if frontier.size in by_size:
                self._check_roots(by_size.pop(frontier.size))
            done += 1
            if progress is not None and done % 1000 == 0:
                progress(done)
        self._drain()
        unlogged = 0
        while ev is not None:
            if not complete and ev[0] > last_logged_nid:
                unlogged += 1
                report.events += 1
            else:
                self._lost_event(ev)
            ev = next(ev_iter, None)
        if unlogged:
            self.add(Finding("incomplete", f"{unlogged} events recorded before the audit log are not yet in it; "
                             "run `ledger audit backfill`"))
        self._pair_lost()
        for size, cps in sorted(by_size.items()):
            for name, _ in cps:
                self.add(Finding("checkpoint", f"{name} is of size {size} but the log has {self.frontier.size} "
                                 "entries: the database was rolled back or entries were deleted"))
        report.size = self.frontier.size
        report.root = self.frontier.root()
        if stored_root is not None and self.frontier.size:
            try:
                if stored_root(self.frontier.size) != report.root:
                    self.add(Finding("tree", "the stored interior hashes differ from the tree recomputed from the "
                                     "entries (proofs from this database would not verify)"))
            except LookupError as exc:
                self.add(Finding("tree", str(exc)))
        if progress is not None:
            progress(done)
        return report

    def _lost_event(self, ev: EventRow, counted: bool = False) -> None:
        if not counted:
            self.report.events += 1
        self.lost_events[(_text(ev[1]), ev[2])] = ev

    def _pair_lost(self) -> None:
        for key in sorted(set(self.lost_entries) & set(self.lost_events), key=lambda k: self.lost_entries[k][0][0]):
            (row, prev), ev = self.lost_entries.pop(key), self.lost_events.pop(key)
            self.add(Finding("reordered", f"the event is at notification {ev[0]}, the log puts it at notification "
                             f"{row[1]}", row[0], key[0], key[1], event_type(ev[3])))
            self._compare(row, prev, ev)
            self._drain()
        for key, (row, _) in sorted(self.lost_entries.items(), key=lambda kv: kv[1][0][0]):
            kind = parse_entry(row[4]).get("type")
            self.add(Finding("deleted", "the log has this event, the event store does not", row[0], key[0], key[1],
                             str(kind) if kind else None))
        for key, ev in sorted(self.lost_events.items(), key=lambda kv: kv[1][0]):
            self.add(Finding("inserted", f"the event at notification {ev[0]} has no entry in the audit log (forged, "
                             "or written around the log)", None, key[0], key[1], event_type(ev[3])))

    def _checkpoints(
        self, stored: list[SignedCheckpoint], recorded: int, external: Iterable[tuple[str, str]]
    ) -> Iterator[tuple[str, Checkpoint]]:
        numbers = {cp.number for cp in stored}
        for missing in sorted(set(range(max(recorded, max(numbers, default=-1) + 1))) - numbers):
            self.add(Finding("checkpoint", f"checkpoint #{missing} is missing from the database"))
        previous: Checkpoint | None = None
        for cp in stored:
            self.report.checkpoints += 1
            name = f"checkpoint #{cp.number}"
            parsed = self._open(name, cp.note)
            if parsed is None:
                continue
            if (parsed.size, parsed.root) != (cp.size, cp.root):
                self.add(Finding("checkpoint", f"{name}: its stored size or root differs from its signed note"))
            if previous is not None and parsed.size < previous.size:
                self.add(Finding("checkpoint", f"{name} (size {parsed.size}) is smaller than the one before it"))
            previous = parsed
            yield name, parsed
        for name, note in external:
            parsed = self._open(name, note)
            if parsed is not None:
                yield name, parsed

    def _open(self, name: str, note: str) -> Checkpoint | None:
        try:
            if self.verifier is None:
                return Checkpoint.parse_text(note[: note.rfind("\n\n") + 1])
            return open_checkpoint(note, self.verifier)
        except NoteError as exc:
            self.add(Finding("checkpoint", f"{name}: {exc}"))
            return None

    def _check_roots(self, cps: list[tuple[str, Checkpoint]]) -> None:
        root = self.frontier.root()
        for name, cp in cps:
            if cp.root != root:
                self.add(Finding("checkpoint", f"{name} signed root {cp.root.hex()[:16]}… for size {cp.size}; the "
                                 f"entries give {root.hex()[:16]}… (history before position {cp.size} was changed)"))


def verify(
    events: Iterable[EventRow],
    rows: Iterable[AuditRow],
    checkpoints: list[SignedCheckpoint],
    *,
    verifier: Verifier | None,
    recorded_checkpoints: int = 0,
    complete: bool = True,
    external: Iterable[tuple[str, str]] = (),
    stored_root: Callable[[int], bytes] | None = None,
    progress: Callable[[int], None] | None = None,
    workers: int = 0,
) -> Report:
    """Verify one ledger; ``external`` are ``(name, signed note)`` checkpoints kept outside it.
    With ``workers`` > 0 the entries are rebuilt in that many processes, a chunk at a time."""
    return LedgerVerifier(verifier, workers).run(
        events, rows, checkpoints, recorded_checkpoints, complete, list(external), stored_root, progress
    )
