"""The customer aggregate: the parent entity (R1) and every fact of its entitlement.

The package: this module holds the aggregate itself (its events, nested as ``Customer.OrderPlaced``,
the public command methods that check the rules, and the private ``@event`` bodies that only change
state); ``state`` its records, ``rules`` the pure rule functions the read side shares, ``snapshot``
the snapshot codec. The aggregate stays in this module because every stored event names its class by
topic (``aggregates.customer:Customer.OrderPlaced``): moving it would change what is recorded.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates.catalog import (
    CANCELLATION_WINDOW_DAYS,
    INVITATION_VALID_DAYS,
    CountryTable,
    canonical_product,
    is_group_mailbox,
    normalise_address,
    normalise_company,
    normalise_name,
    require_country,
)
from aggregates.customer.rules import WARRANTY_SERVICES, days_since_order, entitled_spares, warranty_end
from aggregates.customer.snapshot import STATE_CLASSES, STATE_CODEC, CustomerSnapshot
from aggregates.customer.state import Account, Contract, Device, Invitation, Rma, Room, Spare, SpareSwap, Ticket
from aggregates.errors import Conflict, Forbidden, InvalidInput, NotFound, RuleViolation
from aggregates.ids import account_id_for, customer_id_for, invitation_id_for, room_id_for
from aggregates.sso import SsoConfig
from aggregates.support import (
    ACTIVE_STATUSES,
    REOPEN_WINDOW_DAYS,
    BusinessCalendar,
    check_transition,
    rma_due,
    ticket_id_for,
)
from aggregates.timeutil import add_days, days

__all__ = [
    "STATE_CLASSES",
    "STATE_CODEC",
    "WARRANTY_SERVICES",
    "Account",
    "Contract",
    "Customer",
    "CustomerSnapshot",
    "Device",
    "Invitation",
    "Room",
    "Spare",
]


class Customer(Aggregate):
    """A parent entity (R1): accounts, contracts, rooms, devices, spares and portal access."""

    Snapshot = CustomerSnapshot

    class Event(Aggregate.Event):
        at: datetime
        actor: str

    class Registered(Event, Aggregate.Created):
        key: str
        name: str

    class AccountOpened(Event):
        account_id: UUID
        company: str
        email: str
        address: dict[str, Any]

    class OrderPlaced(Event):
        po_number: str
        account_id: UUID
        service: str
        years: int | None
        quantity: int
        end_customer: dict[str, Any]
        reseller: dict[str, Any]
        distributor: dict[str, Any]
        grace_days: int
        warnings: list[str]

    class OrderCancelled(Event):
        po_number: str

    class ContractStarted(Event):
        po_number: str
        start: datetime
        reason: str

    class ContractExpired(Event):
        po_number: str
        end: datetime

    class RoomAdded(Event):
        room_id: UUID
        account_id: UUID
        name: str
        site: str
        country: str

    class LicenseAssigned(Event):
        room_id: UUID
        po_number: str
        service: str

    class LicenseMoved(Event):
        service: str
        po_number: str
        from_room_id: UUID
        to_room_id: UUID

    class LicenseReleased(Event):
        room_id: UUID
        po_number: str
        service: str
        reason: str

    class DeviceRegistered(Event):
        serial_number: str
        product: str
        purchased_on: date
        room_id: UUID

    class DeviceMoved(Event):
        serial_number: str
        from_room_id: UUID
        to_room_id: UUID

    class SpareAccrued(Event):
        spare_no: int
        active_select_licenses: int

    class SpareRevoked(Event):
        spare_no: int
        active_select_licenses: int

    class SpareAllocated(Event):
        spare_no: int
        product: str
        ship_to: str

    class InvitationSent(Event):
        invitation_id: UUID
        email: str
        role: str
        expires_at: datetime
        po_number: str | None

    class UserInvited(Event):
        invitation_id: UUID
        email: str
        role: str
        expires_at: datetime

    class InvitationSuperseded(Event):
        invitation_id: UUID

    class InvitationAccepted(Event):
        invitation_id: UUID
        email: str
        role: str

    class RoleChanged(Event):
        email: str
        role: str

    class UserRemoved(Event):
        email: str

    class PartnerDelegated(Event):
        partner_id: str
        role: str

    class PartnerRevoked(Event):
        partner_id: str

    class SsoConfigured(Event):
        issuer: str
        audience: str
        allowed_domains: list[str]

    class SsoRemoved(Event):
        issuer: str

    #: The customer's own OpenID Connect issuer (R22); a class default for state from older snapshots.
    sso: SsoConfig | None = None
    class RoomLinked(Event):
        room_id: UUID
        external_id: str

    class RoomUpdated(Event):
        room_id: UUID
        name: str
        site: str
        country: str

    class TicketOpened(Event):
        ticket_id: UUID
        room_id: UUID
        external_room_id: str | None
        severity: str
        summary: str
        source: str
        support: str
        serial_numbers: list[str]
        room: dict[str, Any]

    class TicketStatusChanged(Event):
        ticket_id: UUID
        status: str
        previous: str
        first_response: bool
        opened_by: str

    class TicketCommented(Event):
        ticket_id: UUID
        text: str
        by_support: bool
        first_response: bool

    class TicketReopened(Event):
        ticket_id: UUID
        opened_by: str

    class RmaRequested(Event):
        ticket_id: UUID
        serial_number: str
        rma_terms: str | None
        due: date

    class ReplacementReceived(Event):
        ticket_id: UUID
        serial_number: str
        new_serial_number: str
        room_id: UUID
        product: str
        purchased_on: date

    class SpareUsed(Event):
        spare_no: int
        ticket_id: UUID
        serial_number: str
        new_serial_number: str
        room_id: UUID
        product: str
        purchased_on: date

    class SpareOwed(Event):
        spare_no: int
        product: str
        ship_to: str

    class SpareReplenished(Event):
        spare_no: int

    @staticmethod
    def create_id(key: str) -> UUID:
        return customer_id_for(key)

    @event(Registered)
    def __init__(self, key: str, name: str, at: datetime, actor: str) -> None:
        self.key = key
        self.name = name
        self.last_at = at
        self.accounts: dict[UUID, Account] = {}
        self.contracts: dict[str, Contract] = {}
        self.rooms: dict[UUID, Room] = {}
        self.devices: dict[str, Device] = {}
        self.spares: list[Spare] = []
        self.invitations: dict[UUID, Invitation] = {}
        self.users: dict[str, str] = {}
        self.partners: dict[str, str] = {}
        self.sso = None
        self.tickets: dict[UUID, Ticket] = {}
        self.spare_swaps: list[SpareSwap] = []
        self.external_rooms: dict[str, UUID] = {}
        self.room_externals: dict[UUID, str] = {}
        self.room_keys: dict[str, UUID] = {}

    @classmethod
    def register(cls, *, company: str, parent_company: str | None, at: datetime, actor: str) -> Customer:
        name = (parent_company or company).strip()
        key = normalise_company(name)
        if not key:
            field = "end_customer.parent_company" if parent_company else "end_customer.company"
            raise InvalidInput(
                f"{field}: a company name needs letters or digits",
                rule="R1",
                field=field,
            )
        return cls(key=key, name=name, at=at, actor=actor)

    @staticmethod
    def key_for(company: str, parent_company: str | None) -> str:
        return normalise_company((parent_company or company).strip())

    # ----- time (R20)

    def check_time(self, at: datetime) -> None:
        if at < self.last_at:
            raise RuleViolation(
                f"at: {at.isoformat()} is before this customer's latest event "
                f"({self.last_at.isoformat()}); effective times never go backwards",
                rule="R20",
                field="at",
                code="time_went_backwards",
            )

    # ----- orders and contracts (R2–R8)

    def place_order(
        self,
        *,
        po_number: str,
        service: str,
        years: int | None,
        quantity: int,
        end_customer: dict[str, Any],
        reseller: dict[str, Any],
        distributor: dict[str, Any],
        grace_days: int,
        at: datetime,
        actor: str,
    ) -> None:
        self.check_time(at)
        if po_number in self.contracts:
            raise Conflict(
                f"po_number: {po_number} is already on this customer's ledger",
                rule="R5",
                field="po_number",
                code="duplicate_po",
            )
        first_order = not self.contracts
        address = end_customer["address"]
        account_id = account_id_for(self.id, normalise_address(address))
        if account_id not in self.accounts:
            self._account_opened(
                account_id=account_id,
                company=end_customer["company"],
                email=end_customer["email"],
                address=dict(address),
                at=at,
                actor=actor,
            )
        warnings = []
        if is_group_mailbox(end_customer["email"]):
            warnings.append(
                f"end_customer.email: {end_customer['email']} looks like a group mailbox; "
                "an individual's address is recommended (R3)"
            )
        self._order_placed(
            po_number=po_number,
            account_id=account_id,
            service=service,
            years=years,
            quantity=quantity,
            end_customer=end_customer,
            reseller=reseller,
            distributor=distributor,
            grace_days=grace_days,
            warnings=warnings,
            at=at,
            actor=actor,
        )
        if service == "jumpstart":
            self._contract_started(po_number=po_number, start=at, reason="jumpstart", at=at, actor=actor)
        if first_order and end_customer["email"] not in self.users:
            self._invite(
                email=end_customer["email"], role="admin", at=at, actor=actor, po_number=po_number
            )
        self._settle_spares(at, actor)

    def contract(self, po_number: str, rule: str = "R10") -> Contract:
        try:
            return self.contracts[po_number]
        except KeyError:
            raise NotFound(
                f"po_number: no order {po_number} on this customer",
                rule=rule,
                field="po_number",
            ) from None

    def cancel_order(self, *, po_number: str, at: datetime, actor: str) -> None:
        self.check_time(at)
        contract = self.contract(po_number, rule="R7")
        status = contract.status(at)
        if status in ("cancelled", "expired"):
            raise RuleViolation(
                f"po_number: order {po_number} is already {status}",
                rule="R7",
                field="po_number",
                code=f"already_{status}",
            )
        elapsed = days_since_order(contract.placed_at, at)
        if elapsed > CANCELLATION_WINDOW_DAYS:
            raise RuleViolation(
                f"at: order {po_number} was placed {elapsed} days ago; it can be cancelled only "
                f"within {CANCELLATION_WINDOW_DAYS} days",
                rule="R7",
                field="at",
                code="cancellation_window_closed",
            )
        self._order_cancelled(po_number=po_number, at=at, actor=actor)
        self._release_all(contract, reason="cancelled", at=at, actor=actor)
        self._settle_spares(at, actor)

    def expire_contracts(self, *, at: datetime, actor: str) -> list[str]:
        """Record the daily expiry (R8): contracts whose end is at or before ``at``."""
        due: list[tuple[Contract, datetime]] = []
        to_start: list[Contract] = []
        for contract in self.contracts.values():
            if not contract.is_live:
                continue
            if contract.started_at is None and contract.grace_end <= at:
                to_start.append(contract)
            end = contract.end_as_of(at)
            if end is not None and end <= at:
                due.append((contract, end))
        if not due and not to_start:
            return []
        self.check_time(at)
        for contract in to_start:
            self._contract_started(
                po_number=contract.po_number,
                start=contract.grace_end,
                reason="grace_period_ended",
                at=at,
                actor=actor,
            )
        for contract, end in due:
            self._release_all(contract, reason="expired", at=at, actor=actor)
            self._contract_expired(po_number=contract.po_number, end=end, at=at, actor=actor)
        if due:
            self._settle_spares(at, actor)
        return [contract.po_number for contract, _ in due]

    def _release_all(self, contract: Contract, *, reason: str, at: datetime, actor: str) -> None:
        for room_id in list(contract.rooms):
            self._license_released(
                room_id=room_id,
                po_number=contract.po_number,
                service=contract.service,
                reason=reason,
                at=at,
                actor=actor,
            )

    # ----- rooms and licenses (R9, R10, R12)

    def add_room(
        self,
        *,
        account_id: UUID,
        name: str,
        site: str,
        country: str,
        countries: CountryTable,
        at: datetime,
        actor: str,
    ) -> UUID:
        self.check_time(at)
        if account_id not in self.accounts:
            raise NotFound(
                f"account_id: no account {account_id} on this customer",
                rule="R2",
                field="account_id",
            )
        key = normalise_name(name) or name.strip().lower()
        room_id = self._new_room_id(account_id, key)
        if room_id is None:
            raise Conflict(
                f"name: a room named {name!r} already exists in this account",
                rule="R9",
                field="name",
                code="duplicate_room",
            )
        code = require_country(countries, country, field="country", rule="R9")
        self._room_added(
            room_id=room_id,
            account_id=account_id,
            name=name.strip(),
            site=site.strip(),
            country=code,
            at=at,
            actor=actor,
        )
        return room_id

    @staticmethod
    def _room_key(account_id: UUID, name: str) -> str:
        return f"{account_id.hex}:{normalise_name(name) or name.strip().lower()}"

    def _room_keys(self) -> dict[str, UUID]:
        keys: dict[str, UUID] | None = self.__dict__.get("room_keys")
        if keys is None:
            keys = self.room_keys = {self._room_key(r.account_id, r.name): r.room_id for r in self.rooms.values()}
        return keys

    def _new_room_id(self, account_id: UUID, key: str) -> UUID | None:
        """The id of a new room named ``key`` in the account, or None when that name is taken (R9)."""
        if f"{account_id.hex}:{key}" in self._room_keys():
            return None
        room_id = room_id_for(account_id, key)
        if room_id in self.rooms:  # a room that had this name was renamed
            room_id = room_id_for(account_id, f"{key}@{self.version + 1}")
        return room_id

    def room(self, room_id: UUID, field_name: str = "room_id") -> Room:
        try:
            return self.rooms[room_id]
        except KeyError:
            raise NotFound(
                f"{field_name}: no room {room_id} on this customer", rule="R9", field=field_name
            ) from None

    def _check_country(self, room: Room, countries: CountryTable, field_name: str) -> None:
        terms = countries.get(room.country)
        if terms is None or not terms.available:
            raise RuleViolation(
                f"{field_name}: the service is not available in {room.country}, "
                f"the country of room {room.name!r}",
                rule="R12",
                field=field_name,
                code="service_unavailable_in_country",
            )

    def _check_gives_licenses(self, contract: Contract, at: datetime, field_name: str) -> None:
        status = contract.status(at)
        if status not in ("pending", "active"):
            raise RuleViolation(
                f"{field_name}: contract {contract.po_number} is {status}; only active contracts "
                "give licenses",
                rule="R10",
                field=field_name,
                code="contract_not_active",
            )

    def assign_license(
        self, *, room_id: UUID, po_number: str, countries: CountryTable, at: datetime, actor: str
    ) -> None:
        self.check_time(at)
        room = self.room(room_id)
        contract = self.contract(po_number)
        if contract.service == "jumpstart":
            raise RuleViolation(
                f"po_number: order {po_number} is Jumpstart, which has no room licenses (R27)",
                rule="R27",
                field="po_number",
                code="no_room_licenses",
            )
        if contract.account_id != room.account_id:
            raise RuleViolation(
                f"room_id: room {room.name!r} belongs to another account than order {po_number}; "
                "license balances of accounts are segregated",
                rule="R2",
                field="room_id",
                code="account_mismatch",
            )
        self._check_gives_licenses(contract, at, "po_number")
        if contract.service in room.licenses:
            raise RuleViolation(
                f"room_id: room {room.name!r} already holds a {contract.service} license "
                f"(order {room.licenses[contract.service]})",
                rule="R10",
                field="room_id",
                code="room_already_licensed",
            )
        if contract.assigned >= contract.quantity:
            raise RuleViolation(
                f"po_number: all {contract.quantity} licenses of order {po_number} are assigned",
                rule="R10",
                field="po_number",
                code="no_free_licenses",
            )
        self._check_country(room, countries, "room_id")
        if contract.started_at is None:
            grace_end = contract.grace_end
            if grace_end <= at:
                self._contract_started(
                    po_number=po_number, start=grace_end, reason="grace_period_ended", at=at, actor=actor
                )
            else:
                self._contract_started(
                    po_number=po_number, start=at, reason="first_assignment", at=at, actor=actor
                )
        self._license_assigned(
            room_id=room_id, po_number=po_number, service=contract.service, at=at, actor=actor
        )

    def move_license(
        self,
        *,
        service: str,
        from_room_id: UUID,
        to_room_id: UUID,
        countries: CountryTable,
        at: datetime,
        actor: str,
    ) -> None:
        self.check_time(at)
        source = self.room(from_room_id, "from_room_id")
        target = self.room(to_room_id, "to_room_id")
        po_number = source.licenses.get(service)
        if po_number is None:
            raise NotFound(
                f"from_room_id: room {source.name!r} holds no {service} license",
                rule="R10",
                field="from_room_id",
            )
        if from_room_id == to_room_id:
            raise RuleViolation(
                "to_room_id: the license is already in that room",
                rule="R10",
                field="to_room_id",
                code="same_room",
            )
        if source.account_id != target.account_id:
            raise RuleViolation(
                f"to_room_id: room {target.name!r} belongs to another account; a moved license "
                "stays in its contract and account",
                rule="R10",
                field="to_room_id",
                code="account_mismatch",
            )
        if service in target.licenses:
            raise RuleViolation(
                f"to_room_id: room {target.name!r} already holds a {service} license",
                rule="R10",
                field="to_room_id",
                code="room_already_licensed",
            )
        self._check_gives_licenses(self.contracts[po_number], at, "from_room_id")
        self._check_country(target, countries, "to_room_id")
        self._license_moved(
            service=service,
            po_number=po_number,
            from_room_id=from_room_id,
            to_room_id=to_room_id,
            at=at,
            actor=actor,
        )

    # ----- devices (R11)

    def register_device(
        self,
        *,
        room_id: UUID,
        serial_number: str,
        product: str,
        purchased_on: date,
        at: datetime,
        actor: str,
    ) -> date | None:
        self.check_time(at)
        self.room(room_id)
        canonical = canonical_product(product)
        if canonical is None:
            raise RuleViolation(
                f"product: {product!r} is not on the supported-products list",
                rule="R11",
                field="product",
                code="unsupported_product",
            )
        if purchased_on > at.date():
            raise InvalidInput(
                f"purchased_on: {purchased_on.isoformat()} is after the command's date",
                rule="R11",
                field="purchased_on",
            )
        if serial_number in self.devices:
            raise Conflict(
                f"serial_number: {serial_number} is already registered",
                rule="R11",
                field="serial_number",
                code="duplicate_serial",
            )
        self._device_registered(
            serial_number=serial_number,
            product=canonical,
            purchased_on=purchased_on,
            room_id=room_id,
            at=at,
            actor=actor,
        )
        return self.warranty_end(serial_number, at)

    def move_device(self, *, serial_number: str, to_room_id: UUID, at: datetime, actor: str) -> None:
        self.check_time(at)
        device = self.devices.get(serial_number)
        if device is None:
            raise NotFound(
                f"serial_number: no device {serial_number} on this customer",
                rule="R11",
                field="serial_number",
            )
        self.room(to_room_id, "to_room_id")
        if device.room_id == to_room_id:
            raise RuleViolation(
                "to_room_id: the device is already in that room",
                rule="R11",
                field="to_room_id",
                code="same_room",
            )
        self._device_moved(
            serial_number=serial_number,
            from_room_id=device.room_id,
            to_room_id=to_room_id,
            at=at,
            actor=actor,
        )

    def coverage_end(self, room: Room, service: str, moment: datetime) -> datetime | None:
        po_number = room.licenses.get(service)
        if po_number is None:
            return None
        return self.contracts[po_number].end_as_of(moment)

    def warranty_end(self, serial_number: str, moment: datetime) -> date | None:
        device = self.devices[serial_number]
        room = self.rooms[device.room_id]
        return warranty_end(
            device.purchased_on, (self.coverage_end(room, service, moment) for service in WARRANTY_SERVICES)
        )

    # ----- onsite spares (R13, R14)

    @property
    def active_select_licenses(self) -> int:
        return sum(
            c.quantity for c in self.contracts.values() if c.service == "select" and c.is_live
        )

    @property
    def entitled_spares(self) -> int:
        return entitled_spares(self.active_select_licenses)

    @property
    def live_spares(self) -> list[Spare]:
        return [s for s in self.spares if s.revoked_at is None]

    def _settle_spares(self, at: datetime, actor: str) -> None:
        active = self.active_select_licenses
        entitled = self.entitled_spares
        while len(self.live_spares) < entitled:
            self._spare_accrued(
                spare_no=len(self.spares) + 1, active_select_licenses=active, at=at, actor=actor
            )
        while len(self.live_spares) > entitled:
            live = self.live_spares
            unallocated = [s for s in live if s.product is None]
            victim = max(unallocated or live, key=lambda s: s.spare_no)
            self._spare_revoked(
                spare_no=victim.spare_no, active_select_licenses=active, at=at, actor=actor
            )

    def allocate_spare(self, *, product: str, ship_to: str, at: datetime, actor: str) -> int:
        self.check_time(at)
        canonical = canonical_product(product)
        deployed = {d.product for d in self.devices.values()}
        if canonical is None or canonical not in deployed:
            raise RuleViolation(
                f"product: {product!r} is not a product this customer has deployed; a spare must "
                "allow a hot swap",
                rule="R14",
                field="product",
                code="product_not_deployed",
            )
        free = [s for s in self.live_spares if s.product is None]
        if not free:
            raise RuleViolation(
                f"customer_id: no unallocated onsite spare ({self.entitled_spares} entitled, "
                f"{self.active_select_licenses} active select licenses)",
                rule="R13",
                field="customer_id",
                code="no_spare_available",
            )
        spare_no = min(s.spare_no for s in free)
        self._spare_allocated(
            spare_no=spare_no, product=canonical, ship_to=ship_to.strip(), at=at, actor=actor
        )
        return spare_no

    # ----- portal access (R15, R16, R17)

    def _supersede_pending(self, email: str, at: datetime, actor: str) -> None:
        for invitation in list(self.invitations.values()):
            if invitation.email == email and invitation.state == "pending":
                self._invitation_superseded(
                    invitation_id=invitation.invitation_id, at=at, actor=actor
                )

    def _invite(
        self, *, email: str, role: str, at: datetime, actor: str, po_number: str | None = None
    ) -> Invitation:
        self._supersede_pending(email, at, actor)
        invitation_id = invitation_id_for(self.id, self.version + 1)
        self._invitation_sent(
            invitation_id=invitation_id,
            email=email,
            role=role,
            expires_at=add_days(at, INVITATION_VALID_DAYS),
            po_number=po_number,
            at=at,
            actor=actor,
        )
        return self.invitations[invitation_id]

    def _refuse_existing_user(self, email: str) -> None:
        if email in self.users:
            raise Conflict(
                f"email: {email} is already a user ({self.users[email]})",
                rule="R15",
                field="email",
                code="already_a_user",
            )

    def send_invitation(self, *, email: str, at: datetime, actor: str) -> Invitation:
        self.check_time(at)
        self._refuse_existing_user(email)
        previous = [i for i in self.invitations.values() if i.email == email]
        role = previous[-1].role if previous else "admin"
        return self._invite(email=email, role=role, at=at, actor=actor)

    def invite_user(self, *, email: str, role: str, at: datetime, actor: str) -> Invitation:
        self.check_time(at)
        self._refuse_existing_user(email)
        self._supersede_pending(email, at, actor)
        invitation_id = invitation_id_for(self.id, self.version + 1)
        self._user_invited(
            invitation_id=invitation_id,
            email=email,
            role=role,
            expires_at=add_days(at, INVITATION_VALID_DAYS),
            at=at,
            actor=actor,
        )
        return self.invitations[invitation_id]

    def accept_invitation(self, *, invitation_id: UUID, at: datetime, actor: str) -> Invitation:
        self.check_time(at)
        invitation = self.invitations.get(invitation_id)
        if invitation is None:
            raise Forbidden("token: the invitation token is not valid", rule="R15", field="token")
        if invitation.email != actor.lower():
            raise Forbidden(
                "actor: this invitation works only for the person it was sent to; it cannot be "
                "forwarded",
                rule="R15",
                field="actor",
                code="invitation_not_for_you",
            )
        status = invitation.status(at)
        if status != "pending":
            raise RuleViolation(
                f"token: the invitation is {status}; ask for a new one",
                rule="R15",
                field="token",
                code=f"invitation_{status}",
            )
        self._invitation_accepted(
            invitation_id=invitation_id, email=invitation.email, role=invitation.role, at=at, actor=actor
        )
        return invitation

    def _admins(self) -> list[str]:
        return [email for email, role in self.users.items() if role == "admin"]

    def _user(self, email: str) -> str:
        if email not in self.users:
            raise NotFound(f"email: {email} is not a user of this customer", rule="R16", field="email")
        return self.users[email]

    def change_role(self, *, email: str, role: str, at: datetime, actor: str) -> bool:
        self.check_time(at)
        current = self._user(email)
        if current == role:
            return False
        if current == "admin" and self._admins() == [email]:
            raise RuleViolation(
                f"email: {email} is the last admin; invite another admin first",
                rule="R16",
                field="email",
                code="last_admin",
            )
        self._role_changed(email=email, role=role, at=at, actor=actor)
        return True

    def remove_user(self, *, email: str, at: datetime, actor: str) -> None:
        self.check_time(at)
        current = self._user(email)
        if current == "admin" and self._admins() == [email]:
            raise RuleViolation(
                f"email: {email} is the last admin; invite another admin first",
                rule="R16",
                field="email",
                code="last_admin",
            )
        self._user_removed(email=email, at=at, actor=actor)

    def delegate_partner(self, *, partner_id: str, role: str, at: datetime, actor: str) -> bool:
        self.check_time(at)
        if self.partners.get(partner_id) == role:
            return False
        self._partner_delegated(partner_id=partner_id, role=role, at=at, actor=actor)
        return True

    def revoke_partner(
        self, *, partner_id: str, partner_users: frozenset[str] = frozenset(), at: datetime, actor: str
    ) -> None:
        """Revoking leaves nothing of the partner behind (R17): its users' pending invitations are
        superseded and any own access they hold on this customer is removed."""
        self.check_time(at)
        if partner_id not in self.partners:
            raise NotFound(
                f"partner_id: {partner_id} has no delegation from this customer",
                rule="R17",
                field="partner_id",
            )
        self._partner_revoked(partner_id=partner_id, at=at, actor=actor)
        for invitation in list(self.invitations.values()):
            if invitation.email in partner_users and invitation.state == "pending":
                self._invitation_superseded(invitation_id=invitation.invitation_id, at=at, actor=actor)
        for email in [e for e in self.users if e in partner_users]:
            self._user_removed(email=email, at=at, actor=actor)

    # ----- single sign-on (R22)

    def configure_sso(
        self, *, issuer: str, audience: str, allowed_domains: tuple[str, ...], at: datetime, actor: str
    ) -> bool:
        """Trust ``issuer`` for this customer's users of ``allowed_domains``; False when unchanged."""
        self.check_time(at)
        config = SsoConfig(issuer=issuer, audience=audience, allowed_domains=tuple(sorted(set(allowed_domains))))
        if config == self.sso:
            return False
        self._sso_configured(
            issuer=config.issuer,
            audience=config.audience,
            allowed_domains=list(config.allowed_domains),
            at=at,
            actor=actor,
        )
        return True

    def remove_sso(self, *, at: datetime, actor: str) -> None:
        self.check_time(at)
        if self.sso is None:
            raise RuleViolation(
                "customer_id: this customer has no single sign-on configured",
                rule="R22",
                field="customer_id",
                code="sso_not_configured",
            )
        self._sso_removed(issuer=self.sso.issuer, at=at, actor=actor)

    # ----- support tickets, RMA and spare swaps (R24–R27)

    def jumpstart_active(self, at: datetime) -> bool:
        return any(c.service == "jumpstart" and c.status(at) == "active" for c in self.contracts.values())

    def select_active(self, room: Room, at: datetime) -> bool:
        po_number = room.licenses.get("select")
        return po_number is not None and self.contracts[po_number].status(at) == "active"

    def under_warranty(self, serial_number: str, at: datetime) -> bool:
        end = self.warranty_end(serial_number, at)
        return end is not None and end >= at.date()

    def room_snapshot(self, room: Room, countries: CountryTable, at: datetime) -> dict[str, Any]:
        """The room and its devices as the customer sees them at ``at`` (recorded with a ticket, R24)."""
        terms = countries.get(room.country)
        licenses = []
        for service, po_number in sorted(room.licenses.items()):
            end = self.coverage_end(room, service, at)
            licenses.append(
                {"service": service, "po_number": po_number, "coverage_end": end.isoformat() if end else None}
            )
        devices = []
        for serial in sorted(room.devices):
            device = self.devices[serial]
            warranty = self.warranty_end(serial, at)
            devices.append(
                {
                    "serial_number": serial,
                    "product": device.product,
                    "purchased_on": device.purchased_on.isoformat(),
                    "warranty_end": warranty.isoformat() if warranty else None,
                }
            )
        return {
            "name": room.name,
            "site": room.site,
            "country": room.country,
            "terms": terms.as_dict() if terms is not None else {"country": room.country, "available": False},
            "licenses": licenses,
            "devices": devices,
        }

    def room_by_external_id(self, external_id: str, field_name: str = "external_room_id") -> Room:
        room_id = self.external_rooms.get(external_id)
        if room_id is None:
            raise NotFound(
                f"{field_name}: no imported room with external id {external_id!r} on this customer (R28)",
                rule="R28",
                field=field_name,
            )
        return self.rooms[room_id]

    def open_ticket(
        self,
        *,
        room: Room,
        external_room_id: str | None,
        severity: str,
        summary: str,
        serial_numbers: list[str],
        source: str,
        countries: CountryTable,
        at: datetime,
        actor: str,
    ) -> UUID:
        self.check_time(at)
        serials: list[str] = []
        for i, serial in enumerate(serial_numbers):
            device = self.devices.get(serial)
            if device is None or device.room_id != room.room_id:
                raise RuleViolation(
                    f"serial_numbers[{i}]: {serial} is not a device of room {room.name!r} (R24)",
                    rule="R24",
                    field=f"serial_numbers[{i}]",
                    code="device_not_in_room",
                )
            if serial not in serials:
                serials.append(serial)
        if self.select_active(room, at):
            support = "select"
        elif self.jumpstart_active(at):
            support = "jumpstart"
        else:
            if not serials:
                raise RuleViolation(
                    f"room_id: room {room.name!r} has no active select license and the customer no active "
                    "Jumpstart; only a ticket about a device under warranty can be opened (R24)",
                    rule="R24",
                    field="room_id",
                    code="not_entitled",
                )
            for i, serial in enumerate(serials):
                if not self.under_warranty(serial, at):
                    raise RuleViolation(
                        f"serial_numbers[{i}]: {serial} is not under warranty and room {room.name!r} has no "
                        "active select license nor Jumpstart (R24)",
                        rule="R24",
                        field=f"serial_numbers[{i}]",
                        code="not_entitled",
                    )
            support = "rma_only"
        ticket_id = ticket_id_for(self.id, self.version + 1)
        self._ticket_opened(
            ticket_id=ticket_id,
            room_id=room.room_id,
            external_room_id=external_room_id,
            severity=severity,
            summary=summary,
            source=source,
            support=support,
            serial_numbers=serials,
            room=self.room_snapshot(room, countries, at),
            at=at,
            actor=actor,
        )
        return ticket_id

    def ticket(self, ticket_id: UUID, rule: str = "R25") -> Ticket:
        try:
            return self.tickets[ticket_id]
        except KeyError:
            raise NotFound(
                f"ticket_id: no ticket {ticket_id} on this customer ({rule})", rule=rule, field="ticket_id"
            ) from None

    def update_ticket(self, *, ticket_id: UUID, status: str, at: datetime, actor: str) -> None:
        self.check_time(at)
        ticket = self.ticket(ticket_id)
        check_transition(ticket.status, status)
        self._ticket_status_changed(
            ticket_id=ticket_id,
            status=status,
            previous=ticket.status,
            first_response=ticket.first_response_at is None,
            opened_by=ticket.opened_by,
            at=at,
            actor=actor,
        )

    def comment_on_ticket(self, *, ticket_id: UUID, text: str, by_support: bool, at: datetime, actor: str) -> None:
        self.check_time(at)
        ticket = self.ticket(ticket_id)
        if ticket.status == "closed":
            raise RuleViolation(
                "ticket_id: the ticket is closed; open a new one (R25)",
                rule="R25",
                field="ticket_id",
                code="ticket_closed",
            )
        self._ticket_commented(
            ticket_id=ticket_id,
            text=text,
            by_support=by_support,
            first_response=by_support and ticket.first_response_at is None,
            at=at,
            actor=actor,
        )

    def reopen_ticket(self, *, ticket_id: UUID, at: datetime, actor: str) -> None:
        self.check_time(at)
        ticket = self.ticket(ticket_id)
        if ticket.status != "resolved" or ticket.resolved_at is None:
            raise RuleViolation(
                f"ticket_id: the ticket is {ticket.status}; only a resolved ticket can be reopened (R25)",
                rule="R25",
                field="ticket_id",
                code="not_resolved",
            )
        if at - ticket.resolved_at > days(REOPEN_WINDOW_DAYS):
            raise RuleViolation(
                f"at: the ticket was resolved on {ticket.resolved_at.date().isoformat()}; it can be reopened "
                f"within {REOPEN_WINDOW_DAYS} days of resolution (R25)",
                rule="R25",
                field="at",
                code="reopen_window_closed",
            )
        self._ticket_reopened(ticket_id=ticket_id, opened_by=ticket.opened_by, at=at, actor=actor)

    def _failed_unit(self, ticket: Ticket, serial_number: str, at: datetime) -> Device:
        """R26: the failed unit of an active ticket: a device of the ticket's room, under warranty."""
        if ticket.status not in ACTIVE_STATUSES:
            raise RuleViolation(
                f"ticket_id: the ticket is {ticket.status} (R26)",
                rule="R26",
                field="ticket_id",
                code="ticket_not_active",
            )
        device = self.devices.get(serial_number)
        if device is None or device.room_id != ticket.room_id:
            raise NotFound(
                f"serial_number: {serial_number} is not a device in the ticket's room (R26)",
                rule="R26",
                field="serial_number",
            )
        if ticket.rma(serial_number) is not None:
            raise Conflict(
                f"serial_number: {serial_number} already has an RMA on this ticket (R26)",
                rule="R26",
                field="serial_number",
                code="rma_exists",
            )
        if not self.under_warranty(serial_number, at):
            end = self.warranty_end(serial_number, at)
            since = f" (warranty ended {end.isoformat()})" if end else " (no warranty coverage)"
            raise RuleViolation(
                f"serial_number: {serial_number} is not under warranty{since} (R26)",
                rule="R26",
                field="serial_number",
                code="not_under_warranty",
            )
        return device

    def _check_new_serial(self, new_serial_number: str) -> None:
        if new_serial_number in self.devices:
            raise Conflict(
                f"new_serial_number: {new_serial_number} is already registered (R11)",
                rule="R11",
                field="new_serial_number",
                code="duplicate_serial",
            )

    def request_rma(
        self,
        *,
        ticket_id: UUID,
        serial_number: str,
        countries: CountryTable,
        calendar: BusinessCalendar,
        at: datetime,
        actor: str,
    ) -> date:
        self.check_time(at)
        ticket = self.ticket(ticket_id, rule="R26")
        device = self._failed_unit(ticket, serial_number, at)
        terms = countries.get(self.rooms[device.room_id].country)
        rma_terms = terms.rma if terms is not None else None
        due = rma_due(at, rma_terms, calendar)
        self._rma_requested(
            ticket_id=ticket_id, serial_number=serial_number, rma_terms=rma_terms, due=due, at=at, actor=actor
        )
        return due

    def receive_replacement(
        self, *, ticket_id: UUID, serial_number: str, new_serial_number: str, at: datetime, actor: str
    ) -> date | None:
        self.check_time(at)
        ticket = self.ticket(ticket_id, rule="R26")
        rma = ticket.rma(serial_number)
        if rma is None or rma.status != "requested":
            what = "no RMA" if rma is None else f"an RMA that is {rma.status}"
            raise RuleViolation(
                f"serial_number: {serial_number} has {what} on this ticket; request one first (R26)",
                rule="R26",
                field="serial_number",
                code="no_rma_requested",
            )
        device = self.devices.get(serial_number)
        if device is None:
            raise NotFound(
                f"serial_number: {serial_number} is no longer a device of this customer (R26)",
                rule="R26",
                field="serial_number",
            )
        self._check_new_serial(new_serial_number)
        self._replacement_received(
            ticket_id=ticket_id,
            serial_number=serial_number,
            new_serial_number=new_serial_number,
            room_id=device.room_id,
            product=device.product,
            purchased_on=device.purchased_on,
            at=at,
            actor=actor,
        )
        return self.warranty_end(new_serial_number, at)

    def owed_spares(self) -> dict[int, SpareSwap]:
        return {s.spare_no: s for s in self.spare_swaps if s.replenished_at is None}

    def swap_with_spare(
        self,
        *,
        ticket_id: UUID,
        serial_number: str,
        spare_no: int,
        new_serial_number: str,
        at: datetime,
        actor: str,
    ) -> date | None:
        self.check_time(at)
        ticket = self.ticket(ticket_id, rule="R26")
        device = self._failed_unit(ticket, serial_number, at)
        if not 1 <= spare_no <= len(self.spares):
            raise NotFound(f"spare_no: no onsite spare {spare_no} (R14)", rule="R14", field="spare_no")
        spare = self.spares[spare_no - 1]
        if spare.revoked_at is not None or spare.product is None or spare.ship_to is None:
            state = "revoked" if spare.revoked_at is not None else "not allocated"
            raise RuleViolation(
                f"spare_no: onsite spare {spare_no} is {state} (R14, R26)",
                rule="R26",
                field="spare_no",
                code="spare_not_available",
            )
        if spare_no in self.owed_spares():
            raise RuleViolation(
                f"spare_no: onsite spare {spare_no} was used and its replacement is still owed (R26)",
                rule="R26",
                field="spare_no",
                code="spare_owed",
            )
        if spare.product != device.product:
            raise RuleViolation(
                f"spare_no: onsite spare {spare_no} is a {spare.product}, the failed unit a {device.product}; "
                "a hot swap needs the same product (R26)",
                rule="R26",
                field="spare_no",
                code="spare_product_mismatch",
            )
        self._check_new_serial(new_serial_number)
        self._spare_used(
            spare_no=spare_no,
            ticket_id=ticket_id,
            serial_number=serial_number,
            new_serial_number=new_serial_number,
            room_id=device.room_id,
            product=device.product,
            purchased_on=device.purchased_on,
            at=at,
            actor=actor,
        )
        self._spare_owed(spare_no=spare_no, product=spare.product, ship_to=spare.ship_to, at=at, actor=actor)
        return self.warranty_end(new_serial_number, at)

    def replenish_spare(self, *, spare_no: int, at: datetime, actor: str) -> None:
        self.check_time(at)
        if spare_no not in self.owed_spares():
            raise RuleViolation(
                f"spare_no: onsite spare {spare_no} is not owed (no swap awaits its replacement) (R26)",
                rule="R26",
                field="spare_no",
                code="spare_not_owed",
            )
        self._spare_replenished(spare_no=spare_no, at=at, actor=actor)

    # ----- room import (R28)

    def import_room(
        self,
        *,
        account_id: UUID,
        external_id: str,
        name: str,
        site: str,
        country: str,
        devices: list[tuple[str, str, date]],
        taken: set[str],
        countries: CountryTable,
        at: datetime,
        actor: str,
    ) -> tuple[UUID, str, list[str]]:
        """One room of an import, all or nothing: (room id, added/updated/unchanged, new serials).

        Every rule is checked before anything is recorded. ``taken`` holds the serial numbers
        reserved on the ledger that this customer does not hold in a room (R11, R26).
        """
        self.check_time(at)
        if account_id not in self.accounts:
            raise NotFound(f"account_id: no account {account_id} on this customer (R2)", rule="R2", field="account_id")
        country = country.upper()
        if country not in countries:
            raise InvalidInput(
                f"country: {country!r} is not an ISO 3166 alpha-2 code in the country table (R12)",
                rule="R12",
                field="country",
            )
        name, site = name.strip(), site.strip()
        key = self._room_key(account_id, name)
        owner = self._room_keys().get(key)
        room_id = self.external_rooms.get(external_id)
        link = room_id is None
        room: Room | None = None
        if room_id is None:
            if owner is not None:
                linked = self.room_externals.get(owner)
                if linked is not None:
                    raise Conflict(
                        f"name: a room named {name!r} already exists in this account, imported as "
                        f"{linked!r} (R9)",
                        rule="R9",
                        field="name",
                        code="duplicate_room",
                    )
                room_id, room = owner, self.rooms[owner]
            else:
                new_id = self._new_room_id(account_id, key.split(":", 1)[1])
                assert new_id is not None  # the key is free
                room_id = new_id
        else:
            room = self.rooms[room_id]
            if room.account_id != account_id:
                raise RuleViolation(
                    f"account_id: room {external_id!r} belongs to another account of this customer (R2, R28)",
                    rule="R28",
                    field="account_id",
                    code="account_mismatch",
                )
            if owner is not None and owner != room_id:
                raise Conflict(
                    f"name: a room named {name!r} already exists in this account (R9)",
                    rule="R9",
                    field="name",
                    code="duplicate_room",
                )
        if room is not None and room.country != country and room.licenses:
            self._check_country(
                Room(room.room_id, room.account_id, room.name, room.site, country, room.added_at), countries, "country"
            )
        registrations: list[tuple[str, str, date]] = []
        moves: list[tuple[str, UUID]] = []
        seen: set[str] = set()
        for i, (serial, product, purchased_on) in enumerate(devices):
            where = f"devices[{i}]"
            if serial in seen:
                raise InvalidInput(
                    f"{where}.serial_number: {serial} is listed twice in this room (R28)",
                    rule="R28",
                    field=f"{where}.serial_number",
                )
            seen.add(serial)
            canonical = canonical_product(product)
            if canonical is None:
                raise RuleViolation(
                    f"{where}.product: {product!r} is not on the supported-products list (R11)",
                    rule="R11",
                    field=f"{where}.product",
                    code="unsupported_product",
                )
            if purchased_on > at.date():
                raise InvalidInput(
                    f"{where}.purchased_on: {purchased_on.isoformat()} is after the import's date (R11)",
                    rule="R11",
                    field=f"{where}.purchased_on",
                )
            device = self.devices.get(serial)
            if device is None:
                if serial in taken:
                    raise Conflict(
                        f"{where}.serial_number: {serial} is already registered on the ledger, or was "
                        "replaced under RMA; a serial number is unique and never reused (R11)",
                        rule="R11",
                        field=f"{where}.serial_number",
                        code="duplicate_serial",
                    )
                registrations.append((serial, canonical, purchased_on))
            elif device.product != canonical:
                raise RuleViolation(
                    f"{where}.product: {serial} is registered as a {device.product}, not a {canonical} (R11)",
                    rule="R11",
                    field=f"{where}.product",
                    code="product_mismatch",
                )
            elif device.room_id != room_id:
                moves.append((serial, device.room_id))
        changed = False
        if room is None:
            self._room_added(
                room_id=room_id, account_id=account_id, name=name, site=site, country=country, at=at, actor=actor
            )
            status = "added"
        else:
            status = "updated" if link else "unchanged"
            if (room.name, room.site, room.country) != (name, site, country):
                self._room_updated(room_id=room_id, name=name, site=site, country=country, at=at, actor=actor)
                changed = True
        if link:
            self._room_linked(room_id=room_id, external_id=external_id, at=at, actor=actor)
        for serial, product, purchased_on in registrations:
            self._device_registered(
                serial_number=serial, product=product, purchased_on=purchased_on, room_id=room_id, at=at, actor=actor
            )
        for serial, from_room_id in moves:
            self._device_moved(serial_number=serial, from_room_id=from_room_id, to_room_id=room_id, at=at, actor=actor)
        if status == "unchanged" and (changed or registrations or moves):
            status = "updated"
        return room_id, status, [serial for serial, _, _ in registrations]

    # ----- event bodies: state changes only

    def _seen(self, at: datetime) -> None:
        if at > self.last_at:
            self.last_at = at

    @event(AccountOpened)
    def _account_opened(
        self, account_id: UUID, company: str, email: str, address: dict[str, Any], at: datetime, actor: str
    ) -> None:
        self.accounts[account_id] = Account(account_id, company, email, address, at)
        self._seen(at)

    @event(OrderPlaced)
    def _order_placed(
        self,
        po_number: str,
        account_id: UUID,
        service: str,
        years: int | None,
        quantity: int,
        end_customer: dict[str, Any],
        reseller: dict[str, Any],
        distributor: dict[str, Any],
        grace_days: int,
        warnings: list[str],
        at: datetime,
        actor: str,
    ) -> None:
        self.contracts[po_number] = Contract(
            po_number=po_number,
            account_id=account_id,
            service=service,
            years=years,
            quantity=quantity,
            placed_at=at,
            grace_days=grace_days,
            end_customer=end_customer,
            reseller=reseller,
            distributor=distributor,
            warnings=list(warnings),
        )
        self._seen(at)

    @event(OrderCancelled)
    def _order_cancelled(self, po_number: str, at: datetime, actor: str) -> None:
        self.contracts[po_number].cancelled_at = at
        self._seen(at)

    @event(ContractStarted)
    def _contract_started(self, po_number: str, start: datetime, reason: str, at: datetime, actor: str) -> None:
        self.contracts[po_number].started_at = start
        self._seen(at)

    @event(ContractExpired)
    def _contract_expired(self, po_number: str, end: datetime, at: datetime, actor: str) -> None:
        self.contracts[po_number].expired_at = at
        self._seen(at)

    @event(RoomAdded)
    def _room_added(
        self, room_id: UUID, account_id: UUID, name: str, site: str, country: str, at: datetime, actor: str
    ) -> None:
        self.rooms[room_id] = Room(room_id, account_id, name, site, country, at)
        self._room_keys()[self._room_key(account_id, name)] = room_id
        self._seen(at)

    @event(LicenseAssigned)
    def _license_assigned(self, room_id: UUID, po_number: str, service: str, at: datetime, actor: str) -> None:
        self.rooms[room_id].licenses[service] = po_number
        self.contracts[po_number].rooms[room_id] = at
        self._seen(at)

    @event(LicenseMoved)
    def _license_moved(
        self, service: str, po_number: str, from_room_id: UUID, to_room_id: UUID, at: datetime, actor: str
    ) -> None:
        del self.rooms[from_room_id].licenses[service]
        self.rooms[to_room_id].licenses[service] = po_number
        rooms = self.contracts[po_number].rooms
        del rooms[from_room_id]
        rooms[to_room_id] = at
        self._seen(at)

    @event(LicenseReleased)
    def _license_released(
        self, room_id: UUID, po_number: str, service: str, reason: str, at: datetime, actor: str
    ) -> None:
        self.rooms[room_id].licenses.pop(service, None)
        self.contracts[po_number].rooms.pop(room_id, None)
        self._seen(at)

    @event(DeviceRegistered)
    def _device_registered(
        self, serial_number: str, product: str, purchased_on: date, room_id: UUID, at: datetime, actor: str
    ) -> None:
        self.devices[serial_number] = Device(serial_number, product, purchased_on, room_id, at)
        self.rooms[room_id].devices.append(serial_number)
        self._seen(at)

    @event(DeviceMoved)
    def _device_moved(
        self, serial_number: str, from_room_id: UUID, to_room_id: UUID, at: datetime, actor: str
    ) -> None:
        self.rooms[from_room_id].devices.remove(serial_number)
        self.rooms[to_room_id].devices.append(serial_number)
        self.devices[serial_number].room_id = to_room_id
        self._seen(at)

    @event(SpareAccrued)
    def _spare_accrued(self, spare_no: int, active_select_licenses: int, at: datetime, actor: str) -> None:
        self.spares.append(Spare(spare_no=spare_no, accrued_at=at))
        self._seen(at)

    @event(SpareRevoked)
    def _spare_revoked(self, spare_no: int, active_select_licenses: int, at: datetime, actor: str) -> None:
        self.spares[spare_no - 1].revoked_at = at
        self._seen(at)

    @event(SpareAllocated)
    def _spare_allocated(self, spare_no: int, product: str, ship_to: str, at: datetime, actor: str) -> None:
        spare = self.spares[spare_no - 1]
        spare.product, spare.ship_to, spare.allocated_at = product, ship_to, at
        self._seen(at)

    @event(InvitationSent)
    def _invitation_sent(
        self,
        invitation_id: UUID,
        email: str,
        role: str,
        expires_at: datetime,
        po_number: str | None,
        at: datetime,
        actor: str,
    ) -> None:
        self.invitations[invitation_id] = Invitation(
            invitation_id, email, role, at, expires_at, po_number=po_number
        )
        if po_number is not None:
            self.contracts[po_number].invitation_id = invitation_id
        self._seen(at)

    @event(UserInvited)
    def _user_invited(
        self, invitation_id: UUID, email: str, role: str, expires_at: datetime, at: datetime, actor: str
    ) -> None:
        self.invitations[invitation_id] = Invitation(invitation_id, email, role, at, expires_at)
        self._seen(at)

    @event(InvitationSuperseded)
    def _invitation_superseded(self, invitation_id: UUID, at: datetime, actor: str) -> None:
        self.invitations[invitation_id].state = "superseded"
        self._seen(at)

    @event(InvitationAccepted)
    def _invitation_accepted(self, invitation_id: UUID, email: str, role: str, at: datetime, actor: str) -> None:
        self.invitations[invitation_id].state = "accepted"
        self.users[email] = role
        self._seen(at)

    @event(RoleChanged)
    def _role_changed(self, email: str, role: str, at: datetime, actor: str) -> None:
        self.users[email] = role
        self._seen(at)

    @event(UserRemoved)
    def _user_removed(self, email: str, at: datetime, actor: str) -> None:
        del self.users[email]
        self._seen(at)

    @event(PartnerDelegated)
    def _partner_delegated(self, partner_id: str, role: str, at: datetime, actor: str) -> None:
        self.partners[partner_id] = role
        self._seen(at)

    @event(PartnerRevoked)
    def _partner_revoked(self, partner_id: str, at: datetime, actor: str) -> None:
        del self.partners[partner_id]
        self._seen(at)

    @event(SsoConfigured)
    def _sso_configured(self, issuer: str, audience: str, allowed_domains: list[str], at: datetime, actor: str) -> None:
        self.sso = SsoConfig(issuer=issuer, audience=audience, allowed_domains=tuple(allowed_domains))
        self._seen(at)

    @event(SsoRemoved)
    def _sso_removed(self, issuer: str, at: datetime, actor: str) -> None:
        self.sso = None
        self._seen(at)

    @event(RoomLinked)
    def _room_linked(self, room_id: UUID, external_id: str, at: datetime, actor: str) -> None:
        self.external_rooms[external_id] = room_id
        self.room_externals[room_id] = external_id
        self._seen(at)

    @event(RoomUpdated)
    def _room_updated(self, room_id: UUID, name: str, site: str, country: str, at: datetime, actor: str) -> None:
        room = self.rooms[room_id]
        keys = self._room_keys()
        keys.pop(self._room_key(room.account_id, room.name), None)
        room.name, room.site, room.country = name, site, country
        keys[self._room_key(room.account_id, name)] = room_id
        self._seen(at)

    @event(TicketOpened)
    def _ticket_opened(
        self,
        ticket_id: UUID,
        room_id: UUID,
        external_room_id: str | None,
        severity: str,
        summary: str,
        source: str,
        support: str,
        serial_numbers: list[str],
        room: dict[str, Any],
        at: datetime,
        actor: str,
    ) -> None:
        self.tickets[ticket_id] = Ticket(
            ticket_id=ticket_id,
            room_id=room_id,
            severity=severity,
            summary=summary,
            source=source,
            support=support,
            opened_at=at,
            opened_by=actor,
            room=room,
            serial_numbers=list(serial_numbers),
            external_room_id=external_room_id,
        )
        self._seen(at)

    @event(TicketStatusChanged)
    def _ticket_status_changed(
        self, ticket_id: UUID, status: str, previous: str, first_response: bool, opened_by: str, at: datetime,
        actor: str,
    ) -> None:
        ticket = self.tickets[ticket_id]
        ticket.status = status
        if first_response:
            ticket.first_response_at = at
        if status == "resolved":
            ticket.resolved_at = at
        elif status == "closed":
            ticket.closed_at = at
        self._seen(at)

    @event(TicketCommented)
    def _ticket_commented(
        self, ticket_id: UUID, text: str, by_support: bool, first_response: bool, at: datetime, actor: str
    ) -> None:
        ticket = self.tickets[ticket_id]
        ticket.comments += 1
        if first_response:
            ticket.first_response_at = at
        self._seen(at)

    @event(TicketReopened)
    def _ticket_reopened(self, ticket_id: UUID, opened_by: str, at: datetime, actor: str) -> None:
        ticket = self.tickets[ticket_id]
        ticket.status = "in_progress"
        ticket.resolved_at = None
        self._seen(at)

    @event(RmaRequested)
    def _rma_requested(
        self, ticket_id: UUID, serial_number: str, rma_terms: str | None, due: date, at: datetime, actor: str
    ) -> None:
        self.tickets[ticket_id].rmas.append(Rma(serial_number, at, "requested", due=due))
        self._seen(at)

    def _replace_device(
        self, serial_number: str, new_serial_number: str, room_id: UUID, product: str, purchased_on: date, at: datetime
    ) -> None:
        old = self.devices.pop(serial_number)
        self.rooms[old.room_id].devices.remove(serial_number)
        self.devices[new_serial_number] = Device(new_serial_number, product, purchased_on, room_id, at)
        self.rooms[room_id].devices.append(new_serial_number)

    @event(ReplacementReceived)
    def _replacement_received(
        self,
        ticket_id: UUID,
        serial_number: str,
        new_serial_number: str,
        room_id: UUID,
        product: str,
        purchased_on: date,
        at: datetime,
        actor: str,
    ) -> None:
        self._replace_device(serial_number, new_serial_number, room_id, product, purchased_on, at)
        rma = self.tickets[ticket_id].rma(serial_number)
        if rma is not None:
            rma.status, rma.new_serial_number, rma.done_at = "received", new_serial_number, at
        self._seen(at)

    @event(SpareUsed)
    def _spare_used(
        self,
        spare_no: int,
        ticket_id: UUID,
        serial_number: str,
        new_serial_number: str,
        room_id: UUID,
        product: str,
        purchased_on: date,
        at: datetime,
        actor: str,
    ) -> None:
        self._replace_device(serial_number, new_serial_number, room_id, product, purchased_on, at)
        self.tickets[ticket_id].rmas.append(
            Rma(serial_number, at, "swapped", new_serial_number=new_serial_number, spare_no=spare_no, done_at=at)
        )
        self.spare_swaps.append(SpareSwap(spare_no, ticket_id, serial_number, new_serial_number, at))
        self._seen(at)

    @event(SpareOwed)
    def _spare_owed(self, spare_no: int, product: str, ship_to: str, at: datetime, actor: str) -> None:
        self._seen(at)

    @event(SpareReplenished)
    def _spare_replenished(self, spare_no: int, at: datetime, actor: str) -> None:
        for swap in self.spare_swaps:
            if swap.spare_no == spare_no and swap.replenished_at is None:
                swap.replenished_at = at
        self._seen(at)
