"""R26 support state (tickets, RMAs, spare swaps, imported-room links) round-trips through the typed
snapshot codec (pure: no store; moved from ``tests/rules/test_r26_support_snapshots.py``)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import uuid4

from aggregates.customer import STATE_CODEC
from aggregates.customer.state import Rma, SpareSwap, Ticket
from aggregates.packing import STATE_FORMAT, StateCodec


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
