"""Plain query functions: the contracts, rooms, spares and access views of SPEC section 3.

Each returns a list of JSON-ready dicts with the keys of SPEC section 4. Time-dependent values
(a contract's start, end and status; coverage and warranty ends) are computed for ``at``. Given a
``changes`` list, the contracts, rooms and access queries add to it the moments at which those values
may change (from the rule functions' ``*_changes``): the view read at ``at`` is the view at any moment
from ``at`` up to the first of them (the spares view does not depend on the time).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, select

from aggregates.catalog import CountryTable
from aggregates.customer.rules import (
    WARRANTY_SERVICES,
    entitled_spares,
    invitation_changes,
    invitation_status,
    term_as_of,
    term_changes,
    warranty_end,
)
from aggregates.timeutil import is_beyond
from projections.tables import read_rows, table_set


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _term_facts(r: Any) -> tuple[datetime, int, datetime | None, int | None]:
    """A contract term row's facts as the rule functions take them: placed at, grace days, started at, years."""
    return datetime.fromisoformat(r["placed_at"]), r["grace_days"], _dt(r["started_at"]), r["years"] or None


def _iso(value: datetime | date | None) -> str | None:
    """ISO 8601, or None for a date past the calendar (reported by ``unrepresentable``)."""
    return value.isoformat() if value is not None and not is_beyond(value) else None


def unrepresentable(row: dict[str, Any], **values: datetime | date | None) -> dict[str, Any]:
    """Name in ``row["unrepresentable"]`` each derived date that lies past the calendar (R20).

    Such a date comes only from an event recorded before R20 bounded ``at``; the row says so
    instead of the whole view failing.
    """
    beyond = [name for name, value in values.items() if is_beyond(value)]
    if beyond:
        row["unrepresentable"] = beyond
    return row


def contract_view(
    customer_id: str, *, account_id: str, po_number: str, service: str, years: int | None, quantity: int,
    placed_at: datetime, grace_days: int, started_at: datetime | None, cancelled_at: datetime | None,
    expired_at: datetime | None, assigned: int, at: datetime,
) -> dict[str, Any]:
    """One contract as the contracts view shows it at ``at`` (its term from ``rules.term_as_of``)."""
    start, end, status = term_as_of(placed_at, grace_days, started_at, years, service, at, cancelled_at, expired_at)
    row = {
        "customer_id": customer_id,
        "account_id": account_id,
        "po_number": po_number,
        "service": service,
        "years": years,
        "quantity": quantity,
        "start": _iso(start),
        "end": _iso(end),
        "status": status,
        "assigned": assigned,
        "free": quantity - assigned,
        "placed_at": placed_at.isoformat(),
    }
    return unrepresentable(row, start=start, end=end)


def terms_of(countries: CountryTable, code: str) -> dict[str, Any]:
    terms = countries.get(code)
    if terms is None:
        return {"country": code, "available": False, "rma": None, "support_languages": []}
    return terms.as_dict()


def spares_view(
    customer_id: str, active: int, spares: list[dict[str, Any]], swaps: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    swaps = swaps or []
    by_no = {s["spare_no"]: s for s in spares}
    return {
        "customer_id": customer_id,
        "active_select_licenses": active,
        "entitled": entitled_spares(active),
        "accrued": len(spares),
        "revoked": sum(1 for s in spares if s["revoked_at"] is not None),
        "allocations": [
            {"spare_no": s["spare_no"], "product": s["product"], "ship_to": s["ship_to"],
             "allocated_at": s["allocated_at"]}
            for s in spares
            if s["product"] is not None and s["revoked_at"] is None
        ],
        "history": spares,
        "used": swaps,
        "owed": [
            {"spare_no": s["spare_no"], "product": by_no[s["spare_no"]]["product"],
             "ship_to": by_no[s["spare_no"]]["ship_to"], "since": s["used_at"]}
            for s in swaps
            if s["replenished_at"] is None
        ],
    }


def contracts(
    engine: Engine, at: datetime, customer_id: str | None = None, suffix: str = "",
    changes: list[datetime] | None = None,
) -> list[dict[str, Any]]:
    t = table_set("contracts", suffix)["contracts"]
    with engine.connect() as conn:
        rows = read_rows(conn, t, customer_id)
    if changes is not None:
        for r in rows:
            changes.extend(term_changes(*_term_facts(r), r["service"], _dt(r["cancelled_at"]), _dt(r["expired_at"])))
    views = [
        contract_view(
            r["customer_id"], account_id=r["account_id"], po_number=r["po_number"], service=r["service"],
            years=r["years"] or None, quantity=r["quantity"], placed_at=datetime.fromisoformat(r["placed_at"]),
            grace_days=r["grace_days"], started_at=_dt(r["started_at"]), cancelled_at=_dt(r["cancelled_at"]),
            expired_at=_dt(r["expired_at"]), assigned=r["assigned"], at=at,
        )
        for r in rows
    ]
    return sorted(views, key=lambda v: (v["customer_id"], v["po_number"]))


def rooms(
    engine: Engine, at: datetime, countries: CountryTable, customer_id: str | None = None, suffix: str = "",
    *, after: str | None = None, limit: int | None = None, changes: list[datetime] | None = None,
) -> list[dict[str, Any]]:
    """The rooms view; with ``after``/``limit`` (one customer only) just the rooms whose id sorts after
    ``after``, at most ``limit`` of them, read as such from the tables (a page, not a slice of all)."""
    ts = table_set("rooms", suffix)
    paged = after is not None or limit is not None
    if paged and customer_id is None:
        raise ValueError("rooms: a page is of one customer's rooms")
    with engine.connect() as conn:
        room_rows = read_rows(conn, ts["rooms"], customer_id, after=after, limit=limit)
        if paged and not room_rows:
            return []
        ids = [r["room_id"] for r in room_rows] if paged else None
        license_rows = read_rows(conn, ts["room_licenses"], customer_id, room_ids=ids)
        term_rows = read_rows(conn, ts["room_contract_terms"], customer_id)
        device_rows = read_rows(conn, ts["devices"], customer_id, room_ids=ids)
    ends: dict[tuple[str, str], datetime | None] = {
        (r["customer_id"], r["po_number"]): term_as_of(*_term_facts(r), "", at).end
        for r in term_rows
    }
    if changes is not None:
        for r in term_rows:
            changes.extend(term_changes(*_term_facts(r), ""))
    licenses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    coverage: dict[str, list[datetime | None]] = defaultdict(list)
    for r in license_rows:
        room_id, service, po_number = r["room_id"], r["service"], r["po_number"]
        end = ends.get((r["customer_id"], po_number))
        licenses[room_id].append(
            unrepresentable({"service": service, "po_number": po_number, "coverage_end": _iso(end)},
                            coverage_end=end)
        )
        if service in WARRANTY_SERVICES:
            coverage[room_id].append(end)
    devices: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in device_rows:
        room_id, purchased_on = r["room_id"], r["purchased_on"]
        warranty = warranty_end(date.fromisoformat(purchased_on), coverage[room_id])
        devices[room_id].append(unrepresentable({
            "serial_number": r["serial_number"],
            "product": r["product"],
            "purchased_on": purchased_on,
            "warranty_end": _iso(warranty),
        }, warranty_end=warranty))
    views = [
        room_view(r["room_id"], r["customer_id"], r["account_id"], r["name"], r["site"], r["country"], countries,
                  licenses[r["room_id"]], devices[r["room_id"]])
        for r in room_rows
    ]
    return sorted(views, key=lambda v: (v["customer_id"], v["room_id"]))


def room_view(
    room_id: str, customer_id: str, account_id: str, name: str, site: str, country: str,
    countries: CountryTable, licenses: list[dict[str, Any]], devices: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "room_id": room_id,
        "customer_id": customer_id,
        "account_id": account_id,
        "name": name,
        "site": site,
        "country": country,
        "terms": terms_of(countries, country),
        "licenses": sorted(licenses, key=lambda x: x["service"]) if len(licenses) > 1 else licenses,
        "devices": sorted(devices, key=lambda x: x["serial_number"]) if len(devices) > 1 else devices,
    }


def spares(engine: Engine, at: datetime, customer_id: str | None = None, suffix: str = "") -> list[dict[str, Any]]:
    ts = table_set("spares", suffix)
    with engine.connect() as conn:
        orders = read_rows(conn, ts["spare_orders"], customer_id)
        spare_rows = read_rows(conn, ts["spares"], customer_id)
        swap_rows = read_rows(conn, ts["spare_swaps"], customer_id)
    active: dict[str, int] = defaultdict(int)
    for r in orders:
        active[r["customer_id"]] += r["quantity"] if r["live"] else 0
    history: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in spare_rows:
        history[r["customer_id"]].append({
            "spare_no": r["spare_no"], "accrued_at": r["accrued_at"], "revoked_at": r["revoked_at"],
            "product": r["product"], "ship_to": r["ship_to"], "allocated_at": r["allocated_at"],
        })
    swaps: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in sorted(swap_rows, key=lambda r: (r["customer_id"], r["used_at"], r["spare_no"])):
        swaps[r["customer_id"]].append(swap_row(r["spare_no"], r["ticket_id"], r["serial_number"],
                                                r["new_serial_number"], r["used_at"], r["replenished_at"]))
    customers = sorted({r["customer_id"] for r in orders} | set(history))
    return [spares_view(c, active[c], history[c], swaps[c]) for c in customers]


def swap_row(
    spare_no: int, ticket_id: str, serial_number: str, new_serial_number: str, used_at: str,
    replenished_at: str | None,
) -> dict[str, Any]:
    return {"spare_no": spare_no, "ticket_id": ticket_id, "serial_number": serial_number,
            "new_serial_number": new_serial_number, "used_at": used_at, "replenished_at": replenished_at}


def access(
    engine: Engine, at: datetime, customer_id: str | None = None, suffix: str = "",
    changes: list[datetime] | None = None,
) -> list[dict[str, Any]]:
    ts = table_set("access", suffix)
    with engine.connect() as conn:
        customers = read_rows(conn, ts["access_customers"], customer_id)
        users = read_rows(conn, ts["users"], customer_id)
        invitations = read_rows(conn, ts["invitations"], customer_id)
        partners = read_rows(conn, ts["delegations"], customer_id)
        sso = read_rows(conn, ts["sso"], customer_id)
    by: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for r in users:
        by[r["customer_id"]]["users"].append({"email": r["email"], "role": r["role"]})
    for r in invitations:
        expires_at = datetime.fromisoformat(r["expires_at"])
        if changes is not None:
            changes.extend(invitation_changes(r["state"], expires_at))
        by[r["customer_id"]]["invitations"].append({
            "invitation_id": r["invitation_id"], "email": r["email"], "role": r["role"],
            "status": invitation_status(r["state"], expires_at, at),
            "sent_at": r["sent_at"], "expires_at": _iso(expires_at),
        })
    for r in partners:
        by[r["customer_id"]]["partners"].append({"partner_id": r["partner_id"], "role": r["role"]})
    for r in sso:
        by[r["customer_id"]]["sso"].append(sso_view(r["issuer"], r["audience"], json.loads(r["allowed_domains"])))
    return [access_view(r["customer_id"], r["name"], by[r["customer_id"]]) for r in customers]


def access_view(customer_id: str, name: str, parts: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "name": name,
        "users": sorted(parts.get("users", []), key=lambda x: x["email"]),
        "invitations": sorted(
            parts.get("invitations", []), key=lambda x: (x["sent_at"], x["email"], x["invitation_id"])
        ),
        "partners": sorted(parts.get("partners", []), key=lambda x: x["partner_id"]),
        "sso": next(iter(parts.get("sso", [])), None),
    }


def sso_view(issuer: str, audience: str, allowed_domains: list[str]) -> dict[str, Any]:
    """A customer's single sign-on settings in the access view (R22); never a client secret."""
    return {"issuer": issuer, "audience": audience, "allowed_domains": sorted(allowed_domains)}


def sso_for_issuer(engine: Engine, issuer: str, suffix: str = "") -> list[dict[str, Any]]:
    """Every customer whose single sign-on names exactly ``issuer`` (R22), for token verification."""
    table = table_set("access", suffix)["sso"]
    with engine.connect() as conn:
        rows = conn.execute(select(table).where(table.c.issuer == issuer)).all()
    return [{"customer_id": r.customer_id, **sso_view(r.issuer, r.audience, json.loads(r.allowed_domains))}
            for r in rows]


def sso_for_domain(engine: Engine, domain: str, suffix: str = "") -> list[dict[str, Any]]:
    """Every customer whose single sign-on allows e-mails of ``domain`` (R22): the portal's sign-in choice."""
    table = table_set("access", suffix)["sso"]
    with engine.connect() as conn:
        rows = conn.execute(select(table)).all()
    return [{"customer_id": r.customer_id, **sso_view(r.issuer, r.audience, json.loads(r.allowed_domains))}
            for r in rows if domain in json.loads(r.allowed_domains)]


VIEWS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "contracts": contracts,
    "rooms": rooms,
    "spares": spares,
    "access": access,
}
