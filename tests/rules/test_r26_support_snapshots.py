"""Tickets, RMAs, spare swaps and imported-room links survive snapshots (R24–R28, R20)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from aggregates.customer import STATE_CODEC
from aggregates.customer.state import Rma, SpareSwap, Ticket
from aggregates.packing import STATE_FORMAT, StateCodec
from ledger.app import LedgerApplication
from tests.kit.commands import command, run
from tests.kit.support import open_ticket, support_customer


def _state(aggregate: object) -> dict[str, object]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_r26_support_state_round_trips_through_the_typed_codec() -> None:
    t = datetime(2026, 6, 1, 9, tzinfo=UTC)
    ticket_id, room_id = uuid4(), uuid4()
    state = {
        "tickets": {
            ticket_id: Ticket(ticket_id, room_id, "high", "\x00odd", "sync", "select", t, "ops",
                              {"name": "B", "devices": [{"serial_number": "S1", "warranty_end": "2029-05-20"}]},
                              ["S1"], external_room_id="sync-1", status="resolved", first_response_at=t,
                              resolved_at=t, comments=2,
                              rmas=[Rma("S1", t, "requested", due=date(2026, 6, 2)),
                                    Rma("S2", t, "swapped", new_serial_number="S3", spare_no=1, done_at=t)])
        },
        "spare_swaps": [SpareSwap(1, ticket_id, "S2", "S3", t),
                        SpareSwap(1, ticket_id, "S4", "S5", t, replenished_at=t)],
        "external_rooms": {"sync-1": room_id},
        "room_externals": {room_id: "sync-1"},
        "room_keys": {"abc:boardroom": room_id},
    }
    packed = STATE_CODEC.pack(state)
    assert packed[STATE_FORMAT] == StateCodec.VERSION
    assert "tickets" not in packed["__generic__"] and "spare_swaps" not in packed["__generic__"]
    assert STATE_CODEC.unpack(json.loads(json.dumps(packed))) == state


def test_r26_snapshot_of_a_customer_with_tickets_equals_the_full_fold(app: LedgerApplication) -> None:
    acme = support_customer(app)
    cid = acme["customer_id"]
    at = "2026-06-01T09:00:00Z"
    ticket = open_ticket(app, cid, acme["rooms"]["boardroom"], serials=["RB-0001"], at=at)["ticket_id"]
    run(app, command("SwapWithSpare", at, customer_id=cid, ticket_id=ticket, serial_number="RB-0001", spare_no=1,
                     new_serial_number="RB-0002"))
    run(app, command("RequestRma", at, customer_id=cid, ticket_id=ticket, serial_number="TAP-0001"))
    run(app, command("ImportRooms", at, customer_id=cid, account_id=acme["account_id"],
                     rooms=[{"external_id": "sync-1", "name": "Zoom A", "site": "HQ", "country": "US"}]))
    for i in range(100):  # enough events for a snapshot (every 100 versions)
        run(app, command("CommentOnTicket", at, customer_id=cid, ticket_id=ticket, text=f"note {i}"))
    customer_id = UUID(cid)
    assert app.snapshots is not None and list(app.snapshots.get(customer_id))
    folded = None
    for domain_event in app.events.get(customer_id):
        folded = domain_event.mutate(folded)
    fresh = LedgerApplication(app.settings)
    try:
        from_snapshot = fresh.repository.get(customer_id)
        assert _state(from_snapshot) == _state(folded)
        assert from_snapshot.tickets[next(iter(from_snapshot.tickets))].comments == 100  # type: ignore[attr-defined]
    finally:
        fresh.close()


def test_r20_each_save_crossing_the_interval_leaves_one_snapshot_as_saved(app: LedgerApplication) -> None:
    acme = support_customer(app)
    cid = UUID(acme["customer_id"])
    at = "2026-06-01T09:00:00Z"
    ticket = open_ticket(app, acme["customer_id"], acme["rooms"]["boardroom"], at=at)["ticket_id"]
    start = app.customer(cid).version
    comments = [command("CommentOnTicket", at, customer_id=acme["customer_id"], ticket_id=ticket, text=f"n{i}")
                for i in range(250)]
    from commands.parsing import parse_command

    app.execute_many([parse_command(raw) for raw in comments])  # one group: crosses two or three multiples
    end = app.customer(cid).version
    assert end == start + 250
    assert app.snapshots is not None
    assert [s.originator_version for s in app.snapshots.get(cid)] == [end]
    for version in (start, start + 99, end):
        folded = None
        for domain_event in app.events.get(cid, lte=version):
            folded = domain_event.mutate(folded)
        assert _state(app.repository.get(cid, version=version)) == _state(folded)
