"""Builders of command dicts and a runner, shared by the tests."""

from __future__ import annotations

import itertools
from typing import Any

from commands.parsing import parse_command
from ledger.app import LedgerApplication

_po = itertools.count(1)

FAR_FUTURE = {"LEDGER_MAX_FUTURE_DAYS": "3650"}
"""Settings for tests whose commands are dated years ahead of the clock (R20 bounds ``at`` at
731 days after the moment of recording by default)."""

US_HQ = {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
DE_SITE = {"line1": "Hauptstrasse 5", "city": "Berlin", "postal_code": "10115", "country": "DE"}
RESELLER = {
    "name": "AV Reseller",
    "email": "orders@reseller.example",
    "address": {"line1": "2 Side St", "city": "Springfield", "postal_code": "12345", "country": "US"},
}
DISTRIBUTOR = {
    "name": "Big Distribution",
    "email": "po@distributor.example",
    "address": {"line1": "3 Dock Rd", "city": "Newark", "postal_code": "07101", "country": "US"},
}


def order(
    *,
    po: str | None = None,
    at: str = "2026-05-04T09:00:00Z",
    company: str = "Acme Corp",
    parent: str | None = None,
    email: str = "jane.doe@acme.example",
    address: dict[str, Any] | None = None,
    service: str = "select",
    years: int = 3,
    quantity: int = 10,
    customer_id: str | None = None,
    actor: str = "ops",
) -> dict[str, Any]:
    end_customer: dict[str, Any] = {"company": company, "email": email, "address": address or US_HQ}
    if parent is not None:
        end_customer["parent_company"] = parent
    cmd: dict[str, Any] = {
        "command": "PlaceOrder",
        "at": at,
        "actor": actor,
        "po_number": po or f"PO-{next(_po):05d}",
        "service": service,
        "years": years,
        "quantity": quantity,
        "end_customer": end_customer,
        "reseller": RESELLER,
        "distributor": DISTRIBUTOR,
    }
    if customer_id is not None:
        cmd["customer_id"] = customer_id
    return cmd


def command(kind: str, at: str | None, actor: str = "ops", /, **fields: Any) -> dict[str, Any]:
    """The one builder of command dicts: ``kind``, ``at`` and ``actor`` are positional, so any field
    may be given by name (``name=``, ``actor=`` too)."""
    return {"command": kind, "at": at, "actor": actor, **fields}


def run(app: LedgerApplication, raw: dict[str, Any]) -> dict[str, Any]:
    """Parse and execute one command dict; return the result (raises LedgerError on refusal)."""
    return app.execute(parse_command(raw))
