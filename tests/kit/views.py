"""What a user of the ledger sees of one customer, keyed for rule tests: the views of ``Rules.view``
(read models, checked equal to the as-of fold) by purchase order, room id, serial number or email.
``at`` is at or after the customer's last event; a view of an earlier time is the as-of view
(``as_of``: folded from the events up to ``at``, as ``ledger history``/the as-of views show it)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from ledger.readside import customer_view_as_of
from tests.kit.helpers import ts
from tests.kit.rules import Rules


def contracts(rules: Rules, customer_id: str, at: str) -> dict[str, dict[str, Any]]:
    """The contracts view at ``at``, by purchase order number."""
    return {row["po_number"]: row for row in rules.view("contracts", customer_id, ts(at))}


def rooms(rules: Rules, customer_id: str, at: str) -> dict[str, dict[str, Any]]:
    """The rooms view at ``at``, by room id."""
    return {row["room_id"]: row for row in rules.view("rooms", customer_id, ts(at))}


def licenses(rules: Rules, customer_id: str, room_id: str, at: str) -> dict[str, str]:
    """A room's licenses at ``at`` from the rooms view: service → purchase order number."""
    return {lic["service"]: lic["po_number"] for lic in rooms(rules, customer_id, at)[room_id]["licenses"]}


def devices(rules: Rules, customer_id: str, at: str) -> dict[str, dict[str, Any]]:
    """Every device of the rooms view at ``at`` by serial number, with the id of its room."""
    return {
        device["serial_number"]: {**device, "room_id": room["room_id"]}
        for room in rules.view("rooms", customer_id, ts(at))
        for device in room["devices"]
    }


def spares(rules: Rules, customer_id: str, at: str) -> dict[str, Any]:
    """The spares view at ``at`` (one row)."""
    (row,) = rules.view("spares", customer_id, ts(at))
    return row


def access(rules: Rules, customer_id: str, at: str) -> dict[str, Any]:
    """The access view at ``at`` (one row)."""
    (row,) = rules.view("access", customer_id, ts(at))
    return row


def users(rules: Rules, customer_id: str, at: str) -> dict[str, str]:
    """The customer's users at ``at`` from the access view: email → role."""
    return {user["email"]: user["role"] for user in access(rules, customer_id, at)["users"]}


def as_of(rules: Rules, name: str, customer_id: str, at: str) -> list[dict[str, Any]]:
    """One customer's view ``name`` as it was at ``at`` (earlier than its last event), folded from
    the events effective up to ``at``."""
    return customer_view_as_of(rules.app, name, UUID(customer_id), ts(at))
