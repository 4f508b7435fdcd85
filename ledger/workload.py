"""A seeded, realistic workload of commands (JSON-ready dicts), shared by the demo and benchmarks."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from aggregates.catalog import SUPPORTED_PRODUCTS, normalise_address, normalise_company
from aggregates.ids import account_id_for, customer_id_for, room_id_for

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


def generate(customers: int = 5, seed: int = 7, start: datetime | None = None) -> Iterator[dict[str, Any]]:
    """Commands for ``customers`` customers over about two years, in effective-time order per customer.

    Customers have an HQ account and site accounts in other countries; orders of every service and
    term; rooms, assignments and moves; devices and their moves; invitations, users and partners;
    a few cancellations inside and outside the 30-day window; and a monthly expiry run.
    """
    rng = random.Random(seed)
    start = start or datetime(2026, 1, 5, 9, tzinfo=UTC)
    sites = [
        ("US", "Austin", {"line1": "500 Congress Avenue", "city": "Austin", "region": "TX", "postal_code": "78701"}),
        ("DE", "Munich", {"line1": "Leopoldstrasse 20", "city": "Munich", "postal_code": "80802"}),
        ("GB", "London", {"line1": "30 St Mary Axe", "city": "London", "postal_code": "EC3A 8EP"}),
        ("JP", "Tokyo", {"line1": "1-1 Marunouchi", "city": "Tokyo", "postal_code": "100-0005"}),
        ("BR", "Sao Paulo", {"line1": "Avenida Paulista 1000", "city": "Sao Paulo", "postal_code": "01310-100"}),
    ]
    yield {"command": "RegisterPartner", "at": _iso(start), "actor": "ops",
           "partner_id": "tsp-emea", "name": "EMEA Technical Services Partner"}
    yield {"command": "AddPartnerUser", "at": _iso(start), "actor": "ops",
           "partner_id": "tsp-emea", "email": "engineer@tsp-emea.example"}
    serial = 0
    for n in range(customers):
        company = f"Customer {n:04d} Holdings"
        key = normalise_company(company)
        customer_id = customer_id_for(key)
        domain = f"c{n:04d}.example"
        admin = f"it.lead@{domain}"
        t = start + timedelta(days=rng.randint(0, 30), hours=n % 8)
        hq_country, hq_city, hq_address = sites[n % len(sites)]
        accounts = [(hq_country, hq_city, {**hq_address, "country": hq_country})]
        if rng.random() < 0.6:
            country, city, address = sites[(n + 1) % len(sites)]
            accounts.append((country, city, {**address, "country": country}))
        rooms: list[tuple[UUID, UUID]] = []
        orders: list[tuple[str, UUID, str, int]] = []
        free: dict[str, int] = {}
        for a, (country, city, address) in enumerate(accounts):
            account_id = account_id_for(customer_id, normalise_address(address))
            for o in range(rng.randint(1, 3)):
                service = rng.choice(["select", "select", "select", "syncplus", "extended_warranty"])
                quantity = rng.choice([5, 10, 20, 40, 60])
                po = f"PO-{n:04d}-{a}{o}"
                yield {
                    "command": "PlaceOrder", "at": _iso(t), "actor": "ops", "po_number": po,
                    "service": service, "years": rng.randint(1, 5), "quantity": quantity,
                    "end_customer": {"company": f"{company} {city}" if a else company,
                                     "parent_company": company if a else None,
                                     "email": admin if a == 0 else f"site.admin{a}@{domain}",
                                     "address": address},
                    "reseller": RESELLER, "distributor": DISTRIBUTOR,
                }
                orders.append((po, account_id, service, quantity))
                free[po] = quantity
                t += timedelta(days=rng.randint(1, 20))
            for r in range(rng.randint(2, 6)):
                name = f"{city} Room {r + 1}"
                room_id = room_id_for(account_id, normalise_company(name))
                yield {"command": "AddRoom", "at": _iso(t), "actor": "ops", "customer_id": str(customer_id),
                       "account_id": str(account_id), "name": name, "site": f"{city} office", "country": country}
                rooms.append((room_id, account_id))
        token_holder = admin
        yield {"command": "SendInvitation", "at": _iso(t), "actor": "ops", "customer_id": str(customer_id),
               "email": token_holder}
        licensed: dict[tuple[UUID, str], str] = {}
        for room_id, account_id in rooms:
            for po, order_account, service, _ in orders:
                if order_account == account_id and free[po] > 0 and (room_id, service) not in licensed:
                    t += timedelta(hours=rng.randint(1, 48))
                    yield {"command": "AssignLicense", "at": _iso(t), "actor": "ops",
                           "customer_id": str(customer_id), "room_id": str(room_id), "po_number": po}
                    free[po] -= 1
                    licensed[(room_id, service)] = po
            for _ in range(rng.randint(1, 3)):
                serial += 1
                t += timedelta(hours=rng.randint(1, 24))
                purchased = (t - timedelta(days=rng.randint(0, 4 * 365))).date()
                yield {"command": "RegisterDevice", "at": _iso(t), "actor": "ops", "customer_id": str(customer_id),
                       "room_id": str(room_id), "serial_number": f"SN{serial:08d}",
                       "product": rng.choice(SUPPORTED_PRODUCTS[:10]), "purchased_on": purchased.isoformat()}
        if len(rooms) > 1 and rng.random() < 0.5:
            t += timedelta(days=3)
            yield {"command": "MoveDevice", "at": _iso(t), "actor": "ops", "customer_id": str(customer_id),
                   "serial_number": f"SN{serial:08d}", "to_room_id": str(rooms[0][0])}
        if rng.random() < 0.4:
            t += timedelta(days=1)
            yield {"command": "DelegatePartner", "at": _iso(t), "actor": "ops", "customer_id": str(customer_id),
                   "partner_id": "tsp-emea", "role": rng.choice(["admin", "viewer"])}
        if rng.random() < 0.3:
            po = orders[-1][0]
            t += timedelta(days=rng.choice([2, 45]))
            yield {"command": "CancelOrder", "at": _iso(t), "actor": "ops", "po_number": po}
    for month in range(1, 25, 3):
        yield {"command": "ExpireContracts", "at": _iso(start + timedelta(days=30 * month + 400)), "actor": "ops"}
