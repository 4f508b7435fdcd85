"""R6 contract start and status, R7 cancellation window, R8 recorded expiry.

Given an order (and its rooms and assignments), when an assignment, a cancellation or the daily
expiry run, then the events it recorded (with their data) or its refusal (``tests/kit/rules.py``);
a contract's start, end, status and assignments and a room's licenses afterwards are read from the
views (read model = as-of fold), not from the aggregate; the status functions are checked on their own."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from aggregates.customer import Contract
from ledger.app import LedgerApplication
from ledger.config import ConfigurationError
from tests.kit.commands import command, order, run
from tests.kit.helpers import (
    MAY,
    add_room,
    assign,
    events,
    history,
    place,
    position,
    ts,
    types,
)
from tests.kit.rules import Rules
from tests.kit.views import as_of, contracts, licenses

FIRST_ORDER_OF = ("Registered", "AccountOpened")  # a new customer's, before OrderPlaced (R1, R2)


def _po1(rules: Rules, customer_id: str, at: str) -> dict[str, Any]:
    """Contract PO-1 in the contracts view at ``at``."""
    return contracts(rules, customer_id, at)["PO-1"]


def _contract(**overrides: Any) -> Contract:
    fields: dict[str, Any] = {
        "po_number": "PO-1",
        "account_id": uuid4(),
        "service": "select",
        "years": 3,
        "quantity": 10,
        "placed_at": ts(MAY),
        "grace_days": 60,
        "end_customer": {},
        "reseller": {},
        "distributor": {},
        "warnings": [],
    }
    fields.update(overrides)
    return Contract(**fields)


# ----- R6: pending until the first assignment or the end of the grace period


def test_r6_status_pending_before_grace_end() -> None:
    c = _contract()
    assert c.status(ts(MAY)) == "pending"
    assert c.status(ts(MAY) + timedelta(days=59, hours=23)) == "pending"
    assert c.start_as_of(ts(MAY) + timedelta(days=59)) is None
    assert c.end_as_of(ts(MAY) + timedelta(days=59)) is None


def test_r6_status_active_from_grace_end_with_end_start_plus_years() -> None:
    c = _contract(years=3)
    grace_end = ts(MAY) + timedelta(days=60)
    assert c.status(grace_end) == "active"
    assert c.start_as_of(grace_end) == grace_end
    assert c.end_as_of(grace_end) == grace_end.replace(year=grace_end.year + 3)


def test_r6_status_of_started_contract_runs_from_its_start() -> None:
    start = ts("2026-05-20T10:00:00Z")
    c = _contract(years=2, started_at=start)
    assert c.status(start) == "active"
    assert c.end_as_of(start) == ts("2028-05-20T10:00:00Z")
    assert c.status(ts("2028-05-20T09:59:59Z")) == "active"
    assert c.status(ts("2028-05-20T10:00:00Z")) == "expired"


def test_r6_status_cancelled_and_expired_take_effect_at_their_time() -> None:
    cancelled = _contract(cancelled_at=ts("2026-05-10T00:00:00Z"))
    assert cancelled.status(ts("2026-05-09T00:00:00Z")) == "pending"
    assert cancelled.status(ts("2026-05-10T00:00:00Z")) == "cancelled"
    expired = _contract(started_at=ts(MAY), years=1, expired_at=ts("2027-05-05T00:00:00Z"))
    assert expired.status(ts("2027-01-01T00:00:00Z")) == "active"
    assert expired.status(ts("2027-05-06T00:00:00Z")) == "expired"


def test_r6_order_creates_a_pending_contract(app: LedgerApplication, rules: Rules) -> None:
    placing = rules.when(order(po="PO-1", years=3))
    result = placing.then(*FIRST_ORDER_OF, "OrderPlaced", "InvitationSent")
    c = _po1(rules, result["customer_id"], "2026-05-10T00:00:00Z")
    assert c["start"] is None
    assert placing.then_data("OrderPlaced")[0]["grace_days"] == 60
    assert c["status"] == "pending"
    assert events(app, result["customer_id"], "OrderPlaced")[0]["grace_days"] == 60
    assert "ContractStarted" not in types(result)


def test_r6_first_assignment_starts_the_term(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", years=3)
    cid = result["customer_id"]
    room = add_room(app, cid, result["account_id"], "Board Room", at="2026-05-20T09:00:00Z")
    assigned = rules.when(
        command("AssignLicense", "2026-05-20T10:00:00Z", customer_id=cid, room_id=room, po_number="PO-1")
    ).then(
        ("ContractStarted", {"po_number": "PO-1", "start": "2026-05-20T10:00:00+00:00", "reason": "first_assignment"}),
        ("LicenseAssigned", {"room_id": room, "po_number": "PO-1", "service": "select"}),
    )
    assert types(assigned) == ["ContractStarted", "LicenseAssigned"]
    started = events(app, cid, "ContractStarted")
    assert started == [{"po_number": "PO-1", "start": "2026-05-20T10:00:00+00:00", "reason": "first_assignment"}]
    assert _po1(rules, cid, "2026-05-20T10:00:00Z")["status"] == "active"
    assert _po1(rules, cid, "2026-06-01T00:00:00Z")["end"] == "2029-05-20T10:00:00+00:00"


def test_r6_second_assignment_does_not_restart_the_term(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", years=1)
    cid = result["customer_id"]
    a = add_room(app, cid, result["account_id"], "A", at="2026-05-20T09:00:00Z")
    b = add_room(app, cid, result["account_id"], "B", at="2026-05-20T09:00:00Z")
    assign(app, cid, a, "PO-1", at="2026-05-20T10:00:00Z")
    second = rules.when(
        command("AssignLicense", "2026-06-20T10:00:00Z", customer_id=cid, room_id=b, po_number="PO-1")
    ).then(
        ("LicenseAssigned", {"room_id": b, "po_number": "PO-1"})
    )
    assert types(second) == ["LicenseAssigned"]
    assert _po1(rules, cid, "2026-06-20T10:00:00Z")["start"] == "2026-05-20T10:00:00+00:00"


def test_r6_grace_end_starts_the_term_without_assignment(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", years=2)
    cid = result["customer_id"]
    grace_end = ts(MAY) + timedelta(days=60)
    assert _po1(rules, cid, (grace_end - timedelta(seconds=1)).isoformat())["status"] == "pending"
    assert _po1(rules, cid, grace_end.isoformat())["status"] == "active"
    assert _po1(rules, cid, grace_end.isoformat())["end"] == "2028-07-03T09:00:00+00:00"


def test_r6_assignment_after_grace_end_starts_at_grace_end(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", years=3)
    cid = result["customer_id"]
    room = add_room(app, cid, result["account_id"], "Board Room", at="2026-07-10T09:00:00Z")
    rules.when(
        command("AssignLicense", "2026-07-13T09:00:00Z", customer_id=cid, room_id=room, po_number="PO-1")
    ).then(
        ("ContractStarted", {"po_number": "PO-1", "start": "2026-07-03T09:00:00+00:00",
                             "reason": "grace_period_ended"}),
        ("LicenseAssigned", {"room_id": room, "po_number": "PO-1"}),
    )
    started = events(app, cid, "ContractStarted")[0]
    assert started["reason"] == "grace_period_ended"
    assert started["start"] == "2026-07-03T09:00:00+00:00"
    assert _po1(rules, cid, "2026-08-01T00:00:00Z")["end"] == "2029-07-03T09:00:00+00:00"


def test_r6_daily_expiry_records_the_start_at_grace_end(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1")
    run_at = "2026-07-04T00:00:00Z"
    expiry = rules.when(command("ExpireContracts", run_at)).then(
        ("ContractStarted", {"po_number": "PO-1", "reason": "grace_period_ended"})
    )
    assert expiry["expired"] == []
    assert types(expiry) == ["ContractStarted"]
    started = events(app, result["customer_id"], "ContractStarted")[0]
    assert started == {"po_number": "PO-1", "start": "2026-07-03T09:00:00+00:00", "reason": "grace_period_ended"}


def test_r6_daily_expiry_before_grace_end_records_nothing(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1")
    before = position(app)
    expiry = rules.when(command("ExpireContracts", "2026-07-03T08:59:59Z")).then(only=None)  # nothing
    assert expiry["expired"] == [] and expiry["events"] == []
    assert position(app) == before


def test_r6_grace_days_override(make_app: Any) -> None:
    app = make_app(LEDGER_GRACE_DAYS="10")
    rules = Rules(app)
    placing = rules.when(order(po="PO-1", years=1))
    result = placing.then(*FIRST_ORDER_OF, "OrderPlaced", "InvitationSent")
    cid = result["customer_id"]
    assert placing.then_data("OrderPlaced")[0]["grace_days"] == 10
    assert events(app, result["customer_id"], "OrderPlaced")[0]["grace_days"] == 10
    assert _po1(rules, cid, "2026-05-14T08:59:59Z")["status"] == "pending"
    assert _po1(rules, cid, "2026-05-14T09:00:00Z")["status"] == "active"
    assert _po1(rules, cid, "2026-05-14T09:00:00Z")["end"] == "2027-05-14T09:00:00+00:00"


def test_r6_grace_days_zero_starts_at_the_order(make_app: Any) -> None:
    app = make_app(LEDGER_GRACE_DAYS="0")
    result = place(app, po="PO-1", years=1)
    assert _po1(Rules(app), result["customer_id"], MAY)["status"] == "active"


@pytest.mark.parametrize("value", ["-1", "ten", "4000"])
def test_r6_unusable_grace_days_setting_refused(make_app: Any, value: str) -> None:
    with pytest.raises(ConfigurationError, match="LEDGER_GRACE_DAYS"):
        make_app(LEDGER_GRACE_DAYS=value)


# ----- R7: cancellation within 30 days


def test_r7_cancel_on_day_30_accepted(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at="2026-05-04T09:00:00Z")
    cancelled = rules.when(command("CancelOrder", "2026-06-03T23:59:59Z", po_number="PO-1")).then(
        ("OrderCancelled", {"po_number": "PO-1"})
    )
    assert cancelled["customer_id"] == result["customer_id"]
    assert types(cancelled) == ["OrderCancelled"]
    assert _po1(rules, result["customer_id"], "2026-06-04T00:00:00Z")["status"] == "cancelled"


def test_r7_cancel_on_the_day_of_the_order_accepted(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1", at="2026-05-04T09:00:00Z")
    cancelled = rules.when(command("CancelOrder", "2026-05-04T09:00:00Z", po_number="PO-1")).then(
        ("OrderCancelled", {"po_number": "PO-1"})
    )
    assert types(cancelled) == ["OrderCancelled"]


def test_r7_cancel_after_30_days_rejected(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at="2026-05-04T09:00:00Z")
    error = rules.refused(
        command("CancelOrder", "2026-06-04T00:00:00Z", po_number="PO-1"),
        rule="R7",
        field="at",
        code="cancellation_window_closed",
    )
    assert "31 days" in error.message
    assert events(app, result["customer_id"], "OrderCancelled") == []


def test_r7_cancel_long_after_rejected(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1")
    rules.refused(command("CancelOrder", "2026-12-01T00:00:00Z", po_number="PO-1"), rule="R7", field="at")


def test_r7_window_counts_from_the_order_not_the_first_assignment(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", at="2026-05-04T09:00:00Z")
    cid = result["customer_id"]
    room = add_room(app, cid, result["account_id"], "A", at="2026-05-30T09:00:00Z")
    assign(app, cid, room, "PO-1", at="2026-05-30T09:00:00Z")
    rules.refused(command("CancelOrder", "2026-06-05T09:00:00Z", po_number="PO-1"), rule="R7", field="at")


def test_r7_cancellation_releases_licenses(app: LedgerApplication, rules: Rules) -> None:
    result = place(app, po="PO-1", quantity=5)
    cid = result["customer_id"]
    rooms = [add_room(app, cid, result["account_id"], name, at="2026-05-05T09:00:00Z") for name in ("A", "B")]
    for room in rooms:
        assign(app, cid, room, "PO-1", at="2026-05-06T09:00:00Z")
    cancelled = rules.when(command("CancelOrder", "2026-05-10T09:00:00Z", po_number="PO-1")).then(
        ("OrderCancelled", {"po_number": "PO-1"}),
        ("LicenseReleased", {"po_number": "PO-1", "reason": "cancelled"}),
        ("LicenseReleased", {"po_number": "PO-1", "reason": "cancelled"}),
    )
    assert types(cancelled) == ["OrderCancelled", "LicenseReleased", "LicenseReleased"]
    released = events(app, cid, "LicenseReleased")
    assert sorted(r["room_id"] for r in released) == sorted(rooms)
    assert {(r["po_number"], r["service"], r["reason"]) for r in released} == {("PO-1", "select", "cancelled")}
    assert all(licenses(rules, cid, r, "2026-05-10T09:00:00Z") == {} for r in rooms)
    assert _po1(rules, cid, "2026-05-10T09:00:00Z")["assigned"] == 0


def test_r7_cancellation_leaves_other_contracts_alone(app: LedgerApplication, rules: Rules) -> None:
    first = place(app, po="PO-1")
    place(app, po="PO-2", service="syncplus", at="2026-05-04T10:00:00Z")
    cid = first["customer_id"]
    room = add_room(app, cid, first["account_id"], "A", at="2026-05-05T09:00:00Z")
    assign(app, cid, room, "PO-1", at="2026-05-05T09:00:00Z")
    assign(app, cid, room, "PO-2", at="2026-05-05T09:00:00Z")
    cancelled = rules.when(command("CancelOrder", "2026-05-10T09:00:00Z", po_number="PO-1")).then(
        ("OrderCancelled", {"po_number": "PO-1"}), ("LicenseReleased", {"po_number": "PO-1", "room_id": room})
    )
    assert types(cancelled) == ["OrderCancelled", "LicenseReleased"]
    assert licenses(rules, cid, room, "2026-05-10T09:00:00Z") == {"syncplus": "PO-2"}


def test_r7_cancellation_revokes_spares(app: LedgerApplication, rules: Rules) -> None:
    first = place(app, po="PO-1", quantity=40, at="2026-05-04T09:00:00Z")
    place(app, po="PO-2", quantity=40, at="2026-05-10T09:00:00Z")
    cancelled = rules.when(command("CancelOrder", "2026-05-11T09:00:00Z", po_number="PO-2")).then(
        ("OrderCancelled", {"po_number": "PO-2"}), ("SpareRevoked", {"spare_no": 1, "active_select_licenses": 40})
    )
    assert types(cancelled) == ["OrderCancelled", "SpareRevoked"]
    assert events(app, first["customer_id"], "SpareRevoked") == [{"spare_no": 1, "active_select_licenses": 40}]


def test_r7_cancel_twice_refused(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1")
    rules.given(command("CancelOrder", "2026-05-05T09:00:00Z", po_number="PO-1"))
    rules.refused(
        command("CancelOrder", "2026-05-06T09:00:00Z", po_number="PO-1"),
        rule="R7",
        field="po_number",
        code="already_cancelled",
    )


def test_r7_cancel_unknown_po_refused(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1")
    rules.refused(command("CancelOrder", "2026-05-05T09:00:00Z", po_number="PO-404"), rule="R7", field="po_number")


def test_r7_cancel_without_po_refused(app: LedgerApplication, rules: Rules) -> None:
    place(app, po="PO-1")
    rules.refused(command("CancelOrder", "2026-05-05T09:00:00Z"), rule="R7", field="po_number")


# ----- R8: the recorded daily expiry


def _started(app: LedgerApplication, *, years: int = 1, quantity: int = 10, po: str = "PO-1") -> dict[str, Any]:
    """An order whose one license was assigned on 2026-05-10 09:00, so it ends 2026+years-05-10 09:00."""
    result = place(app, po=po, years=years, quantity=quantity)
    cid = result["customer_id"]
    room = add_room(app, cid, result["account_id"], f"Room {po}", at="2026-05-10T09:00:00Z")
    assign(app, cid, room, po, at="2026-05-10T09:00:00Z")
    return {**result, "room_id": room}


def test_r8_expire_contracts_expires_ended_contracts(app: LedgerApplication, rules: Rules) -> None:
    started = _started(app, years=1)
    cid = started["customer_id"]
    expiry = rules.when(command("ExpireContracts", "2027-05-10T09:00:00Z")).then(
        ("LicenseReleased", {"room_id": started["room_id"], "po_number": "PO-1", "reason": "expired"}),
        ("ContractExpired", {"po_number": "PO-1", "end": "2027-05-10T09:00:00+00:00"}),
    )
    assert expiry["expired"] == ["PO-1"]
    assert types(expiry) == ["LicenseReleased", "ContractExpired"]
    assert events(app, cid, "ContractExpired") == [{"po_number": "PO-1", "end": "2027-05-10T09:00:00+00:00"}]
    released = events(app, cid, "LicenseReleased")
    assert released == [{"room_id": started["room_id"], "po_number": "PO-1", "service": "select", "reason": "expired"}]
    assert licenses(rules, cid, started["room_id"], "2027-05-10T09:00:00Z") == {}
    assert _po1(rules, cid, "2027-05-10T09:00:00Z")["status"] == "expired"


def test_r8_contract_not_yet_ended_is_left_alone(app: LedgerApplication, rules: Rules) -> None:
    started = _started(app, years=1)
    before = position(app)
    expiry = rules.when(command("ExpireContracts", "2027-05-10T08:59:59Z")).then(only=None)  # nothing
    assert expiry["expired"] == [] and expiry["events"] == []
    assert position(app) == before
    assert events(app, started["customer_id"], "ContractExpired") == []


def test_r8_expiry_is_an_event_not_a_clock_read(app: LedgerApplication, rules: Rules) -> None:
    started = _started(app, years=1)
    cid = started["customer_id"]
    # The view says the term is over, but nothing was recorded: the license is still in its room.
    assert _po1(rules, cid, "2027-06-01T00:00:00Z")["status"] == "expired"
    assert events(app, cid, "ContractExpired") == []
    assert licenses(rules, cid, started["room_id"], "2027-06-01T00:00:00Z") == {"select": "PO-1"}
    run(app, command("ExpireContracts", "2027-06-01T00:00:00Z"))
    rows = [row for row in history(app, cid) if row["type"] == "ContractExpired"]
    assert len(rows) == 1
    assert rows[0]["effective_at"] == "2027-06-01T00:00:00+00:00"
    assert rows[0]["actor"] == "ops"
    assert rows[0]["data"]["end"] == "2027-05-10T09:00:00+00:00"


def test_r8_history_before_the_expiry_still_shows_the_contract_active(app: LedgerApplication, rules: Rules) -> None:
    started = _started(app, years=1)
    run(app, command("ExpireContracts", "2027-05-11T00:00:00Z"))
    (before,) = as_of(rules, "contracts", started["customer_id"], "2027-01-01T00:00:00Z")
    assert before["status"] == "active"
    assert _po1(rules, started["customer_id"], "2027-05-11T00:00:00Z")["status"] == "expired"


def test_r8_expiry_is_recorded_once(app: LedgerApplication) -> None:
    _started(app, years=1)
    run(app, command("ExpireContracts", "2027-05-11T00:00:00Z"))
    before = position(app)
    again = run(app, command("ExpireContracts", "2027-05-12T00:00:00Z"))
    assert again["expired"] == [] and again["events"] == []
    assert position(app) == before


def test_r8_expiry_reevaluates_spares(app: LedgerApplication) -> None:
    started = _started(app, years=1, quantity=50)
    cid = started["customer_id"]
    assert len(events(app, cid, "SpareAccrued")) == 1
    expiry = run(app, command("ExpireContracts", "2027-05-11T00:00:00Z"))
    assert types(expiry)[-1] == "SpareRevoked"
    assert events(app, cid, "SpareRevoked") == [{"spare_no": 1, "active_select_licenses": 0}]


def test_r8_expiry_covers_every_customer(app: LedgerApplication) -> None:
    acme = place(app, po="PO-A", years=1)
    globex = place(app, po="PO-G", years=2, company="Globex Ltd", email="hank@globex.example")
    later = place(app, po="PO-L", years=5, company="Initech LLC", email="bill@initech.example")
    # Nothing assigned: terms start at grace end (2026-07-03 09:00).
    expiry = run(app, command("ExpireContracts", "2028-07-03T09:00:00Z"))
    assert expiry["expired"] == ["PO-A", "PO-G"]
    assert len(events(app, acme["customer_id"], "ContractExpired")) == 1
    assert len(events(app, globex["customer_id"], "ContractExpired")) == 1
    assert events(app, later["customer_id"], "ContractExpired") == []
    assert len(events(app, later["customer_id"], "ContractStarted")) == 1


def test_r8_cancelled_contract_is_not_expired_again(app: LedgerApplication) -> None:
    result = place(app, po="PO-1", years=1)
    run(app, command("CancelOrder", "2026-05-05T09:00:00Z", po_number="PO-1"))
    expiry = run(app, command("ExpireContracts", "2028-01-01T00:00:00Z"))
    assert expiry["expired"] == []
    assert events(app, result["customer_id"], "ContractExpired") == []


def test_r8_expired_contract_cannot_be_cancelled(app: LedgerApplication, rules: Rules) -> None:
    _started(app, years=1)
    run(app, command("ExpireContracts", "2027-05-11T00:00:00Z"))
    rules.refused(
        command("CancelOrder", "2027-05-12T00:00:00Z", po_number="PO-1"),
        rule="R7",
        field="po_number",
        code="already_expired",
    )


def test_r8_unknown_field_on_expiry_refused(app: LedgerApplication, rules: Rules) -> None:
    rules.refused({**command("ExpireContracts", "2027-01-01T00:00:00Z"), "po_number": "PO-1"}, rule="R8",
        field="po_number")
