"""``ledger demo``: a seeded workload on a fresh embedded store, then a summary."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

from aggregates.errors import LedgerError
from commands.parsing import parse_command
from ledger.bootstrap import build_app
from ledger.workload import generate, seed_example

DEMO_DB = "ledger-demo.db"


def run_demo(db: str | None = None, customers: int = 5) -> int:
    from rich.console import Console
    from rich.progress import track
    from rich.table import Table

    console = Console()
    target = db or DEMO_DB
    if db is None:
        for suffix in ("", ".key", "-wal", "-shm"):
            Path(DEMO_DB + suffix).unlink(missing_ok=True)
    app = build_app(target)
    try:
        if app.recorder.max_notification_id():
            console.print(f"[red]ledger demo: {target} already holds events; the demo needs an empty store[/red]")
            return 2
        workload: list[dict[str, Any]] = seed_example() + list(generate(customers=customers))
        outcomes: Counter[str] = Counter()
        refusals: Counter[str] = Counter()
        seed_customer = None
        for raw in track(workload, description="Applying the demo workload", console=console):
            try:
                result = app.execute(parse_command(raw))
            except LedgerError as refusal:
                refusals[f"{raw['command']}: {refusal.code} ({refusal.rule})"] += 1
                continue
            outcomes[raw["command"]] += 1
            if seed_customer is None:
                seed_customer = result["customer_id"]
        summary = Table(title=f"Demo workload on {target}")
        summary.add_column("command")
        summary.add_column("accepted", justify="right")
        for name, count in sorted(outcomes.items()):
            summary.add_row(name, str(count))
        console.print(summary)
        if refusals:
            refused = Table(title="Refused, as the rules require")
            refused.add_column("command: code (rule)")
            refused.add_column("count", justify="right")
            for name, count in sorted(refusals.items()):
                refused.add_row(name, str(count))
            console.print(refused)
        assert seed_customer is not None
        from uuid import UUID

        history = Table(title="The seed's example customer: 40 + 40 + 20 select licenses")
        for column in ("#", "type", "effective", "actor", "detail"):
            history.add_column(column)
        for row in app.history(UUID(seed_customer)):
            data = row["data"]
            detail = ", ".join(
                f"{k}={data[k]}" for k in ("po_number", "quantity", "spare_no", "email", "active_select_licenses")
                if k in data
            )
            history.add_row(str(row["position"]), row["type"], row["effective_at"][:10], row["actor"], detail)
        console.print(history)
        console.print(f"{app.recorder.max_notification_id()} events recorded in {target}.")
        console.print(f"Try: ledger --db {target} history --customer {seed_customer}", soft_wrap=True)
    finally:
        app.close()
    sys.stdout.flush()
    return 0
