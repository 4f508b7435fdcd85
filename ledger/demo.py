"""``ledger demo``: a seeded, realistic workload on a fresh embedded store, then a summary."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from aggregates.errors import LedgerError
from commands.parsing import parse_command
from ledger.bootstrap import build_app
from ledger.readside import catch_up, live_view, open_read_models
from ledger.workload import generate, seed_example

DEMO_DB = "ledger-demo.db"
COMMANDS_PER_CUSTOMER = 40
SEED_PO = seed_example()[0]["po_number"]


def run_demo(db: str | None = None, customers: int = 5, seed: int = 7) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    console = Console()
    target = db or DEMO_DB
    if db is None:
        for suffix in ("", ".key", "-wal", "-shm"):
            Path(DEMO_DB + suffix).unlink(missing_ok=True)
    app = build_app(target)
    models = open_read_models(app)
    try:
        if app.recorder.max_notification_id():
            console.print(f"[red]ledger demo: {target} already holds events; the demo needs an empty store[/red]")
            return 2
        outcomes: Counter[str] = Counter()
        refusals: Counter[str] = Counter()
        seed_customer: str | None = None
        estimate = len(seed_example()) + customers * COMMANDS_PER_CUSTOMER + 732
        started = time.perf_counter()
        columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("Applying the demo workload", total=estimate)
            for raw in generate(customers=customers, seed=seed, extra=seed_example()):
                progress.advance(task)
                try:
                    result = app.execute(parse_command(raw))
                except LedgerError as refusal:
                    refusals[f"{raw['command']}: {refusal.code} ({refusal.rule})"] += 1
                    continue
                outcomes[raw["command"]] += 1
                if raw.get("po_number") == SEED_PO and raw["command"] == "PlaceOrder":
                    seed_customer = result["customer_id"]
            progress.update(task, total=progress.tasks[0].completed)
        elapsed = time.perf_counter() - started
        events = app.recorder.max_notification_id() or 0
        catch_up(app, models)
        _print_summary(console, target, outcomes, refusals)
        now = datetime.now(UTC)
        contracts = live_view(app, models, "contracts", now)
        spares = live_view(app, models, "spares", now)
        rooms = live_view(app, models, "rooms", now)
        views = Table(title=f"Views now ({now.date().isoformat()})")
        views.add_column("view")
        views.add_column("summary")
        statuses = sorted(Counter(c["status"] for c in contracts).items())
        views.add_row("contracts", ", ".join(f"{n} {s}" for s, n in statuses))
        views.add_row("rooms", f"{len(rooms)} rooms, {sum(len(r['licenses']) for r in rooms)} licenses held, "
                               f"{sum(len(r['devices']) for r in rooms)} devices")
        views.add_row("spares", f"{sum(s['entitled'] for s in spares)} entitled across {len(spares)} customers, "
                                f"{sum(len(s['allocations']) for s in spares)} allocated")
        console.print(views)
        if seed_customer is not None:
            _print_seed_customer(console, app, UUID(seed_customer))
        console.print(
            f"{events} events recorded in {target} ({sum(outcomes.values())} commands accepted, "
            f"{sum(refusals.values())} refused) in {elapsed:.1f} s."
        )
        console.print(f"Try: ledger --db {target} view contracts   |   ledger --db {target} history "
                      f"--customer {seed_customer}", soft_wrap=True)
    finally:
        models.close()
        app.close()
    return 0


def _print_summary(console: Any, target: str, outcomes: Counter[str], refusals: Counter[str]) -> None:
    from rich.table import Table

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


def _print_seed_customer(console: Any, app: Any, customer_id: UUID) -> None:
    from rich.table import Table

    history = Table(title="The seed's example customer: 40 + 40 + 20 select licenses")
    for column in ("#", "type", "effective", "actor", "detail"):
        history.add_column(column)
    for row in app.history(customer_id):
        data = row["data"]
        detail = ", ".join(
            f"{k}={data[k]}" for k in ("po_number", "quantity", "spare_no", "email", "active_select_licenses")
            if k in data
        )
        history.add_row(str(row["position"]), row["type"], row["effective_at"][:10], row["actor"], detail)
    console.print(history)
