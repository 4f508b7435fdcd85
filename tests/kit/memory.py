"""The command handlers' unit of work on plain in-memory aggregates: the live state of property tests."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.customer import Customer
from aggregates.ids import partner_id_for, purchase_order_id_for, serial_number_id_for
from aggregates.partner import Partner
from aggregates.reservations import PurchaseOrder, SerialNumber


class MemoryUnitOfWork:
    """The handlers' unit of work on plain in-memory aggregates: the live state."""

    def __init__(self, aggregates: dict[UUID, Aggregate]) -> None:
        self.aggregates = aggregates
        self.staged: dict[UUID, Aggregate] = {}

    def _get(self, aggregate_id: UUID, kind: type[Aggregate]) -> Any:
        if aggregate_id in self.staged:
            return self.staged[aggregate_id]
        found = self.aggregates.get(aggregate_id)
        return copy.deepcopy(found) if isinstance(found, kind) else None

    def customer(self, customer_id: UUID) -> Customer | None:
        return self._get(customer_id, Customer)  # type: ignore[no-any-return]

    def partner(self, partner_id: str) -> Partner | None:
        return self._get(partner_id_for(partner_id), Partner)  # type: ignore[no-any-return]

    def purchase_order(self, po_number: str) -> PurchaseOrder | None:
        return self._get(purchase_order_id_for(po_number), PurchaseOrder)  # type: ignore[no-any-return]

    def serial_number(self, serial_number: str) -> SerialNumber | None:
        return self._get(serial_number_id_for(serial_number), SerialNumber)  # type: ignore[no-any-return]

    def expiry_candidates(self, at: datetime) -> Iterator[UUID]:
        return iter([k for k, v in self.aggregates.items() if isinstance(v, Customer)])

    def stage(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.staged[aggregate.id] = aggregate


def state(aggregate: Aggregate) -> dict[str, Any]:
    """What an aggregate knows, without the wall-clock timestamps of its events."""
    return {
        k: v
        for k, v in vars(aggregate).items()
        if k not in ("_created_on", "_modified_on", "_pending_events")
    }
