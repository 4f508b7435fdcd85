"""What a user of the ledger sees of one customer, keyed for rule tests: the views of ``Rules.view``
(read models, checked equal to the as-of fold) by purchase order, room id, serial number or email."""

from __future__ import annotations

from typing import Any

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
