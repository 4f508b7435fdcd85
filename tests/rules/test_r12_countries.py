"""R12 country availability: no license in a room where the service is unavailable.

Given a customer's rooms, when an assignment, a move or a room, then the events it recorded or its
refusal (``tests/kit/rules.py``); a room's country, terms and licenses and a contract's start
afterwards are read from the views (read model = as-of fold), not from the aggregate."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.app import LedgerApplication
from ledger.config import ConfigurationError
from tests.kit.commands import FAR_FUTURE, command
from tests.kit.helpers import add_room, assign, place, refused, types
from tests.kit.rules import Rules
from tests.kit.views import contracts, licenses, rooms

MakeApp = Callable[..., LedgerApplication]

AT = "2026-05-05T09:00:00Z"
LATER = "2026-05-06T09:00:00Z"


def _rooms_of(app: LedgerApplication, *countries: str) -> tuple[tuple[str, str], list[str]]:
    result = place(app, po="PO-1", quantity=10)
    cid, aid = result["customer_id"], result["account_id"]
    return (cid, aid), [add_room(app, cid, aid, f"Room {code}", country=code, at=AT) for code in countries]


def _rooms(app: LedgerApplication, *countries: str) -> tuple[str, list[str]]:
    (cid, _), rooms = _rooms_of(app, *countries)
    return cid, rooms


@pytest.mark.parametrize("code", ["KP", "IR", "CU", "SY"])
def test_r12_assignment_refused_where_unavailable(app: LedgerApplication, rules: Rules, code: str) -> None:
    cid, (room,) = _rooms(app, code)
    error = rules.refused(
        command("AssignLicense", LATER, customer_id=cid, room_id=room, po_number="PO-1"),
        rule="R12",
        field="room_id",
        code="service_unavailable_in_country",
    )
    assert code in error.message
    assert contracts(rules, cid, LATER)["PO-1"]["start"] is None


@pytest.mark.parametrize("code", ["KP", "SY"])
def test_r12_move_refused_into_an_unavailable_country(app: LedgerApplication, rules: Rules, code: str) -> None:
    cid, (us, blocked) = _rooms(app, "US", code)
    rules.given(command("AssignLicense", LATER, customer_id=cid, room_id=us, po_number="PO-1"))
    rules.refused(
        command("MoveLicense", LATER, customer_id=cid, service="select", from_room_id=us, to_room_id=blocked),
        rule="R12",
        field="to_room_id",
        code="service_unavailable_in_country",
    )
    assert licenses(rules, cid, us, LATER) == {"select": "PO-1"}


@pytest.mark.parametrize("code", ["US", "DE", "JP", "BR", "ZA"])
def test_r12_assignment_accepted_where_available(app: LedgerApplication, rules: Rules, code: str) -> None:
    cid, (room,) = _rooms(app, code)
    result = rules.when(command("AssignLicense", LATER, customer_id=cid, room_id=room, po_number="PO-1")).then(
        ("ContractStarted", {"po_number": "PO-1", "reason": "first_assignment"}),
        ("LicenseAssigned", {"room_id": room, "po_number": "PO-1", "service": "select"}),
    )
    assert types(result)[-1] == "LicenseAssigned"


def test_r12_room_country_is_recorded_with_its_terms_available(app: LedgerApplication, rules: Rules) -> None:
    (cid, aid), _ = _rooms_of(app)
    room = rules.when(
        command("AddRoom", AT, customer_id=cid, account_id=aid, name="Room de", site="HQ", country="de")
    ).then(("RoomAdded", {"name": "Room de", "site": "HQ", "country": "DE"}))["room_id"]
    recorded = rooms(rules, cid, AT)[room]
    assert recorded["country"] == "DE"
    terms = recorded["terms"]
    assert terms is not None and terms["available"] and "de" in terms["support_languages"]


def test_r12_room_with_a_code_outside_the_table_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    raw = command(
        "AddRoom",
        AT,
        customer_id=result["customer_id"],
        account_id=result["account_id"],
        name="X",
        site="X",
        country="ZZ",
    )
    rules.refused(raw, rule="R9", field="country")


def _with_countries(make_app: MakeApp, tmp_path: Path, rows: dict[str, Any]) -> LedgerApplication:
    path = tmp_path / "countries.json"
    path.write_text(json.dumps(rows), "utf-8")
    return make_app(LEDGER_COUNTRIES=str(path))


def test_r12_countries_override_can_close_a_country(make_app: MakeApp, tmp_path: Path) -> None:
    app = _with_countries(make_app, tmp_path, {"DE": {"available": False}})
    cid, (us, de) = _rooms(app, "US", "DE")
    refused(
        app,
        command("AssignLicense", LATER, customer_id=cid, room_id=de, po_number="PO-1"),
        rule="R12",
        field="room_id",
    )
    assign(app, cid, us, "PO-1", at=LATER)
    refused(
        app,
        command("MoveLicense", LATER, customer_id=cid, service="select", from_room_id=us, to_room_id=de),
        rule="R12",
        field="to_room_id",
    )


def test_r12_countries_override_can_open_a_country(make_app: MakeApp, tmp_path: Path) -> None:
    app = _with_countries(make_app, tmp_path, {"kp": {"available": True, "rma": "courier"}})
    cid, (room,) = _rooms(app, "KP")
    result = Rules(app).when(command("AssignLicense", LATER, customer_id=cid, room_id=room, po_number="PO-1")).then(
        ("ContractStarted", {"po_number": "PO-1"}), ("LicenseAssigned", {"room_id": room, "po_number": "PO-1"})
    )
    assert types(result)[-1] == "LicenseAssigned"
    kp = app.settings.countries.get("KP")
    assert kp is not None and kp.rma == "courier"


def test_r12_countries_override_keeps_other_defaults(make_app: MakeApp, tmp_path: Path) -> None:
    app = _with_countries(make_app, tmp_path, {"DE": {"available": False}})
    cid, (room,) = _rooms(app, "IR")
    refused(
        app, command("AssignLicense", LATER, customer_id=cid, room_id=room, po_number="PO-1"), rule="R12",
            field="room_id"
    )


def test_r12_unreadable_countries_file_refused(make_app: MakeApp, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="LEDGER_COUNTRIES"):
        make_app(LEDGER_COUNTRIES=str(tmp_path / "missing.json"))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", "utf-8")
    with pytest.raises(ConfigurationError, match="LEDGER_COUNTRIES"):
        make_app(LEDGER_COUNTRIES=str(broken))


def test_r12_countries_file_must_hold_an_object(make_app: MakeApp, tmp_path: Path) -> None:
    listed = tmp_path / "list.json"
    listed.write_text('["DE"]', "utf-8")
    with pytest.raises(ConfigurationError, match="LEDGER_COUNTRIES"):
        make_app(LEDGER_COUNTRIES=str(listed))


def test_r12_ledger_runs_the_expiry_regardless_of_country(make_app: Callable[..., LedgerApplication]) -> None:
    app = make_app(**FAR_FUTURE)  # dated years ahead of the clock (R20 bound)
    # Availability limits assignments, not the recorded lifecycle of existing contracts.
    cid, (us,) = _rooms(app, "US")
    assign(app, cid, us, "PO-1", at=LATER)
    expiry = Rules(app).when(command("ExpireContracts", "2029-05-07T00:00:00Z")).then(
        ("LicenseReleased", {"po_number": "PO-1", "room_id": us}), ("ContractExpired", {"po_number": "PO-1"})
    )
    assert expiry["expired"] == ["PO-1"]


def test_r12_a_country_added_through_ledger_countries_is_a_country_of_rooms_and_orders(
    make_app: MakeApp, tmp_path: Path
) -> None:
    # The table is the operator's data: a code it adds is as good as a built-in one.
    app = _with_countries(make_app, tmp_path, {"ZZ": {"available": True, "name": "Zedland", "rma": "courier"}})
    address = {"line1": "1 Zed Road", "city": "Zedville", "postal_code": "1", "country": "zz"}
    result = place(app, po="PO-ZZ", address=address)
    assert result["ok"]
    room = add_room(app, result["customer_id"], result["account_id"], "Zed Room", country="ZZ", at=AT)
    assert rooms(Rules(app), result["customer_id"], AT)[room]["country"] == "ZZ"
    assert types(assign(app, result["customer_id"], room, "PO-ZZ", at=LATER))[-1] == "LicenseAssigned"
    refused(
        app,
        command("AddRoom", LATER, customer_id=result["customer_id"], account_id=result["account_id"], name="Y",
            site="Y", country="YY"),
        rule="R9",
        field="country",
    )
