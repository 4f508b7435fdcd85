"""``ledger import-rooms FILE --customer ID --account ID``: a room export into one account (R28).

The file is read one room at a time (``ledger.room_import``); rooms are validated one by one, a
malformed room is reported as refused with its field, and the valid ones are applied in
``ImportRooms`` commands of ``--batch-size`` rooms (each room atomic). One JSON line per room goes
to standard output: ``{"external_id", "room_id", "status", "error"?, "where"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from pydantic import ValidationError

from aggregates.errors import InvalidInput, LedgerError
from commands.parsing import _describe
from commands.support_models import MAX_IMPORT_ROOMS, ImportedRoom, ImportRooms
from ledger.app import LedgerApplication
from ledger.cli.common import EXIT_OK, EXIT_REFUSED, UsageError, Verbs, as_of
from ledger.cli.common import customer_id as parse_customer_id
from ledger.room_import import ImportFileError, RawRoom, read_rooms


def _room_refusal(exc: ValidationError) -> InvalidInput:
    errors = exc.errors(include_url=False)
    field, text = _describe(errors[0])
    rule = "R12" if field == "country" else "R11" if field.startswith("devices") else "R28"
    return InvalidInput(f"{field}: {text} ({rule})", rule=rule, field=field)


def _external_id(raw: RawRoom) -> Any:
    return raw.data.get("external_id") if isinstance(raw.data, dict) else None


def import_rooms(
    app: LedgerApplication,
    rooms: Iterator[RawRoom],
    *,
    customer_id: UUID,
    account_id: UUID,
    out: IO[str],
    at: datetime | None = None,
    actor: str = "ops",
    batch_size: int = 200,
) -> dict[str, int]:
    """Apply an export's rooms in batches; write one report line per room; return the counts."""
    at = at or datetime.now(UTC)
    counts = {"added": 0, "updated": 0, "unchanged": 0, "refused": 0}
    batch: list[tuple[RawRoom, ImportedRoom | InvalidInput]] = []

    def report(raw: RawRoom, line: dict[str, Any]) -> None:
        counts[line["status"]] += 1
        out.write(json.dumps({**line, "where": raw.where}, ensure_ascii=False) + "\n")

    def flush() -> None:
        valid = [room for _, room in batch if isinstance(room, ImportedRoom)]
        lines: Iterator[dict[str, Any]] = iter(())
        if valid:
            command = ImportRooms(
                command="ImportRooms", at=at, actor=actor, customer_id=customer_id, account_id=account_id,
                rooms=valid,
            )
            try:
                lines = iter(app.execute(command)["rooms"])
            except LedgerError as refusal:
                error = refusal.as_dict()
                lines = iter([{"external_id": r.external_id, "room_id": None, "status": "refused", "error": error}
                              for r in valid])
        for raw, room in batch:
            if isinstance(room, ImportedRoom):
                report(raw, next(lines))
            else:
                report(raw, {"external_id": _external_id(raw), "room_id": None, "status": "refused",
                             "error": room.as_dict()})
        batch.clear()
        out.flush()

    for raw in rooms:
        try:
            batch.append((raw, ImportedRoom.model_validate(raw.data)))
        except ValidationError as exc:
            batch.append((raw, _room_refusal(exc)))
        if len(batch) >= batch_size:
            flush()
    flush()
    return counts


def cmd_import_rooms(args: argparse.Namespace) -> int:
    from ledger.bootstrap import build_app

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"FILE: {args.file} does not exist or is not a file")
    customer = parse_customer_id(args.customer)
    try:
        account_id = UUID(args.account)
    except ValueError:
        raise UsageError(f"--account: {args.account!r} is not an account id (a UUID)") from None
    if not 1 <= args.batch_size <= MAX_IMPORT_ROOMS:
        raise UsageError(f"--batch-size: give 1 to {MAX_IMPORT_ROOMS} rooms")
    at = as_of(args.at, "--at")
    app = build_app(args.db)
    try:
        app.customer(customer)
        with path.open("rb") as stream:
            size = path.stat().st_size
            if args.progress:
                from rich.console import Console
                from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

                bar = Progress(TextColumn("[bold]import-rooms"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                               console=Console(stderr=True))
                with bar:
                    task = bar.add_task("import", total=size)
                    counts = import_rooms(
                        app, read_rooms(path, stream, lambda done: bar.update(task, completed=done)),
                        customer_id=customer, account_id=account_id, out=sys.stdout, at=at,
                        batch_size=args.batch_size,
                    )
                    bar.update(task, completed=size)
            else:
                counts = import_rooms(app, read_rooms(path, stream), customer_id=customer, account_id=account_id,
                                      out=sys.stdout, at=at, batch_size=args.batch_size)
        from ledger.readside import catch_up, open_read_models

        models = open_read_models(app)
        try:
            catch_up(app, models)
        finally:
            models.close()
    except ImportFileError as exc:
        raise UsageError(f"FILE: {args.file}: {exc}; nothing more was imported") from None
    finally:
        app.close()
    print(", ".join(f"{n} {s}" for s, n in counts.items()), file=sys.stderr)
    return EXIT_REFUSED if counts["refused"] else EXIT_OK


def register(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    parser = verbs.add_parser(
        "import-rooms", parents=[common], help="import rooms and devices from a device platform's export (R28)"
    )
    parser.add_argument("file", metavar="FILE", help="JSON (array, or {\"rooms\": [...]}) or CSV")
    parser.add_argument("--customer", required=True, metavar="ID")
    parser.add_argument("--account", required=True, metavar="ID")
    parser.add_argument("--at", metavar="T", help="effective time of the import (default now)")
    parser.add_argument("--batch-size", type=int, default=200, metavar="N", help="rooms committed together")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.set_defaults(func=cmd_import_rooms)
