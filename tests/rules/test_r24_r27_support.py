"""R24 opening tickets, R25 their lifecycle, R26 RMA and onsite-spare swaps, R27 Jumpstart.

Given events (a set-up customer) / when a command / then its events, or a refusal recording nothing.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import command, order, run
from tests.kit.helpers import customer, events, refused, types
from tests.kit.support import JANE, TICKET_AT, VIKTOR, open_ticket, support_customer, ticket_command

LATER = "2026-06-01T10:00:00Z"
PAT = "pat@avpartner.example"


@pytest.fixture
def acme(app: LedgerApplication) -> dict[str, Any]:
    return support_customer(app)


def _cmd(kind: str, at: str, actor: str = "ops", **fields: Any) -> dict[str, Any]:
    return command(kind, at, actor, **fields)


# ----- R24: who may open a ticket, on which entitlement, with what snapshot


def test_r24_select_room_ticket_records_the_room_snapshot(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid = acme["customer_id"]
    result = open_ticket(app, cid, acme["rooms"]["boardroom"], serials=["RB-0001"])
    assert types(result) == ["TicketOpened"]
    assert result["support"] == "select"
    (opened,) = events(app, cid, "TicketOpened")
    assert opened["ticket_id"] == result["ticket_id"]
    room = opened["room"]
    assert (room["name"], room["site"], room["country"]) == ("Boardroom", "HQ", "US")
    assert room["terms"]["rma"] == "next-business-day"
    assert room["licenses"] == [{"service": "select", "po_number": "PO-1", "coverage_end": "2029-05-20T10:00:00+00:00"}]
    assert [(d["serial_number"], d["product"], d["warranty_end"]) for d in room["devices"]] == [
        ("RB-0001", "Rally Bar", "2029-05-20"),
        ("TAP-0001", "Tap and Tap IP", "2029-05-20"),
    ]
    assert opened["serial_numbers"] == ["RB-0001"]


def test_r24_rma_only_ticket_for_a_device_under_warranty(app: LedgerApplication, acme: dict[str, Any]) -> None:
    result = open_ticket(app, acme["customer_id"], acme["rooms"]["huddle"], serials=["MU-0001"])
    assert result["support"] == "rma_only"


def test_r24_no_select_no_jumpstart_no_device_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["huddle"])
    refused(app, raw, rule="R24", field="room_id", code="not_entitled")


def test_r24_device_out_of_warranty_without_select_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["storage"], serials=["RA-0001"])
    refused(app, raw, rule="R24", field="serial_numbers[0]", code="not_entitled")


def test_r24_serials_must_be_devices_of_that_room(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["boardroom"], serials=["MU-0001"])
    refused(app, raw, rule="R24", field="serial_numbers[0]", code="device_not_in_room")


def test_r24_viewer_may_not_open_a_ticket(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["boardroom"], actor=VIKTOR)
    refused(app, raw, rule="R24", field="actor")


def test_r24_stranger_may_not_open_a_ticket(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["boardroom"], actor="eve@evil.example")
    refused(app, raw, rule="R17", field="actor")


def test_r24_admin_partner_user_and_ops_may_open(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid = acme["customer_id"]
    run(app, _cmd("RegisterPartner", TICKET_AT, partner_id="avpartner", name="AV Partner"))
    run(app, _cmd("AddPartnerUser", TICKET_AT, partner_id="avpartner", email=PAT))
    run(app, _cmd("DelegatePartner", TICKET_AT, JANE, customer_id=cid, partner_id="avpartner", role="admin"))
    assert open_ticket(app, cid, acme["rooms"]["boardroom"], actor=PAT)["ticket_id"]
    assert open_ticket(app, cid, acme["rooms"]["boardroom"], actor="ops", source="api")["ticket_id"]


def test_r24_exactly_one_of_room_id_and_external_room_id(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], None)
    refused(app, raw, rule="R24", field="external_room_id")


def test_r24_unknown_room_is_not_found(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["account_id"])
    refused(app, raw, rule="R9", field="room_id")


# ----- R25: lifecycle, comments, reopen


def _ticket(app: LedgerApplication, acme: dict[str, Any], **fields: Any) -> tuple[str, str]:
    result = open_ticket(app, acme["customer_id"], acme["rooms"]["boardroom"], serials=["RB-0001"], **fields)
    return acme["customer_id"], result["ticket_id"]


def _status(cid: str, tid: str, status: str, at: str, actor: str = "ops") -> dict[str, Any]:
    return _cmd("UpdateTicket", at, actor, customer_id=cid, ticket_id=tid, status=status)


def test_r25_ops_moves_the_status_through_the_lifecycle(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    for status, at in (("in_progress", "2026-06-01T09:30:00Z"), ("waiting_on_customer", "2026-06-01T10:00:00Z"),
                       ("in_progress", "2026-06-02T09:00:00Z"), ("resolved", "2026-06-02T12:00:00Z"),
                       ("closed", "2026-06-20T12:00:00Z")):
        assert types(run(app, _status(cid, tid, status, at))) == ["TicketStatusChanged"]
    ticket = customer(app, cid).tickets[next(iter(customer(app, cid).tickets))]
    assert ticket.status == "closed"
    assert ticket.first_response_at is not None and ticket.first_response_at.isoformat() == "2026-06-01T09:30:00+00:00"
    changes = events(app, cid, "TicketStatusChanged")
    assert [c["first_response"] for c in changes] == [True, False, False, False, False]
    assert {c["opened_by"] for c in changes} == {JANE}


def test_r25_only_ops_moves_the_status(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    refused(app, _status(cid, tid, "in_progress", LATER, JANE), rule="R25", field="actor")


def test_r25_a_move_outside_the_lifecycle_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    refused(app, _status(cid, tid, "closed", LATER), rule="R25", field="status", code="invalid_transition")


def test_r25_unknown_status_is_refused_by_the_model(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    refused(app, _status(cid, tid, "open", LATER), rule="R25", field="status")


def test_r25_comments_by_users_and_support(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    jane = run(app, _cmd("CommentOnTicket", LATER, JANE, customer_id=cid, ticket_id=tid, text="Still down"))
    assert types(jane) == ["TicketCommented"]
    run(app, _cmd("CommentOnTicket", LATER, customer_id=cid, ticket_id=tid, text="Looking into it"))
    comments = events(app, cid, "TicketCommented")
    assert [(c["by_support"], c["first_response"]) for c in comments] == [(False, False), (True, True)]


def test_r25_viewers_cannot_comment(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    raw = _cmd("CommentOnTicket", LATER, VIKTOR, customer_id=cid, ticket_id=tid, text="hello")
    refused(app, raw, rule="R25", field="actor")


def _resolved(app: LedgerApplication, acme: dict[str, Any]) -> tuple[str, str]:
    cid, tid = _ticket(app, acme)
    run(app, _status(cid, tid, "in_progress", "2026-06-01T09:30:00Z"))
    run(app, _status(cid, tid, "resolved", "2026-06-02T09:00:00Z"))
    return cid, tid


def test_r25_reopen_within_14_days_of_resolution(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _resolved(app, acme)
    reopened = run(app, _cmd("ReopenTicket", "2026-06-16T09:00:00Z", JANE, customer_id=cid, ticket_id=tid))
    assert types(reopened) == ["TicketReopened"]
    ticket = customer(app, cid).tickets[next(iter(customer(app, cid).tickets))]
    assert (ticket.status, ticket.resolved_at) == ("in_progress", None)


def test_r25_reopen_after_14_days_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _resolved(app, acme)
    raw = _cmd("ReopenTicket", "2026-06-16T09:00:01Z", JANE, customer_id=cid, ticket_id=tid)
    refused(app, raw, rule="R25", field="at", code="reopen_window_closed")


def test_r25_reopen_of_an_open_ticket_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    refused(app, _cmd("ReopenTicket", LATER, JANE, customer_id=cid, ticket_id=tid), rule="R25", field="ticket_id")


def test_r25_no_comment_on_a_closed_ticket(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _resolved(app, acme)
    run(app, _status(cid, tid, "closed", "2026-06-03T09:00:00Z"))
    raw = _cmd("CommentOnTicket", "2026-06-03T10:00:00Z", JANE, customer_id=cid, ticket_id=tid, text="again")
    refused(app, raw, rule="R25", field="ticket_id", code="ticket_closed")


def test_r25_unknown_ticket_is_not_found(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = _status(acme["customer_id"], acme["account_id"], "in_progress", LATER)
    refused(app, raw, rule="R25", field="ticket_id")


# ----- R26: RMA and onsite-spare swaps


def test_r26_rma_ships_on_the_country_terms_and_replacement_inherits_warranty(
    app: LedgerApplication, acme: dict[str, Any]
) -> None:
    cid, tid = _ticket(app, acme)
    rma = run(app, _cmd("RequestRma", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001"))
    assert types(rma) == ["RmaRequested"]
    assert rma["due"] == "2026-06-02"  # next business day in the US
    received = run(app, _cmd("ReceiveReplacement", "2026-06-02T09:00:00Z", customer_id=cid, ticket_id=tid,
                             serial_number="RB-0001", new_serial_number="RB-0002"))
    assert "ReplacementReceived" in types(received)
    assert received["warranty_end"] == "2029-05-20"
    state = customer(app, cid)
    assert "RB-0001" not in state.devices
    assert state.devices["RB-0002"].room_id == state.devices["TAP-0001"].room_id
    assert state.warranty_end("RB-0002", state.last_at) == state.warranty_end("TAP-0001", state.last_at)


def test_r26_failed_serial_can_never_be_registered_again(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    run(app, _cmd("RequestRma", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001"))
    run(app, _cmd("ReceiveReplacement", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001",
                  new_serial_number="RB-0002"))
    again = _cmd("RegisterDevice", LATER, customer_id=cid, room_id=acme["rooms"]["storage"], serial_number="RB-0001",
                 product="Rally Bar", purchased_on="2026-01-15")
    refused(app, again, rule="R11", field="serial_number", code="duplicate_serial")
    other = run(app, order(po="PO-G", company="Globex", email="g@globex.example", at=LATER))
    room = run(app, _cmd("AddRoom", LATER, customer_id=other["customer_id"], account_id=other["account_id"],
                         name="G1", site="X", country="US"))["room_id"]
    elsewhere = _cmd("RegisterDevice", LATER, customer_id=other["customer_id"], room_id=room,
                     serial_number="rb-0001", product="Rally Bar", purchased_on="2026-01-15")
    refused(app, elsewhere, rule="R11", field="serial_number", code="duplicate_serial")


def test_r26_rma_needs_a_device_under_warranty(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    # the 2019 Rally, moved into the Select boardroom, is past the 5-year cap (R11)
    run(app, _cmd("MoveDevice", LATER, customer_id=cid, serial_number="RA-0001", to_room_id=acme["rooms"]["boardroom"]))
    raw = _cmd("RequestRma", LATER, customer_id=cid, ticket_id=tid, serial_number="RA-0001")
    refused(app, raw, rule="R26", field="serial_number", code="not_under_warranty")


def test_r26_rma_only_by_ops(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    raw = _cmd("RequestRma", LATER, JANE, customer_id=cid, ticket_id=tid, serial_number="RB-0001")
    refused(app, raw, rule="R26", field="actor")


def test_r26_replacement_without_rma_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    raw = _cmd("ReceiveReplacement", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001",
               new_serial_number="RB-0002")
    refused(app, raw, rule="R26", field="serial_number", code="no_rma_requested")


def test_r26_instant_swap_uses_the_spare_and_owes_one(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    before = customer(app, cid).entitled_spares
    swap = run(app, _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001",
                         spare_no=acme["spare_no"], new_serial_number="RB-SPARE-1"))
    assert types(swap) == ["SpareUsed", "SpareOwed", "SerialNumber.Reserved"]
    assert events(app, cid, "SpareOwed") == [{"spare_no": 1, "product": "Rally Bar", "ship_to": "Springfield HQ"}]
    state = customer(app, cid)
    assert state.entitled_spares == before == 1
    assert len(state.live_spares) == 1
    assert state.devices["RB-SPARE-1"].room_id.hex == acme["rooms"]["boardroom"].replace("-", "")
    assert set(state.owed_spares()) == {1}
    again = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="TAP-0001",
                 spare_no=1, new_serial_number="TAP-0002")
    refused(app, again, rule="R26", field="spare_no", code="spare_owed")
    replenished = run(app, _cmd("ReplenishSpare", "2026-06-05T09:00:00Z", customer_id=cid, spare_no=1))
    assert types(replenished) == ["SpareReplenished"]
    assert customer(app, cid).owed_spares() == {}


def test_r26_swap_needs_a_spare_of_the_same_product(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    raw = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="TAP-0001", spare_no=1,
               new_serial_number="TAP-0002")
    refused(app, raw, rule="R26", field="spare_no", code="spare_product_mismatch")


def test_r26_swap_with_an_unknown_spare_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    raw = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001", spare_no=9,
               new_serial_number="RB-0009")
    refused(app, raw, rule="R14", field="spare_no")


def test_r26_swap_to_a_taken_serial_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(app, acme)
    raw = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001", spare_no=1,
               new_serial_number="MU-0001")
    refused(app, raw, rule="R11", field="new_serial_number", code="duplicate_serial")


def test_r26_replenish_of_a_spare_not_owed_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    refused(app, _cmd("ReplenishSpare", LATER, customer_id=acme["customer_id"], spare_no=1), rule="R26",
            field="spare_no", code="spare_not_owed")


# ----- R27: Jumpstart


def _jumpstart(app: LedgerApplication, acme: dict[str, Any], at: str = "2026-05-30T09:00:00Z") -> dict[str, Any]:
    raw = order(po="PO-JS", at=at, service="jumpstart", quantity=1)
    del raw["years"]
    return run(app, raw)


def test_r27_jumpstart_order_has_90_days_and_no_years(app: LedgerApplication, acme: dict[str, Any]) -> None:
    result = _jumpstart(app, acme)
    assert types(result) == ["OrderPlaced", "ContractStarted", "PurchaseOrder.Reserved"]
    contract = customer(app, acme["customer_id"]).contracts["PO-JS"]
    assert contract.years is None
    end = contract.end_as_of(contract.placed_at)
    assert end is not None and end.isoformat() == "2026-08-28T09:00:00+00:00"


def test_r27_jumpstart_with_years_is_refused(app: LedgerApplication) -> None:
    refused(app, order(po="PO-JS", service="jumpstart", years=1), rule="R4", field="years")


def test_r27_other_services_need_years(app: LedgerApplication) -> None:
    raw = order(po="PO-X")
    del raw["years"]
    refused(app, raw, rule="R4", field="years")


def test_r27_jumpstart_gives_no_room_license(app: LedgerApplication, acme: dict[str, Any]) -> None:
    _jumpstart(app, acme)
    raw = _cmd("AssignLicense", LATER, customer_id=acme["customer_id"], room_id=acme["rooms"]["storage"],
               po_number="PO-JS")
    refused(app, raw, rule="R27", field="po_number", code="no_room_licenses")


def test_r27_jumpstart_gives_no_spare(app: LedgerApplication) -> None:
    raw = order(po="PO-JS", service="jumpstart", quantity=500)
    del raw["years"]
    assert "SpareAccrued" not in types(run(app, raw))


def test_r27_jumpstart_room_gets_jumpstart_support_select_room_select(
    app: LedgerApplication, acme: dict[str, Any]
) -> None:
    _jumpstart(app, acme)
    cid = acme["customer_id"]
    assert open_ticket(app, cid, acme["rooms"]["storage"])["support"] == "jumpstart"
    assert open_ticket(app, cid, acme["rooms"]["boardroom"])["support"] == "select"


def test_r27_jumpstart_ends_after_90_days(app: LedgerApplication, acme: dict[str, Any]) -> None:
    _jumpstart(app, acme)
    raw = ticket_command(acme["customer_id"], acme["rooms"]["storage"], at="2026-08-28T09:00:01Z")
    refused(app, raw, rule="R24", field="room_id", code="not_entitled")
