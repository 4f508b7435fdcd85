"""As-of view latency for one customer with many events (default 10,000), p50 and p99.

Baseline in the same run: folding the same customer's events through the library's repository
(``app.repository.get``, all events, no as-of cut) — the cost of reading the whole history.

    python -m benchmarks.asof [--events 10000] [--queries 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

from aggregates.catalog import normalise_address
from aggregates.customer import Customer
from aggregates.ids import account_id_for
from ledger.app import LedgerApplication
from ledger.config import load_settings
from ledger.readside import customer_view_as_of

ADDRESS = {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
PARTY = {"name": "R", "email": "r@r.example", "address": ADDRESS}


def build_big_customer(app: LedgerApplication, events: int) -> tuple[UUID, datetime, datetime]:
    """Write one customer with about ``events`` events straight through its command methods."""
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    customer = Customer.register(company="Big Co", parent_company=None, at=t0, actor="ops")
    end_customer = {"company": "Big Co", "email": "cio@big.example", "address": ADDRESS}
    customer.place_order(po_number="BIG-1", service="select", years=5, quantity=events, end_customer=end_customer,
                         reseller=PARTY, distributor=PARTY, grace_days=60, at=t0, actor="ops")
    account_id = account_id_for(customer.id, normalise_address(ADDRESS))
    t = t0
    n = 0
    while customer.version < events:
        t += timedelta(minutes=7)
        room_id = customer.add_room(account_id=account_id, name=f"Room {n}", site="HQ", country="US",
                                    countries=app.settings.countries, at=t, actor="ops")
        customer.assign_license(room_id=room_id, po_number="BIG-1", countries=app.settings.countries, at=t,
                                actor="ops")
        customer.register_device(room_id=room_id, serial_number=f"BIG{n:07d}", product="Rally Bar",
                                 purchased_on=t.date(), at=t, actor="ops")
        n += 1
        if len(customer.pending_events) > 500:
            app.save(customer)
    app.save(customer)
    return customer.id, t0, t


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = LedgerApplication(load_settings(str(Path(folder) / "l.db"), {"LEDGER_SECRET_KEY": "b"}))
        customer_id, first, last = build_big_customer(app, args.events)
        print(f"customer with {app.customer(customer_id).version} events")
        asof: list[float] = []
        full: list[float] = []
        span = (last - first).total_seconds()
        for i in range(args.queries):
            at = first + timedelta(seconds=span * ((i * 37) % 100) / 100)
            started = time.perf_counter()
            customer_view_as_of(app, "rooms", customer_id, at)
            asof.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            app.repository.get(customer_id, version=None)
            full.append((time.perf_counter() - started) * 1000)
        print(f"as-of rooms view: p50 {statistics.median(asof):.1f} ms, p99 {percentile(asof, 99):.1f} ms")
        print(f"baseline full fold (library repository): p50 {statistics.median(full):.1f} ms, "
              f"p99 {percentile(full, 99):.1f} ms")
        print(f"ratio as-of/baseline p50: {statistics.median(asof) / statistics.median(full):.2f}")
        app.close()


if __name__ == "__main__":
    main()
