"""Audit operations on a running ledger: signing key, checkpoints, proofs, entries, backfill, verify.

Environment:

``LEDGER_SIGNING_KEY_FILE``
    The Ed25519 private key (PEM, PKCS#8) that signs checkpoints. Without it the key lives in
    ``<sqlite file>.signing-key`` (or ``ledger.signing-key`` in the current folder for
    PostgreSQL), created once, readable by its owner only (mode 600).
``LEDGER_AUDIT_ORIGIN``
    The log's origin line and key name (default ``select-ledger.example/audit``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from eventsourcing.postgres import PostgresApplicationRecorder

from aggregates.errors import Conflict, LedgerError, NotFound
from ledger.audit.store import AuditLog, LogRow, StoredCheckpoint, iter_pages
from ledger.config import ConfigurationError, Settings
from replay.audit.merkle import EMPTY_ROOT, consistency_ranges, hashes_for, inclusion_ranges
from replay.audit.note import Checkpoint, NoteError, ProofBundle, Signer, Verifier, erasure_text
from replay.audit.verify import Report, verify

DEFAULT_ORIGIN = "select-ledger.example/audit"


def origin(settings: Settings) -> str:
    return settings.audit_origin or DEFAULT_ORIGIN


def key_file(settings: Settings) -> Path:
    if settings.signing_key_file is not None:
        return settings.signing_key_file
    path = settings.store.sqlite_path
    if path is not None:
        return path.with_name(path.name + ".signing-key")
    return Path("ledger.signing-key")


def load_signer(settings: Settings, *, create: bool = True) -> KeptSigner:
    """The checkpoint signer; the key file is made once (mode 600) when missing and ``create``."""
    file = key_file(settings)
    name = origin(settings)
    if not file.exists():
        if not create:
            raise ConfigurationError(f"LEDGER_SIGNING_KEY_FILE: {file} does not exist")
        pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        try:
            fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    try:
        key = load_pem_private_key(file.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"LEDGER_SIGNING_KEY_FILE: cannot read an Ed25519 key from {file}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"LEDGER_SIGNING_KEY_FILE: {file} is not an Ed25519 private key")
    try:
        return KeptSigner(name, key, file.with_name(file.name + ".last-checkpoint"))
    except NoteError as exc:
        raise ConfigurationError(f"LEDGER_AUDIT_ORIGIN: {exc}") from None


class KeptSigner(Signer):
    """A signer that remembers, beside its key, the last checkpoint it signed: a database rolled
    back to an older copy (which forgot its later checkpoints) is still refused a new signature
    that would contradict it."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey, state: Path) -> None:
        super().__init__(name, private_key)
        self.state = state

    def last_signed(self) -> Checkpoint | None:
        if not self.state.is_file():
            return None
        try:
            return Checkpoint.parse_text(self.state.read_text("utf-8"))
        except (OSError, NoteError):
            return None

    def remember(self, checkpoint: Checkpoint) -> None:
        temporary = self.state.with_name(self.state.name + ".tmp")
        temporary.write_text(checkpoint.text(), "utf-8")
        os.replace(temporary, self.state)


class InconsistentCheckpoint(Conflict):
    """The ledger refuses to sign a tree that does not extend the one it signed before."""

    code = "inconsistent_checkpoint"


@dataclass(frozen=True)
class Proof:
    bundle: ProofBundle
    row: LogRow


class Audit:
    """The audit log of one application (its recorder must be an audited one)."""

    def __init__(self, app: Any) -> None:
        recorder = app.recorder
        log = getattr(recorder, "audit", None)
        if not isinstance(log, AuditLog):
            raise ConfigurationError("LEDGER_AUDIT: the audit log is switched off (LEDGER_AUDIT=n)")
        self.app = app
        self.recorder = recorder
        self.log = log

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self.recorder.datastore.transaction(commit=False) as curs:
            yield curs

    @contextmanager
    def writing(self) -> Iterator[Any]:
        """A write transaction holding the events table's insert lock (as the recorder's inserts do)."""
        with self.recorder.datastore.transaction(commit=True) as curs:
            if isinstance(self.recorder, PostgresApplicationRecorder):
                for statement in self.recorder.lock_table_statements:
                    curs.execute(statement, prepare=False)
            else:
                # Take SQLite's write lock before reading anything.
                curs.execute(f"UPDATE {self.log.t.head} SET size = size WHERE id = 1")
            yield curs

    def head(self) -> Any:
        with self.reading() as curs:
            return self.log.read_head(curs)

    # -- backfill ------------------------------------------------------------------------------

    def backfill(self, batch: int = 2000, progress: Callable[[int], None] | None = None) -> int:
        """Log every event recorded before the log existed, oldest first, one batch per transaction
        (killed, it resumes where it stopped). Returns how many it logged."""
        total = 0
        while True:
            with self.writing() as curs:
                logged, done = self.log.backfill_step(curs, batch)
            total += logged
            if progress is not None:
                progress(total)
            if done:
                return total

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoint(self, signer: Signer) -> StoredCheckpoint:
        """Sign the current tree, unless it is inconsistent with the last signed checkpoint."""
        with self.writing() as curs:
            self.log.lock_head(curs)
            head = self.log.read_head(curs)
            if head is None:
                head = self.log._create_head(curs, complete=self.recorder.max_notification_id() is None)
            if not head.complete:
                raise InconsistentCheckpoint(
                    "checkpoint: events recorded before the audit log are not in it yet; run `ledger audit backfill`",
                    rule="S8", field="checkpoint",
                )
            root = head.frontier.root()
            last = self.log.last_checkpoint(curs)
            if last is not None:
                self._check_extends(curs, last.size, last.root, f"checkpoint #{last.number}", head.size)
            remembered = signer.last_signed() if isinstance(signer, KeptSigner) else None
            if remembered is not None and remembered.origin == signer.name:
                self._check_extends(curs, remembered.size, remembered.root, "the last checkpoint this key signed",
                                    head.size)
            checkpoint = Checkpoint(signer.name, head.size, root)
            note = signer.sign(checkpoint.text())
            number = max(head.checkpoints, last.number + 1 if last else 0)
            stored = StoredCheckpoint(number, head.size, root, note, datetime.now(UTC).isoformat())
            self.log.insert_checkpoint(curs, stored)
        if isinstance(signer, KeptSigner):
            signer.remember(checkpoint)
        return stored

    def _check_extends(self, curs: Any, old_size: int, old_root: bytes, name: str, size: int) -> None:
        if size < old_size:
            raise InconsistentCheckpoint(
                f"checkpoint: the log has {size} entries but {name} was of size {old_size}; refusing to sign a "
                "tree that does not extend it (the database was rolled back or truncated)",
                rule="S8", field="checkpoint",
            )
        try:
            stored = self.log.stored_root(curs, old_size) if old_size else EMPTY_ROOT
        except LookupError:
            stored = b""
        if stored != old_root:
            raise InconsistentCheckpoint(
                f"checkpoint: the stored tree at size {old_size} is not the one {name} signed; refusing to sign "
                "an inconsistent checkpoint (run `ledger verify`)",
                rule="S8", field="checkpoint",
            )

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self.reading() as curs:
            return self.log.checkpoints_list(curs)

    def consistency(self, old: int, new: int) -> list[bytes]:
        with self.reading() as curs:
            return hashes_for(consistency_ranges(old, new), lambda wanted: self.log.read_nodes(curs, wanted))

    # -- entries and proofs --------------------------------------------------------------------

    def find(self, aggregate_id: UUID, version: int) -> LogRow:
        with self.reading() as curs:
            row = self.log.find(curs, aggregate_id, version)
        if row is None:
            raise NotFound(
                f"--version: aggregate {aggregate_id} has no logged event of version {version}",
                rule="S8", field="version",
            )
        return row

    def proof(self, aggregate_id: UUID, version: int, signer: Signer) -> Proof:
        """A tlog-proof@v1 bundle for one event against the latest checkpoint (signed now if none
        covers the event yet)."""
        with self.reading() as curs:  # one read transaction, two statements: entry and checkpoint, then nodes
            row, last = self.log.find_with_checkpoint(curs, aggregate_id, version)
            if row is not None and last is not None and last.size > row.seq:
                path = hashes_for(inclusion_ranges(row.seq, last.size),
                                  lambda wanted: self.log.read_nodes(curs, wanted))
                return Proof(ProofBundle(row.entry, row.seq, path, last.note), row)
        row = self.find(aggregate_id, version)
        last = self.checkpoint(signer)
        with self.reading() as curs:
            path = hashes_for(inclusion_ranges(row.seq, last.size), lambda wanted: self.log.read_nodes(curs, wanted))
        return Proof(ProofBundle(row.entry, row.seq, path, last.note), row)

    def erase(self, aggregate_id: UUID, version: int, pointer: str, signer: Signer) -> LogRow:
        """Erase the audit side of one personal value: delete its salt and keep an erasure record
        signed with the checkpoint key (naming the entry's leaf and the value's JSON pointer), so
        that ``ledger verify`` reports the value as erased, not altered. Every entry, leaf, proof
        and checkpoint stays valid. (Removing the value from the event's stored state is the
        erasure feature's part, not this log's.)"""
        with self.writing() as curs:
            row = self.log.find(curs, aggregate_id, version)
            if row is None:
                raise NotFound(f"--version: aggregate {aggregate_id} has no logged event of version {version}",
                               rule="S8", field="version")
            if pointer not in (row.salts or {}):
                raise NotFound(f"--pointer: entry {row.seq} has no salted personal value at {pointer!r}"
                               + (" (already erased)" if pointer in (row.erased or {}) else ""),
                               rule="S8", field="pointer")
            note = signer.sign(erasure_text(signer.name, row.seq, row.leaf, pointer))
            self.log.erase(curs, row, pointer, note)
        return row

    def proof_at(self, seq: int, size: int) -> list[bytes]:
        with self.reading() as curs:
            return hashes_for(inclusion_ranges(seq, size), lambda wanted: self.log.read_nodes(curs, wanted))

    # -- verification --------------------------------------------------------------------------

    def verify(
        self,
        verifier: Verifier | None,
        external: list[tuple[str, str]] = (),  # type: ignore[assignment]
        progress: Callable[[int], None] | None = None,
        page: int = 5000,
        workers: int | None = None,
    ) -> Report:
        """Verify the whole ledger. ``workers`` processes rebuild the entries (default: one per
        core, at most 4, when the log has more than 20,000 entries; 0: in this process)."""
        head = self.head()
        with self.reading() as curs:
            checkpoints = self.log.checkpoints_list(curs)
        if workers is None:
            workers = min(4, os.cpu_count() or 1) if head is not None and head.size > 20_000 else 0

        def stored_root(size: int) -> bytes:
            with self.reading() as curs:
                return self.log.stored_root(curs, size)

        return verify(
            iter_pages(self.log.event_tuples, self.reading, 0, page),
            iter_pages(self.log.verify_tuples, self.reading, 0, page),
            list(checkpoints),
            verifier=verifier,
            recorded_checkpoints=head.checkpoints if head else 0,
            complete=head.complete if head else self.recorder.max_notification_id() is None,
            external=external,
            stored_root=stored_root,
            progress=progress,
            workers=workers,
        )


__all__ = ["Audit", "InconsistentCheckpoint", "LedgerError", "load_signer", "origin"]
