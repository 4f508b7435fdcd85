"""Deterministic identifiers: the same business key always names the same aggregate."""

from __future__ import annotations

from uuid import UUID, uuid5

LEDGER_NAMESPACE = UUID("6f1d3c1e-52a4-4c51-9a55-3f0d7b3f5e10")


def customer_id_for(normalised_name: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"customer:{normalised_name}")


def account_id_for(customer_id: UUID, normalised_address: str) -> UUID:
    return uuid5(customer_id, f"account:{normalised_address}")


def room_id_for(account_id: UUID, normalised_name: str) -> UUID:
    return uuid5(account_id, f"room:{normalised_name}")


def invitation_id_for(customer_id: UUID, version: int) -> UUID:
    return uuid5(customer_id, f"invitation:{version}")


def purchase_order_id_for(po_number: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"po:{po_number.strip().upper()}")


def serial_number_id_for(serial_number: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"serial:{serial_number.strip().upper()}")


def partner_id_for(partner_id: str) -> UUID:
    return uuid5(LEDGER_NAMESPACE, f"partner:{partner_id.strip().lower()}")
