"""Handlers: one per command type, mapping a validated command onto the aggregates.

A handler loads aggregates through a unit of work, lets their command methods check the rules,
stages every changed aggregate, and returns the command-specific part of the result. The
application saves all staged aggregates atomically, or nothing when a handler refuses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import Aggregate

from aggregates.catalog import CountryTable, require_country
from aggregates.customer import Customer, Invitation
from aggregates.errors import Conflict, Forbidden, NotFound, RuleViolation
from aggregates.ids import customer_id_for
from aggregates.partner import Partner
from aggregates.reservations import PurchaseOrder, SerialNumber
from aggregates.support import SupportTargets
from commands import auth
from commands.models import (
    AcceptInvitation,
    AddPartnerUser,
    AddRoom,
    AllocateSpare,
    AssignLicense,
    CancelOrder,
    ChangeRole,
    Command,
    ConfigureSso,
    DelegatePartner,
    ExpireContracts,
    InviteUser,
    MoveDevice,
    MoveLicense,
    PlaceOrder,
    RegisterDevice,
    RegisterPartner,
    RemoveSso,
    RemoveUser,
    RevokePartner,
    SendInvitation,
)
from commands.tokens import issue_token, read_token

Result = dict[str, Any]


class UnitOfWork(Protocol):
    """What handlers need from the application: reads of current aggregates, and staging."""

    def customer(self, customer_id: UUID) -> Customer | None: ...
    def partner(self, partner_id: str) -> Partner | None: ...
    def purchase_order(self, po_number: str) -> PurchaseOrder | None: ...
    def serial_number(self, serial_number: str) -> SerialNumber | None: ...
    def expiry_candidates(self, at: datetime) -> Iterator[UUID]:
        """Customers that may have contracts to start or expire at ``at`` (a superset is fine)."""
        ...
    def stage(self, *aggregates: Aggregate) -> None: ...


@dataclass(frozen=True)
class Context:
    """The resolved effective time and actor of one command, and the configuration it may use."""

    at: datetime
    actor: str
    secret_key: bytes
    countries: CountryTable
    grace_days: int
    principal: auth.Principal | None = None

    @property
    def who(self) -> auth.Principal:
        """The principal the command is authorized for (the command line's ``actor`` when none is given)."""
        return self.principal if self.principal is not None else auth.Principal.from_actor(self.actor)
    support_targets: SupportTargets = field(default_factory=SupportTargets.default)


def _customer(uow: UnitOfWork, customer_id: UUID, rule: str = "R1") -> Customer:
    customer = uow.customer(customer_id)
    if customer is None:
        raise NotFound(f"customer_id: no customer {customer_id}", rule=rule, field="customer_id")
    return customer


def _invitation_result(ctx: Context, customer: Customer, invitation: Invitation) -> dict[str, str]:
    return {
        "token": issue_token(ctx.secret_key, customer.id, invitation.invitation_id),
        "email": invitation.email,
        "expires_at": invitation.expires_at.isoformat(),
    }


def order_fingerprint(cmd: PlaceOrder) -> str:
    content = cmd.model_dump(mode="json", exclude={"at", "actor", "command"})
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _order_result(ctx: Context, customer: Customer, po_number: str) -> Result:
    contract = customer.contracts[po_number]
    result: Result = {
        "customer_id": str(customer.id),
        "account_id": str(contract.account_id),
        "warnings": list(contract.warnings),
    }
    if contract.invitation_id is not None:
        invitation = customer.invitations[contract.invitation_id]
        result["invitation"] = _invitation_result(ctx, customer, invitation)
    return result


def place_order(cmd: PlaceOrder, uow: UnitOfWork, ctx: Context) -> Result:
    for party, address in (("end_customer", cmd.end_customer.address), ("reseller", cmd.reseller.address),
                           ("distributor", cmd.distributor.address)):
        require_country(ctx.countries, address.country, field=f"{party}.address.country", rule=PlaceOrder.rule)
    auth.require_ops(ctx.who, "PlaceOrder")
    fingerprint = order_fingerprint(cmd)
    reserved = uow.purchase_order(cmd.po_number)
    if reserved is not None:
        if reserved.fingerprint != fingerprint:
            raise Conflict(
                f"po_number: PO {cmd.po_number} was already placed with different content; a PO "
                "number is unique across the ledger",
                rule="R5",
                field="po_number",
                code="duplicate_po",
            )
        return _order_result(ctx, _customer(uow, reserved.customer_id), cmd.po_number)
    ec = cmd.end_customer
    if cmd.customer_id is not None:
        customer = _customer(uow, cmd.customer_id)
    else:
        key = Customer.key_for(ec.company, ec.parent_company)
        found = uow.customer(customer_id_for(key)) if key else None
        customer = found or Customer.register(
            company=ec.company, parent_company=ec.parent_company, at=ctx.at, actor=ctx.actor
        )
    customer.place_order(
        po_number=cmd.po_number,
        service=cmd.service,
        years=cmd.years,
        quantity=cmd.quantity,
        end_customer=ec.model_dump(mode="json"),
        reseller=cmd.reseller.model_dump(mode="json"),
        distributor=cmd.distributor.model_dump(mode="json"),
        grace_days=ctx.grace_days,
        at=ctx.at,
        actor=ctx.actor,
    )
    reservation = PurchaseOrder(
        po_number=cmd.po_number,
        customer_id=customer.id,
        fingerprint=fingerprint,
        at=ctx.at,
        actor=ctx.actor,
    )
    uow.stage(customer, reservation)
    return _order_result(ctx, customer, cmd.po_number)


def cancel_order(cmd: CancelOrder, uow: UnitOfWork, ctx: Context) -> Result:
    auth.require_ops(ctx.who, "CancelOrder")
    reserved = uow.purchase_order(cmd.po_number)
    if reserved is None:
        raise NotFound(f"po_number: no order {cmd.po_number}", rule="R7", field="po_number")
    customer = _customer(uow, reserved.customer_id)
    customer.cancel_order(po_number=reserved.po_number, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def expire_contracts(cmd: ExpireContracts, uow: UnitOfWork, ctx: Context) -> Result:
    auth.require_ops(ctx.who, "ExpireContracts")
    expired: list[str] = []
    deferred: list[dict[str, str]] = []
    for customer_id in uow.expiry_candidates(ctx.at):
        customer = uow.customer(customer_id)
        if customer is None:
            continue
        try:
            pos = customer.expire_contracts(at=ctx.at, actor=ctx.actor)
        except RuleViolation as refusal:
            deferred.append({"customer_id": str(customer_id), "reason": refusal.message})
            continue
        if customer.pending_events:
            uow.stage(customer)
        expired.extend(pos)
    result: Result = {"customer_id": None, "expired": sorted(expired)}
    if deferred:
        result["deferred"] = deferred
    return result


def _managed(uow: UnitOfWork, ctx: Context, customer_id: UUID, command: str) -> Customer:
    customer = _customer(uow, customer_id)
    auth.require_manager(ctx.who, customer, uow.partner, command)
    return customer


def _access_managed(uow: UnitOfWork, ctx: Context, customer_id: UUID, command: str) -> Customer:
    """The customer, if the actor may manage its own access: ops or its own admins (R16, R17)."""
    customer = _customer(uow, customer_id)
    auth.require_access_manager(ctx.who, customer, uow.partner, command)
    return customer


def add_room(cmd: AddRoom, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _managed(uow, ctx, cmd.customer_id, "AddRoom")
    room_id = customer.add_room(
        account_id=cmd.account_id,
        name=cmd.name,
        site=cmd.site,
        country=cmd.country,
        countries=ctx.countries,
        at=ctx.at,
        actor=ctx.actor,
    )
    uow.stage(customer)
    return {"customer_id": str(customer.id), "room_id": str(room_id)}


def assign_license(cmd: AssignLicense, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _managed(uow, ctx, cmd.customer_id, "AssignLicense")
    customer.assign_license(
        room_id=cmd.room_id, po_number=cmd.po_number, countries=ctx.countries, at=ctx.at, actor=ctx.actor
    )
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def move_license(cmd: MoveLicense, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _managed(uow, ctx, cmd.customer_id, "MoveLicense")
    customer.move_license(
        service=cmd.service,
        from_room_id=cmd.from_room_id,
        to_room_id=cmd.to_room_id,
        countries=ctx.countries,
        at=ctx.at,
        actor=ctx.actor,
    )
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def register_device(cmd: RegisterDevice, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _managed(uow, ctx, cmd.customer_id, "RegisterDevice")
    taken = uow.serial_number(cmd.serial_number)
    if taken is not None:
        where = "this customer" if taken.customer_id == customer.id else "another customer"
        raise Conflict(
            f"serial_number: {cmd.serial_number} is already registered to {where}; a serial "
            "number is unique across the ledger",
            rule="R11",
            field="serial_number",
            code="duplicate_serial",
        )
    warranty_end = customer.register_device(
        room_id=cmd.room_id,
        serial_number=cmd.serial_number,
        product=cmd.product,
        purchased_on=cmd.purchased_on,
        at=ctx.at,
        actor=ctx.actor,
    )
    reservation = SerialNumber(
        serial_number=cmd.serial_number, customer_id=customer.id, at=ctx.at, actor=ctx.actor
    )
    uow.stage(customer, reservation)
    return {
        "customer_id": str(customer.id),
        "warranty_end": warranty_end.isoformat() if warranty_end else None,
    }


def move_device(cmd: MoveDevice, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _managed(uow, ctx, cmd.customer_id, "MoveDevice")
    reserved = uow.serial_number(cmd.serial_number)
    serial_number = reserved.serial_number if reserved is not None else cmd.serial_number
    customer.move_device(serial_number=serial_number, to_room_id=cmd.to_room_id, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def allocate_spare(cmd: AllocateSpare, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _managed(uow, ctx, cmd.customer_id, "AllocateSpare")
    spare_no = customer.allocate_spare(product=cmd.product, ship_to=cmd.ship_to, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id), "spare_no": spare_no}


def send_invitation(cmd: SendInvitation, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _access_managed(uow, ctx, cmd.customer_id, "SendInvitation")
    invitation = customer.send_invitation(email=cmd.email, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id), "invitation": _invitation_result(ctx, customer, invitation)}


def accept_invitation(cmd: AcceptInvitation, uow: UnitOfWork, ctx: Context) -> Result:
    customer_id, invitation_id = read_token(ctx.secret_key, cmd.token)
    if ctx.who.email is None:
        raise Forbidden(
            "actor: an invitation is accepted by the invited person's e-mail, not by ops or a key",
            rule="R15",
            field="actor",
        )
    customer = uow.customer(customer_id)
    if customer is None or not auth.trusted_here(ctx.who, customer):
        raise Forbidden("token: the invitation token is not valid", rule="R15", field="token")
    customer.accept_invitation(invitation_id=invitation_id, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def invite_user(cmd: InviteUser, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _access_managed(uow, ctx, cmd.customer_id, "InviteUser")
    invitation = customer.invite_user(email=cmd.email, role=cmd.role, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id), "invitation": _invitation_result(ctx, customer, invitation)}


def change_role(cmd: ChangeRole, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _access_managed(uow, ctx, cmd.customer_id, "ChangeRole")
    customer.change_role(email=cmd.email, role=cmd.role, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def remove_user(cmd: RemoveUser, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _access_managed(uow, ctx, cmd.customer_id, "RemoveUser")
    customer.remove_user(email=cmd.email, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def register_partner(cmd: RegisterPartner, uow: UnitOfWork, ctx: Context) -> Result:
    auth.require_ops(ctx.who, "RegisterPartner")
    if uow.partner(cmd.partner_id) is not None:
        raise Conflict(
            f"partner_id: partner {cmd.partner_id} is already registered",
            rule="R17",
            field="partner_id",
            code="duplicate_partner",
        )
    partner = Partner(partner_id=cmd.partner_id, name=cmd.name, at=ctx.at, actor=ctx.actor)
    uow.stage(partner)
    return {"customer_id": None, "partner_id": cmd.partner_id}


def _partner(uow: UnitOfWork, partner_id: str) -> Partner:
    partner = uow.partner(partner_id)
    if partner is None:
        raise NotFound(f"partner_id: no partner {partner_id}", rule="R17", field="partner_id")
    return partner


def add_partner_user(cmd: AddPartnerUser, uow: UnitOfWork, ctx: Context) -> Result:
    auth.require_ops(ctx.who, "AddPartnerUser")
    partner = _partner(uow, cmd.partner_id)
    partner.add_user(email=cmd.email, at=ctx.at, actor=ctx.actor)
    uow.stage(partner)
    return {"customer_id": None, "partner_id": cmd.partner_id}


def delegate_partner(cmd: DelegatePartner, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _customer(uow, cmd.customer_id)
    auth.require_owner_admin(ctx.who, customer, "DelegatePartner", uow.partner)
    partner = _partner(uow, cmd.partner_id)
    # Partner ids are case-insensitive: key the delegation by the id the partner was registered with.
    customer.delegate_partner(partner_id=partner.partner_id, role=cmd.role, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def revoke_partner(cmd: RevokePartner, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _customer(uow, cmd.customer_id)
    auth.require_owner_admin(ctx.who, customer, "RevokePartner", uow.partner)
    partner = uow.partner(cmd.partner_id)
    partner_id = partner.partner_id if partner is not None else cmd.partner_id
    partner_users = frozenset(partner.users) if partner is not None else frozenset()
    customer.revoke_partner(partner_id=partner_id, partner_users=partner_users, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def configure_sso(cmd: ConfigureSso, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _customer(uow, cmd.customer_id)
    auth.require_owner_admin(ctx.who, customer, "ConfigureSso", uow.partner)
    customer.configure_sso(
        issuer=cmd.issuer,
        audience=cmd.audience,
        allowed_domains=tuple(cmd.allowed_domains),
        at=ctx.at,
        actor=ctx.actor,
    )
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


def remove_sso(cmd: RemoveSso, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _customer(uow, cmd.customer_id)
    auth.require_owner_admin(ctx.who, customer, "RemoveSso", uow.partner)
    customer.remove_sso(at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id)}


Handler = Callable[[Any, UnitOfWork, Context], Result]

HANDLERS: dict[type[Command], Handler] = {
    PlaceOrder: place_order,
    CancelOrder: cancel_order,
    ExpireContracts: expire_contracts,
    AddRoom: add_room,
    AssignLicense: assign_license,
    MoveLicense: move_license,
    RegisterDevice: register_device,
    MoveDevice: move_device,
    AllocateSpare: allocate_spare,
    SendInvitation: send_invitation,
    AcceptInvitation: accept_invitation,
    InviteUser: invite_user,
    ChangeRole: change_role,
    RemoveUser: remove_user,
    RegisterPartner: register_partner,
    AddPartnerUser: add_partner_user,
    DelegatePartner: delegate_partner,
    RevokePartner: revoke_partner,
    ConfigureSso: configure_sso,
    RemoveSso: remove_sso,
}
