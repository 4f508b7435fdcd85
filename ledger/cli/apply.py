"""``ledger apply FILE|-``: JSON Lines commands in, one JSON result a line out (group commit)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from aggregates.errors import InvalidInput, LedgerError
from commands.models import Command
from commands.parsing import ECHO_LIMIT, parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from ledger.cli.common import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE, UsageError, Verbs, dump
from ledger.unit_of_work import Outcome


def _error_result(error: LedgerError, line: int | None = None) -> dict[str, Any]:
    body = error.as_dict()
    if line is not None:
        body["line"] = line
    return {"ok": False, "error": body}


MALFORMED_CODES = ("malformed", "malformed_json", "malformed_encoding")
CRASHES = (ArithmeticError, LookupError, RecursionError, TypeError, ValueError)


def _parse_line(number: int, line: str | bytes) -> Command | LedgerError:
    """One input line as a command, or the refusal of that line alone (never an exception)."""
    if isinstance(line, bytes):
        try:
            line = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return InvalidInput(
                f"line {number}: not valid UTF-8 (byte {exc.start}); nothing recorded (R18)",
                rule="R18",
                field="command",
                code="malformed_encoding",
            )
    if number == 1:
        line = line.removeprefix("\ufeff")
    try:
        raw = json.loads(line)
    except RecursionError:
        return InvalidInput(
            f"line {number}: not valid JSON (nested too deeply); nothing recorded (R18)",
            rule="R18",
            field="command",
            code="malformed_json",
        )
    except ValueError as exc:
        reason = str(exc.args[0] if exc.args else exc)[:ECHO_LIMIT]
        return InvalidInput(
            f"line {number}: not valid JSON ({reason}); nothing recorded (R18)",
            rule="R18",
            field="command",
            code="malformed_json",
        )
    try:
        return parse_command(raw)
    except LedgerError as refusal:
        return refusal
    except CRASHES as exc:
        return InvalidInput(
            f"line {number}: cannot be read as a command ({type(exc).__name__}); nothing recorded (R18)",
            rule="R18",
            field="command",
            code="malformed",
        )


def _chunks(lines: Iterable[str | bytes], size: int) -> Iterator[list[tuple[int, str | bytes]]]:
    chunk: list[tuple[int, str | bytes]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        chunk.append((number, line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _one(app: LedgerApplication, command: Command) -> Outcome:
    try:
        return app.outcome(command)
    except CRASHES as exc:
        return LedgerError(
            f"command: could not be applied ({type(exc).__name__}); nothing recorded (R18)",
            rule="R18",
            field="command",
            code="command_failed",
        )


def _many(app: LedgerApplication, commands: list[Command]) -> list[Outcome]:
    """The outcomes of ``commands`` in order; a group that fails unexpectedly is run one by one, so
    the failure stays with the command that caused it."""
    if len(commands) > 1:
        try:
            return app.execute_many(commands)
        except CRASHES:
            pass
    return [_one(app, c) for c in commands]


def apply_lines(
    app: LedgerApplication, lines: Iterable[str | bytes], out: IO[str], batch_size: int = 1
) -> int:
    """Execute JSON Lines commands in order, print one JSON result a line, return the exit status.

    Every non-blank input line gets exactly one result line, in order; a line that is not UTF-8,
    not JSON or not a command is refused alone. Up to ``batch_size`` commands are committed
    together (group commit); each stays atomic and its
    refusal isolated, with the same results as one by one.
    """
    status = EXIT_OK
    for chunk in _chunks(lines, max(1, batch_size)):
        parsed = [(number, _parse_line(number, line)) for number, line in chunk]
        commands = [c for _, c in parsed if not isinstance(c, LedgerError)]
        executed = iter(_many(app, commands))
        for number, item in parsed:
            outcome = item if isinstance(item, LedgerError) else next(executed)
            _log_outcome(item, outcome, number)
            if isinstance(outcome, LedgerError):
                out.write(dump(_error_result(outcome, number)) + "\n")
                if outcome.code in MALFORMED_CODES:
                    status = EXIT_UNUSABLE
                else:
                    status = max(status, EXIT_REFUSED)
            else:
                out.write(dump(outcome) + "\n")
        out.flush()
    return status


def _log_outcome(item: Command | LedgerError, outcome: dict[str, Any] | LedgerError, line: int) -> None:
    """One structured line per command (logger ``ledger.commands``): never the result itself, which
    may hold a secret meant for the caller only (an invitation token)."""
    logger = logging.getLogger("ledger.commands")
    if not logger.isEnabledFor(logging.INFO):
        return
    name = type(item).__name__ if not isinstance(item, LedgerError) else "?"
    if isinstance(outcome, LedgerError):
        logger.info("command refused", extra={"command": name, "line": line, "code": outcome.code,
                                              "rule": outcome.rule, "field": outcome.field})
    else:
        logger.info("command accepted", extra={"command": name, "line": line,
                                               "customer_id": outcome.get("customer_id"),
                                               "events": len(outcome.get("events", []))})


def cmd_apply(args: argparse.Namespace) -> int:
    source: IO[bytes]
    if args.file == "-":
        source = sys.stdin.buffer
    else:
        path = Path(args.file)
        if not path.is_file():
            raise UsageError(f"FILE: {args.file} does not exist or is not a file")
        try:
            source = path.open("rb")
        except OSError as exc:
            raise UsageError(f"FILE: {args.file} cannot be read ({exc.strerror})") from None
    app = build_app(args.db)
    try:
        batch = args.batch_size if args.batch_size is not None else (1 if source.isatty() else 200)
        from ledger.ops import tracing

        with tracing.correlated(args.correlation_id) as run_id:  # one correlation id per run
            logging.getLogger("ledger.commands").info("apply run", extra={"source": args.file})
            status = apply_lines(app, source, sys.stdout, batch)
            logging.getLogger("ledger.commands").info(f"apply run done, correlation id {run_id}")
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
        if source is not sys.stdin.buffer:
            source.close()


def register(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    apply = verbs.add_parser("apply", parents=[common], help="apply JSON Lines commands from FILE or - (stdin)")
    apply.add_argument("file", metavar="FILE")
    apply.add_argument("--correlation-id", metavar="ID", help="the run's correlation id (default: a new one)")
    apply.add_argument(
        "--batch-size", type=int, metavar="N",
        help="commands committed together, each still atomic (default 200; 1 at a terminal)",
    )
    apply.set_defaults(func=cmd_apply)
