"""The ``ledger`` command line: apply commands, read history, run the demo, publish schemas."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from aggregates.errors import InvalidInput, LedgerError
from aggregates.timeutil import as_utc
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from ledger.config import ConfigurationError

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2


class UsageError(Exception):
    """Input the command line cannot use at all (exit status 2)."""


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def _error_result(error: LedgerError, line: int | None = None) -> dict[str, Any]:
    body = error.as_dict()
    if line is not None:
        body["line"] = line
    return {"ok": False, "error": body}


def apply_lines(app: LedgerApplication, lines: Iterable[str], out: IO[str]) -> int:
    """Execute JSON Lines commands one by one, print one JSON result a line, return the exit status."""
    status = EXIT_OK
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except ValueError as exc:
            error = InvalidInput(
                f"line {number}: not valid JSON ({exc.args[0] if exc.args else exc}); nothing recorded (R18)",
                rule="R18",
                field="command",
                code="malformed_json",
            )
            out.write(_dump(_error_result(error, number)) + "\n")
            out.flush()
            status = EXIT_UNUSABLE
            continue
        try:
            command = parse_command(raw)
            result = app.execute(command)
        except LedgerError as refusal:
            out.write(_dump(_error_result(refusal, number)) + "\n")
            if refusal.code == "malformed":
                status = EXIT_UNUSABLE
            else:
                status = max(status, EXIT_REFUSED)
        else:
            out.write(_dump(result) + "\n")
        out.flush()
    return status


def _as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        raise UsageError(f"--as-of: {value!r} is not an ISO 8601 date or time") from None


def _customer_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise UsageError(f"--customer: {value!r} is not a customer id (a UUID)") from None


def cmd_apply(args: argparse.Namespace) -> int:
    source: IO[str]
    if args.file == "-":
        source = sys.stdin
    else:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"FILE: {args.file} does not exist or is not a file")
        source = path.open(encoding="utf-8")
    app = build_app(args.db)
    try:
        return apply_lines(app, source, sys.stdout)
    finally:
        app.close()
        if source is not sys.stdin:
            source.close()


def cmd_history(args: argparse.Namespace) -> int:
    customer_id = _customer_id(args.customer)
    as_of = _as_of(args.as_of)
    app = build_app(args.db)
    try:
        rows = app.history(customer_id, as_of)
    finally:
        app.close()
    if args.json:
        print(_dump(rows))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"History of customer {customer_id}" + (f" as of {as_of.isoformat()}" if as_of else ""))
    for column in ("#", "type", "effective", "recorded", "actor", "data"):
        table.add_column(column)
    for row in rows:
        data = ", ".join(f"{k}={v}" for k, v in row["data"].items() if not isinstance(v, dict))
        table.add_row(
            str(row["position"]), row["type"], row["effective_at"], row["recorded_at"], row["actor"], data
        )
    Console().print(table)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from ledger.demo import run_demo

    return run_demo(args.db)


def cmd_schema(args: argparse.Namespace) -> int:
    from commands.schema import SCHEMA_PATH, render_schema

    text = render_schema()
    if args.check:
        current = SCHEMA_PATH.read_text("utf-8") if SCHEMA_PATH.exists() else ""
        if current != text:
            print(f"{SCHEMA_PATH} is out of date; run `ledger schema --write`", file=sys.stderr)
            return EXIT_REFUSED
        return EXIT_OK
    if args.write:
        SCHEMA_PATH.write_text(text, "utf-8")
        print(f"wrote {SCHEMA_PATH}")
        return EXIT_OK
    sys.stdout.write(text)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--db",
        default=argparse.SUPPRESS,
        help="event store: a SQLite file (default ./ledger.db, or LEDGER_DB) or a postgresql:// URL",
    )
    parser = argparse.ArgumentParser(
        prog="ledger", description="Event-sourced entitlement ledger for the Select service.", parents=[common]
    )
    sub = parser.add_subparsers(dest="verb", required=True)
    apply = sub.add_parser("apply", parents=[common], help="apply JSON Lines commands from FILE or - (stdin)")
    apply.add_argument("file", metavar="FILE")
    apply.set_defaults(func=cmd_apply)
    history = sub.add_parser("history", parents=[common], help="every event of one customer, in order")
    history.add_argument("--customer", required=True, metavar="ID")
    history.add_argument("--as-of", metavar="T")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=cmd_history)
    demo = sub.add_parser("demo", parents=[common], help="a seeded workload on a fresh embedded store")
    demo.set_defaults(func=cmd_demo)
    schema = sub.add_parser("schema", help="print the JSON Schema of all commands")
    group = schema.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write it to schemas/commands.schema.json")
    group.add_argument("--check", action="store_true", help="exit 1 when the published file is stale")
    schema.set_defaults(func=cmd_schema)
    from ledger.stream.cli import register as register_stream

    register_stream(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "db"):
        args.db = None
    try:
        return int(args.func(args))
    except (UsageError, ConfigurationError) as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except LedgerError as exc:
        print(f"ledger: {exc.message}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        print("ledger: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"ledger: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    raise SystemExit(main())
