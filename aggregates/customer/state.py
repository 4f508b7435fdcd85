"""The customer's state records: what its event bodies build, what snapshots pack.

Plain dataclasses; their time-dependent answers come from the pure rule functions in
``aggregates.customer.rules``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from aggregates.customer.rules import contract_status, grace_end, invitation_status, term_end, term_start


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
    years: int
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

    def end_as_of(self, moment: datetime) -> datetime | None:
        return term_end(self.start_as_of(moment), self.years)

    def status(self, moment: datetime) -> str:
        return contract_status(self.cancelled_at, self.expired_at, self.end_as_of(moment), moment)

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
