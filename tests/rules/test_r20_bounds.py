"""R20 bounds on ``at`` at the door, and read paths that survive a far-dated event already stored.

Given the ledger's history, when a command dated too far ahead (or before 2000, or not a time), then its
refusal recording nothing; when one inside the bounds, then the events it recorded
(``tests/kit/rules.py``). The last test stores far-dated events the way a ledger did before the bound
and reads every view, the expiry run and the replay over them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from aggregates.errors import LedgerError
from ledger.app import PORTAL_CLOCK_SKEW, LedgerApplication
from ledger.readside import as_of_view, catch_up, customer_view_as_of, live_view, open_read_models, rebuild_views
from tests.kit.commands import command, order, run
from tests.kit.helpers import add_room, place, position
from tests.kit.rules import Rules

VIEWS = ("contracts", "rooms", "spares", "access")
FIRST_ORDER_OF = ("Registered", "AccountOpened")  # then OrderPlaced, then InvitationSent (R1-R3, R15)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.mark.parametrize("at", ["9999-12-31T00:00:00Z", "9999-06-01T00:00:00Z", "3000-01-01T00:00:00+05:00"])
def test_r20_far_future_at_refused_at_the_door(app: LedgerApplication, rules: Rules, at: str) -> None:
    error = rules.refused(order(po="PO-FAR", at=at), rule="R20", field="at", code="too_far_in_future")
    assert "731 days" in error.message
    assert list(app.customer_ids()) == []


def test_r20_max_future_days_bound_is_inclusive_and_configurable(make_app: Any) -> None:
    app = make_app()
    rules = Rules(app)
    now = _now()
    rules.refused(order(po="PO-732", at=_iso(now + timedelta(days=732))), rule="R20", field="at",
                  code="too_far_in_future")
    accepted = rules.when(order(po="PO-730", at=_iso(now + timedelta(days=730)))).then(
        *FIRST_ORDER_OF, ("OrderPlaced", {"po_number": "PO-730"}), "InvitationSent"
    )
    assert accepted["ok"]
    narrow = make_app(LEDGER_MAX_FUTURE_DAYS="10")
    narrow_rules = Rules(narrow)
    narrow_rules.refused(order(po="PO-11", company="Other Inc", at=_iso(now + timedelta(days=11))), rule="R20",
                         field="at", code="too_far_in_future")
    nine = narrow_rules.when(order(po="PO-9", company="Other Inc", at=_iso(now + timedelta(days=9)))).then(
        ("Registered", {"name": "Other Inc"}), "AccountOpened", ("OrderPlaced", {"po_number": "PO-9"}),
        "InvitationSent",
    )
    assert nine["ok"]


@pytest.mark.parametrize("at", [12345, 1.7e9, "12345", True])
def test_r20_numeric_at_refused(rules: Rules, at: Any) -> None:
    error = rules.refused({**order(po="PO-NUM"), "at": at}, rule="R20", field="at")
    assert "ISO 8601" in error.message


@pytest.mark.parametrize(
    "at", ["1999-12-31T23:59:59Z", "2000-01-01T00:00:00Z", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
)
def test_r20_at_outside_the_calendar_or_before_2000_refused(rules: Rules, at: str) -> None:
    rules.refused(order(po="PO-OLD", at=at), rule="R20", field="at")


def test_r20_portal_principal_limited_to_clock_skew(app: LedgerApplication, rules: Rules) -> None:
    """A command authorized for a principal other than ops (HTTP, the portal) may lie at most
    ``PORTAL_CLOCK_SKEW`` ahead, alone or in a group commit; ops keeps the long bound."""
    from commands.auth import Principal
    from commands.parsing import parse_command

    now = _now()
    (result,) = rules.given(order(po="PO-1", at=_iso(now - timedelta(days=1))))
    jane = Principal.user("jane.doe@acme.example")
    room = command("AddRoom", _iso(now + timedelta(minutes=30)), customer_id=result["customer_id"],
               account_id=result["account_id"], name="R", site="HQ", country="US")
    before = position(app)
    error = rules.when(room, principal=jane).refused(rule="R20", field="at", code="too_far_in_future")
    assert (error.rule, error.field, error.code) == ("R20", "at", "too_far_in_future")
    assert position(app) == before
    [outcome] = app.execute_many([parse_command(room)], principals=[jane])
    assert isinstance(outcome, LedgerError) and outcome.rule == "R20"
    assert position(app) == before, "the refused line of the group recorded nothing"
    assert timedelta(minutes=30) > PORTAL_CLOCK_SKEW
    accepted = rules.when(room, principal=Principal.from_actor("ops")).then(("RoomAdded", {"name": "R"}))
    assert accepted["ok"]


def test_r20_far_future_line_in_a_group_commit_refused_alone(app: LedgerApplication) -> None:
    from commands.parsing import parse_command

    commands = [parse_command(order(po=f"PO-G{n}", company=f"G{n} Inc", at="2026-05-04T09:00:00Z")) for n in range(3)]
    commands.insert(1, parse_command(order(po="PO-GFAR", company="Far Inc", at="9999-12-31T00:00:00Z")))
    outcomes = app.execute_many(commands)
    assert [isinstance(o, LedgerError) for o in outcomes] == [False, True, False, False]
    refusal = outcomes[1]
    assert isinstance(refusal, LedgerError)
    assert (refusal.rule, refusal.field, refusal.code) == ("R20", "at", "too_far_in_future")
    # The three others recorded their first orders; the far-dated one nothing.
    placed = [
        row["data"]["po_number"]
        for cid in app.customer_ids()
        for row in app.history(cid)
        if row["type"] == "OrderPlaced"
    ]
    assert sorted(placed) == ["PO-G0", "PO-G1", "PO-G2"]


def _poison(app: LedgerApplication) -> dict[str, str]:
    """Record far-dated events the way a ledger did before R20 bounded ``at`` (no door check)."""
    app.check_future = lambda *args, **kwargs: None  # type: ignore[method-assign]
    far = place(app, po="PO-9999", company="Placeholder Inc", email="p@placeholder.example",
                at="9999-12-31T00:00:00Z")
    late = place(app, po="PO-9999-06", company="Late Inc", email="l@late.example", at="9999-06-01T00:00:00Z")
    room = add_room(app, late["customer_id"], late["account_id"], "Far room", at="9999-06-01T00:00:00Z")
    run(app, command("AssignLicense", "9999-06-01T00:00:00Z", customer_id=late["customer_id"], room_id=room,
                 po_number="PO-9999-06"))
    run(app, command("RegisterDevice", "9999-06-01T00:00:00Z", customer_id=late["customer_id"], room_id=room,
                 serial_number="SN-FAR-1", product="Rally Bar", purchased_on="9999-05-01"))
    return {"far": far["customer_id"], "late": late["customer_id"]}


def test_r20_stored_far_future_events_never_break_views_expiry_or_replay(make_app: Any) -> None:
    writer = make_app()
    normal = place(writer, po="PO-OK", at="2026-05-04T09:00:00Z", years=1)
    normal_room = add_room(writer, normal["customer_id"], normal["account_id"], "Room 1", at="2026-05-04T09:00:00Z")
    run(writer, command("AssignLicense", "2026-05-04T09:00:00Z", customer_id=normal["customer_id"],
                    room_id=normal_room, po_number="PO-OK"))
    poisoned = _poison(writer)

    app = make_app()
    rules = Rules(app)
    # ExpireContracts for every customer still works and expires the ordinary contract.
    expiry = rules.when(command("ExpireContracts", "2027-05-05T00:00:00Z")).then(
        ("LicenseReleased", {"po_number": "PO-OK", "room_id": normal_room, "reason": "expired"}),
        ("ContractExpired", {"po_number": "PO-OK"}),
    )
    assert all(e["aggregate_id"] == normal["customer_id"] for e in expiry["events"]), "the poisoned are deferred"
    assert expiry["expired"] == ["PO-OK"]
    # A later unrelated order is recorded and answered (its inline catch-up passes the poison).
    following = rules.when(order(po="PO-NEXT", company="Next Inc", email="n@next.example",
                                 at="2026-06-01T00:00:00Z")).then(
        ("Registered", {"name": "Next Inc"}), "AccountOpened", ("OrderPlaced", {"po_number": "PO-NEXT"}),
        "InvitationSent",
    )
    assert following["ok"]

    now = datetime(2027, 6, 1, tzinfo=UTC)
    models = open_read_models(app)
    try:
        catch_up(app, models)
        live = {name: live_view(app, models, name, now) for name in VIEWS}
        reports = rebuild_views(app, models)
        assert all(r.events_read for r in reports)
        checks = rebuild_views(app, models, check=True)
        assert all(not r.differences for r in checks)
    finally:
        models.close()
    contracts = {r["po_number"]: r for r in live["contracts"]}
    assert contracts["PO-OK"]["status"] == "expired"
    late = contracts["PO-9999-06"]
    assert late["start"] == "9999-06-01T00:00:00+00:00" and late["end"] is None
    assert late["unrepresentable"] == ["end"]
    [far_room] = [r for r in live["rooms"] if r["customer_id"] == poisoned["late"]]
    assert far_room["licenses"][0]["coverage_end"] is None
    assert far_room["licenses"][0]["unrepresentable"] == ["coverage_end"]
    assert far_room["devices"][0]["unrepresentable"] == ["warranty_end"]

    for at in (now, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)):
        for name in VIEWS:
            folded = as_of_view(app, name, at)
            assert folded is not None
            for cid in poisoned.values():
                customer_view_as_of(app, name, UUID(cid), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    end_of_calendar = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert as_of_view(app, "contracts", end_of_calendar) == [
        r for r in live_view_at(app, end_of_calendar)
    ], "the as-of fold and the read model agree, poisoned rows included"
    assert len(app.history(UUID(poisoned["far"]))) >= 3


def live_view_at(app: LedgerApplication, at: datetime) -> list[dict[str, Any]]:
    models = open_read_models(app)
    try:
        catch_up(app, models)
        return live_view(app, models, "contracts", at)
    finally:
        models.close()
