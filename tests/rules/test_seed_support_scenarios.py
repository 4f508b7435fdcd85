"""The seed's support examples as scenarios, read through the views (R24–R28).

Given a set-up customer (``tests/kit/support.py``), when each step of the seed's example, then the
events it recorded (``tests/kit/rules.py``) and what the views show afterwards (the read model,
checked equal to the as-of fold, ``Rules.view``)."""

from __future__ import annotations

from uuid import UUID

from ledger.app import LedgerApplication
from ledger.readside import as_of_view, customer_view_as_of
from tests.kit.commands import command, order
from tests.kit.helpers import ts
from tests.kit.rules import Rules
from tests.kit.support import JANE, support_customer, ticket_command


def test_seed_room_offline_in_sync_one_click_ticket_with_its_devices(app: LedgerApplication, rules: Rules) -> None:
    acme = support_customer(app)
    cid = acme["customer_id"]
    imported = rules.when(command("ImportRooms", "2026-05-25T09:00:00Z", JANE, customer_id=cid,
                                  account_id=acme["account_id"],
                                  rooms=[{"external_id": "sync-room-42", "name": "Training Center", "site": "HQ",
                                          "country": "US",
                                          "devices": [{"serial_number": "TC-RB-1", "product": "Rally Bar",
                                                       "purchased_on": "2026-02-01"},
                                                      {"serial_number": "TC-TAP-1", "product": "Tap and Tap IP",
                                                       "purchased_on": "2026-02-01"}]}])).then(
        ("RoomAdded", {"name": "Training Center"}), ("RoomLinked", {"external_id": "sync-room-42"}),
        ("DeviceRegistered", {"serial_number": "TC-RB-1"}), ("DeviceRegistered", {"serial_number": "TC-TAP-1"}),
    )
    room_id = imported["rooms"][0]["room_id"]
    rules.when(command("AssignLicense", "2026-05-25T10:00:00Z", customer_id=cid, room_id=room_id,
                       po_number="PO-1")).then(("LicenseAssigned", {"room_id": room_id, "po_number": "PO-1"}))
    ticket = rules.when(command("OpenTicket", "2026-06-01T09:00:00Z", JANE, customer_id=cid,
                                external_room_id="sync-room-42", source="sync", severity="high",
                                summary="Sync reports the room offline")).then(
        ("TicketOpened", {"room_id": room_id, "external_room_id": "sync-room-42", "source": "sync",
                          "support": "select"})
    )
    (view,) = rules.view("tickets", cid, ts("2026-06-01T09:30:00Z"))
    assert view["ticket_id"] == ticket["ticket_id"] and view["source"] == "sync" and view["support"] == "select"
    assert view["room"]["name"] == "Training Center"
    assert [(d["serial_number"], d["product"], d["warranty_end"]) for d in view["room"]["devices"]] == [
        ("TC-RB-1", "Rally Bar", "2029-05-20"), ("TC-TAP-1", "Tap and Tap IP", "2029-05-20")
    ]
    assert view["status"] == "open" and view["missed"] == []


def test_seed_rally_bar_fails_in_boardroom_instant_swap_spare_owed(app: LedgerApplication, rules: Rules) -> None:
    acme = support_customer(app)
    cid = acme["customer_id"]
    ticket = rules.when(ticket_command(cid, acme["rooms"]["boardroom"], serials=["RB-0001"],
                                       severity="critical")).then(("TicketOpened", {"severity": "critical"}))
    (before,) = rules.view("spares", cid, ts("2026-06-01T09:05:00Z"))
    rules.when(command("SwapWithSpare", "2026-06-01T09:10:00Z", customer_id=cid, ticket_id=ticket["ticket_id"],
                       serial_number="RB-0001", spare_no=acme["spare_no"], new_serial_number="RB-SPARE-01")).then(
        ("SpareUsed", {"spare_no": 1, "serial_number": "RB-0001", "new_serial_number": "RB-SPARE-01"}),
        ("SpareOwed", {"spare_no": 1, "product": "Rally Bar", "ship_to": "Springfield HQ"}),
    )
    at = ts("2026-06-01T10:00:00Z")
    (spares,) = rules.view("spares", cid, at)
    assert spares["entitled"] == before["entitled"] == 1
    assert [(u["spare_no"], u["serial_number"], u["new_serial_number"]) for u in spares["used"]] == [
        (1, "RB-0001", "RB-SPARE-01")
    ]
    assert spares["owed"] == [{"spare_no": 1, "product": "Rally Bar", "ship_to": "Springfield HQ",
                               "since": "2026-06-01T09:10:00+00:00"}]
    (tickets,) = rules.view("tickets", cid, at)
    assert tickets["rma"] == [{"serial_number": "RB-0001", "status": "swapped",
                               "requested_at": "2026-06-01T09:10:00+00:00", "due": None,
                               "new_serial_number": "RB-SPARE-01", "spare_no": 1,
                               "done_at": "2026-06-01T09:10:00+00:00"}]
    rooms = {r["name"]: r for r in rules.view("rooms", cid, at)}
    assert [d["serial_number"] for d in rooms["Boardroom"]["devices"]] == ["RB-SPARE-01", "TAP-0001"]
    rules.when(command("ReplenishSpare", "2026-06-04T09:00:00Z", customer_id=cid, spare_no=1)).then(
        ("SpareReplenished", {"spare_no": 1})
    )
    (replenished,) = rules.view("spares", cid, ts("2026-06-04T10:00:00Z"))
    assert replenished["owed"] == [] and replenished["used"][0]["replenished_at"] == "2026-06-04T09:00:00+00:00"
    # as of the day of the swap the spare is still owed
    (then,) = as_of_view(app, "spares", at)
    assert then["owed"] and then["used"][0]["replenished_at"] is None


def test_seed_room_without_select_device_in_warranty_gets_an_rma_only_ticket(
    app: LedgerApplication, rules: Rules
) -> None:
    acme = support_customer(app)
    cid = acme["customer_id"]
    ticket = rules.when(ticket_command(cid, acme["rooms"]["huddle"], serials=["MU-0001"], severity="normal")).then(
        ("TicketOpened", {"support": "rma_only", "serial_numbers": ["MU-0001"]})
    )
    assert ticket["support"] == "rma_only"
    rma = rules.when(command("RequestRma", "2026-06-01T10:00:00Z", customer_id=cid, ticket_id=ticket["ticket_id"],
                             serial_number="MU-0001")).then(
        ("RmaRequested", {"ticket_id": ticket["ticket_id"], "serial_number": "MU-0001", "due": "2026-06-02"})
    )
    (view,) = rules.view("tickets", cid, ts("2026-06-01T11:00:00Z"))
    assert view["support"] == "rma_only"
    assert view["rma"][0]["status"] == "requested" and view["rma"][0]["due"] == rma["due"] == "2026-06-02"


def test_seed_jumpstart_only_room_gets_the_longer_targets(app: LedgerApplication, rules: Rules) -> None:
    acme = support_customer(app)
    cid = acme["customer_id"]
    jumpstart = order(po="PO-JS", at="2026-05-30T09:00:00Z", service="jumpstart", quantity=1)
    del jumpstart["years"]
    rules.when(jumpstart).then(("OrderPlaced", {"service": "jumpstart"}), ("ContractStarted", {"po_number": "PO-JS"}))
    rules.when(ticket_command(cid, acme["rooms"]["storage"], severity="high")).then(
        ("TicketOpened", {"support": "jumpstart"})
    )
    rules.when(ticket_command(cid, acme["rooms"]["boardroom"], severity="high")).then(
        ("TicketOpened", {"support": "select"})
    )
    by_support = {v["support"]: v for v in rules.view("tickets", cid, ts("2026-06-01T12:00:00Z"))}
    js, select = by_support["jumpstart"], by_support["select"]
    assert js["due"]["first_response"] > select["due"]["first_response"]
    assert js["due"]["resolution"] > select["due"]["resolution"]
    assert select["due"] == {"first_response": "2026-06-01T11:00:00+00:00", "resolution": "2026-06-02T09:00:00+00:00"}
    assert js["due"] == {"first_response": "2026-06-02T09:00:00+00:00", "resolution": "2026-06-04T09:00:00+00:00"}
    # as of noon the Select first response (due 11:00) is missed, the Jumpstart one not yet
    assert select["missed"] == ["first_response"] and js["missed"] == []


def test_r25_missed_targets_are_computed_as_of_the_time_asked(app: LedgerApplication, rules: Rules) -> None:
    acme = support_customer(app)
    cid = acme["customer_id"]
    (opened,) = rules.given(ticket_command(cid, acme["rooms"]["boardroom"], severity="critical"))
    tid = opened["ticket_id"]
    rules.when(command("UpdateTicket", "2026-06-01T09:45:00Z", customer_id=cid, ticket_id=tid,
                       status="in_progress")).then(
        ("TicketStatusChanged", {"ticket_id": tid, "status": "in_progress", "first_response": True})
    )
    rules.when(command("UpdateTicket", "2026-06-01T20:00:00Z", customer_id=cid, ticket_id=tid,
                       status="resolved")).then(
        ("TicketStatusChanged", {"ticket_id": tid, "status": "resolved", "previous": "in_progress"})
    )
    missed = {t: customer_view_as_of(app, "tickets", UUID(cid), ts(t))[0]["missed"] for t in
              ("2026-06-01T09:30:00Z", "2026-06-01T16:00:00Z", "2026-06-01T18:00:00Z", "2026-06-03T00:00:00Z")}
    assert missed == {"2026-06-01T09:30:00Z": [], "2026-06-01T16:00:00Z": [],
                      "2026-06-01T18:00:00Z": ["resolution"], "2026-06-03T00:00:00Z": ["resolution"]}
    status_then = customer_view_as_of(app, "tickets", UUID(cid), ts("2026-06-01T10:00:00Z"))[0]["status"]
    assert status_then == "in_progress"
    assert rules.view("tickets", cid, ts("2026-06-03T00:00:00Z"))[0]["missed"] == ["resolution"]
