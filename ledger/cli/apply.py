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
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from ledger.cli.common import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE, UsageError, Verbs, dump


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
            f"line {number}: not valid JSON ({exc.args[0] if exc.args else exc}); nothing recorded",
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
        executed = iter(app.execute_many(commands) if len(commands) > 1 else [app.outcome(c) for c in commands])
        for number, item in parsed:
            outcome = item if isinstance(item, LedgerError) else next(executed)
            _log_outcome(item, outcome, number)
            if isinstance(outcome, LedgerError):
                out.write(dump(_error_result(outcome, number)) + "\n")
                if outcome.code in ("malformed", "malformed_json"):
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
        if source is not sys.stdin:
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
