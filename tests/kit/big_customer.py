"""One customer with many events, written straight through its command methods (snapshot tests, as-of benchmark)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from aggregates.catalog import normalise_address
from aggregates.customer import Customer
from aggregates.ids import account_id_for
from ledger.app import LedgerApplication

ADDRESS = {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
PARTY = {"name": "R", "email": "r@r.example", "address": ADDRESS}


def build_big_customer(
    app: LedgerApplication, events: int, company: str = "Big Co", key: str = "BIG"
) -> tuple[UUID, datetime, datetime]:
    """Write one customer (``company``; its order ``<key>-1``, serial numbers ``<key>0000001``…) with
    about ``events`` events straight through its command methods."""
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    customer = Customer.register(company=company, parent_company=None, at=t0, actor="ops")
    end_customer = {"company": company, "email": "cio@big.example", "address": ADDRESS}
    customer.place_order(po_number=f"{key}-1", service="select", years=5, quantity=events, end_customer=end_customer,
                         reseller=PARTY, distributor=PARTY, grace_days=60, at=t0, actor="ops")
    account_id = account_id_for(customer.id, normalise_address(ADDRESS))
    t = t0
    n = 0
    while customer.version < events:
        t += timedelta(minutes=7)
        room_id = customer.add_room(account_id=account_id, name=f"Room {n}", site="HQ", country="US",
                                    countries=app.settings.countries, at=t, actor="ops")
        customer.assign_license(room_id=room_id, po_number=f"{key}-1", countries=app.settings.countries, at=t,
                                actor="ops")
        customer.register_device(room_id=room_id, serial_number=f"{key}{n:07d}", product="Rally Bar",
                                 purchased_on=t.date(), at=t, actor="ops")
        n += 1
        if len(customer.pending_events) > 500:
            app.save(customer)
    app.save(customer)
    return customer.id, t0, t
