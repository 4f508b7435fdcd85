"""Invariants of support, RMA, spare swaps and room import over random command sequences (R24–R28).

The sequence runs through the real application and, beside it, through the same handlers on
in-memory aggregates (``tests.kit.scenario.Scenario``): both agree on every outcome and
a refusal records nothing. After each step a serial number is in at most one room of the ledger and a
swap leaves the entitled spare count alone; at the end the rebuilt aggregates equal the live ones,
the read models equal the views computed from the aggregates, and re-applying the last import
records nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aggregates.customer import Customer
from ledger.app import LedgerApplication
from ledger.config import load_settings
from ledger.readside import as_of_view, catch_up, live_view, open_read_models, rebuild_views
from projections.tables import PROJECTIONS
from tests.kit.commands import order
from tests.kit.memory import state
from tests.kit.scenario import Scenario
from tests.kit.support import JANE, VIKTOR, support_customer

SERIALS = ["RB-0001", "TAP-0001", "MU-0001", "RA-0001", "GX-0001", "NEW-0001", "NEW-0002", "NEW-0003"]
STATUSES = ["in_progress", "waiting_on_customer", "resolved", "closed"]
PRODUCTS = ["Rally Bar", "Tap and Tap IP", "Meetup", "Rally", "Toaster"]


ROOM_CHANGING = frozenset({"move", "swap", "receive"})


class SupportScenario(Scenario):
    def __init__(self, app: LedgerApplication) -> None:
        super().__init__(app)
        self.tickets: list[str] = []
        self.last_import: tuple[dict[str, Any], dict[str, Any]] | None = None
        self.swaps = 0

    def cmd(self, kind: str, actor: str = "ops", **fields: Any) -> dict[str, Any]:
        return {"command": kind, "at": self.at.isoformat(), "actor": actor, **fields}


def _setup(sc: SupportScenario) -> dict[str, Any]:
    def runner(raw: dict[str, Any]) -> Any:
        result = sc.step(raw)
        assert result is not None, raw
        return result

    acme = support_customer(sc.app, runner=runner)
    globex = runner(order(po="PO-GX", company="Globex", email="g@globex.example", at="2026-05-22T10:00:00Z"))
    room = runner({"command": "AddRoom", "at": "2026-05-22T10:00:00Z", "actor": "ops",
                   "customer_id": globex["customer_id"], "account_id": globex["account_id"], "name": "G",
                   "site": "X", "country": "US"})
    runner({"command": "RegisterDevice", "at": "2026-05-22T10:00:00Z", "actor": "ops",
            "customer_id": globex["customer_id"], "room_id": room["room_id"], "serial_number": "GX-0001",
            "product": "Rally Bar", "purchased_on": "2026-01-15"})
    sc.at = datetime.fromisoformat("2026-06-01T09:00:00+00:00")
    return acme


def _import(data: st.DataObject, sc: SupportScenario, acme: dict[str, Any]) -> dict[str, Any]:
    rooms = []
    for external in data.draw(st.lists(st.sampled_from(["sync-1", "sync-2", "sync-3"]), max_size=3, unique=True),
                              label="rooms"):
        devices = [
            {"serial_number": s, "product": data.draw(st.sampled_from(PRODUCTS), label="product"),
             "purchased_on": "2026-01-15"}
            for s in data.draw(st.lists(st.sampled_from(SERIALS), max_size=3, unique=True), label="devices")
        ]
        rooms.append({"external_id": external, "name": data.draw(st.sampled_from(["Zoom A", "Zoom B", "Boardroom"]),
                                                                label="name"),
                      "site": data.draw(st.sampled_from(["HQ", "Annex"]), label="site"), "country": "US",
                      "devices": devices})
    return sc.cmd("ImportRooms", customer_id=acme["customer_id"], account_id=acme["account_id"],
                  rooms=rooms or [{"external_id": "sync-1", "name": "Zoom A", "site": "HQ", "country": "US"}])


def support_step(data: st.DataObject, sc: SupportScenario, acme: dict[str, Any]) -> None:
    sc.at += timedelta(hours=data.draw(st.sampled_from([-30, 1, 2, 5, 24, 24 * 4, 24 * 20]), label="hours"))
    cid = acme["customer_id"]
    customer: Customer = sc.live[next(k for k in sc.live if str(k) == cid)]  # type: ignore[assignment]
    kinds = ["open", "open", "import", "import", "move"]
    if sc.tickets:
        kinds += ["status", "status", "comment", "reopen", "rma", "receive", "swap", "replenish"]
    kind = data.draw(st.sampled_from(kinds), label="kind")
    pick: Callable[[list[Any], str], Any] = lambda seq, label: data.draw(st.sampled_from(seq), label=label)  # noqa: E731
    rooms = sorted(str(r) for r in customer.rooms)
    serial = pick(SERIALS + sorted(customer.devices), "serial")
    ticket = pick(sc.tickets, "ticket") if sc.tickets else None
    if kind == "open":
        raw = sc.cmd("OpenTicket", pick([JANE, JANE, "ops", VIKTOR], "actor"), customer_id=cid,
                     room_id=pick(rooms, "room"), severity=pick(["critical", "high", "normal", "low"], "severity"),
                     summary="Room offline", serial_numbers=[serial] if data.draw(st.booleans()) else [],
                     source=pick(["portal", "sync", "api"], "source"))
        if customer.external_rooms and data.draw(st.booleans(), label="by external id"):
            del raw["room_id"]
            raw["external_room_id"] = pick(sorted(customer.external_rooms), "external")
    elif kind == "import":
        raw = _import(data, sc, acme)
    elif kind == "move":
        raw = sc.cmd("MoveDevice", customer_id=cid, serial_number=serial, to_room_id=pick(rooms, "room"))
    elif kind == "status":
        raw = sc.cmd("UpdateTicket", pick(["ops", "ops", JANE], "actor"), customer_id=cid, ticket_id=ticket,
                     status=pick(STATUSES, "status"))
    elif kind == "comment":
        raw = sc.cmd("CommentOnTicket", pick(["ops", JANE, VIKTOR], "actor"), customer_id=cid, ticket_id=ticket,
                     text="note")
    elif kind == "reopen":
        raw = sc.cmd("ReopenTicket", JANE, customer_id=cid, ticket_id=ticket)
    elif kind == "rma":
        raw = sc.cmd("RequestRma", customer_id=cid, ticket_id=ticket, serial_number=serial)
    elif kind == "receive":
        raw = sc.cmd("ReceiveReplacement", customer_id=cid, ticket_id=ticket, serial_number=serial,
                     new_serial_number=pick(SERIALS, "new serial"))
    elif kind == "swap":
        raw = sc.cmd("SwapWithSpare", customer_id=cid, ticket_id=ticket, serial_number=serial,
                     spare_no=pick([1, 2], "spare"), new_serial_number=pick(SERIALS, "new serial"))
    else:
        raw = sc.cmd("ReplenishSpare", customer_id=cid, spare_no=pick([1, 2], "spare"))
    entitled, live_spares = customer.entitled_spares, len(customer.live_spares)
    result = sc.step(raw)
    after: Customer = sc.live[customer.id]  # type: ignore[assignment]
    if result is None:
        return
    if kind == "open":
        sc.tickets.append(result["ticket_id"])
    if kind == "import":
        sc.last_import = (raw, result)
    elif kind in ROOM_CHANGING:
        # A device moved, swapped or replaced after the import: importing the same file again
        # rightly puts the room back as the file describes it, so the file is no longer "the same twice".
        sc.last_import = None
    if kind == "swap":
        sc.swaps += 1
        assert (after.entitled_spares, len(after.live_spares)) == (entitled, live_spares), "R26: swap changed R13"
    rooms_of: dict[str, str] = {}
    for aggregate in sc.live.values():
        if isinstance(aggregate, Customer):
            for room in aggregate.rooms.values():
                for s in room.devices:
                    key = s.upper()
                    assert key not in rooms_of, f"R11: {s} in two rooms"
                    rooms_of[key] = str(room.room_id)


def _first_difference(name: str, live: list[Any], computed: list[Any]) -> str:
    for i, (a, b) in enumerate(zip(live, computed, strict=False)):
        if a != b:
            keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            return f"{name}[{i}]: " + "; ".join(f"{k}: live {a.get(k)!r} vs aggregate {b.get(k)!r}" for k in keys)
    return f"{name}: {len(live)} live rows vs {len(computed)} from the aggregates"


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), steps=st.integers(min_value=3, max_value=30))
def test_r24_r28_support_invariants_rebuild_and_views(
    fresh_url: Callable[[], str], data: st.DataObject, steps: int
) -> None:
    db = fresh_url()
    environ = {"LEDGER_SECRET_KEY": "property"}
    app = LedgerApplication(load_settings(db, environ))
    models = open_read_models(app)
    try:
        sc = SupportScenario(app)
        acme = _setup(sc)
        for _ in range(steps):
            support_step(data, sc, acme)
        event(f"tickets>{min(len(sc.tickets), 6) // 3 * 3}")
        event(f"swaps: {min(sc.swaps, 2)}")
        catch_up(app, models)
        latest = max(a.last_at for a in sc.live.values() if isinstance(a, Customer))
        at = max(sc.at, latest) + timedelta(hours=data.draw(st.integers(0, 24 * 30), label="view hours"))
        live = {name: live_view(app, models, name, at) for name in PROJECTIONS}
        for name in PROJECTIONS:
            computed = as_of_view(app, name, at)
            assert live[name] == computed, _first_difference(name, live[name], computed)
        checks = rebuild_views(app, models, check=True)
        assert all(r.differences == [] for r in checks)
        if sc.last_import is not None:
            # R28: importing the same file again changes nothing it accepted the first time; a file
            # accepted whole records nothing the second time.
            raw, first = sc.last_import
            position = app.recorder.max_notification_id()
            result = sc.step({**raw, "at": at.isoformat()})
            assert result is not None
            for before, again in zip(first["rooms"], result["rooms"], strict=True):
                if before["status"] != "refused":
                    assert again["status"] == "unchanged", (before, again)
            if first["refused"] == 0:
                assert result["events"] == [], "R28: a second import recorded events"
                assert app.recorder.max_notification_id() == position
    finally:
        models.close()
        app.close()
    rebuilt_app = LedgerApplication(load_settings(db, environ))
    try:
        for aggregate_id, live_aggregate in sc.live.items():
            assert state(rebuilt_app.repository.get(aggregate_id)) == state(live_aggregate)
    finally:
        rebuilt_app.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    names=st.lists(st.sampled_from(["Zoom A", "Zoom B", "Boardroom", "Huddle 2", "Lab"]), min_size=1, max_size=4,
                   unique=True),
    serials=st.lists(st.sampled_from(SERIALS), max_size=8, unique=True),
    products=st.lists(st.sampled_from(PRODUCTS), min_size=8, max_size=8),
    sites=st.lists(st.sampled_from(["HQ", "Annex"]), min_size=4, max_size=4),
    split=st.lists(st.integers(0, 3), min_size=8, max_size=8),
)
def test_r28_an_import_applied_twice_records_nothing_the_second_time(
    fresh_url: Callable[[], str], names: list[str], serials: list[str], products: list[str], sites: list[str],
    split: list[int],
) -> None:
    app = LedgerApplication(load_settings(fresh_url(), {"LEDGER_SECRET_KEY": "property"}))
    try:
        sc = SupportScenario(app)
        acme = _setup(sc)
        rooms = [{"external_id": f"sync-{i}", "name": name, "site": sites[i], "country": "US", "devices": []}
                 for i, name in enumerate(names)]
        for j, serial in enumerate(serials):
            rooms[split[j] % len(rooms)]["devices"].append(
                {"serial_number": serial, "product": products[j], "purchased_on": "2026-01-15"})
        raw = sc.cmd("ImportRooms", customer_id=acme["customer_id"], account_id=acme["account_id"], rooms=rooms)
        first = sc.step(raw)
        assert first is not None
        event(f"refused rooms: {first['refused']}")
        sc.at += timedelta(days=1)
        position = app.recorder.max_notification_id()
        second = sc.step({**raw, "at": sc.at.isoformat()})
        assert second is not None
        assert second["events"] == [] and app.recorder.max_notification_id() == position
        assert [r["status"] for r in second["rooms"]] == [
            "refused" if r["status"] == "refused" else "unchanged" for r in first["rooms"]
        ]
    finally:
        app.close()
