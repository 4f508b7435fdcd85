"""The data of every customer event on the stream, one pydantic model per event type and version.

These models are the stream's contract. They are written out by hand on purpose: a change to an
aggregate's event does not silently change what downstream systems receive. A test compares each
current model with the aggregate's event class; when they differ, add a new version here (keep the
old model), an upcaster in ``ledger/stream/upcasting.py``, and publish the schemas again
(``ledger event-schemas --write``).

The current version of a type is the class named after the event (``OrderPlaced``); earlier
versions keep their version in the name (``SpareAccruedV1``).
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict

Service = Literal["select", "syncplus", "extended_warranty"]
Role = Literal["admin", "viewer"]


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(Part):
    line1: str
    line2: str | None = None
    city: str
    region: str | None = None
    postal_code: str
    country: str


class EndCustomer(Part):
    company: str
    parent_company: str | None = None
    email: str
    address: Address


class Party(Part):
    """A reseller or a distributor."""

    name: str
    email: str
    address: Address


class EventData(BaseModel):
    """Base of every event's data. ``event`` is the type's name, ``version`` its schema version."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    event: ClassVar[str]
    version: ClassVar[int] = 1


class Registered(EventData):
    """A customer (parent entity) was created (R1); ``key`` is its normalised name."""

    event = "Registered"
    key: str
    name: str


class AccountOpened(EventData):
    """An account for a new normalised address (R2)."""

    event = "AccountOpened"
    account_id: UUID
    company: str
    email: str
    address: Address


class OrderPlacedV1(EventData):
    """v1: an order and its contract (R4–R6): PO, service, term, quantity and the three parties."""

    event = "OrderPlaced"
    version = 1
    po_number: str
    account_id: UUID
    service: Service
    years: int
    quantity: int
    end_customer: EndCustomer
    reseller: Party
    distributor: Party
    grace_days: int
    warnings: list[str]


class OrderPlaced(EventData):
    """v2: ``service`` may also be ``jumpstart`` (R27), whose ``years`` is null (90 days from the order).
    v1 messages read as v2 unchanged."""

    event = "OrderPlaced"
    version = 2
    po_number: str
    account_id: UUID
    service: Service | Literal["jumpstart"]
    years: int | None
    quantity: int
    end_customer: EndCustomer
    reseller: Party
    distributor: Party
    grace_days: int
    warnings: list[str]


class OrderCancelled(EventData):
    """An order cancelled within its 30-day window (R7)."""

    event = "OrderCancelled"
    po_number: str


class ContractStarted(EventData):
    """A contract's term started: first assignment or end of the grace period (R6)."""

    event = "ContractStarted"
    po_number: str
    start: AwareDatetime
    reason: str


class ContractExpired(EventData):
    """A contract's term ended, recorded by the daily expiry (R8)."""

    event = "ContractExpired"
    po_number: str
    end: AwareDatetime


class RoomAdded(EventData):
    event = "RoomAdded"
    room_id: UUID
    account_id: UUID
    name: str
    site: str
    country: str


class LicenseAssigned(EventData):
    event = "LicenseAssigned"
    room_id: UUID
    po_number: str
    service: Service


class LicenseMoved(EventData):
    event = "LicenseMoved"
    service: Service
    po_number: str
    from_room_id: UUID
    to_room_id: UUID


class LicenseReleased(EventData):
    """A license left its room because its contract was cancelled or expired (R7, R8)."""

    event = "LicenseReleased"
    room_id: UUID
    po_number: str
    service: Service
    reason: str


class DeviceRegistered(EventData):
    event = "DeviceRegistered"
    serial_number: str
    product: str
    purchased_on: date
    room_id: UUID


class DeviceMoved(EventData):
    event = "DeviceMoved"
    serial_number: str
    from_room_id: UUID
    to_room_id: UUID


class SpareAccruedV1(EventData):
    """v1: the spare's number and the active select licenses after the change (R13)."""

    event = "SpareAccrued"
    version = 1
    spare_no: int
    active_select_licenses: int


class SpareAccrued(EventData):
    """v2 adds ``entitled``: the customer's entitled spares after the change, so that consumers
    need not know R13's divisor. v1 messages are upcast on read."""

    event = "SpareAccrued"
    version = 2
    spare_no: int
    active_select_licenses: int
    entitled: int


class SpareRevokedV1(EventData):
    """v1: the revoked spare's number and the active select licenses after the change (R13)."""

    event = "SpareRevoked"
    version = 1
    spare_no: int
    active_select_licenses: int


class SpareRevoked(EventData):
    """v2 adds ``entitled`` (see SpareAccrued)."""

    event = "SpareRevoked"
    version = 2
    spare_no: int
    active_select_licenses: int
    entitled: int


class SpareAllocated(EventData):
    """An accrued spare allocated to a deployed product and a ship-to site (R14)."""

    event = "SpareAllocated"
    spare_no: int
    product: str
    ship_to: str


class InvitationSent(EventData):
    """An invitation to the portal (R15); ``po_number`` is set for the one sent on a first order.
    The token is never here: holders of the ledger's key derive it (see notifications)."""

    event = "InvitationSent"
    invitation_id: UUID
    email: str
    role: Role
    expires_at: AwareDatetime
    po_number: str | None


class UserInvited(EventData):
    """An admin invited a co-worker with a role (R16)."""

    event = "UserInvited"
    invitation_id: UUID
    email: str
    role: Role
    expires_at: AwareDatetime


class InvitationSuperseded(EventData):
    event = "InvitationSuperseded"
    invitation_id: UUID


class InvitationAccepted(EventData):
    event = "InvitationAccepted"
    invitation_id: UUID
    email: str
    role: Role


class RoleChanged(EventData):
    event = "RoleChanged"
    email: str
    role: Role


class UserRemoved(EventData):
    event = "UserRemoved"
    email: str


class PartnerDelegated(EventData):
    """A customer delegated access to a service partner (R17)."""

    event = "PartnerDelegated"
    partner_id: str
    role: Role


class PartnerRevoked(EventData):
    event = "PartnerRevoked"
    partner_id: str


class SsoConfigured(EventData):
    """A customer trusts its own OpenID Connect issuer for users of the allowed domains (R22).

    Client secrets are settings of the portal, never part of an event.
    """

    event = "SsoConfigured"
    issuer: str
    audience: str
    allowed_domains: list[str]


class SsoRemoved(EventData):
    event = "SsoRemoved"
    issuer: str


class RoomLinked(EventData):
    """A room linked to its id in a device-management platform by an import (R28)."""

    event = "RoomLinked"
    room_id: UUID
    external_id: str


class RoomUpdated(EventData):
    """A room's name, site or country changed by an import (R28)."""

    event = "RoomUpdated"
    room_id: UUID
    name: str
    site: str
    country: str


class TicketOpened(EventData):
    """A support ticket (R24) with the room and its devices as the customer saw them.

    ``support`` is the entitlement it was opened on: ``select``, ``jumpstart`` or ``rma_only``.
    """

    event = "TicketOpened"
    ticket_id: UUID
    room_id: UUID
    external_room_id: str | None
    severity: Literal["critical", "high", "normal", "low"]
    summary: str
    source: Literal["portal", "sync", "api"]
    support: Literal["select", "jumpstart", "rma_only"]
    serial_numbers: list[str]
    room: dict[str, Any]


class TicketStatusChanged(EventData):
    """Support staff moved a ticket (R25); ``opened_by`` is who to tell."""

    event = "TicketStatusChanged"
    ticket_id: UUID
    status: str
    previous: str
    first_response: bool
    opened_by: str


class TicketCommented(EventData):
    event = "TicketCommented"
    ticket_id: UUID
    text: str
    by_support: bool
    first_response: bool


class TicketReopened(EventData):
    """A resolved ticket reopened within 14 days (R25); it is in progress again."""

    event = "TicketReopened"
    ticket_id: UUID
    opened_by: str


class RmaRequested(EventData):
    """A replacement for a failed unit under warranty, due by the room country's RMA terms (R26)."""

    event = "RmaRequested"
    ticket_id: UUID
    serial_number: str
    rma_terms: str | None
    due: date


class ReplacementReceived(EventData):
    """The replacement took the failed unit's place (same product, purchase date, so warranty end)."""

    event = "ReplacementReceived"
    ticket_id: UUID
    serial_number: str
    new_serial_number: str
    room_id: UUID
    product: str
    purchased_on: date


class SpareUsed(EventData):
    """Instant RMA: an onsite spare's unit replaced the failed one in its room (R26)."""

    event = "SpareUsed"
    spare_no: int
    ticket_id: UUID
    serial_number: str
    new_serial_number: str
    room_id: UUID
    product: str
    purchased_on: date


class SpareOwed(EventData):
    """A replacement spare is owed to the used spare's ship-to site (R26)."""

    event = "SpareOwed"
    spare_no: int
    product: str
    ship_to: str


class SpareReplenished(EventData):
    event = "SpareReplenished"
    spare_no: int


ALL_MODELS: tuple[type[EventData], ...] = (
    Registered,
    AccountOpened,
    OrderPlacedV1,
    OrderPlaced,
    OrderCancelled,
    ContractStarted,
    ContractExpired,
    RoomAdded,
    LicenseAssigned,
    LicenseMoved,
    LicenseReleased,
    DeviceRegistered,
    DeviceMoved,
    SpareAccruedV1,
    SpareAccrued,
    SpareRevokedV1,
    SpareRevoked,
    SpareAllocated,
    InvitationSent,
    UserInvited,
    InvitationSuperseded,
    InvitationAccepted,
    RoleChanged,
    UserRemoved,
    PartnerDelegated,
    PartnerRevoked,
    SsoConfigured,
    SsoRemoved,
    RoomLinked,
    RoomUpdated,
    TicketOpened,
    TicketStatusChanged,
    TicketCommented,
    TicketReopened,
    RmaRequested,
    ReplacementReceived,
    SpareUsed,
    SpareOwed,
    SpareReplenished,
)

MODELS: dict[tuple[str, int], type[EventData]] = {(m.event, m.version): m for m in ALL_MODELS}
CURRENT: dict[str, type[EventData]] = {}
for _model in ALL_MODELS:
    if _model.event not in CURRENT or CURRENT[_model.event].version < _model.version:
        CURRENT[_model.event] = _model
