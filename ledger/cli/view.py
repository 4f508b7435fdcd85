"""``ledger view contracts|rooms|spares|access|tickets [--customer ID] [--as-of T] [--json]``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import Any

from ledger.bootstrap import build_app
from ledger.cli.common import EXIT_OK, EXIT_REFUSED, Verbs, as_of, customer_id, dump

VIEW_COLUMNS = {
    "contracts": ("customer_id", "po_number", "service", "years", "quantity", "start", "end", "status",
                  "assigned", "free"),
    "rooms": ("customer_id", "name", "site", "country", "licenses", "devices"),
    "spares": ("customer_id", "active_select_licenses", "entitled", "accrued", "revoked", "allocations"),
    "access": ("customer_id", "name", "users", "invitations", "partners"),
    "tickets": ("customer_id", "ticket_id", "severity", "support", "status", "opened_at", "due", "missed", "rma"),
}
VIEW_NAMES = tuple(VIEW_COLUMNS)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        return value[:10]
    if isinstance(value, dict):
        return "\n".join(f"{k}: {_cell(v)}" for k, v in value.items()) or "-"
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


def cmd_view(args: argparse.Namespace) -> int:
    from ledger.readside import as_of_view, catch_up, customer_view_as_of, live_view, open_read_models

    customer = customer_id(args.customer) if args.customer else None
    moment = as_of(args.as_of)
    app = build_app(args.db)
    try:
        if moment is not None:
            at = moment
            if customer is not None:
                rows = customer_view_as_of(app, args.name, customer, at)
            else:
                rows = as_of_view(app, args.name, at)
        else:
            if customer is not None:
                app.customer(customer)
            at = datetime.now(UTC)
            models = open_read_models(app)
            try:
                catch_up(app, models)
                fault = models.fault(args.name)
                if fault is not None:
                    print(f"ledger: the {args.name} view is not current: {fault.describe()}; "
                          "see README 'Operating the ledger'", file=sys.stderr)
                    return EXIT_REFUSED
                rows = live_view(app, models, args.name, at, customer)
            finally:
                models.close()
    finally:
        app.close()
    if args.json:
        print(dump(rows))
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


def register(verbs: Verbs, common: argparse.ArgumentParser) -> None:
    view = verbs.add_parser(
        "view", parents=[common], help="contracts, rooms, spares, access or tickets, now or as of a time"
    )
    view.add_argument("name", choices=VIEW_NAMES)
    view.add_argument("--customer", metavar="ID")
    view.add_argument("--as-of", metavar="T")
    view.add_argument("--json", action="store_true")
    view.set_defaults(func=cmd_view)
