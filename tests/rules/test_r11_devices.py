"""R11 devices: supported products, ledger-wide serial numbers, moves and warranty coverage.

Given a licensed customer's rooms, when a device is registered or moved, then the events it recorded
(with their data) or its refusal (``tests/kit/rules.py``); where a device is and its warranty end
afterwards are read from the rooms view (read model = as-of fold), not from the aggregate."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import command
from tests.kit.helpers import (
    add_room,
    assign,
    events,
    place,
    register_device,
    types,
)
from tests.kit.rules import Rules
from tests.kit.views import devices, rooms

ROOMS_AT = "2026-05-05T09:00:00Z"
ASSIGN_AT = "2026-05-20T10:00:00Z"  # a 3-year select term runs to 2029-05-20
DEVICE_AT = "2026-05-21T09:00:00Z"


def _licensed(app: LedgerApplication, *, service: str = "select", years: int = 3) -> dict[str, Any]:
    """Acme with rooms A (licensed by PO-1 on ASSIGN_AT) and B (no license)."""
    result = place(app, po="PO-1", service=service, years=years)
    cid, aid = result["customer_id"], result["account_id"]
    a = add_room(app, cid, aid, "A", at=ROOMS_AT)
    b = add_room(app, cid, aid, "B", at=ROOMS_AT)
    assign(app, cid, a, "PO-1", at=ASSIGN_AT)
    return {**result, "a": a, "b": b}


def _device_cmd(cid: str, room: str, serial: str, **fields: Any) -> dict[str, Any]:
    return command(
        "RegisterDevice",
        fields.pop("at", DEVICE_AT),
        customer_id=cid,
        room_id=room,
        serial_number=serial,
        product=fields.pop("product", "Rally Bar"),
        purchased_on=fields.pop("purchased_on", "2026-01-15"),
        **fields,
    )


def _serials(rules: Rules, cid: str, room_id: str, at: str) -> list[str]:
    """The serial numbers of a room's devices in the rooms view at ``at``."""
    return [d["serial_number"] for d in rooms(rules, cid, at)[room_id]["devices"]]


def _move_cmd(cid: str, serial: str, to: str, at: str) -> dict[str, Any]:
    return command("MoveDevice", at, customer_id=cid, serial_number=serial, to_room_id=to)


def test_r11_register_device_in_a_room(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    cid = setup["customer_id"]
    result = rules.when(_device_cmd(cid, setup["a"], "SN-0001", product="rally bar")).then(
        ("DeviceRegistered", {"serial_number": "SN-0001", "room_id": setup["a"]}),
        "SerialNumber.Reserved",
        only=None,
    )
    assert types(result) == ["DeviceRegistered", "SerialNumber.Reserved"]
    assert events(app, cid, "DeviceRegistered") == [
        {"serial_number": "SN-0001", "product": "Rally Bar", "purchased_on": "2026-01-15", "room_id": setup["a"]}
    ]
    assert devices(rules, cid, DEVICE_AT)["SN-0001"]["room_id"] == setup["a"]
    assert _serials(rules, cid, setup["a"], DEVICE_AT) == ["SN-0001"]


@pytest.mark.parametrize("product", ["Rally Bar 9000", "MX Keys", "Webcam"])
def test_r11_unsupported_product_refused(app: LedgerApplication, rules: Rules, product: str) -> None:
    setup = _licensed(app)
    rules.refused(
        _device_cmd(setup["customer_id"], setup["a"], "SN-0001", product=product),
        rule="R11",
        field="product",
        code="unsupported_product",
    )


def test_r11_serial_unique_within_a_customer(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    cid = setup["customer_id"]
    register_device(app, cid, setup["a"], "SN-0001", at=DEVICE_AT)
    error = rules.refused(
        _device_cmd(cid, setup["b"], "SN-0001", product="Meetup"),
        rule="R11",
        field="serial_number",
        code="duplicate_serial",
    )
    assert "this customer" in error.message


def test_r11_serial_unique_across_customers(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    register_device(app, setup["customer_id"], setup["a"], "SN-0001", at=DEVICE_AT)
    globex = place(app, po="PO-G", company="Globex Ltd", email="hank@globex.example")
    lab = add_room(app, globex["customer_id"], globex["account_id"], "Lab", at=ROOMS_AT)
    error = rules.refused(
        _device_cmd(globex["customer_id"], lab, "SN-0001"),
        rule="R11",
        field="serial_number",
        code="duplicate_serial",
    )
    assert "another customer" in error.message
    assert devices(rules, globex["customer_id"], ROOMS_AT) == {}


def test_r11_serial_unique_across_two_other_customers(app: LedgerApplication, rules: Rules) -> None:
    # Globex and Initech, neither of them the first registrant's customer, cannot share a serial either.
    globex = place(app, po="PO-G", company="Globex Ltd", email="hank@globex.example")
    initech = place(app, po="PO-I", company="Initech LLC", email="bill@initech.example")
    g_room = add_room(app, globex["customer_id"], globex["account_id"], "Lab", at=ROOMS_AT)
    i_room = add_room(app, initech["customer_id"], initech["account_id"], "Lab", at=ROOMS_AT)
    register_device(app, initech["customer_id"], i_room, "SN-7777", at=DEVICE_AT)
    rules.refused(_device_cmd(globex["customer_id"], g_room, "sn-7777"), rule="R11", field="serial_number")


def test_r11_serial_numbers_compare_without_case(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    register_device(app, setup["customer_id"], setup["a"], "SN-ABC1", at=DEVICE_AT)
    rules.refused(_device_cmd(setup["customer_id"], setup["b"], "sn-abc1"), rule="R11", field="serial_number")


def test_r11_malformed_serial_refused(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    rules.refused(_device_cmd(setup["customer_id"], setup["a"], "S1"), rule="R11", field="serial_number")
    rules.refused(_device_cmd(setup["customer_id"], setup["a"], "SN 0001"), rule="R11", field="serial_number")


def test_r11_purchase_date_after_the_command_refused(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    rules.refused(
        _device_cmd(setup["customer_id"], setup["a"], "SN-0001", purchased_on="2026-05-22"),
        rule="R11",
        field="purchased_on",
    )


def test_r11_device_into_an_unknown_room_refused(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    rules.refused(_device_cmd(setup["customer_id"], str(uuid4()), "SN-0001"), rule="R9", field="room_id")


def test_r11_device_move_is_recorded(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    cid = setup["customer_id"]
    register_device(app, cid, setup["a"], "SN-0001", at=DEVICE_AT)
    moved = rules.when(_move_cmd(cid, "SN-0001", setup["b"], "2026-06-01T09:00:00Z")).then(
        ("DeviceMoved", {"serial_number": "SN-0001", "from_room_id": setup["a"], "to_room_id": setup["b"]})
    )
    assert types(moved) == ["DeviceMoved"]
    assert events(app, cid, "DeviceMoved") == [
        {"serial_number": "SN-0001", "from_room_id": setup["a"], "to_room_id": setup["b"]}
    ]
    assert devices(rules, cid, "2026-06-01T09:00:00Z")["SN-0001"]["room_id"] == setup["b"]
    assert _serials(rules, cid, setup["a"], "2026-06-01T09:00:00Z") == []
    assert _serials(rules, cid, setup["b"], "2026-06-01T09:00:00Z") == ["SN-0001"]


def test_r11_device_move_matches_the_serial_without_case(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    cid = setup["customer_id"]
    register_device(app, cid, setup["a"], "SN-0001", at=DEVICE_AT)
    moved = rules.when(_move_cmd(cid, "sn-0001", setup["b"], "2026-06-01T09:00:00Z")).then(
        ("DeviceMoved", {"serial_number": "SN-0001", "from_room_id": setup["a"], "to_room_id": setup["b"]})
    )
    assert types(moved) == ["DeviceMoved"]
    assert devices(rules, cid, "2026-06-01T09:00:00Z")["SN-0001"]["room_id"] == setup["b"]


def test_r11_device_is_in_one_room_at_a_time(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    cid = setup["customer_id"]
    register_device(app, cid, setup["a"], "SN-0001", at=DEVICE_AT)
    for to, at in ((setup["b"], "2026-06-01T09:00:00Z"), (setup["a"], "2026-06-02T09:00:00Z")):
        rules.when(command("MoveDevice", at, customer_id=cid, serial_number="SN-0001", to_room_id=to)).then(
            ("DeviceMoved", {"serial_number": "SN-0001", "to_room_id": to})
        )
    by_id = rooms(rules, cid, "2026-06-02T09:00:00Z")
    holding = [r["name"] for r in by_id.values() if "SN-0001" in {d["serial_number"] for d in r["devices"]}]
    assert holding == ["A"]
    assert len(events(app, cid, "DeviceMoved")) == 2


def test_r11_move_to_the_same_room_refused(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    cid = setup["customer_id"]
    register_device(app, cid, setup["a"], "SN-0001", at=DEVICE_AT)
    rules.refused(
        command("MoveDevice", "2026-06-01T09:00:00Z", customer_id=cid, serial_number="SN-0001", to_room_id=setup["a"]),
        rule="R11",
        field="to_room_id",
        code="same_room",
    )


def test_r11_move_of_an_unknown_device_refused(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    rules.refused(
        command(
            "MoveDevice",
            "2026-06-01T09:00:00Z",
            customer_id=setup["customer_id"],
            serial_number="SN-9999",
            to_room_id=setup["b"],
        ),
        rule="R11",
        field="serial_number",
    )


def test_r11_move_to_an_unknown_room_refused(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    cid = setup["customer_id"]
    register_device(app, cid, setup["a"], "SN-0001", at=DEVICE_AT)
    rules.refused(
        command("MoveDevice", "2026-06-01T09:00:00Z", customer_id=cid, serial_number="SN-0001",
            to_room_id=str(uuid4())),
        rule="R9",
        field="to_room_id",
    )


def test_r11_warranty_capped_at_contract_end(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app, years=3)
    result = rules.when(_device_cmd(setup["customer_id"], setup["a"], "SN-0001", purchased_on="2026-04-01")).then(
        ("DeviceRegistered", {"serial_number": "SN-0001", "room_id": setup["a"]}),
        "SerialNumber.Reserved",
        only=None,
    )
    # purchase + 5 years = 2031-04-01, contract end 2029-05-20: the earlier wins.
    assert result["warranty_end"] == "2029-05-20"


def test_r11_warranty_capped_at_purchase_plus_five_years(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app, years=5)
    result = rules.when(_device_cmd(setup["customer_id"], setup["a"], "SN-0001", purchased_on="2022-03-01")).then(
        ("DeviceRegistered", {"serial_number": "SN-0001", "room_id": setup["a"]}),
        "SerialNumber.Reserved",
        only=None,
    )
    # contract end 2031-05-20, but no coverage beyond 2027-03-01.
    assert result["warranty_end"] == "2027-03-01"
    assert devices(rules, setup["customer_id"], DEVICE_AT)["SN-0001"]["warranty_end"] == "2027-03-01"


def test_r11_warranty_of_a_leap_day_purchase(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app, years=5)
    result = rules.when(_device_cmd(setup["customer_id"], setup["a"], "SN-0001", purchased_on="2024-02-29")).then(
        ("DeviceRegistered", {"serial_number": "SN-0001", "room_id": setup["a"]}),
        "SerialNumber.Reserved",
        only=None,
    )
    assert result["warranty_end"] == "2029-02-28"


def test_r11_extended_warranty_license_covers_devices(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app, service="extended_warranty", years=2)
    result = rules.when(_device_cmd(setup["customer_id"], setup["a"], "SN-0001")).then(
        ("DeviceRegistered", {"serial_number": "SN-0001", "room_id": setup["a"]}),
        "SerialNumber.Reserved",
        only=None,
    )
    assert result["warranty_end"] == "2028-05-20"


def test_r11_syncplus_license_gives_no_warranty(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app, service="syncplus")
    result = rules.when(_device_cmd(setup["customer_id"], setup["a"], "SN-0001")).then(
        ("DeviceRegistered", {"serial_number": "SN-0001", "room_id": setup["a"]}),
        "SerialNumber.Reserved",
        only=None,
    )
    assert result["warranty_end"] is None


def test_r11_unlicensed_room_gives_no_warranty(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    result = rules.when(_device_cmd(setup["customer_id"], setup["b"], "SN-0001")).then(
        ("DeviceRegistered", {"serial_number": "SN-0001", "room_id": setup["b"]}),
        "SerialNumber.Reserved",
        only=None,
    )
    assert result["warranty_end"] is None


def test_r11_warranty_follows_the_device_to_its_room(app: LedgerApplication, rules: Rules) -> None:
    setup = _licensed(app)
    cid = setup["customer_id"]
    register_device(app, cid, setup["b"], "SN-0001", at=DEVICE_AT, purchased_on="2026-04-01")
    assert devices(rules, cid, DEVICE_AT)["SN-0001"]["warranty_end"] is None
    rules.when(command("MoveDevice", "2026-06-01T09:00:00Z", customer_id=cid, serial_number="SN-0001",
        to_room_id=setup["a"])).then(("DeviceMoved", {"from_room_id": setup["b"], "to_room_id": setup["a"]}))
    assert devices(rules, cid, "2026-06-01T09:00:00Z")["SN-0001"]["warranty_end"] == "2029-05-20"
