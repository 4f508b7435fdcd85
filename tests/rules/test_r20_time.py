"""R20 effective time: never backwards within a customer; events carry effective and recorded time.

Given a customer's recorded history, when a command dated before, at or after its latest event, then
the events it recorded or its refusal (``tests/kit/rules.py``); the rooms afterwards are read from the
rooms view (read model = as-of fold), not from the aggregate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import command, order, run
from tests.kit.helpers import (
    JANE,
    acme_with_admin,
    add_room,
    events,
    history,
    place,
    position,
    ts,
)
from tests.kit.rules import Rules
from tests.kit.views import rooms

T0 = "2026-05-04T09:00:00Z"
T1 = "2026-05-05T09:00:00Z"
BEFORE_T1 = "2026-05-05T08:59:59Z"


def _room_cmd(result: dict[str, Any], name: str, at: str, actor: str = "ops") -> dict[str, Any]:
    return command(
        "AddRoom",
        at,
        actor,
        customer_id=result["customer_id"],
        account_id=result["account_id"],
        name=name,
        site="HQ",
        country="US",
    )


def test_r20_command_before_the_latest_event_refused(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at=T0)
    run(app, _room_cmd(result, "A", T1))
    error = rules.refused(_room_cmd(result, "B", BEFORE_T1), rule="R20", field="at", code="time_went_backwards")
    assert "2026-05-05T09:00:00+00:00" in error.message
    assert len(rooms(rules, result["customer_id"], T1)) == 1


@pytest.mark.parametrize(
    "make",
    [
        lambda r: order(po="PO-2", at=BEFORE_T1),
        lambda r: command("CancelOrder", BEFORE_T1, po_number="PO-1"),
        lambda r: command("AssignLicense", BEFORE_T1, customer_id=r["customer_id"], room_id=r["room"],
            po_number="PO-1"),
        lambda r: command("SendInvitation", BEFORE_T1, customer_id=r["customer_id"], email="bob@acme.example"),
        lambda r: command(
            "RegisterDevice",
            BEFORE_T1,
            customer_id=r["customer_id"],
            room_id=r["room"],
            serial_number="SN-0001",
            product="Rally Bar",
            purchased_on="2026-01-01",
        ),
    ],
    ids=["PlaceOrder", "CancelOrder", "AssignLicense", "SendInvitation", "RegisterDevice"],
)
def test_r20_every_customer_command_refuses_going_backwards(app: LedgerApplication, rules: Rules, make: Any) -> None:
    result = place(app, po="PO-1", at=T0)
    room = add_room(app, result["customer_id"], result["account_id"], "A", at=T1)
    rules.refused(make({**result, "room": room}), rule="R20", field="at", code="time_went_backwards")


def test_r20_command_at_the_same_instant_accepted(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at=T0)
    rules.given(_room_cmd(result, "A", T1))
    rules.when(_room_cmd(result, "B", T1)).then(("RoomAdded", {"name": "B"}))
    assert len(rooms(rules, result["customer_id"], T1)) == 2


def test_r20_other_customers_are_not_held_back(app: LedgerApplication) -> None:
    place(app, po="PO-1", at=T1)
    globex = place(app, po="PO-2", company="Globex Ltd", email="hank@globex.example", at=T0)
    assert events(app, globex["customer_id"], "OrderPlaced")[0]["po_number"] == "PO-2"


def test_r20_offsets_are_compared_as_instants(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at="2026-05-04T11:00:00+02:00")  # 09:00 UTC
    rules.refused(_room_cmd(result, "A", "2026-05-04T08:59:59Z"), rule="R20", field="at")
    rules.when(_room_cmd(result, "A", "2026-05-04T09:00:00Z")).then(("RoomAdded", {"name": "A"}))
    row = history(app, result["customer_id"])[0]
    assert row["effective_at"] == "2026-05-04T09:00:00+00:00"


def test_r20_time_without_offset_is_utc(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", at="2026-05-04T09:00:00")
    assert history(app, result["customer_id"])[0]["effective_at"] == "2026-05-04T09:00:00+00:00"


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "05/04/2026"])
def test_r20_unreadable_time_refused(app: LedgerApplication, rules: Rules, value: str) -> None:
    rules.refused(order(po="PO-1", at=value), rule="R20", field="at")


def test_r20_time_defaults_to_now(app: LedgerApplication) -> None:
    raw = order(po="PO-1")
    del raw["at"]
    before = datetime.now(UTC)
    result = run(app, raw)
    after = datetime.now(UTC)
    effective = ts(history(app, result["customer_id"])[0]["effective_at"])
    assert before <= effective <= after


def test_r20_events_carry_effective_time_recorded_time_and_actor(app: LedgerApplication) -> None:
    started = datetime.now(UTC)
    result = acme_with_admin(app, at=T0)
    run(app, _room_cmd(result, "A", T1, actor=JANE))
    finished = datetime.now(UTC)
    rows = history(app, result["customer_id"])
    assert [r["position"] for r in rows] == list(range(1, len(rows) + 1))
    for row in rows:
        recorded = ts(row["recorded_at"])
        assert started - timedelta(seconds=1) <= recorded <= finished + timedelta(seconds=1)
        assert row["effective_at"] != row["recorded_at"]
    by_type = {r["type"]: r for r in rows}
    assert by_type["OrderPlaced"]["effective_at"] == "2026-05-04T09:00:00+00:00"
    assert by_type["OrderPlaced"]["actor"] == "ops"
    assert by_type["InvitationAccepted"]["actor"] == JANE
    assert by_type["RoomAdded"]["effective_at"] == "2026-05-05T09:00:00+00:00"
    assert by_type["RoomAdded"]["actor"] == JANE
    # The envelope is not repeated inside the data.
    assert {"at", "actor", "timestamp"}.isdisjoint(by_type["RoomAdded"]["data"])


def test_r20_recorded_times_never_go_backwards(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", at=T0)
    for i in range(3):
        run(app, _room_cmd(result, f"Room {i}", T1))
    recorded = [ts(r["recorded_at"]) for r in history(app, result["customer_id"])]
    assert recorded == sorted(recorded)


def test_r20_history_as_of_a_past_time(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", at=T0)
    run(app, _room_cmd(result, "A", T1))
    run(app, _room_cmd(result, "B", "2026-05-06T09:00:00Z"))
    as_of = app.history(UUID(result["customer_id"]), as_of=ts(T1))
    assert [r["type"] for r in as_of].count("RoomAdded") == 1
    assert all(ts(r["effective_at"]) <= ts(T1) for r in as_of)
    assert len(history(app, result["customer_id"])) == len(as_of) + 1


def test_r20_expiry_defers_a_customer_whose_latest_event_is_later(app: LedgerApplication, rules: Rules) -> None:
    acme = place(app, po="PO-A", years=1, at=T0)
    globex = place(app, po="PO-G", years=1, company="Globex Ltd", email="hank@globex.example", at=T0)
    # Acme has an event after the expiry date that is being recorded.
    run(app, _room_cmd(acme, "Late", "2027-08-01T00:00:00Z"))
    before = position(app)
    expiry = rules.when(command("ExpireContracts", "2027-07-10T00:00:00Z")).then(
        # Globex's only (its unassigned term starts, then ends): Acme is deferred.
        ("ContractStarted", {"po_number": "PO-G"}), ("ContractExpired", {"po_number": "PO-G"})
    )
    assert expiry["expired"] == ["PO-G"]
    assert [d["customer_id"] for d in expiry["deferred"]] == [acme["customer_id"]]
    assert "R20" in expiry["deferred"][0]["reason"]
    assert events(app, acme["customer_id"], "ContractExpired") == []
    assert len(events(app, globex["customer_id"], "ContractExpired")) == 1
    assert all(e["aggregate_id"] == globex["customer_id"] for e in expiry["events"])
    assert position(app) == before + len(expiry["events"])


def test_r20_partner_events_never_go_backwards(app: LedgerApplication, rules: Rules) -> None:
    rules.given(command("RegisterPartner", T1, partner_id="avpartner", name="AV Partner"))
    rules.refused(
        command("AddPartnerUser", BEFORE_T1, partner_id="avpartner", email="pat@avpartner.example"),
        rule="R20",
        field="at",
        code="time_went_backwards",
    )
