"""Views computed directly from customer aggregates, for any time: the as-of views.

The aggregate as of a time comes from ``ledger.readside.customer_at`` (the store replays one
customer's events up to that time; effective times never go backwards within a customer, R20).
The view functions produce exactly what the SQL read models produce, which the property tests check.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.catalog import CountryTable
from aggregates.customer import Customer
from aggregates.customer.rules import WARRANTY_SERVICES, warranty_end
from aggregates.customer.state import Ticket
from aggregates.support import SupportTargets
from projections.queries import (
    _iso,
    access_view,
    contract_view,
    room_view,
    spares_view,
    sso_view,
    swap_row,
    unrepresentable,
)
from projections.tickets import rma_view, sort_key, ticket_view


def contracts(customer: Customer, at: datetime) -> list[dict[str, Any]]:
    cid = str(customer.id)
    views = [
        contract_view(
            cid, account_id=str(c.account_id), po_number=c.po_number, service=c.service, years=c.years,
            quantity=c.quantity, placed_at=c.placed_at, grace_days=c.grace_days, started_at=c.started_at,
            cancelled_at=c.cancelled_at, expired_at=c.expired_at, assigned=c.assigned, at=at,
        )
        for c in customer.contracts.values()
    ]
    return sorted(views, key=lambda v: v["po_number"])


def rooms(customer: Customer, at: datetime, countries: CountryTable) -> list[dict[str, Any]]:
    cid = str(customer.id)
    ends: dict[str, tuple[datetime | None, str | None]] = {}
    account_ids: dict[UUID, str] = {}
    warranty: dict[tuple[Any, ...], tuple[str, str | None, Any]] = {}
    out = []
    for room_key, room in sorted(((str(k), r) for k, r in customer.rooms.items()), key=lambda kv: kv[0]):
        licenses = []
        coverage = []
        for service, po in room.licenses.items():
            found = ends.get(po)
            if found is None:
                end = customer.contracts[po].end_as_of(at)
                found = ends[po] = (end, _iso(end))
            licenses.append(unrepresentable({"service": service, "po_number": po, "coverage_end": found[1]},
                                            coverage_end=found[0]))
            if service in WARRANTY_SERVICES:
                coverage.append(found[0])
        devices = []
        for serial in room.devices:
            device = customer.devices[serial]
            key = (device.purchased_on, *coverage)
            dates = warranty.get(key)
            if dates is None:
                end_of_warranty = warranty_end(device.purchased_on, coverage)
                dates = warranty[key] = (device.purchased_on.isoformat(), _iso(end_of_warranty), end_of_warranty)
            devices.append(unrepresentable({
                "serial_number": serial,
                "product": device.product,
                "purchased_on": dates[0],
                "warranty_end": dates[1],
            }, warranty_end=dates[2]))
        account = account_ids.get(room.account_id)
        if account is None:
            account = account_ids[room.account_id] = str(room.account_id)
        out.append(room_view(room_key, cid, account, room.name, room.site, room.country, countries, licenses,
                             devices))
    return out


def spares(customer: Customer, at: datetime) -> list[dict[str, Any]]:
    has_select = any(c.service == "select" for c in customer.contracts.values())
    if not has_select and not customer.spares:
        return []
    history = [
        {"spare_no": s.spare_no, "accrued_at": s.accrued_at.isoformat(), "revoked_at": _iso(s.revoked_at),
         "product": s.product, "ship_to": s.ship_to, "allocated_at": _iso(s.allocated_at)}
        for s in customer.spares
    ]
    swaps = [
        swap_row(s.spare_no, str(s.ticket_id), s.serial_number, s.new_serial_number, s.used_at.isoformat(),
                 _iso(s.replenished_at))
        for s in customer.spare_swaps
    ]
    return [spares_view(str(customer.id), customer.active_select_licenses, history, swaps)]


def _ticket(cid: str, t: Ticket, targets: SupportTargets, at: datetime) -> dict[str, Any]:
    return ticket_view(
        cid, ticket_id=str(t.ticket_id), room_id=str(t.room_id), external_room_id=t.external_room_id,
        severity=t.severity, summary=t.summary, source=t.source, support=t.support, status=t.status,
        opened_at=t.opened_at, opened_by=t.opened_by, first_response_at=t.first_response_at,
        resolved_at=t.resolved_at, closed_at=t.closed_at, comments=t.comments, serial_numbers=list(t.serial_numbers),
        room=t.room, targets=targets, at=at,
        rmas=[rma_view(r.serial_number, r.status, r.requested_at, r.due, r.new_serial_number, r.spare_no, r.done_at)
              for r in t.rmas],
    )


def tickets(customer: Customer, at: datetime, targets: SupportTargets) -> list[dict[str, Any]]:
    cid = str(customer.id)
    return sorted((_ticket(cid, t, targets, at) for t in customer.tickets.values()), key=sort_key)


def access(customer: Customer, at: datetime) -> list[dict[str, Any]]:
    parts: dict[str, list[dict[str, Any]]] = {
        "users": [{"email": e, "role": r} for e, r in customer.users.items()],
        "invitations": [
            {"invitation_id": str(i.invitation_id), "email": i.email, "role": i.role, "status": i.status(at),
             "sent_at": i.sent_at.isoformat(), "expires_at": _iso(i.expires_at)}
            for i in customer.invitations.values()
        ],
        "partners": [{"partner_id": p, "role": r} for p, r in customer.partners.items()],
        "sso": [] if customer.sso is None else [
            sso_view(customer.sso.issuer, customer.sso.audience, list(customer.sso.allowed_domains))
        ],
    }
    return [access_view(str(customer.id), customer.name, parts)]


def view_of(
    name: str, customer: Customer, at: datetime, countries: CountryTable, targets: SupportTargets | None = None
) -> list[dict[str, Any]]:
    if name == "contracts":
        return contracts(customer, at)
    if name == "rooms":
        return rooms(customer, at, countries)
    if name == "spares":
        return spares(customer, at)
    if name == "access":
        return access(customer, at)
    if name == "tickets":
        return tickets(customer, at, targets or SupportTargets.default())
    raise ValueError(name)


def views_of_customers(
    name: str, customers: list[Customer], at: datetime, countries: CountryTable,
    targets: SupportTargets | None = None,
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for customer in sorted(customers, key=lambda c: str(c.id)):
        rows.extend(view_of(name, customer, at, countries, targets))
    return rows


__all__ = ["UUID", "view_of", "views_of_customers"]
