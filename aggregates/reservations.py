"""Ledger-wide uniqueness (R5, R11): one small aggregate per business key, saved atomically with
the customer's events, so two writers can never both claim the same PO or serial number."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates.ids import purchase_order_id_for, serial_number_id_for


class PurchaseOrder(Aggregate):
    class Event(Aggregate.Event):
        at: datetime
        actor: str

    class Reserved(Event, Aggregate.Created):
        po_number: str
        customer_id: UUID
        fingerprint: str

    @staticmethod
    def create_id(po_number: str) -> UUID:
        return purchase_order_id_for(po_number)

    @event(Reserved)
    def __init__(self, po_number: str, customer_id: UUID, fingerprint: str, at: datetime, actor: str) -> None:
        self.po_number = po_number
        self.customer_id = customer_id
        self.fingerprint = fingerprint


class SerialNumber(Aggregate):
    class Event(Aggregate.Event):
        at: datetime
        actor: str

    class Reserved(Event, Aggregate.Created):
        serial_number: str
        customer_id: UUID

    @staticmethod
    def create_id(serial_number: str) -> UUID:
        return serial_number_id_for(serial_number)

    @event(Reserved)
    def __init__(self, serial_number: str, customer_id: UUID, at: datetime, actor: str) -> None:
        self.serial_number = serial_number
        self.customer_id = customer_id
