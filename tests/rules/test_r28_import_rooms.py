"""R28 room import: matched by external id, each room atomic, a per-room report, idempotent.

Given a set-up customer (``tests/kit/support.py``) and the imports before, when ImportRooms, then the
events it recorded (in order, with their data: RoomAdded, RoomLinked, RoomUpdated, DeviceRegistered,
DeviceMoved) and its per-room report, or its refusal recording nothing (``tests/kit/rules.py``); rooms
and devices afterwards are read from the rooms view (read model = as-of fold), the link from an
external id to a room from the RoomLinked events and the report, not from the aggregate."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import command
from tests.kit.helpers import events, ts, types
from tests.kit.rules import Rules
from tests.kit.support import JANE, VIKTOR, support_customer

AT = "2026-06-01T09:00:00Z"
LATER = "2026-06-02T09:00:00Z"


@pytest.fixture
def acme(app: LedgerApplication) -> dict[str, Any]:
    return support_customer(app)


def _room(
    external_id: str, name: str, *devices: tuple[str, str], site: str = "HQ", country: str = "US"
) -> dict[str, Any]:
    return {"external_id": external_id, "name": name, "site": site, "country": country,
            "devices": [{"serial_number": s, "product": p, "purchased_on": "2026-01-15"} for s, p in devices]}


def _import(acme: dict[str, Any], *rooms: dict[str, Any], at: str = AT, actor: str = "ops") -> dict[str, Any]:
    return command("ImportRooms", at, actor, customer_id=acme["customer_id"], account_id=acme["account_id"],
                   rooms=list(rooms))


def _rooms(rules: Rules, cid: str, at: str = LATER) -> dict[str, dict[str, Any]]:
    """The rooms view by room id."""
    return {room["room_id"]: room for room in rules.view("rooms", cid, ts(at))}


def _linked(app: LedgerApplication, cid: str) -> dict[str, str]:
    """External id → room id, from the RoomLinked events recorded."""
    return {e["external_id"]: e["room_id"] for e in events(app, cid, "RoomLinked")}


def test_r28_new_rooms_are_added_with_their_devices(rules: Rules, acme: dict[str, Any]) -> None:
    cid, aid = acme["customer_id"], acme["account_id"]
    raw = _import(acme, _room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar"), ("ZA-0002", "Tap and Tap IP")))
    when = rules.when(raw)
    result = when.then(
        ("RoomAdded", {"account_id": aid, "name": "Zoom A", "site": "HQ", "country": "US"}),
        ("RoomLinked", {"external_id": "sync-1"}),
        ("DeviceRegistered", {"serial_number": "ZA-0001", "product": "Rally Bar", "purchased_on": "2026-01-15"}),
        ("DeviceRegistered", {"serial_number": "ZA-0002", "product": "Tap and Tap IP"}),
    )
    assert [r["status"] for r in result["rooms"]] == ["added"]
    assert types(result).count("RoomAdded") == 1 and types(result).count("RoomLinked") == 1
    assert types(result).count("DeviceRegistered") == 2 and types(result).count("SerialNumber.Reserved") == 2
    room_id = result["rooms"][0]["room_id"]
    assert {e["room_id"] for kind in ("RoomAdded", "RoomLinked", "DeviceRegistered")
            for e in when.then_data(kind)} == {room_id}
    room = _rooms(rules, cid)[room_id]
    assert (room["name"], sorted(d["serial_number"] for d in room["devices"])) == ("Zoom A", ["ZA-0001", "ZA-0002"])
    assert _linked(rules.app, cid)["sync-1"] == room_id


def test_r28_importing_the_same_rooms_again_records_nothing(rules: Rules, acme: dict[str, Any]) -> None:
    rooms = [_room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar")), _room("sync-2", "Zoom B")]
    rules.given(_import(acme, *rooms))
    again = rules.when(_import(acme, *rooms, at=LATER)).then(only=None)  # recorded nothing
    assert again["events"] == []
    assert [r["status"] for r in again["rooms"]] == ["unchanged", "unchanged"]


def test_r28_changed_name_and_site_are_recorded_devices_moved(rules: Rules, acme: dict[str, Any]) -> None:
    (first,) = rules.given(_import(acme, _room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar")),
                                   _room("sync-2", "Zoom B")))
    alpha_id, beta_id = (r["room_id"] for r in first["rooms"])
    result = rules.when(_import(acme, _room("sync-1", "Zoom Alpha", site="Annex"),
                                _room("sync-2", "Zoom B", ("ZA-0001", "Rally Bar")), at=LATER)).then(
        ("RoomUpdated", {"room_id": alpha_id, "name": "Zoom Alpha", "site": "Annex", "country": "US"}),
        ("DeviceMoved", {"serial_number": "ZA-0001", "from_room_id": alpha_id, "to_room_id": beta_id}),
    )
    assert [r["status"] for r in result["rooms"]] == ["updated", "updated"]
    assert types(result) == ["RoomUpdated", "DeviceMoved"]
    alpha = _rooms(rules, acme["customer_id"])[alpha_id]
    assert (alpha["name"], alpha["site"], alpha["devices"]) == ("Zoom Alpha", "Annex", [])


def test_r28_a_hand_added_room_of_that_name_is_linked(rules: Rules, acme: dict[str, Any]) -> None:
    boardroom = acme["rooms"]["boardroom"]
    result = rules.when(_import(acme, _room("sync-9", "boardroom", ("RB-0001", "Rally Bar")))).then(
        ("RoomUpdated", {"room_id": boardroom, "name": "boardroom", "site": "HQ", "country": "US"}),
        ("RoomLinked", {"room_id": boardroom, "external_id": "sync-9"}),
    )
    assert result["rooms"][0] == {"external_id": "sync-9", "room_id": acme["rooms"]["boardroom"], "status": "updated"}
    assert types(result) == ["RoomUpdated", "RoomLinked"]  # the name's spelling as the platform has it


def test_r28_each_room_is_atomic_a_refused_room_records_nothing(rules: Rules, acme: dict[str, Any]) -> None:
    cid = acme["customer_id"]
    result = rules.when(_import(acme, _room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar"), ("ZA-0002", "Toaster")),
                                _room("sync-2", "Zoom B", ("ZB-0001", "Meetup")))).then(
        ("RoomAdded", {"name": "Zoom B"}), ("RoomLinked", {"external_id": "sync-2"}),
        ("DeviceRegistered", {"serial_number": "ZB-0001", "product": "Meetup"}),
    )
    first, second = result["rooms"]
    assert first["status"] == "refused" and first["room_id"] is None
    assert (first["error"]["rule"], first["error"]["field"]) == ("R11", "devices[1].product")
    assert second["status"] == "added"
    serials = {d["serial_number"] for room in _rooms(rules, cid).values() for d in room["devices"]}
    assert "sync-1" not in _linked(rules.app, cid) and "ZA-0001" not in serials
    assert result["refused"] == 1 and result["added"] == 1


def test_r28_a_serial_of_another_customer_or_replaced_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    (other,) = rules.given(command("PlaceOrder", AT, po_number="PO-G", service="select", years=1, quantity=1,
                                   end_customer={"company": "Globex", "email": "g@globex.example",
                                                 "address": {"line1": "1", "city": "X", "postal_code": "1",
                                                             "country": "US"}},
                                   reseller={"name": "R", "email": "r@r.example",
                                             "address": {"line1": "1", "city": "X", "postal_code": "1",
                                                         "country": "US"}},
                                   distributor={"name": "D", "email": "d@d.example",
                                                "address": {"line1": "1", "city": "X", "postal_code": "1",
                                                            "country": "US"}}))
    (added,) = rules.given(command("AddRoom", AT, customer_id=other["customer_id"], account_id=other["account_id"],
                                   name="G", site="X", country="US"))
    rules.given(command("RegisterDevice", AT, customer_id=other["customer_id"], room_id=added["room_id"],
                        serial_number="GX-0001", product="Rally Bar", purchased_on="2026-01-15"))
    result = rules.when(_import(acme, _room("sync-1", "Zoom A", ("gx-0001", "Rally Bar")))).then(only=None)
    error = result["rooms"][0]["error"]
    assert (error["rule"], error["field"], error["code"]) == ("R11", "devices[0].serial_number", "duplicate_serial")


def test_r28_name_taken_by_another_imported_room_is_refused(rules: Rules, acme: dict[str, Any]) -> None:
    rules.given(_import(acme, _room("sync-1", "Zoom A")))
    result = rules.when(_import(acme, _room("sync-2", "zoom a"), at=LATER)).then(only=None)  # recorded nothing
    assert (result["rooms"][0]["error"]["rule"], result["rooms"][0]["error"]["field"]) == ("R9", "name")


def test_r28_a_renamed_room_frees_its_old_name(rules: Rules, acme: dict[str, Any]) -> None:
    cid, aid = acme["customer_id"], acme["account_id"]
    (first,) = rules.given(_import(acme, _room("sync-1", "Zoom A")))
    linked = first["rooms"][0]["room_id"]
    rules.when(_import(acme, _room("sync-1", "Zoom Z"), at=LATER)).then(
        ("RoomUpdated", {"room_id": linked, "name": "Zoom Z"})
    )
    added = rules.when(command("AddRoom", LATER, customer_id=cid, account_id=aid, name="Zoom A", site="HQ",
                               country="US")).then(("RoomAdded", {"account_id": aid, "name": "Zoom A"}))
    assert added["room_id"] != _linked(rules.app, cid)["sync-1"]
    assert added["room_id"] != linked
    taken = command("AddRoom", LATER, customer_id=cid, account_id=aid, name="zoom z", site="HQ", country="US")
    rules.refused(taken, rule="R9", field="name", code="duplicate_room")


def test_r28_a_device_listed_in_two_rooms_is_refused_in_the_second(rules: Rules, acme: dict[str, Any]) -> None:
    result = rules.when(_import(acme, _room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar")),
                                _room("sync-2", "Zoom B", ("ZA-0001", "Rally Bar")))).then(
        ("RoomAdded", {"name": "Zoom A"}), ("RoomLinked", {"external_id": "sync-1"}),
        ("DeviceRegistered", {"serial_number": "ZA-0001"}),
    )
    assert [r["status"] for r in result["rooms"]] == ["added", "refused"]
    assert result["rooms"][1]["error"]["code"] == "listed_twice"


def test_r28_viewer_may_not_import_admin_may(rules: Rules, acme: dict[str, Any]) -> None:
    rules.refused(_import(acme, _room("sync-1", "Zoom A"), actor=VIKTOR), rule="R16", field="actor")
    by_admin = rules.when(_import(acme, _room("sync-1", "Zoom A"), actor=JANE)).then(
        ("RoomAdded", {"name": "Zoom A"}), ("RoomLinked", {"external_id": "sync-1"})
    )
    assert by_admin["added"] == 1


def test_r28_unknown_account_refuses_each_room(rules: Rules, acme: dict[str, Any]) -> None:
    raw = {**_import(acme, _room("sync-1", "Zoom A")), "account_id": acme["customer_id"]}
    result = rules.when(raw).then(only=None)  # recorded nothing
    assert result["rooms"][0]["error"]["rule"] == "R2" and result["events"] == []


def test_r28_one_click_ticket_by_external_room_id(rules: Rules, acme: dict[str, Any]) -> None:
    boardroom = acme["rooms"]["boardroom"]
    rules.given(_import(acme, _room("sync-7", "Boardroom", ("RB-0001", "Rally Bar"))))
    ticket = rules.when(command("OpenTicket", LATER, "ops", customer_id=acme["customer_id"],
                                external_room_id="sync-7", source="sync", severity="critical",
                                summary="Offline in Sync")).then(
        ("TicketOpened", {"room_id": boardroom, "external_room_id": "sync-7", "source": "sync",
                          "support": "select", "severity": "critical"})
    )
    assert ticket["room_id"] == acme["rooms"]["boardroom"] and ticket["support"] == "select"
    unknown = command("OpenTicket", LATER, "ops", customer_id=acme["customer_id"], external_room_id="sync-404",
                      source="sync", severity="critical", summary="Offline")
    rules.refused(unknown, rule="R28", field="external_room_id")
