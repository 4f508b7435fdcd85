"""Tickets, RMAs, spare swaps and imported-room links read the same through snapshots (R24–R28, R20).

Given a set-up customer (``tests/kit/support.py``) with a ticket, a swap, an RMA and an imported room,
when enough commands for the store to take a snapshot (every 100 versions), then the events each
recorded (``tests/kit/rules.py``), and every view folded from the snapshot (the as-of view starts from
the nearest snapshot) equals the read model (``Rules.view``), in this application and in a fresh one.

That a snapshot's state equals the full fold is a store test (``tests/integration/test_snapshots.py``);
the typed codec's round trip a pure one (``tests/unit/test_r26_support_snapshot_codec.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.readside import customer_view_as_of
from tests.kit.commands import command
from tests.kit.helpers import events, ts
from tests.kit.rules import Rules
from tests.kit.support import support_customer, ticket_command

AT = "2026-06-01T09:00:00Z"
VIEWS = ("contracts", "rooms", "spares", "access", "tickets")


def _iso(minutes: int) -> str:
    return (ts(AT) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def _support_history(rules: Rules, acme: dict[str, Any]) -> str:
    """A ticket on the boardroom, RB-0001 swapped for the spare, an RMA for TAP-0001, one imported room."""
    cid = acme["customer_id"]
    (opened,) = rules.given(ticket_command(cid, acme["rooms"]["boardroom"], serials=["RB-0001"], at=AT))
    tid = str(opened["ticket_id"])
    rules.when(command("SwapWithSpare", AT, customer_id=cid, ticket_id=tid, serial_number="RB-0001", spare_no=1,
                       new_serial_number="RB-0002")).then(
        ("SpareUsed", {"spare_no": 1, "serial_number": "RB-0001", "new_serial_number": "RB-0002"}),
        ("SpareOwed", {"spare_no": 1}),
    )
    rules.when(command("RequestRma", AT, customer_id=cid, ticket_id=tid, serial_number="TAP-0001")).then(
        ("RmaRequested", {"ticket_id": tid, "serial_number": "TAP-0001"})
    )
    rules.when(command("ImportRooms", AT, customer_id=cid, account_id=acme["account_id"],
                       rooms=[{"external_id": "sync-1", "name": "Zoom A", "site": "HQ", "country": "US"}])).then(
        ("RoomAdded", {"name": "Zoom A"}), ("RoomLinked", {"external_id": "sync-1"})
    )
    return tid


def _check_support_views(rules: Rules, cid: str, at: str, comments: int) -> None:
    (ticket,) = rules.view("tickets", cid, ts(at))
    assert ticket["comments"] == comments
    assert [(r["serial_number"], r["status"], r["new_serial_number"]) for r in ticket["rma"]] == [
        ("RB-0001", "swapped", "RB-0002"), ("TAP-0001", "requested", None)
    ]
    (spares,) = rules.view("spares", cid, ts(at))
    assert [o["spare_no"] for o in spares["owed"]] == [1]
    rooms = {r["name"]: r for r in rules.view("rooms", cid, ts(at))}
    assert "Zoom A" in rooms
    assert [d["serial_number"] for d in rooms["Boardroom"]["devices"]] == ["RB-0002", "TAP-0001"]


def test_r26_views_of_a_customer_with_tickets_read_the_same_from_a_snapshot(app: LedgerApplication) -> None:
    rules = Rules(app)
    acme = support_customer(app)
    cid = acme["customer_id"]
    tid = _support_history(rules, acme)
    for i in range(100):  # enough events for a snapshot (every 100 versions)
        rules.when(command("CommentOnTicket", AT, customer_id=cid, ticket_id=tid, text=f"note {i}")).then(
            ("TicketCommented", {"ticket_id": tid, "text": f"note {i}", "by_support": True, "first_response": i == 0})
        )
    assert app.snapshots is not None and list(app.snapshots.get(UUID(cid)))
    _check_support_views(rules, cid, AT, comments=100)
    fresh = LedgerApplication(app.settings)
    try:
        for name in VIEWS:
            assert customer_view_as_of(fresh, name, UUID(cid), ts(AT)) == rules.view(name, cid, ts(AT)), name
    finally:
        fresh.close()


def test_r20_views_as_of_times_either_side_of_a_snapshot(app: LedgerApplication) -> None:
    rules = Rules(app)
    acme = support_customer(app)
    cid = acme["customer_id"]
    tid = _support_history(rules, acme)
    for i in range(1, 121):  # one comment a minute; a snapshot is taken on the way
        rules.when(command("CommentOnTicket", _iso(i), customer_id=cid, ticket_id=tid, text=f"n{i}")).then(
            ("TicketCommented", {"ticket_id": tid, "text": f"n{i}"})
        )
    assert app.snapshots is not None and list(app.snapshots.get(UUID(cid)))
    for minute in (0, 1, 30, 60, 90, 119, 120):
        (ticket,) = customer_view_as_of(app, "tickets", UUID(cid), ts(_iso(minute)))
        assert ticket["comments"] == minute, minute
    _check_support_views(rules, cid, _iso(120), comments=120)


def test_r20_a_group_crossing_the_snapshot_interval_records_every_comment_once(app: LedgerApplication) -> None:
    rules = Rules(app)
    acme = support_customer(app)
    cid = acme["customer_id"]
    tid = _support_history(rules, acme)
    comments = [command("CommentOnTicket", AT, customer_id=cid, ticket_id=tid, text=f"n{i}") for i in range(250)]
    outcomes = app.execute_many([parse_command(raw) for raw in comments])  # one group: crosses two multiples
    assert [[e["type"] for e in o["events"]] for o in outcomes] == [["TicketCommented"]] * 250
    recorded = events(app, cid, "TicketCommented")
    assert [c["text"] for c in recorded] == [f"n{i}" for i in range(250)]
    assert [c["first_response"] for c in recorded] == [True] + [False] * 249
    assert app.snapshots is not None and list(app.snapshots.get(UUID(cid)))
    _check_support_views(rules, cid, AT, comments=250)
