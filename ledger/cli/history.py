"""``ledger history --customer ID [--as-of T] [--json]``: every event of one customer, in order."""

from __future__ import annotations

import argparse

from ledger.bootstrap import build_app
from ledger.cli.common import EXIT_OK, Verbs, as_of, customer_id, dump


def cmd_history(args: argparse.Namespace) -> int:
    customer = customer_id(args.customer)
    moment = as_of(args.as_of)
    app = build_app(args.db)
    try:
        rows = app.history(customer, moment)
    finally:
        app.close()
    if args.json:
        print(dump(rows))
        return EXIT_OK
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"History of customer {customer}" + (f" as of {moment.isoformat()}" if moment else ""))
    for column in ("#", "type", "effective", "recorded", "actor", "correlation", "caused by", "data"):
        table.add_column(column)
    for row in rows:
        data = ", ".join(f"{k}={v}" for k, v in row["data"].items() if not isinstance(v, dict))
        table.add_row(
            str(row["position"]), row["type"], row["effective_at"], row["recorded_at"], row["actor"],
            (row["correlation_id"] or "-")[:8], (row["causation_id"] or "-")[:8], data
        )
    Console().print(table)
    return EXIT_OK


def register(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    history = verbs.add_parser("history", parents=[common], help="every event of one customer, in order")
    history.add_argument("--customer", required=True, metavar="ID")
    history.add_argument("--as-of", metavar="T")
    history.add_argument("--json", action="store_true")
    history.set_defaults(func=cmd_history)
