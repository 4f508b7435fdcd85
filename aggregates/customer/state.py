"""The customer's state records: what its event bodies build, what snapshots pack.

Plain dataclasses; their time-dependent answers come from the pure rule functions in
``aggregates.customer.rules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from aggregates.customer.rules import Term, grace_end, invitation_status, term_as_of, term_start


@dataclass
class Account:
    account_id: UUID
    company: str
    email: str
    address: dict[str, Any]
    opened_at: datetime


@dataclass
class Contract:
    po_number: str
    account_id: UUID
    service: str
    years: int | None
    quantity: int
    placed_at: datetime
    grace_days: int
    end_customer: dict[str, Any]
    reseller: dict[str, Any]
    distributor: dict[str, Any]
    warnings: list[str]
    started_at: datetime | None = None
    cancelled_at: datetime | None = None
    expired_at: datetime | None = None
    rooms: dict[UUID, datetime] = field(default_factory=dict)
    invitation_id: UUID | None = None

    @property
    def grace_end(self) -> datetime:
        return grace_end(self.placed_at, self.grace_days)

    def start_as_of(self, moment: datetime) -> datetime | None:
        return term_start(self.placed_at, self.grace_days, self.started_at, moment)

    def term(self, moment: datetime) -> Term:
        return term_as_of(self.placed_at, self.grace_days, self.started_at, self.years, self.service, moment,
                          self.cancelled_at, self.expired_at)

    def end_as_of(self, moment: datetime) -> datetime | None:
        return self.term(moment).end

    def status(self, moment: datetime) -> str:
        return self.term(moment).status

    @property
    def is_live(self) -> bool:
        return self.cancelled_at is None and self.expired_at is None

    @property
    def assigned(self) -> int:
        return len(self.rooms)


@dataclass
class Room:
    room_id: UUID
    account_id: UUID
    name: str
    site: str
    country: str
    added_at: datetime
    licenses: dict[str, str] = field(default_factory=dict)
    devices: list[str] = field(default_factory=list)


@dataclass
class Device:
    serial_number: str
    product: str
    purchased_on: date
    room_id: UUID
    registered_at: datetime


@dataclass
class Spare:
    spare_no: int
    accrued_at: datetime
    revoked_at: datetime | None = None
    product: str | None = None
    ship_to: str | None = None
    allocated_at: datetime | None = None


@dataclass
class Invitation:
    invitation_id: UUID
    email: str
    role: str
    sent_at: datetime
    expires_at: datetime
    state: str = "pending"
    po_number: str | None = None

    def status(self, moment: datetime) -> str:
        return invitation_status(self.state, self.expires_at, moment)


@dataclass
class Rma:
    """One failed unit of a ticket: an RMA shipment (requested → received) or an onsite-spare swap."""

    serial_number: str
    requested_at: datetime
    status: str
    due: date | None = None
    new_serial_number: str | None = None
    spare_no: int | None = None
    done_at: datetime | None = None


@dataclass
class Ticket:
    """A support ticket (R24, R25) with the room as the customer saw it when it was opened."""

    ticket_id: UUID
    room_id: UUID
    severity: str
    summary: str
    source: str
    support: str
    opened_at: datetime
    opened_by: str
    room: dict[str, Any]
    serial_numbers: list[str]
    external_room_id: str | None = None
    status: str = "open"
    first_response_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    comments: int = 0
    rmas: list[Rma] = field(default_factory=list)

    def rma(self, serial_number: str) -> Rma | None:
        for rma in self.rmas:
            if rma.serial_number == serial_number:
                return rma
        return None


@dataclass
class SpareSwap:
    """An onsite spare used in a hot swap (R26); owed to its ship-to site until replenished."""

    spare_no: int
    ticket_id: UUID
    serial_number: str
    new_serial_number: str
    used_at: datetime
    replenished_at: datetime | None = None
