"""The ``ledger`` command line: one module per verb, one parser registry.

To add a verb, write ``ledger/cli/<verb>.py`` (or ``cli.py`` in a subsystem's package) with
``register(verbs, common)`` (add a subparser
with ``parents=[common]`` for ``--db``, and ``set_defaults(func=handler)``; the handler returns the
exit status) and list the module in ``VERB_MODULES``. Handlers raise ``UsageError`` (exit 2),
``ConfigurationError`` (exit 2) or a ``LedgerError`` (exit 1); ``main`` prints them, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from aggregates.errors import LedgerError
from ledger.cli.apply import apply_lines
from ledger.cli.common import EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE, UsageError
from ledger.config import ConfigurationError

# The verbs, in the order ``ledger --help`` lists them.
VERB_MODULES = (
    "ledger.cli.apply",
    "ledger.cli.history",
    "ledger.cli.view",
    "ledger.cli.replay",
    "ledger.cli.project",
    "ledger.cli.demo",
    "ledger.cli.schema",
    "ledger.cli.import_rooms",
    "ledger.cli.stream",  # relay, notify, event-schemas
    "ledger.ops.cli",  # parked
    "ledger.http.cli",  # serve, openapi
    "ledger.auth.cli",  # api-key
    "ledger.audit.cli",  # audit, checkpoint, proof, verify, verify-proof
)


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
    verbs = parser.add_subparsers(dest="verb", required=True)
    for name in VERB_MODULES:
        importlib.import_module(name).register(verbs, common)
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
    from ledger.ops import logs

    logs.configure()
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


__all__ = [
    "EXIT_OK", "EXIT_REFUSED", "EXIT_UNUSABLE", "VERB_MODULES", "UsageError", "apply_lines", "build_parser", "main",
]
