"""Helpers shared by the unit tests: refusal checks, event look-ups and small set-up steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import pytest

from aggregates.customer import Contract, Customer
from aggregates.errors import LedgerError
from ledger.app import LedgerApplication
from tests.kit.commands import DE_SITE, command, order, run

ACME = "Acme Corp"
GLOBEX = "Globex Ltd"
JANE = "jane.doe@acme.example"
MAY = "2026-05-04T09:00:00Z"


def ts(text: str) -> datetime:
    """An ISO 8601 instant (``Z`` allowed) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def position(app: LedgerApplication) -> int:
    """The ledger's latest notification id (0 when nothing was ever recorded)."""
    return app.recorder.max_notification_id() or 0


def refused(
    app: LedgerApplication,
    raw: dict[str, Any],
    *,
    rule: str,
    field: str,
    code: str | None = None,
) -> LedgerError:
    """Run ``raw``; assert it is refused with ``rule``/``field`` (and ``code``) and records nothing."""
    before = position(app)
    with pytest.raises(LedgerError) as info:
        run(app, raw)
    error = info.value
    assert (error.rule, error.field) == (rule, field), error.as_dict()
    if code is not None:
        assert error.code == code, error.as_dict()
    assert error.message, "a refusal says why"
    assert error.as_dict()["rule"] == rule
    assert position(app) == before, "a refused command must record nothing"
    return error


def types(result: dict[str, Any]) -> list[str]:
    """The event types a command's result reports as recorded."""
    return [e["type"] for e in result["events"]]


def history(app: LedgerApplication, customer_id: str) -> list[dict[str, Any]]:
    return app.history(UUID(customer_id))


def events(app: LedgerApplication, customer_id: str, kind: str) -> list[dict[str, Any]]:
    """The ``data`` of every event of one type on a customer, in order."""
    return [row["data"] for row in history(app, customer_id) if row["type"] == kind]


def customer(app: LedgerApplication, customer_id: str) -> Customer:
    return app.customer(UUID(customer_id))


def contract(app: LedgerApplication, customer_id: str, po: str) -> Contract:
    return customer(app, customer_id).contracts[po]


def place(app: LedgerApplication, **fields: Any) -> dict[str, Any]:
    return run(app, order(**fields))


def add_room(
    app: LedgerApplication,
    customer_id: str,
    account_id: str,
    name: str,
    *,
    at: str,
    country: str = "US",
    site: str = "HQ",
    actor: str = "ops",
) -> str:
    result = run(
        app,
        command(
            "AddRoom",
            at,
            actor,
            customer_id=customer_id,
            account_id=account_id,
            name=name,
            site=site,
            country=country,
        ),
    )
    return str(result["room_id"])


def assign(
    app: LedgerApplication, customer_id: str, room_id: str, po: str, *, at: str, actor: str = "ops"
) -> dict[str, Any]:
    return run(app, command("AssignLicense", at, actor, customer_id=customer_id, room_id=room_id, po_number=po))


def register_device(
    app: LedgerApplication,
    customer_id: str,
    room_id: str,
    serial: str,
    *,
    at: str,
    product: str = "Rally Bar",
    purchased_on: str = "2026-01-15",
    actor: str = "ops",
) -> dict[str, Any]:
    return run(
        app,
        command(
            "RegisterDevice",
            at,
            actor,
            customer_id=customer_id,
            room_id=room_id,
            serial_number=serial,
            product=product,
            purchased_on=purchased_on,
        ),
    )


def accept(app: LedgerApplication, token: str, email: str, *, at: str) -> dict[str, Any]:
    return run(app, command("AcceptInvitation", at, email, token=token))


def acme_with_admin(app: LedgerApplication, *, po: str = "PO-ACME-1", at: str = MAY, **fields: Any) -> dict[str, Any]:
    """Acme places its first order and Jane (the end-customer e-mail) accepts the invitation at ``at``."""
    result = place(app, po=po, at=at, **fields)
    accept(app, result["invitation"]["token"], JANE, at=at)
    return result


def de_site(**overrides: Any) -> dict[str, Any]:
    return {**DE_SITE, **overrides}
