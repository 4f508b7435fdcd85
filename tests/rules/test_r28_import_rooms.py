"""R28 room import: matched by external id, each room atomic, a per-room report, idempotent."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import command, run
from tests.kit.helpers import customer, refused, types
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


def test_r28_new_rooms_are_added_with_their_devices(app: LedgerApplication, acme: dict[str, Any]) -> None:
    result = run(app, _import(acme, _room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar"), ("ZA-0002", "Tap and Tap IP"))))
    assert [r["status"] for r in result["rooms"]] == ["added"]
    assert types(result).count("RoomAdded") == 1 and types(result).count("RoomLinked") == 1
    assert types(result).count("DeviceRegistered") == 2 and types(result).count("SerialNumber.Reserved") == 2
    state = customer(app, acme["customer_id"])
    room = state.rooms[state.external_rooms["sync-1"]]
    assert (room.name, sorted(room.devices)) == ("Zoom A", ["ZA-0001", "ZA-0002"])
    assert result["rooms"][0]["room_id"] == str(room.room_id)


def test_r28_importing_the_same_rooms_again_records_nothing(app: LedgerApplication, acme: dict[str, Any]) -> None:
    rooms = [_room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar")), _room("sync-2", "Zoom B")]
    run(app, _import(acme, *rooms))
    again = run(app, _import(acme, *rooms, at=LATER))
    assert again["events"] == []
    assert [r["status"] for r in again["rooms"]] == ["unchanged", "unchanged"]


def test_r28_changed_name_and_site_are_recorded_devices_moved(app: LedgerApplication, acme: dict[str, Any]) -> None:
    run(app, _import(acme, _room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar")), _room("sync-2", "Zoom B")))
    result = run(app, _import(acme, _room("sync-1", "Zoom Alpha", site="Annex"),
                              _room("sync-2", "Zoom B", ("ZA-0001", "Rally Bar")), at=LATER))
    assert [r["status"] for r in result["rooms"]] == ["updated", "updated"]
    assert types(result) == ["RoomUpdated", "DeviceMoved"]
    state = customer(app, acme["customer_id"])
    alpha = state.rooms[state.external_rooms["sync-1"]]
    assert (alpha.name, alpha.site, alpha.devices) == ("Zoom Alpha", "Annex", [])


def test_r28_a_hand_added_room_of_that_name_is_linked(app: LedgerApplication, acme: dict[str, Any]) -> None:
    result = run(app, _import(acme, _room("sync-9", "boardroom", ("RB-0001", "Rally Bar"))))
    assert result["rooms"][0] == {"external_id": "sync-9", "room_id": acme["rooms"]["boardroom"], "status": "updated"}
    assert types(result) == ["RoomUpdated", "RoomLinked"]  # the name's spelling as the platform has it


def test_r28_each_room_is_atomic_a_refused_room_records_nothing(app: LedgerApplication, acme: dict[str, Any]) -> None:
    result = run(app, _import(acme, _room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar"), ("ZA-0002", "Toaster")),
                              _room("sync-2", "Zoom B", ("ZB-0001", "Meetup"))))
    first, second = result["rooms"]
    assert first["status"] == "refused" and first["room_id"] is None
    assert (first["error"]["rule"], first["error"]["field"]) == ("R11", "devices[1].product")
    assert second["status"] == "added"
    state = customer(app, acme["customer_id"])
    assert "sync-1" not in state.external_rooms and "ZA-0001" not in state.devices
    assert result["refused"] == 1 and result["added"] == 1


def test_r28_a_serial_of_another_customer_or_replaced_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    other = run(app, command("PlaceOrder", AT, po_number="PO-G", service="select", years=1, quantity=1,
                             end_customer={"company": "Globex", "email": "g@globex.example",
                                           "address": {"line1": "1", "city": "X", "postal_code": "1",
                                                       "country": "US"}},
                             reseller={"name": "R", "email": "r@r.example", "address": {"line1": "1", "city": "X",
                                                                                        "postal_code": "1",
                                                                                        "country": "US"}},
                             distributor={"name": "D", "email": "d@d.example", "address": {"line1": "1", "city": "X",
                                                                                           "postal_code": "1",
                                                                                           "country": "US"}}))
    room = run(app, command("AddRoom", AT, customer_id=other["customer_id"], account_id=other["account_id"],
                            name="G", site="X", country="US"))["room_id"]
    run(app, command("RegisterDevice", AT, customer_id=other["customer_id"], room_id=room, serial_number="GX-0001",
                     product="Rally Bar", purchased_on="2026-01-15"))
    result = run(app, _import(acme, _room("sync-1", "Zoom A", ("gx-0001", "Rally Bar"))))
    error = result["rooms"][0]["error"]
    assert (error["rule"], error["field"], error["code"]) == ("R11", "devices[0].serial_number", "duplicate_serial")


def test_r28_name_taken_by_another_imported_room_is_refused(app: LedgerApplication, acme: dict[str, Any]) -> None:
    run(app, _import(acme, _room("sync-1", "Zoom A")))
    result = run(app, _import(acme, _room("sync-2", "zoom a"), at=LATER))
    assert (result["rooms"][0]["error"]["rule"], result["rooms"][0]["error"]["field"]) == ("R9", "name")


def test_r28_a_renamed_room_frees_its_old_name(app: LedgerApplication, acme: dict[str, Any]) -> None:
    run(app, _import(acme, _room("sync-1", "Zoom A")))
    run(app, _import(acme, _room("sync-1", "Zoom Z"), at=LATER))
    added = run(app, command("AddRoom", LATER, customer_id=acme["customer_id"], account_id=acme["account_id"],
                             name="Zoom A", site="HQ", country="US"))
    state = customer(app, acme["customer_id"])
    assert added["room_id"] != str(state.external_rooms["sync-1"])
    taken = command("AddRoom", LATER, customer_id=acme["customer_id"], account_id=acme["account_id"], name="zoom z",
                    site="HQ", country="US")
    refused(app, taken, rule="R9", field="name", code="duplicate_room")


def test_r28_a_device_listed_in_two_rooms_is_refused_in_the_second(
    app: LedgerApplication, acme: dict[str, Any]
) -> None:
    result = run(app, _import(acme, _room("sync-1", "Zoom A", ("ZA-0001", "Rally Bar")),
                              _room("sync-2", "Zoom B", ("ZA-0001", "Rally Bar"))))
    assert [r["status"] for r in result["rooms"]] == ["added", "refused"]
    assert result["rooms"][1]["error"]["code"] == "listed_twice"


def test_r28_viewer_may_not_import_admin_may(app: LedgerApplication, acme: dict[str, Any]) -> None:
    refused(app, _import(acme, _room("sync-1", "Zoom A"), actor=VIKTOR), rule="R16", field="actor")
    assert run(app, _import(acme, _room("sync-1", "Zoom A"), actor=JANE))["added"] == 1


def test_r28_unknown_account_refuses_each_room(app: LedgerApplication, acme: dict[str, Any]) -> None:
    raw = {**_import(acme, _room("sync-1", "Zoom A")), "account_id": acme["customer_id"]}
    result = run(app, raw)
    assert result["rooms"][0]["error"]["rule"] == "R2" and result["events"] == []


def test_r28_one_click_ticket_by_external_room_id(app: LedgerApplication, acme: dict[str, Any]) -> None:
    run(app, _import(acme, _room("sync-7", "Boardroom", ("RB-0001", "Rally Bar"))))
    ticket = run(app, command("OpenTicket", LATER, "ops", customer_id=acme["customer_id"], external_room_id="sync-7",
                              source="sync", severity="critical", summary="Offline in Sync"))
    assert ticket["room_id"] == acme["rooms"]["boardroom"] and ticket["support"] == "select"
    unknown = command("OpenTicket", LATER, "ops", customer_id=acme["customer_id"], external_room_id="sync-404",
                      source="sync", severity="critical", summary="Offline")
    refused(app, unknown, rule="R28", field="external_room_id")
