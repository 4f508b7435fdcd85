"""Handlers of support tickets, RMA and spare swaps, and room import (R24–R28), with their authorization."""

from __future__ import annotations

from typing import Any

from aggregates.customer import Customer
from aggregates.errors import Conflict, Forbidden, InvalidInput, LedgerError
from aggregates.reservations import SerialNumber
from commands import auth
from commands.handlers import Context, Handler, Result, UnitOfWork, _customer
from commands.models import Command
from commands.support_models import (
    CommentOnTicket,
    ImportRooms,
    OpenTicket,
    ReceiveReplacement,
    ReopenTicket,
    ReplenishSpare,
    RequestRma,
    SwapWithSpare,
    UpdateTicket,
)


def require_ticket_worker(who: auth.Principal, customer: Customer, uow: UnitOfWork, command: str, rule: str) -> None:
    """Who may open, comment on and reopen tickets (R24, R25): support staff (ops), the customer's
    admins, admin users of a delegating partner, and admin integration keys of the customer."""
    role = auth.role_of(who, customer, uow.partner)
    if role in (auth.OPS, "admin"):
        return
    if role == "viewer":
        raise Forbidden(
            f"actor: {who.actor} is a viewer of this customer and may not {command}; viewers read tickets "
            f"but change nothing ({rule})",
            rule=rule,
            field="actor",
        )
    raise Forbidden(
        f"actor: {who.actor} has no access to this customer, neither as its user nor through a delegating "
        "partner (R17)",
        rule="R17",
        field="actor",
        code=auth.NO_ACCESS,
    )


def require_support_staff(who: auth.Principal, command: str, rule: str) -> None:
    if not who.ops:
        raise Forbidden(
            f"actor: only support staff (ops) may {command}; {who.actor} may not ({rule})", rule=rule, field="actor"
        )


def _new_serial(uow: UnitOfWork, customer: Customer, serial_number: str, ctx: Context) -> SerialNumber:
    taken = uow.serial_number(serial_number)
    if taken is not None:
        raise Conflict(
            f"new_serial_number: {serial_number} is already registered on the ledger; a serial number is "
            "unique and never reused (R11, R26)",
            rule="R11",
            field="new_serial_number",
            code="duplicate_serial",
        )
    return SerialNumber(serial_number=serial_number, customer_id=customer.id, at=ctx.at, actor=ctx.actor)


def open_ticket(cmd: OpenTicket, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _customer(uow, cmd.customer_id)
    require_ticket_worker(ctx.who, customer, uow, "OpenTicket", "R24")
    if cmd.room_id is not None:
        room = customer.room(cmd.room_id)
    else:
        room = customer.room_by_external_id(str(cmd.external_room_id))
    ticket_id = customer.open_ticket(
        room=room,
        external_room_id=cmd.external_room_id,
        severity=cmd.severity,
        summary=cmd.summary,
        serial_numbers=list(cmd.serial_numbers),
        source=cmd.source,
        countries=ctx.countries,
        at=ctx.at,
        actor=ctx.actor,
    )
    uow.stage(customer)
    ticket = customer.tickets[ticket_id]
    return {"customer_id": str(customer.id), "ticket_id": str(ticket_id), "room_id": str(room.room_id),
            "support": ticket.support}


def update_ticket(cmd: UpdateTicket, uow: UnitOfWork, ctx: Context) -> Result:
    require_support_staff(ctx.who, "UpdateTicket", "R25")
    customer = _customer(uow, cmd.customer_id)
    customer.update_ticket(ticket_id=cmd.ticket_id, status=cmd.status, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id), "ticket_id": str(cmd.ticket_id), "status": cmd.status}


def comment_on_ticket(cmd: CommentOnTicket, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _customer(uow, cmd.customer_id)
    require_ticket_worker(ctx.who, customer, uow, "CommentOnTicket", "R25")
    customer.comment_on_ticket(
        ticket_id=cmd.ticket_id, text=cmd.text, by_support=ctx.who.ops, at=ctx.at, actor=ctx.actor
    )
    uow.stage(customer)
    return {"customer_id": str(customer.id), "ticket_id": str(cmd.ticket_id)}


def reopen_ticket(cmd: ReopenTicket, uow: UnitOfWork, ctx: Context) -> Result:
    customer = _customer(uow, cmd.customer_id)
    require_ticket_worker(ctx.who, customer, uow, "ReopenTicket", "R25")
    customer.reopen_ticket(ticket_id=cmd.ticket_id, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id), "ticket_id": str(cmd.ticket_id), "status": "in_progress"}


def request_rma(cmd: RequestRma, uow: UnitOfWork, ctx: Context) -> Result:
    require_support_staff(ctx.who, "RequestRma", "R26")
    customer = _customer(uow, cmd.customer_id)
    due = customer.request_rma(
        ticket_id=cmd.ticket_id,
        serial_number=cmd.serial_number,
        countries=ctx.countries,
        calendar=ctx.support_targets.calendar,
        at=ctx.at,
        actor=ctx.actor,
    )
    uow.stage(customer)
    return {"customer_id": str(customer.id), "ticket_id": str(cmd.ticket_id), "due": due.isoformat()}


def receive_replacement(cmd: ReceiveReplacement, uow: UnitOfWork, ctx: Context) -> Result:
    require_support_staff(ctx.who, "ReceiveReplacement", "R26")
    customer = _customer(uow, cmd.customer_id)
    warranty_end = customer.receive_replacement(
        ticket_id=cmd.ticket_id,
        serial_number=cmd.serial_number,
        new_serial_number=cmd.new_serial_number,
        at=ctx.at,
        actor=ctx.actor,
    )
    reservation = _new_serial(uow, customer, cmd.new_serial_number, ctx)
    uow.stage(customer, reservation)
    return {"customer_id": str(customer.id), "warranty_end": warranty_end.isoformat() if warranty_end else None}


def swap_with_spare(cmd: SwapWithSpare, uow: UnitOfWork, ctx: Context) -> Result:
    require_support_staff(ctx.who, "SwapWithSpare", "R26")
    customer = _customer(uow, cmd.customer_id)
    reservation = _new_serial(uow, customer, cmd.new_serial_number, ctx)
    warranty_end = customer.swap_with_spare(
        ticket_id=cmd.ticket_id,
        serial_number=cmd.serial_number,
        spare_no=cmd.spare_no,
        new_serial_number=cmd.new_serial_number,
        at=ctx.at,
        actor=ctx.actor,
    )
    uow.stage(customer, reservation)
    return {
        "customer_id": str(customer.id),
        "spare_no": cmd.spare_no,
        "warranty_end": warranty_end.isoformat() if warranty_end else None,
    }


def replenish_spare(cmd: ReplenishSpare, uow: UnitOfWork, ctx: Context) -> Result:
    require_support_staff(ctx.who, "ReplenishSpare", "R26")
    customer = _customer(uow, cmd.customer_id)
    customer.replenish_spare(spare_no=cmd.spare_no, at=ctx.at, actor=ctx.actor)
    uow.stage(customer)
    return {"customer_id": str(customer.id), "spare_no": cmd.spare_no}


def _listed_once(external_id: str, serials: list[str], listed: dict[str, str], seen_ids: set[str]) -> None:
    """R28: within one import a room appears once and a device in one room, so a re-import changes nothing."""
    if external_id in seen_ids:
        raise InvalidInput(
            f"external_id: {external_id!r} appears twice in this import (R28)",
            rule="R28",
            field="external_id",
            code="listed_twice",
        )
    for i, serial in enumerate(serials):
        other = listed.get(serial.upper())
        if other is not None and other != external_id:
            raise InvalidInput(
                f"devices[{i}].serial_number: {serial} is also listed in room {other!r} of this import (R28)",
                rule="R28",
                field=f"devices[{i}].serial_number",
                code="listed_twice",
            )
    seen_ids.add(external_id)
    for serial in serials:
        listed[serial.upper()] = external_id


def import_rooms(cmd: ImportRooms, uow: UnitOfWork, ctx: Context) -> Result:
    """R28: each room all or nothing; refused rooms are reported, the others recorded."""
    customer = _customer(uow, cmd.customer_id)
    auth.require_manager(ctx.who, customer, uow.partner, "ImportRooms")
    reports: list[dict[str, Any]] = []
    reservations: list[SerialNumber] = []
    listed: dict[str, str] = {}
    seen_ids: set[str] = set()
    for room in cmd.rooms:
        devices = [(d.serial_number, d.product, d.purchased_on) for d in room.devices]
        taken = {s for s, _, _ in devices if s not in customer.devices and uow.serial_number(s) is not None}
        try:
            _listed_once(room.external_id, [s for s, _, _ in devices], listed, seen_ids)
            room_id, status, new_serials = customer.import_room(
                account_id=cmd.account_id,
                external_id=room.external_id,
                name=room.name,
                site=room.site,
                country=room.country,
                devices=devices,
                taken=taken,
                countries=ctx.countries,
                at=ctx.at,
                actor=ctx.actor,
            )
        except LedgerError as refusal:
            known = customer.external_rooms.get(room.external_id)
            reports.append({
                "external_id": room.external_id,
                "room_id": str(known) if known is not None else None,
                "status": "refused",
                "error": refusal.as_dict(),
            })
            continue
        for serial in new_serials:
            reservation = SerialNumber(serial_number=serial, customer_id=customer.id, at=ctx.at, actor=ctx.actor)
            reservations.append(reservation)
            uow.stage(reservation)
        reports.append({"external_id": room.external_id, "room_id": str(room_id), "status": status})
    if customer.pending_events:
        uow.stage(customer)
    counts = {s: sum(1 for r in reports if r["status"] == s) for s in ("added", "updated", "unchanged", "refused")}
    return {"customer_id": str(customer.id), "rooms": reports, **counts}


SUPPORT_HANDLERS: dict[type[Command], Handler] = {
    OpenTicket: open_ticket,
    UpdateTicket: update_ticket,
    CommentOnTicket: comment_on_ticket,
    ReopenTicket: reopen_ticket,
    RequestRma: request_rma,
    ReceiveReplacement: receive_replacement,
    SwapWithSpare: swap_with_spare,
    ReplenishSpare: replenish_spare,
    ImportRooms: import_rooms,
}
