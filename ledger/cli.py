"""The ``ledger`` command line: apply commands, read history, run the demo, publish schemas."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from uuid import UUID

from aggregates.errors import InvalidInput, LedgerError
from aggregates.timeutil import as_utc
from commands.models import Command
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


def _parse_line(number: int, line: str) -> Command | LedgerError:
    try:
        raw = json.loads(line)
    except ValueError as exc:
        return InvalidInput(
            f"line {number}: not valid JSON ({exc.args[0] if exc.args else exc}); nothing recorded (R18)",
            rule="R18",
            field="command",
            code="malformed_json",
        )
    try:
        return parse_command(raw)
    except LedgerError as refusal:
        return refusal


def _chunks(lines: Iterable[str], size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        chunk.append((number, line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def apply_lines(app: LedgerApplication, lines: Iterable[str], out: IO[str], batch_size: int = 1) -> int:
    """Execute JSON Lines commands in order, print one JSON result a line, return the exit status.

    Up to ``batch_size`` commands are committed together (group commit); each stays atomic and its
    refusal isolated, with the same results as one by one.
    """
    status = EXIT_OK
    for chunk in _chunks(lines, max(1, batch_size)):
        parsed = [(number, _parse_line(number, line)) for number, line in chunk]
        commands = [c for _, c in parsed if not isinstance(c, LedgerError)]
        executed = iter(app.execute_many(commands) if len(commands) > 1 else [_one(app, c) for c in commands])
        for number, item in parsed:
            outcome = item if isinstance(item, LedgerError) else next(executed)
            if isinstance(outcome, LedgerError):
                out.write(_dump(_error_result(outcome, number)) + "\n")
                if outcome.code in ("malformed", "malformed_json"):
                    status = EXIT_UNUSABLE
                else:
                    status = max(status, EXIT_REFUSED)
            else:
                out.write(_dump(outcome) + "\n")
        out.flush()
    return status


def _one(app: LedgerApplication, command: Command) -> dict[str, Any] | LedgerError:
    try:
        return app.execute(command)
    except LedgerError as refusal:
        return refusal


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
        batch = args.batch_size if args.batch_size is not None else (1 if source.isatty() else 200)
        status = apply_lines(app, source, sys.stdout, batch)
        from ledger.readside import catch_up, open_read_models

        models = open_read_models(app)
        try:
            catch_up(app, models)
            for fault in models.faults():
                print(f"ledger: warning: {fault.describe()}", file=sys.stderr)
        finally:
            models.close()
        return status
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


VIEW_COLUMNS = {
    "contracts": ("customer_id", "po_number", "service", "years", "quantity", "start", "end", "status",
                  "assigned", "free"),
    "rooms": ("customer_id", "name", "site", "country", "licenses", "devices"),
    "spares": ("customer_id", "active_select_licenses", "entitled", "accrued", "revoked", "allocations"),
    "access": ("customer_id", "name", "users", "invitations", "partners"),
}


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        return value[:10]
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                parts.append(" ".join(_cell(v) for k, v in item.items() if k not in ("invitation_id", "sent_at")))
            else:
                parts.append(_cell(item))
        return "\n".join(parts) or "-"
    if isinstance(value, str) and len(value) == 36 and value.count("-") == 4:
        return value[:8]
    return str(value)


def _progress_bar(description: str) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=__import__("rich.console", fromlist=["Console"]).Console(stderr=True),
        transient=False,
    )


def cmd_view(args: argparse.Namespace) -> int:
    from ledger.readside import as_of_view, catch_up, customer_view_as_of, live_view, open_read_models

    customer_id = _customer_id(args.customer) if args.customer else None
    as_of = _as_of(args.as_of)
    app = build_app(args.db)
    try:
        if as_of is not None:
            at = as_of
            if customer_id is not None:
                rows = customer_view_as_of(app, args.name, customer_id, at)
            else:
                rows = as_of_view(app, args.name, at)
        else:
            if customer_id is not None:
                app.customer(customer_id)
            at = datetime.now(UTC)
            models = open_read_models(app)
            try:
                catch_up(app, models)
                fault = models.fault(args.name)
                if fault is not None:
                    print(f"ledger: the {args.name} view is not current: {fault.describe()}; "
                          "see README 'Operating the ledger'", file=sys.stderr)
                    return EXIT_REFUSED
                rows = live_view(app, models, args.name, at, customer_id)
            finally:
                models.close()
    finally:
        app.close()
    if args.json:
        print(_dump(rows))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    title = f"{args.name} as of {at.isoformat(timespec='seconds')}"
    table = Table(title=title, show_lines=args.name in ("rooms", "access"))
    columns = VIEW_COLUMNS[args.name]
    for column in columns:
        table.add_column(column.replace("_", " "))
    for row in rows:
        table.add_row(*[_cell(row.get(column)) for column in columns])
    console = Console()
    console.print(table)
    console.print(f"{len(rows)} rows. --json prints every field.")
    return EXIT_OK


def cmd_replay(args: argparse.Namespace) -> int:
    from ledger.readside import open_read_models, rebuild_views
    from projections.tables import PROJECTIONS

    names = (args.projection,) if args.projection else PROJECTIONS
    app = build_app(args.db)
    models = open_read_models(app)
    try:
        total = app.recorder.max_notification_id() or 0
        with _progress_bar("replay") as bar:
            verb = "checking" if args.check else "rebuilding"
            task = bar.add_task(f"{verb} {', '.join(names)}", total=total)

            def progress(done: int, end: int) -> None:
                bar.update(task, completed=done, total=end)

            reports = rebuild_views(
                app, models, names, check=args.check, progress=progress, batch_size=args.batch_size
            )
            bar.update(task, completed=total, total=total)
    finally:
        models.close()
        app.close()
    status = EXIT_OK
    for report in reports:
        resumed = f", resumed at position {report.resumed_from}" if report.resumed_from else ""
        if report.stopped is not None:
            status = EXIT_REFUSED
            print(f"{report.projection}: not rebuilt, {report.stopped}")
            continue
        if args.check:
            if report.differences:
                status = EXIT_REFUSED
                print(f"{report.projection}: differs from a rebuild ({len(report.differences)} rows)")
                for line in report.differences:
                    print(f"  {line}")
            else:
                print(f"{report.projection}: identical to a rebuild from {report.events_read} notifications")
        else:
            print(f"{report.projection}: rebuilt from {report.events_read} notifications{resumed}")
    return status


def cmd_project(args: argparse.Namespace) -> int:
    """Catch the read models up; a projection stopped at an event it cannot apply is reported (exit 1)."""
    from ledger.ops.project import run_projector

    return run_projector(args.db, follow=args.follow, interval=args.interval, metrics_port=args.metrics_port)


def cmd_demo(args: argparse.Namespace) -> int:
    from ledger.demo import run_demo

    if args.customers < 1:
        raise UsageError("--customers: give at least 1")
    return run_demo(args.db, customers=args.customers, seed=args.seed)


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
    apply.add_argument(
        "--batch-size", type=int, metavar="N",
        help="commands committed together, each still atomic (default 200; 1 at a terminal)",
    )
    apply.set_defaults(func=cmd_apply)
    history = sub.add_parser("history", parents=[common], help="every event of one customer, in order")
    history.add_argument("--customer", required=True, metavar="ID")
    history.add_argument("--as-of", metavar="T")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=cmd_history)
    view = sub.add_parser("view", parents=[common], help="contracts, rooms, spares or access, now or as of a time")
    view.add_argument("name", choices=("contracts", "rooms", "spares", "access"))
    view.add_argument("--customer", metavar="ID")
    view.add_argument("--as-of", metavar="T")
    view.add_argument("--json", action="store_true")
    view.set_defaults(func=cmd_view)
    replay = sub.add_parser("replay", parents=[common], help="rebuild read models from the events")
    replay.add_argument("--projection", choices=("contracts", "rooms", "spares", "access"))
    replay.add_argument("--check", action="store_true", help="rebuild into a shadow copy and diff; exit 1 if different")
    replay.add_argument("--batch-size", type=int, default=2000, metavar="N", help="events per transaction")
    replay.set_defaults(func=cmd_replay)
    project = sub.add_parser("project", parents=[common], help="catch the read models up with the log")
    project.add_argument("--follow", action="store_true", help="keep following new events until interrupted")
    project.add_argument("--interval", type=float, default=0.5, metavar="S")
    project.add_argument("--metrics-port", type=int, metavar="PORT", help="serve Prometheus metrics on this port")
    project.set_defaults(func=cmd_project)
    demo = sub.add_parser("demo", parents=[common], help="a seeded workload on a fresh embedded store")
    demo.add_argument("--customers", type=int, default=5, help="customers to generate (about 40 commands each)")
    demo.add_argument("--seed", type=int, default=7)
    demo.set_defaults(func=cmd_demo)
    schema = sub.add_parser("schema", help="print the JSON Schema of all commands")
    group = schema.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write it to schemas/commands.schema.json")
    group.add_argument("--check", action="store_true", help="exit 1 when the published file is stale")
    schema.set_defaults(func=cmd_schema)
    from ledger.auth.cli import register as register_api_keys
    from ledger.http.cli import register as register_http
    from ledger.stream.cli import register as register_stream

    register_stream(sub, common)
    from ledger.ops.cli import register as register_ops

    register_ops(sub, common)
    register_http(sub, common)
    register_api_keys(sub, common)
    return parser


def _explain(args: argparse.Namespace, exc: Exception) -> str:
    """The error of a failed verb; a store that cannot be written (full, read-only) is named as such."""
    from ledger.config import parse_db_url
    from ledger.ops.faults import explain_store_failure

    try:
        store = parse_db_url(args.db or os.environ.get("LEDGER_DB") or "ledger.db", os.environ)
        explained = explain_store_failure(store.sqlite_path, exc)
    except Exception:
        explained = None
    return explained or f"{type(exc).__name__}: {exc}"


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
        print(f"ledger: {_explain(args, exc)}", file=sys.stderr)
        return EXIT_UNUSABLE


if __name__ == "__main__":
    raise SystemExit(main())
