"""R9 rooms, R10 license assignment and moves.

Given a customer's orders and rooms, when a room, an assignment or a move, then the events it
recorded (with their data) or its refusal (``tests/kit/rules.py``); rooms, their licenses and a
contract's assignments afterwards are read from the views (read model = as-of fold), not the aggregate."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import DE_SITE, command, run
from tests.kit.helpers import (
    add_room,
    assign,
    events,
    place,
    types,
)
from tests.kit.rules import Rules
from tests.kit.views import contracts, licenses, rooms

DAY1 = "2026-05-05T09:00:00Z"
DAY2 = "2026-05-06T09:00:00Z"
DAY3 = "2026-05-07T09:00:00Z"


def _room_cmd(result: dict[str, Any], name: str, *, at: str = DAY1, **fields: Any) -> dict[str, Any]:
    return command(
        "AddRoom",
        at,
        customer_id=result["customer_id"],
        account_id=result["account_id"],
        name=name,
        site=fields.pop("site", "HQ"),
        country=fields.pop("country", "US"),
        **fields,
    )


def _move(cid: str, service: str, source: str, target: str, at: str = DAY3) -> dict[str, Any]:
    return command("MoveLicense", at, customer_id=cid, service=service, from_room_id=source, to_room_id=target)


# ----- R9: rooms


def test_r9_add_room_records_account_name_site_country(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    added = rules.when(
        _room_cmd(result, " Board Room ", site="Springfield HQ", country="us")
    ).then(("RoomAdded", {"account_id": result["account_id"]}))
    assert types(added) == ["RoomAdded"]
    room = rooms(rules, result["customer_id"], DAY1)[added["room_id"]]
    assert (room["account_id"], room["name"], room["site"], room["country"]) == (
        result["account_id"],
        "Board Room",
        "Springfield HQ",
        "US",
    )
    assert events(app, result["customer_id"], "RoomAdded")[0]["room_id"] == added["room_id"]


@pytest.mark.parametrize("duplicate", ["Board Room", "board room", "  BOARD   ROOM ", "Board-Room"])
def test_r9_room_name_unique_within_account(app: LedgerApplication, rules: Rules, duplicate: str) -> None:
    result = place(app, po="PO-1")
    rules.when(_room_cmd(result, "Board Room")).then(("RoomAdded", {"account_id": result["account_id"]}))
    rules.refused(_room_cmd(result, duplicate, at=DAY2), rule="R9", field="name", code="duplicate_room")


def test_r9_same_room_name_in_another_account_accepted(app: LedgerApplication, rules: Rules) -> None:
    hq = place(app, po="PO-1")
    site = place(app, po="PO-2", address=DE_SITE)
    first = rules.when(_room_cmd(hq, "Board Room")).then(("RoomAdded", {"account_id": hq["account_id"]}))
    second = rules.when(
        _room_cmd(site, "Board Room", country="DE")
    ).then(("RoomAdded", {"account_id": site["account_id"]}))
    assert first["room_id"] != second["room_id"]
    assert len(rooms(rules, hq["customer_id"], DAY1)) == 2


def test_r9_same_room_name_at_another_customer_accepted(app: LedgerApplication) -> None:
    acme = place(app, po="PO-1")
    globex = place(app, po="PO-2", company="Globex Ltd", email="hank@globex.example")
    assert run(app, _room_cmd(acme, "Board Room"))["room_id"] != run(app, _room_cmd(globex, "Board Room"))["room_id"]


@pytest.mark.parametrize(
    ("first", "second"),
    [("Design", "Design Group"), ("Studio", "Studio Co"), ("Pod", "Pod AB"), ("Room 1", "Room 1 SE")],
)
def test_r9_distinct_room_names_are_distinct_rooms(
    app: LedgerApplication, rules: Rules, first: str, second: str
) -> None:
    # Room names are not company names: a trailing word like "Group" or "SE" is part of the name.
    result = place(app, po="PO-1")
    a = rules.when(_room_cmd(result, first)).then(("RoomAdded", {"account_id": result["account_id"]}))
    b = rules.when(_room_cmd(result, second)).then(("RoomAdded", {"account_id": result["account_id"]}))
    assert a["room_id"] != b["room_id"]
    names = sorted(r["name"] for r in rooms(rules, result["customer_id"], DAY1).values())
    assert names == sorted([first, second])


def test_r9_room_with_unknown_country_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    rules.refused(_room_cmd(result, "Board Room", country="XX"), rule="R9", field="country")


@pytest.mark.parametrize("missing", ["name", "site", "country", "account_id", "customer_id"])
def test_r9_room_missing_field_refused(app: LedgerApplication, rules: Rules, missing: str) -> None:
    result = place(app, po="PO-1")
    raw = _room_cmd(result, "Board Room")
    del raw[missing]
    rules.refused(raw, rule="R9", field=missing)


def test_r9_assignment_to_unknown_room_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    rules.refused(
        command("AssignLicense", DAY1, customer_id=result["customer_id"], room_id=str(uuid4()), po_number="PO-1"),
        rule="R9",
        field="room_id",
    )


def test_r9_room_of_another_customer_is_unknown_here(app: LedgerApplication, rules: Rules) -> None:
    acme = place(app, po="PO-1")
    globex = place(app, po="PO-2", company="Globex Ltd", email="hank@globex.example")
    globex_room = add_room(app, globex["customer_id"], globex["account_id"], "Lab", at=DAY1)
    rules.refused(
        command("AssignLicense", DAY2, customer_id=acme["customer_id"], room_id=globex_room, po_number="PO-1"),
        rule="R9",
        field="room_id",
    )


# ----- R10: licenses


def _setup(app: LedgerApplication, *, quantity: int = 10, rooms: int = 2) -> tuple[str, str, list[str]]:
    result = place(app, po="PO-1", quantity=quantity)
    cid, aid = result["customer_id"], result["account_id"]
    room_ids = [add_room(app, cid, aid, f"Room {i}", at=DAY1) for i in range(rooms)]
    return cid, aid, room_ids


def test_r10_assign_license_to_a_room(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (room, _other) = _setup(app)
    result = rules.when(command("AssignLicense", DAY2, customer_id=cid, room_id=room, po_number="PO-1")).then(
        ("ContractStarted", {"po_number": "PO-1", "reason": "first_assignment"}),
        ("LicenseAssigned", {"room_id": room, "po_number": "PO-1", "service": "select"}),
    )
    assert types(result)[-1] == "LicenseAssigned"
    assert events(app, cid, "LicenseAssigned") == [{"room_id": room, "po_number": "PO-1", "service": "select"}]
    assert licenses(rules, cid, room, DAY2) == {"select": "PO-1"}
    assert contracts(rules, cid, DAY2)["PO-1"]["assigned"] == 1


def test_r10_room_holds_one_license_per_type(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (room, _other) = _setup(app)
    place(app, po="PO-2", at=DAY1)
    assign(app, cid, room, "PO-1", at=DAY2)
    for po in ("PO-1", "PO-2"):
        rules.refused(
            command("AssignLicense", DAY3, customer_id=cid, room_id=room, po_number=po),
            rule="R10",
            field="room_id",
            code="room_already_licensed",
        )
    assert contracts(rules, cid, DAY3)["PO-2"]["assigned"] == 0


def test_r10_room_may_hold_select_and_syncplus(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (room, _other) = _setup(app)
    place(app, po="PO-SYNC", service="syncplus", at=DAY1)
    assign(app, cid, room, "PO-1", at=DAY2)
    rules.when(command("AssignLicense", DAY2, customer_id=cid, room_id=room, po_number="PO-SYNC")).then(
        ("ContractStarted", {"po_number": "PO-SYNC"}),
        ("LicenseAssigned", {"room_id": room, "po_number": "PO-SYNC", "service": "syncplus"}),
    )
    assert licenses(rules, cid, room, DAY2) == {"select": "PO-1", "syncplus": "PO-SYNC"}


def test_r10_assigned_never_exceeds_quantity(app: LedgerApplication, rules: Rules) -> None:
    cid, _, rooms = _setup(app, quantity=2, rooms=3)
    assign(app, cid, rooms[0], "PO-1", at=DAY2)
    assign(app, cid, rooms[1], "PO-1", at=DAY2)
    rules.refused(
        command("AssignLicense", DAY3, customer_id=cid, room_id=rooms[2], po_number="PO-1"),
        rule="R10",
        field="po_number",
        code="no_free_licenses",
    )
    assert contracts(rules, cid, DAY3)["PO-1"]["assigned"] == 2


def test_r10_released_license_can_be_assigned_again(app: LedgerApplication, rules: Rules) -> None:
    # A cancelled order's licenses return; a live order's free count is what limits it.
    cid, _, rooms = _setup(app, quantity=1, rooms=2)
    assign(app, cid, rooms[0], "PO-1", at=DAY2)
    rules.when(_move(cid, "select", rooms[0], rooms[1])).then(
        ("LicenseMoved", {"service": "select", "po_number": "PO-1", "from_room_id": rooms[0], "to_room_id": rooms[1]})
    )
    rules.refused(
        command("AssignLicense", DAY3, customer_id=cid, room_id=rooms[0], po_number="PO-1"),
        rule="R10",
        field="po_number",
        code="no_free_licenses",
    )


def test_r10_unknown_po_refused(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (room, _other) = _setup(app)
    rules.refused(
        command("AssignLicense", DAY2, customer_id=cid, room_id=room, po_number="PO-404"),
        rule="R10",
        field="po_number",
    )


def test_r10_cancelled_contract_gives_no_licenses(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (room, _other) = _setup(app)
    run(app, command("CancelOrder", DAY2, po_number="PO-1"))
    rules.refused(
        command("AssignLicense", DAY3, customer_id=cid, room_id=room, po_number="PO-1"),
        rule="R10",
        field="po_number",
        code="contract_not_active",
    )


def test_r10_ended_contract_gives_no_licenses_even_before_the_expiry_run(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", years=1)
    cid, aid = result["customer_id"], result["account_id"]
    room = add_room(app, cid, aid, "A", at=DAY1)
    # Nothing assigned: the term ran from grace end 2026-07-03 09:00 to 2027-07-03 09:00.
    rules.refused(
        command("AssignLicense", "2027-07-03T09:00:00Z", customer_id=cid, room_id=room, po_number="PO-1"),
        rule="R10",
        field="po_number",
        code="contract_not_active",
    )
    assign(app, cid, room, "PO-1", at="2027-07-03T08:59:59Z")


def test_r10_expired_contract_gives_no_licenses(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", years=1)
    cid, aid = result["customer_id"], result["account_id"]
    room = add_room(app, cid, aid, "A", at=DAY1)
    run(app, command("ExpireContracts", "2027-08-01T00:00:00Z"))
    rules.refused(
        command("AssignLicense", "2027-08-02T00:00:00Z", customer_id=cid, room_id=room, po_number="PO-1"),
        rule="R10",
        field="po_number",
        code="contract_not_active",
    )


def test_r10_move_keeps_contract_and_account(app: LedgerApplication, rules: Rules) -> None:
    cid, aid, (a, b) = _setup(app)
    assign(app, cid, a, "PO-1", at=DAY2)
    moved = rules.when(_move(cid, "select", a, b)).then(
        ("LicenseMoved", {"service": "select", "po_number": "PO-1", "from_room_id": a, "to_room_id": b})
    )
    assert types(moved) == ["LicenseMoved"]
    assert events(app, cid, "LicenseMoved") == [
        {"service": "select", "po_number": "PO-1", "from_room_id": a, "to_room_id": b}
    ]
    by_id = rooms(rules, cid, DAY3)
    assert licenses(rules, cid, a, DAY3) == {}
    assert licenses(rules, cid, b, DAY3) == {"select": "PO-1"}
    assert {r for r, room in by_id.items() if "PO-1" in {lic["po_number"] for lic in room["licenses"]}} == {b}
    assert by_id[b]["account_id"] == aid
    po1 = contracts(rules, cid, DAY3)["PO-1"]
    assert po1["assigned"] == 1
    # Moving does not restart the term.
    assert po1["start"] is not None
    assert len(events(app, cid, "ContractStarted")) == 1


def test_r10_move_target_must_be_free(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (a, b) = _setup(app)
    assign(app, cid, a, "PO-1", at=DAY2)
    assign(app, cid, b, "PO-1", at=DAY2)
    rules.refused(_move(cid, "select", a, b), rule="R10", field="to_room_id", code="room_already_licensed")


def test_r10_move_target_holding_another_type_is_free_for_this_type(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (a, b) = _setup(app)
    place(app, po="PO-SYNC", service="syncplus", at=DAY1)
    assign(app, cid, a, "PO-1", at=DAY2)
    assign(app, cid, b, "PO-SYNC", at=DAY2)
    rules.when(_move(cid, "select", a, b)).then(
        ("LicenseMoved", {"service": "select", "po_number": "PO-1", "from_room_id": a, "to_room_id": b})
    )
    assert licenses(rules, cid, b, DAY3) == {"select": "PO-1", "syncplus": "PO-SYNC"}


def test_r10_move_to_another_account_refused(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (a, _b) = _setup(app)
    site = place(app, po="PO-DE", address=DE_SITE, at=DAY1)
    berlin = add_room(app, cid, site["account_id"], "Berlin", country="DE", at=DAY1)
    assign(app, cid, a, "PO-1", at=DAY2)
    rules.refused(_move(cid, "select", a, berlin), rule="R10", field="to_room_id", code="account_mismatch")


def test_r10_move_from_a_room_without_that_license_refused(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (a, b) = _setup(app)
    assign(app, cid, a, "PO-1", at=DAY2)
    rules.refused(_move(cid, "syncplus", a, b), rule="R10", field="from_room_id")
    rules.refused(_move(cid, "select", b, a), rule="R10", field="from_room_id")


def test_r10_move_to_the_same_room_refused(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (a, _b) = _setup(app)
    assign(app, cid, a, "PO-1", at=DAY2)
    rules.refused(_move(cid, "select", a, a), rule="R10", field="to_room_id", code="same_room")


def test_r10_move_to_unknown_room_refused(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (a, _b) = _setup(app)
    assign(app, cid, a, "PO-1", at=DAY2)
    rules.refused(_move(cid, "select", a, str(uuid4())), rule="R9", field="to_room_id")


def test_r10_license_of_an_ended_contract_cannot_move(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", years=1)
    cid, aid = result["customer_id"], result["account_id"]
    a = add_room(app, cid, aid, "A", at=DAY1)
    b = add_room(app, cid, aid, "B", at=DAY1)
    assign(app, cid, a, "PO-1", at=DAY2)
    rules.refused(
        _move(cid, "select", a, b, at="2027-05-06T09:00:00Z"),
        rule="R10",
        field="from_room_id",
        code="contract_not_active",
    )


def test_r10_move_with_unknown_service_refused(app: LedgerApplication, rules: Rules) -> None:
    cid, _, (a, b) = _setup(app)
    assign(app, cid, a, "PO-1", at=DAY2)
    rules.refused(_move(cid, "premium", a, b), rule="R10", field="service")
