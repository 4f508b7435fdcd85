"""Command-line verbs of the audit log: ``ledger audit public-key|entry|backfill``, ``ledger checkpoint``,
``ledger proof``, ``ledger verify`` and ``ledger verify-proof`` (the last needs no database).

Exit status: 0 verified / done, 1 a verification failed or the ledger refused, 2 unusable input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

from ledger.config import ConfigurationError

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
CHECKPOINT_TOPIC = "select-ledger.checkpoints"


class _Usage(ConfigurationError):
    """Unusable input on the command line (exit 2)."""


def _uuid(value: str, flag: str = "--customer") -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise _Usage(f"{flag}: {value!r} is not an aggregate id (a UUID)") from None


def _version(value: int) -> int:
    if value < 1:
        raise _Usage("--version: versions start at 1")
    return value


def _verifier(text: str | None) -> Any:
    from replay.audit.note import NoteError, Verifier

    if text is None:
        return None
    candidate = Path(text)
    raw = candidate.read_text("utf-8").strip() if "+" not in text and candidate.is_file() else text
    try:
        return Verifier.parse(raw)
    except NoteError as exc:
        raise _Usage(f"--public-key: {exc}") from None


def _open(args: argparse.Namespace) -> tuple[Any, Any]:
    from ledger.audit.service import Audit
    from ledger.bootstrap import build_app

    app = build_app(args.db)
    try:
        return app, Audit(app)
    except BaseException:
        app.close()
        raise


def _signer(app: Any) -> Any:
    from ledger.audit.service import load_signer

    return load_signer(app.settings)


def cmd_public_key(args: argparse.Namespace) -> int:
    from ledger.bootstrap import build_app

    app = build_app(args.db)
    try:
        print(_signer(app).verifier)
    finally:
        app.close()
    return EXIT_OK


def cmd_entry(args: argparse.Namespace) -> int:
    aggregate_id, version = _uuid(args.customer), _version(args.version)
    app, audit = _open(args)
    try:
        row = audit.find(aggregate_id, version)
    finally:
        app.close()
    sys.stdout.write(row.entry.decode("utf-8") + "\n")
    return EXIT_OK


def _bar(total: int, description: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeRemainingColumn(), console=Console(stderr=True), transient=False)
    return progress


def cmd_backfill(args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        raise _Usage("--batch-size: must be at least 1")
    app, audit = _open(args)
    try:
        total = app.recorder.max_notification_id() or 0
        with _bar(total, "backfill") as bar:
            task = bar.add_task("logging earlier events", total=total)
            logged = audit.backfill(args.batch_size, progress=lambda n: bar.update(task, completed=n))
            bar.update(task, completed=total)
        head = audit.head()
    finally:
        app.close()
    print(f"audit: {logged} events logged by the backfill; the log holds {head.size if head else 0} entries")
    return EXIT_OK


def publish(bootstrap_servers: str, topic: str, note: str, size: int) -> None:
    """Publish one signed checkpoint to the checkpoints topic (keyed by the origin), waiting for the ack."""
    from kafka import KafkaProducer

    from ledger.stream.relay import ensure_topic, split_servers

    ensure_topic(bootstrap_servers, topic, partitions=1)
    producer = KafkaProducer(bootstrap_servers=split_servers(bootstrap_servers), acks="all",
                             client_id="select-ledger-checkpoints", max_block_ms=15_000)
    try:
        origin = note.split("\n", 1)[0]
        producer.send(topic, key=origin.encode(), value=note.encode(),
                      headers=[("tree_size", str(size).encode())]).get(timeout=15)
    finally:
        producer.close()


def cmd_checkpoint(args: argparse.Namespace) -> int:
    app, audit = _open(args)
    try:
        stored = audit.checkpoint(_signer(app))
    finally:
        app.close()
    if args.publish:
        try:
            publish(args.bootstrap_servers, args.topic, stored.note, stored.size)
        except Exception as exc:  # a broker problem: the checkpoint is kept all the same
            print(f"ledger checkpoint: signed and kept as #{stored.number}, but not published: {exc}", file=sys.stderr)
            sys.stdout.write(stored.note)
            return EXIT_FAILED
    sys.stdout.write(stored.note)
    return EXIT_OK


def cmd_proof(args: argparse.Namespace) -> int:
    aggregate_id, version = _uuid(args.customer), _version(args.version)
    if args.out is not None and not Path(args.out).resolve().parent.is_dir():
        raise _Usage(f"--out: folder {Path(args.out).parent} does not exist")
    app, audit = _open(args)
    try:
        proof = audit.proof(aggregate_id, version, _signer(app))
    finally:
        app.close()
    text = proof.bundle.render()
    if args.out:
        Path(args.out).write_text(text, "utf-8")
        print(f"wrote the proof of entry {proof.row.seq} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    if args.workers is not None and args.workers < 0:
        raise _Usage(f"--workers: {args.workers} is not a number of processes (0: rebuild entries in this one)")
    external = []
    for name in args.checkpoint or []:
        path = Path(name)
        if not path.is_file():
            raise _Usage(f"--checkpoint: {name} does not exist or is not a file")
        external.append((f"checkpoint file {name}", path.read_text("utf-8")))
    verifier = _verifier(args.public_key)
    app, audit = _open(args)
    try:
        if verifier is None:
            from ledger.audit.service import key_file

            if key_file(app.settings).exists():
                verifier = _signer(app).verifier
        head = audit.head()
        total = head.size if head else 0
        if args.json or (not sys.stderr.isatty() and total < 50_000):
            report = audit.verify(verifier, external, workers=args.workers)
        else:
            with _bar(total, "verify") as bar:
                task = bar.add_task("verifying entries", total=total)
                report = audit.verify(verifier, external, progress=lambda n: bar.update(task, completed=n),
                                      workers=args.workers)
    finally:
        app.close()
    if verifier is None:
        print("ledger verify: no public key (--public-key or the ledger's key file): signatures not checked",
              file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict()))
    else:
        for finding in report.findings + report.erased:
            print(finding.line())
        state = "verified" if report.ok else f"FAILED with {len(report.findings)} findings"
        erased = f", {len(report.erased)} personal values erased" if report.erased else ""
        print(f"audit: {state}: {report.events} events, {report.entries} entries, {report.checkpoints} "
              f"checkpoints{erased}, tree size {report.size}, root {report.root.hex()}")
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_verify_proof(args: argparse.Namespace) -> int:
    from replay.audit.entry import parse_entry
    from replay.audit.note import NoteError, ProofBundle

    path = Path(args.file)
    if not path.is_file():
        raise _Usage(f"FILE: {args.file} does not exist or is not a file")
    verifier = _verifier(args.public_key)
    try:
        bundle = ProofBundle.parse(path.read_text("utf-8"))
        checkpoint = bundle.verify(verifier)
        entry = parse_entry(bundle.extra)
    except (NoteError, ValueError) as exc:
        print(f"ledger verify-proof: NOT verified: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if entry.get("seq") != bundle.index:
        print(f"ledger verify-proof: NOT verified: the entry says seq {entry.get('seq')}, the proof index "
              f"{bundle.index}", file=sys.stderr)
        return EXIT_FAILED
    print(f"verified: entry {bundle.index} ({entry.get('type')} of {entry.get('aggregate_id')} v{entry.get('version')})"
          f" is in the tree of size {checkpoint.size} signed by {verifier.name}")
    return EXIT_OK


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    """Add the audit verbs to the ``ledger`` parser."""
    audit = sub.add_parser("audit", help="the verifiable audit log: public key, entries, backfill")
    verbs = audit.add_subparsers(dest="audit_verb", required=True)
    key = verbs.add_parser("public-key", parents=[common], help="the checkpoint verifier key (signed-note vkey)")
    key.set_defaults(func=cmd_public_key)
    entry = verbs.add_parser("entry", parents=[common], help="the canonical entry (RFC 8785) of one event")
    entry.add_argument("--customer", required=True, metavar="ID", help="the aggregate (customer) id")
    entry.add_argument("--version", required=True, type=int, metavar="N")
    entry.set_defaults(func=cmd_entry)
    backfill = verbs.add_parser("backfill", parents=[common], help="log the events recorded before the audit log")
    backfill.add_argument("--batch-size", type=int, default=2000, metavar="N", help="events a transaction (2000)")
    backfill.set_defaults(func=cmd_backfill)

    checkpoint = sub.add_parser("checkpoint", parents=[common], help="sign, keep and print a checkpoint of the log")
    checkpoint.add_argument("--publish", action="store_true", help="also publish it to the checkpoints topic")
    checkpoint.add_argument("--bootstrap-servers", default=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    checkpoint.add_argument("--topic", default=os.environ.get("LEDGER_CHECKPOINT_TOPIC", CHECKPOINT_TOPIC))
    checkpoint.set_defaults(func=cmd_checkpoint)

    proof = sub.add_parser("proof", parents=[common], help="an offline proof (c2sp.org/tlog-proof@v1) of one event")
    proof.add_argument("--customer", required=True, metavar="ID")
    proof.add_argument("--version", required=True, type=int, metavar="N")
    proof.add_argument("--out", metavar="FILE", help="write it to FILE instead of printing it")
    proof.set_defaults(func=cmd_proof)

    verify = sub.add_parser("verify", parents=[common], help="recompute every entry, chain, root and checkpoint")
    verify.add_argument("--checkpoint", action="append", metavar="FILE", help="a signed checkpoint kept elsewhere")
    verify.add_argument("--public-key", metavar="KEY", help="verifier key or a file holding it (default: own key)")
    verify.add_argument("--json", action="store_true")
    verify.add_argument("--workers", type=int, metavar="N",
                        help="processes rebuilding entries (default: one a core, up to 4, above 20,000 entries)")
    verify.set_defaults(func=cmd_verify)

    verify_proof = sub.add_parser("verify-proof", help="check a proof file offline, with no database")
    verify_proof.add_argument("file", metavar="FILE")
    verify_proof.add_argument("--public-key", required=True, metavar="KEY", help="verifier key or a file holding it")
    verify_proof.set_defaults(func=cmd_verify_proof)


class PeriodicCheckpoints:
    """Signs, keeps and publishes a checkpoint every ``interval`` seconds while the log grows (run
    by ``ledger relay --follow``). A failure is reported and tried again at the next interval."""

    def __init__(self, db: str | None, bootstrap_servers: str, topic: str, interval: float, log: Any) -> None:
        import threading

        self.db, self.bootstrap_servers, self.topic = db, bootstrap_servers, topic
        self.interval, self.log = interval, log
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)
        self.published = 0

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)

    def once(self, app: Any, audit: Any, last_size: int) -> int:
        head = audit.head()
        if head is None or head.size == last_size or not head.complete:
            return last_size
        stored = audit.checkpoint(_signer(app))
        publish(self.bootstrap_servers, self.topic, stored.note, stored.size)
        self.published += 1
        self.log(f"relay: checkpoint #{stored.number} of size {stored.size} signed and published to {self.topic}")
        return int(stored.size)

    def _run(self) -> None:
        from ledger.audit.service import Audit
        from ledger.bootstrap import build_app

        app = build_app(self.db)
        try:
            audit = Audit(app)
            last = -1
            while not self.stop.wait(self.interval):
                try:
                    last = self.once(app, audit, last)
                except Exception as exc:
                    self.log(f"relay: checkpoint not made or not published ({type(exc).__name__}: {exc})")
        finally:
            app.close()
