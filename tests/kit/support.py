"""A customer set up for support tests (R24–R28): rooms with and without Select, devices, a spare."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.app import LedgerApplication
from tests.kit.commands import command, order, run
from tests.kit.commands import run as run_command

JANE = "jane.doe@acme.example"
VIKTOR = "viktor.viewer@acme.example"
ORDER_AT = "2026-05-04T09:00:00Z"
ROOMS_AT = "2026-05-05T09:00:00Z"
ASSIGN_AT = "2026-05-20T10:00:00Z"
DEVICES_AT = "2026-05-21T09:00:00Z"
SPARE_AT = "2026-05-22T09:00:00Z"
TICKET_AT = "2026-06-01T09:00:00Z"  # a Monday


def support_customer(
    app: LedgerApplication, *, quantity: int = 60, runner: Callable[[dict[str, Any]], Any] | None = None
) -> dict[str, Any]:
    """Acme: Select PO-1 (``quantity`` licenses, 60 → one spare) and extended warranty PO-EW.

    Rooms: ``boardroom`` (select, Rally Bar RB-0001 and Tap TAP-0001), ``huddle`` (extended
    warranty only, Meetup MU-0001), ``storage`` (no license, Rally RA-0001 bought 2019). Jane is
    an admin, Viktor a viewer. With ``quantity`` ≥ 50, spare 1 is allocated to a Rally Bar.
    ``runner`` runs each command (default: ``tests.kit.commands.run`` on ``app``).
    """

    def run(_: LedgerApplication, raw: dict[str, Any]) -> Any:
        return runner(raw) if runner is not None else run_command(app, raw)

    placed = run(app, order(po="PO-1", at=ORDER_AT, quantity=quantity))
    cid, aid = placed["customer_id"], placed["account_id"]
    run(app, command("AcceptInvitation", ORDER_AT, JANE, token=placed["invitation"]["token"]))
    run(app, order(po="PO-EW", at=ORDER_AT, service="extended_warranty", years=2, quantity=5))
    invited = run(app, command("InviteUser", ORDER_AT, JANE, customer_id=cid, email=VIKTOR, role="viewer"))
    run(app, command("AcceptInvitation", ORDER_AT, VIKTOR, token=invited["invitation"]["token"]))
    rooms = {}
    for key, name in (("boardroom", "Boardroom"), ("huddle", "Huddle 2"), ("storage", "Storage")):
        added = run(app, command("AddRoom", ROOMS_AT, customer_id=cid, account_id=aid, name=name, site="HQ",
                                 country="US"))
        rooms[key] = added["room_id"]
    run(app, command("AssignLicense", ASSIGN_AT, customer_id=cid, room_id=rooms["boardroom"], po_number="PO-1"))
    run(app, command("AssignLicense", ASSIGN_AT, customer_id=cid, room_id=rooms["huddle"], po_number="PO-EW"))
    for room, serial, product, bought in (
        ("boardroom", "RB-0001", "Rally Bar", "2026-01-15"),
        ("boardroom", "TAP-0001", "Tap and Tap IP", "2026-01-15"),
        ("huddle", "MU-0001", "Meetup", "2025-03-01"),
        ("storage", "RA-0001", "Rally", "2019-02-01"),
    ):
        run(app, command("RegisterDevice", DEVICES_AT, customer_id=cid, room_id=rooms[room], serial_number=serial,
                         product=product, purchased_on=bought))
    spare_no = None
    if quantity >= 50:
        allocated = run(app, command("AllocateSpare", SPARE_AT, customer_id=cid, product="Rally Bar",
                                     ship_to="Springfield HQ"))
        spare_no = allocated["spare_no"]
    return {"customer_id": cid, "account_id": aid, "rooms": rooms, "spare_no": spare_no}


def open_ticket(
    app: LedgerApplication, cid: str, room_id: str, *, at: str = TICKET_AT, actor: str = JANE,
    severity: str = "high", serials: list[str] | None = None, **fields: Any,
) -> dict[str, Any]:
    return run(app, ticket_command(cid, room_id, at=at, actor=actor, severity=severity, serials=serials, **fields))


def ticket_command(
    cid: str, room_id: str | None, *, at: str = TICKET_AT, actor: str = JANE, severity: str = "high",
    serials: list[str] | None = None, **fields: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"customer_id": cid, "severity": severity, "summary": "Room offline",
                            "serial_numbers": serials or [], **fields}
    if room_id is not None:
        body["room_id"] = room_id
    return command("OpenTicket", at, actor, **body)
