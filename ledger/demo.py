"""``ledger demo``: a seeded, realistic workload on a fresh embedded store, then a summary.

The workload is the demo's own (``generate``: about two years of ``--customers N`` customers'
commands, refusals included; ``seed_example``: the seed document's 40 + 40 + 20 licences). It lives
here because ``ledger demo`` is a product verb that applies it; tests and benchmarks reuse it from
here (the direction they may import), and no copy of it exists under ``tests/``.
"""

from __future__ import annotations

import heapq
import random
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from aggregates.catalog import SUPPORTED_PRODUCTS, normalise_address, normalise_company, normalise_name
from aggregates.errors import LedgerError
from aggregates.ids import account_id_for, customer_id_for, room_id_for
from commands.parsing import parse_command
from ledger.bootstrap import build_app
from ledger.readside import catch_up, live_view, open_read_models

RESELLER = {
    "name": "Northwind AV",
    "email": "orders@northwind-av.example",
    "address": {"line1": "12 Harbour Road", "city": "Boston", "postal_code": "02110", "country": "US"},
}
DISTRIBUTOR = {
    "name": "Contoso Distribution",
    "email": "po@contoso-distribution.example",
    "address": {"line1": "400 Dock Street", "city": "Newark", "postal_code": "07101", "country": "US"},
}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def seed_example(start: datetime | None = None) -> list[dict[str, Any]]:
    """The seed's own example: 40 select licenses in May, 40 in November (1 spare), 20 later (2)."""
    start = start or datetime(2026, 5, 4, 9, tzinfo=UTC)
    hq = {"line1": "1 Infinite Loop", "city": "Cupertino", "region": "CA", "postal_code": "95014", "country": "US"}
    berlin = {"line1": "Unter den Linden 10", "city": "Berlin", "postal_code": "10117", "country": "DE"}

    def order(po: str, at: datetime, quantity: int, company: str, address: dict[str, Any]) -> dict[str, Any]:
        return {
            "command": "PlaceOrder", "at": _iso(at), "actor": "ops", "po_number": po,
            "service": "select", "years": 3, "quantity": quantity,
            "end_customer": {"company": company, "parent_company": "Globex Corporation",
                             "email": "hank.scorpio@globex.example", "address": address},
            "reseller": RESELLER, "distributor": DISTRIBUTOR,
        }

    return [
        order("GLOBEX-2026-05", start, 40, "Globex Corporation", hq),
        order("GLOBEX-2026-11", start.replace(month=11), 40, "Globex Corp.", hq),
        order("GLOBEX-2027-02", start.replace(year=start.year + 1, month=2), 20, "Globex GmbH", berlin),
    ]


def _customer_commands(n: int, rng: random.Random, start: datetime) -> Iterator[dict[str, Any]]:
    """One customer's life, in effective-time order: orders, rooms, licenses, devices, access, spares."""
    sites = [
        ("US", "Austin", {"line1": "500 Congress Avenue", "city": "Austin", "region": "TX", "postal_code": "78701"}),
        ("DE", "Munich", {"line1": "Leopoldstrasse 20", "city": "Munich", "postal_code": "80802"}),
        ("GB", "London", {"line1": "30 St Mary Axe", "city": "London", "postal_code": "EC3A 8EP"}),
        ("JP", "Tokyo", {"line1": "1-1 Marunouchi", "city": "Tokyo", "postal_code": "100-0005"}),
        ("BR", "Sao Paulo", {"line1": "Avenida Paulista 1000", "city": "Sao Paulo", "postal_code": "01310-100"}),
        ("IR", "Tehran", {"line1": "Valiasr Street 1", "city": "Tehran", "postal_code": "15119"}),
    ]
    company = f"Customer {n:05d} Holdings"
    customer_id = customer_id_for(normalise_company(company))
    cid = str(customer_id)
    domain = f"c{n:05d}.example"
    admin = f"it.lead@{domain}"
    t = start + timedelta(days=rng.randint(0, 365), hours=n % 8)
    hq_country, hq_city, hq_address = sites[n % 5]
    accounts = [(hq_country, hq_city, {**hq_address, "country": hq_country})]
    for extra in range(rng.choice([0, 0, 1, 1, 2])):
        country, city, address = sites[(n + 1 + extra) % len(sites)]
        accounts.append((country, city, {**address, "country": country}))
    rooms: list[tuple[UUID, UUID]] = []
    orders: list[tuple[str, UUID, str, datetime]] = []
    free: dict[str, int] = {}
    for a, (country, city, address) in enumerate(accounts):
        account_id = account_id_for(customer_id, normalise_address(address))
        for o in range(rng.randint(1, 3)):
            service = rng.choice(["select", "select", "select", "syncplus", "extended_warranty"])
            quantity = rng.choice([5, 10, 20, 40, 60])
            po = f"PO-{n:05d}-{a}{o}"
            yield {
                "command": "PlaceOrder", "at": _iso(t), "actor": "ops", "po_number": po,
                "service": service, "years": rng.randint(1, 5), "quantity": quantity,
                "end_customer": {"company": f"{company} {city}" if a else company,
                                 "parent_company": company if a else None,
                                 "email": admin if a == 0 else f"site.admin{a}@{domain}",
                                 "address": address},
                "reseller": RESELLER, "distributor": DISTRIBUTOR,
            }
            orders.append((po, account_id, service, t))
            free[po] = quantity
            t += timedelta(days=rng.randint(1, 20))
        for r in range(rng.randint(2, 6)):
            name = f"{city} Room {r + 1}"
            room_id = room_id_for(account_id, normalise_name(name))
            yield {"command": "AddRoom", "at": _iso(t), "actor": "ops", "customer_id": cid,
                   "account_id": str(account_id), "name": name, "site": f"{city} office", "country": country}
            rooms.append((room_id, account_id))
    yield {"command": "SendInvitation", "at": _iso(t), "actor": "ops", "customer_id": cid, "email": admin}
    licensed: dict[tuple[UUID, str], str] = {}
    serials: list[str] = []
    for room_id, account_id in rooms:
        for po, order_account, service, _ in orders:
            if order_account == account_id and free[po] > 0 and (room_id, service) not in licensed:
                t += timedelta(hours=rng.randint(1, 48))
                yield {"command": "AssignLicense", "at": _iso(t), "actor": "ops", "customer_id": cid,
                       "room_id": str(room_id), "po_number": po}
                free[po] -= 1
                licensed[(room_id, service)] = po
        for _ in range(rng.randint(1, 3)):
            t += timedelta(hours=rng.randint(1, 24))
            serial = f"SN{n:05d}{len(serials):04d}"
            serials.append(serial)
            purchased = (t - timedelta(days=rng.randint(0, 4 * 365))).date()
            yield {"command": "RegisterDevice", "at": _iso(t), "actor": "ops", "customer_id": cid,
                   "room_id": str(room_id), "serial_number": serial,
                   "product": rng.choice(SUPPORTED_PRODUCTS[:10]), "purchased_on": purchased.isoformat()}
    if len(rooms) > 1 and serials and rng.random() < 0.5:
        t += timedelta(days=3)
        yield {"command": "MoveDevice", "at": _iso(t), "actor": "ops", "customer_id": cid,
               "serial_number": serials[-1], "to_room_id": str(rooms[0][0])}
    same_account = [(a, b) for a in rooms for b in rooms if a[1] == b[1] and a[0] != b[0]]
    if same_account and rng.random() < 0.5:
        (source, _), (target, _) = rng.choice(same_account)
        t += timedelta(days=2)
        yield {"command": "MoveLicense", "at": _iso(t), "actor": "ops", "customer_id": cid,
               "service": "select", "from_room_id": str(source), "to_room_id": str(target)}
    if rng.random() < 0.5:
        t += timedelta(days=1)
        yield {"command": "InviteUser", "at": _iso(t), "actor": "ops", "customer_id": cid,
               "email": f"viewer{n % 3}@{domain}", "role": rng.choice(["admin", "viewer"])}
    if rng.random() < 0.4:
        t += timedelta(days=1)
        yield {"command": "DelegatePartner", "at": _iso(t), "actor": "ops", "customer_id": cid,
               "partner_id": "tsp-emea", "role": rng.choice(["admin", "viewer"])}
    if serials and rng.random() < 0.6:
        t += timedelta(days=1)
        yield {"command": "AllocateSpare", "at": _iso(t), "actor": "ops", "customer_id": cid,
               "product": "Rally Bar", "ship_to": f"{hq_city} office mail room"}
    if rng.random() < 0.3:
        po, _, _, placed = orders[-1]
        when = placed + timedelta(days=rng.choice([2, 29, 45]))
        t = max(t, when) + timedelta(minutes=1)
        yield {"command": "CancelOrder", "at": _iso(t), "actor": "ops", "po_number": po}


def _daily_expiry(start: datetime, days: int) -> Iterator[dict[str, Any]]:
    for day in range(1, days + 1):
        yield {"command": "ExpireContracts", "at": _iso(start + timedelta(days=day, hours=14)), "actor": "ops"}


def generate(
    customers: int = 5,
    seed: int = 7,
    start: datetime | None = None,
    expiry_days: int = 730,
    extra: list[dict[str, Any]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Commands for ``customers`` customers over about two years, merged in effective-time order.

    Customers have an HQ account and site accounts in other countries (one of them where the
    service is unavailable); orders of every service and term; rooms, assignments and moves; devices
    and their moves; invitations, users and partners; spare allocations; cancellations inside and
    outside the 30-day window; and the daily expiry run. About 40 commands per customer.
    """
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 5, 9, tzinfo=UTC)
    yield {"command": "RegisterPartner", "at": _iso(start), "actor": "ops",
           "partner_id": "tsp-emea", "name": "EMEA Technical Services Partner"}
    yield {"command": "AddPartnerUser", "at": _iso(start), "actor": "ops",
           "partner_id": "tsp-emea", "email": "engineer@tsp-emea.example"}
    streams = [_customer_commands(n, random.Random(rng.random()), start) for n in range(customers)]
    streams.append(_daily_expiry(start, expiry_days))
    if extra:
        streams.append(iter(sorted(extra, key=lambda c: str(c["at"]))))
    yield from heapq.merge(*streams, key=lambda c: str(c["at"]))


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
