"""R24 opening tickets, R25 their lifecycle, R26 RMA and onsite-spare swaps, R27 Jumpstart.

Given a set-up customer (``tests/kit/support.py``: Select and extended-warranty rooms, devices, a
spare) and the commands of its history, when a command, then the events it recorded (in order, with
their data) or its refusal recording nothing (``tests/kit/rules.py``); what a ticket, a room or the
spares look like afterwards is read from the views (read model = as-of fold), not from the aggregate.
"""

from __future__ import annotations

from typing import Any

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import command, order
from tests.kit.helpers import events, ts, types
from tests.kit.rules import Rules
from tests.kit.support import JANE, TICKET_AT, VIKTOR, support_customer, ticket_command

LATER = "2026-06-01T10:00:00Z"
PAT = "pat@avpartner.example"


@pytest.fixture
def acme(app: LedgerApplication) -> dict[str, Any]:
    return support_customer(app)


def _cmd(kind: str, at: str, actor: str = "ops", **fields: Any) -> dict[str, Any]:
    return command(kind, at, actor, **fields)


def _ticket_view(rules: Rules, cid: str, tid: str, at: str) -> dict[str, Any]:
    (view,) = [t for t in rules.view("tickets", cid, ts(at)) if t["ticket_id"] == tid]
    return view


def _rooms(rules: Rules, cid: str, at: str) -> dict[str, dict[str, Any]]:
    return {room["name"]: room for room in rules.view("rooms", cid, ts(at))}


# ----- R24: who may open a ticket, on which entitlement, with what snapshot


def test_r24_select_room_ticket_records_the_room_snapshot(
    app: LedgerApplication, rules: Rules, acme: dict[str, Any]
) -> None:
    cid, boardroom = acme["customer_id"], acme["rooms"]["boardroom"]
    result = rules.when(ticket_command(cid, boardroom, serials=["RB-0001"])).then(
        ("TicketOpened", {"room_id": boardroom, "external_room_id": None, "severity": "high", "source": "portal",
                          "support": "select", "serial_numbers": ["RB-0001"]})
    )
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


def test_r24_rma_only_ticket_for_a_device_under_warranty(rules: Rules, acme: dict[str, Any]) -> None:
    huddle = acme["rooms"]["huddle"]
    result = rules.when(ticket_command(acme["customer_id"], huddle, serials=["MU-0001"])).then(
        ("TicketOpened", {"room_id": huddle, "support": "rma_only", "serial_numbers": ["MU-0001"]})
    )
    assert result["support"] == "rma_only"


def test_r24_no_select_no_jumpstart_no_device_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["huddle"])
    rules.refused(raw, rule="R24", field="room_id", code="not_entitled")


def test_r24_device_out_of_warranty_without_select_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["storage"], serials=["RA-0001"])
    rules.refused(raw, rule="R24", field="serial_numbers[0]", code="not_entitled")


def test_r24_serials_must_be_devices_of_that_room(rules: Rules, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["boardroom"], serials=["MU-0001"])
    rules.refused(raw, rule="R24", field="serial_numbers[0]", code="device_not_in_room")


def test_r24_viewer_may_not_open_a_ticket(rules: Rules, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["boardroom"], actor=VIKTOR)
    rules.refused(raw, rule="R24", field="actor")


def test_r24_stranger_may_not_open_a_ticket(rules: Rules, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["rooms"]["boardroom"], actor="eve@evil.example")
    rules.refused(raw, rule="R17", field="actor")


def test_r24_admin_partner_user_and_ops_may_open(rules: Rules, acme: dict[str, Any]) -> None:
    cid, boardroom = acme["customer_id"], acme["rooms"]["boardroom"]
    rules.given(
        _cmd("RegisterPartner", TICKET_AT, partner_id="avpartner", name="AV Partner"),
        _cmd("AddPartnerUser", TICKET_AT, partner_id="avpartner", email=PAT),
        _cmd("DelegatePartner", TICKET_AT, JANE, customer_id=cid, partner_id="avpartner", role="admin"),
    )
    by_partner = rules.when(ticket_command(cid, boardroom, actor=PAT)).then(
        ("TicketOpened", {"room_id": boardroom, "source": "portal", "support": "select"})
    )
    assert by_partner["ticket_id"]
    by_ops = rules.when(ticket_command(cid, boardroom, actor="ops", source="api")).then(
        ("TicketOpened", {"room_id": boardroom, "source": "api", "support": "select"})
    )
    assert by_ops["ticket_id"]
    assert _ticket_view(rules, cid, by_partner["ticket_id"], LATER)["opened_by"] == PAT
    assert _ticket_view(rules, cid, by_ops["ticket_id"], LATER)["opened_by"] == "ops"


def test_r24_exactly_one_of_room_id_and_external_room_id(rules: Rules, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], None)
    rules.refused(raw, rule="R24", field="external_room_id")


def test_r24_unknown_room_is_not_found(rules: Rules, acme: dict[str, Any]) -> None:
    raw = ticket_command(acme["customer_id"], acme["account_id"])
    rules.refused(raw, rule="R9", field="room_id")


# ----- R25: lifecycle, comments, reopen


def _ticket(rules: Rules, acme: dict[str, Any], **fields: Any) -> tuple[str, str]:
    (result,) = rules.given(
        ticket_command(acme["customer_id"], acme["rooms"]["boardroom"], serials=["RB-0001"], **fields)
    )
    return acme["customer_id"], result["ticket_id"]


def _status(cid: str, tid: str, status: str, at: str, actor: str = "ops") -> dict[str, Any]:
    return _cmd("UpdateTicket", at, actor, customer_id=cid, ticket_id=tid, status=status)


def test_r25_ops_moves_the_status_through_the_lifecycle(
    app: LedgerApplication, rules: Rules, acme: dict[str, Any]
) -> None:
    cid, tid = _ticket(rules, acme)
    previous = "open"
    for n, (status, at) in enumerate((("in_progress", "2026-06-01T09:30:00Z"),
                                      ("waiting_on_customer", "2026-06-01T10:00:00Z"),
                                      ("in_progress", "2026-06-02T09:00:00Z"), ("resolved", "2026-06-02T12:00:00Z"),
                                      ("closed", "2026-06-20T12:00:00Z"))):
        moved = rules.when(_status(cid, tid, status, at)).then(
            ("TicketStatusChanged", {"ticket_id": tid, "status": status, "previous": previous,
                                     "first_response": n == 0, "opened_by": JANE})
        )
        assert types(moved) == ["TicketStatusChanged"]
        previous = status
    ticket = _ticket_view(rules, cid, tid, "2026-06-20T12:00:00Z")
    assert ticket["status"] == "closed"
    assert ticket["first_response_at"] is not None and ticket["first_response_at"] == "2026-06-01T09:30:00+00:00"
    assert (ticket["resolved_at"], ticket["closed_at"]) == ("2026-06-02T12:00:00+00:00", "2026-06-20T12:00:00+00:00")
    changes = events(app, cid, "TicketStatusChanged")
    assert [c["first_response"] for c in changes] == [True, False, False, False, False]
    assert {c["opened_by"] for c in changes} == {JANE}


def test_r25_only_ops_moves_the_status(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    rules.refused(_status(cid, tid, "in_progress", LATER, JANE), rule="R25", field="actor")


def test_r25_a_move_outside_the_lifecycle_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    rules.refused(_status(cid, tid, "closed", LATER), rule="R25", field="status", code="invalid_transition")


def test_r25_unknown_status_is_refused_by_the_model(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    rules.refused(_status(cid, tid, "open", LATER), rule="R25", field="status")


def test_r25_comments_by_users_and_support(app: LedgerApplication, rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    jane = rules.when(_cmd("CommentOnTicket", LATER, JANE, customer_id=cid, ticket_id=tid, text="Still down")).then(
        ("TicketCommented", {"ticket_id": tid, "text": "Still down", "by_support": False, "first_response": False})
    )
    assert types(jane) == ["TicketCommented"]
    rules.when(_cmd("CommentOnTicket", LATER, customer_id=cid, ticket_id=tid, text="Looking into it")).then(
        ("TicketCommented", {"ticket_id": tid, "text": "Looking into it", "by_support": True, "first_response": True})
    )
    comments = events(app, cid, "TicketCommented")
    assert [(c["by_support"], c["first_response"]) for c in comments] == [(False, False), (True, True)]
    ticket = _ticket_view(rules, cid, tid, LATER)
    assert (ticket["comments"], ticket["first_response_at"]) == (2, "2026-06-01T10:00:00+00:00")


def test_r25_viewers_cannot_comment(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    raw = _cmd("CommentOnTicket", LATER, VIKTOR, customer_id=cid, ticket_id=tid, text="hello")
    rules.refused(raw, rule="R25", field="actor")


def _resolved(rules: Rules, acme: dict[str, Any]) -> tuple[str, str]:
    cid, tid = _ticket(rules, acme)
    rules.given(_status(cid, tid, "in_progress", "2026-06-01T09:30:00Z"),
                _status(cid, tid, "resolved", "2026-06-02T09:00:00Z"))
    return cid, tid


def test_r25_reopen_within_14_days_of_resolution(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _resolved(rules, acme)
    reopened = rules.when(_cmd("ReopenTicket", "2026-06-16T09:00:00Z", JANE, customer_id=cid, ticket_id=tid)).then(
        ("TicketReopened", {"ticket_id": tid, "opened_by": JANE})
    )
    assert types(reopened) == ["TicketReopened"]
    ticket = _ticket_view(rules, cid, tid, "2026-06-16T09:00:00Z")
    assert (ticket["status"], ticket["resolved_at"]) == ("in_progress", None)


def test_r25_reopen_after_14_days_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _resolved(rules, acme)
    raw = _cmd("ReopenTicket", "2026-06-16T09:00:01Z", JANE, customer_id=cid, ticket_id=tid)
    rules.refused(raw, rule="R25", field="at", code="reopen_window_closed")


def test_r25_reopen_of_an_open_ticket_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    rules.refused(_cmd("ReopenTicket", LATER, JANE, customer_id=cid, ticket_id=tid), rule="R25", field="ticket_id")


def test_r25_no_comment_on_a_closed_ticket(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _resolved(rules, acme)
    rules.given(_status(cid, tid, "closed", "2026-06-03T09:00:00Z"))
    raw = _cmd("CommentOnTicket", "2026-06-03T10:00:00Z", JANE, customer_id=cid, ticket_id=tid, text="again")
    rules.refused(raw, rule="R25", field="ticket_id", code="ticket_closed")


def test_r25_unknown_ticket_is_not_found(rules: Rules, acme: dict[str, Any]) -> None:
    raw = _status(acme["customer_id"], acme["account_id"], "in_progress", LATER)
    rules.refused(raw, rule="R25", field="ticket_id")


# ----- R26: RMA and onsite-spare swaps


def test_r26_rma_ships_on_the_country_terms_and_replacement_inherits_warranty(
    rules: Rules, acme: dict[str, Any]
) -> None:
    cid, tid = _ticket(rules, acme)
    rma = rules.when(_cmd("RequestRma", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001")).then(
        ("RmaRequested", {"ticket_id": tid, "serial_number": "RB-0001", "rma_terms": "next-business-day",
                          "due": "2026-06-02"})
    )
    assert types(rma) == ["RmaRequested"]
    assert rma["due"] == "2026-06-02"  # next business day in the US
    received = rules.when(_cmd("ReceiveReplacement", "2026-06-02T09:00:00Z", customer_id=cid, ticket_id=tid,
                               serial_number="RB-0001", new_serial_number="RB-0002")).then(
        ("ReplacementReceived", {"ticket_id": tid, "serial_number": "RB-0001", "new_serial_number": "RB-0002",
                                 "room_id": acme["rooms"]["boardroom"], "product": "Rally Bar",
                                 "purchased_on": "2026-01-15"})
    )
    assert "ReplacementReceived" in types(received)
    assert received["warranty_end"] == "2029-05-20"
    rooms = _rooms(rules, cid, "2026-06-02T09:00:00Z")
    serials = {d["serial_number"] for room in rooms.values() for d in room["devices"]}
    assert "RB-0001" not in serials
    devices = {d["serial_number"]: d for d in rooms["Boardroom"]["devices"]}
    assert set(devices) == {"RB-0002", "TAP-0001"}  # the replacement is in the failed device's room
    assert devices["RB-0002"]["warranty_end"] == devices["TAP-0001"]["warranty_end"] == "2029-05-20"


def test_r26_failed_serial_can_never_be_registered_again(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    rules.given(
        _cmd("RequestRma", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001"),
        _cmd("ReceiveReplacement", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001",
             new_serial_number="RB-0002"),
    )
    again = _cmd("RegisterDevice", LATER, customer_id=cid, room_id=acme["rooms"]["storage"], serial_number="RB-0001",
                 product="Rally Bar", purchased_on="2026-01-15")
    rules.refused(again, rule="R11", field="serial_number", code="duplicate_serial")
    (other,) = rules.given(order(po="PO-G", company="Globex", email="g@globex.example", at=LATER))
    (added,) = rules.given(_cmd("AddRoom", LATER, customer_id=other["customer_id"], account_id=other["account_id"],
                                name="G1", site="X", country="US"))
    elsewhere = _cmd("RegisterDevice", LATER, customer_id=other["customer_id"], room_id=added["room_id"],
                     serial_number="rb-0001", product="Rally Bar", purchased_on="2026-01-15")
    rules.refused(elsewhere, rule="R11", field="serial_number", code="duplicate_serial")


def test_r26_rma_needs_a_device_under_warranty(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    # the 2019 Rally, moved into the Select boardroom, is past the 5-year cap (R11)
    rules.given(_cmd("MoveDevice", LATER, customer_id=cid, serial_number="RA-0001",
                     to_room_id=acme["rooms"]["boardroom"]))
    raw = _cmd("RequestRma", LATER, customer_id=cid, ticket_id=tid, serial_number="RA-0001")
    rules.refused(raw, rule="R26", field="serial_number", code="not_under_warranty")


def test_r26_rma_only_by_ops(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    raw = _cmd("RequestRma", LATER, JANE, customer_id=cid, ticket_id=tid, serial_number="RB-0001")
    rules.refused(raw, rule="R26", field="actor")


def test_r26_replacement_without_rma_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    raw = _cmd("ReceiveReplacement", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001",
               new_serial_number="RB-0002")
    rules.refused(raw, rule="R26", field="serial_number", code="no_rma_requested")


def test_r26_instant_swap_uses_the_spare_and_owes_one(
    app: LedgerApplication, rules: Rules, acme: dict[str, Any]
) -> None:
    cid, tid = _ticket(rules, acme)
    boardroom = acme["rooms"]["boardroom"]
    (before,) = rules.view("spares", cid, ts(LATER))
    swapped = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001",
                   spare_no=acme["spare_no"], new_serial_number="RB-SPARE-1")
    swap = rules.when(swapped).then(
        ("SpareUsed", {"spare_no": 1, "ticket_id": tid, "serial_number": "RB-0001", "new_serial_number": "RB-SPARE-1",
                       "room_id": boardroom, "product": "Rally Bar"}),
        ("SpareOwed", {"spare_no": 1, "product": "Rally Bar", "ship_to": "Springfield HQ"}),
        "SerialNumber.Reserved",
        only=None,
    )
    assert types(swap) == ["SpareUsed", "SpareOwed", "SerialNumber.Reserved"]
    assert events(app, cid, "SpareOwed") == [{"spare_no": 1, "product": "Rally Bar", "ship_to": "Springfield HQ"}]
    (spares,) = rules.view("spares", cid, ts(LATER))
    assert spares["entitled"] == before["entitled"] == 1
    assert len([s for s in spares["history"] if s["revoked_at"] is None]) == 1  # one live spare
    assert "RB-SPARE-1" in {d["serial_number"] for d in _rooms(rules, cid, LATER)["Boardroom"]["devices"]}
    assert [owed["spare_no"] for owed in spares["owed"]] == [1]
    again = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="TAP-0001",
                 spare_no=1, new_serial_number="TAP-0002")
    rules.refused(again, rule="R26", field="spare_no", code="spare_owed")
    replenished = rules.when(_cmd("ReplenishSpare", "2026-06-05T09:00:00Z", customer_id=cid, spare_no=1)).then(
        ("SpareReplenished", {"spare_no": 1})
    )
    assert types(replenished) == ["SpareReplenished"]
    assert rules.view("spares", cid, ts("2026-06-05T09:00:00Z"))[0]["owed"] == []


def test_r26_swap_needs_a_spare_of_the_same_product(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    raw = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="TAP-0001", spare_no=1,
               new_serial_number="TAP-0002")
    rules.refused(raw, rule="R26", field="spare_no", code="spare_product_mismatch")


def test_r26_swap_with_an_unknown_spare_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    raw = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001", spare_no=9,
               new_serial_number="RB-0009")
    rules.refused(raw, rule="R14", field="spare_no")


def test_r26_swap_to_a_taken_serial_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    cid, tid = _ticket(rules, acme)
    raw = _cmd("SwapWithSpare", LATER, customer_id=cid, ticket_id=tid, serial_number="RB-0001", spare_no=1,
               new_serial_number="MU-0001")
    rules.refused(raw, rule="R11", field="new_serial_number", code="duplicate_serial")


def test_r26_replenish_of_a_spare_not_owed_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    rules.refused(_cmd("ReplenishSpare", LATER, customer_id=acme["customer_id"], spare_no=1), rule="R26",
                  field="spare_no", code="spare_not_owed")


# ----- R27: Jumpstart


def _jumpstart(at: str = "2026-05-30T09:00:00Z", quantity: int = 1) -> dict[str, Any]:
    raw = order(po="PO-JS", at=at, service="jumpstart", quantity=quantity)
    del raw["years"]
    return raw


def test_r27_jumpstart_order_has_90_days_and_no_years(rules: Rules, acme: dict[str, Any]) -> None:
    result = rules.when(_jumpstart()).then(
        ("OrderPlaced", {"po_number": "PO-JS", "service": "jumpstart", "years": None, "quantity": 1}),
        ("ContractStarted", {"po_number": "PO-JS", "start": "2026-05-30T09:00:00+00:00"}),
    )
    assert types(result) == ["OrderPlaced", "ContractStarted", "PurchaseOrder.Reserved"]
    contracts = {c["po_number"]: c for c in rules.view("contracts", acme["customer_id"], ts("2026-05-30T09:00:00Z"))}
    contract = contracts["PO-JS"]
    assert contract["years"] is None
    end = contract["end"]
    assert end is not None and end == "2026-08-28T09:00:00+00:00"


def test_r27_jumpstart_with_years_is_refused(rules: Rules) -> None:
    rules.refused(order(po="PO-JS", service="jumpstart", years=1), rule="R4", field="years")


def test_r27_other_services_need_years(rules: Rules) -> None:
    raw = order(po="PO-X")
    del raw["years"]
    rules.refused(raw, rule="R4", field="years")


def test_r27_jumpstart_gives_no_room_license(rules: Rules, acme: dict[str, Any]) -> None:
    rules.given(_jumpstart())
    raw = _cmd("AssignLicense", LATER, customer_id=acme["customer_id"], room_id=acme["rooms"]["storage"],
               po_number="PO-JS")
    rules.refused(raw, rule="R27", field="po_number", code="no_room_licenses")


def test_r27_jumpstart_gives_no_spare(rules: Rules) -> None:
    result = rules.when(_jumpstart(at="2026-05-04T09:00:00Z", quantity=500)).then(
        "Registered", "AccountOpened", ("OrderPlaced", {"service": "jumpstart", "quantity": 500}),
        "ContractStarted", "InvitationSent",
    )
    assert "SpareAccrued" not in types(result)


def test_r27_jumpstart_room_gets_jumpstart_support_select_room_select(rules: Rules, acme: dict[str, Any]) -> None:
    rules.given(_jumpstart())
    cid = acme["customer_id"]
    storage = rules.when(ticket_command(cid, acme["rooms"]["storage"])).then(
        ("TicketOpened", {"room_id": acme["rooms"]["storage"], "support": "jumpstart"})
    )
    assert storage["support"] == "jumpstart"
    boardroom = rules.when(ticket_command(cid, acme["rooms"]["boardroom"])).then(
        ("TicketOpened", {"room_id": acme["rooms"]["boardroom"], "support": "select"})
    )
    assert boardroom["support"] == "select"


def test_r27_jumpstart_ends_after_90_days(rules: Rules, acme: dict[str, Any]) -> None:
    rules.given(_jumpstart())
    raw = ticket_command(acme["customer_id"], acme["rooms"]["storage"], at="2026-08-28T09:00:01Z")
    rules.refused(raw, rule="R24", field="room_id", code="not_entitled")
