"""Snapshots of the customer aggregate (every 100 versions) give exactly the state a full fold gives."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

from aggregates.customer import STATE_CLASSES, Room
from aggregates.packing import pack, unpack
from benchmarks.asof import build_big_customer
from ledger.app import LedgerApplication
from ledger.readside import customer_at, version_at


def _state(aggregate: object) -> dict[str, object]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_r20_snapshot_state_equals_full_fold_at_every_sampled_version(app: LedgerApplication) -> None:
    customer_id, _, _ = build_big_customer(app, 450)
    assert app.snapshots is not None
    versions = [s.originator_version for s in app.snapshots.get(customer_id)]
    assert versions == [100, 200, 300, 400]
    for version in (99, 100, 101, 250, 400, app.customer(customer_id).version):
        folded = None
        for domain_event in app.events.get(customer_id, lte=version):
            folded = domain_event.mutate(folded)
        assert _state(app.repository.get(customer_id, version=version)) == _state(folded)


def test_r20_as_of_finds_the_last_version_dated_at_or_before(app: LedgerApplication) -> None:
    customer_id, first, last = build_big_customer(app, 300)
    events = list(app.events.get(customer_id))
    middle = events[150]
    version = version_at(app, customer_id, middle.at)  # type: ignore[attr-defined]
    assert all(e.at <= middle.at for e in events[:version])  # type: ignore[attr-defined]
    assert version == len(events) or events[version].at > middle.at  # type: ignore[attr-defined]
    assert version_at(app, customer_id, first.replace(year=2000)) == 0
    assert customer_at(app, customer_id, first.replace(year=2000)) is None
    latest = customer_at(app, customer_id, last)
    assert latest is not None and latest.version == len(events)


def test_r20_packing_round_trips_tagged_text_and_uuid_maps() -> None:
    room_id = uuid4()
    state = {
        "rooms": {room_id: Room(room_id, uuid4(), "\x00odd name", "HQ", "US", datetime(2026, 1, 1, tzinfo=UTC))},
        "plain": {"a": [1, "x", None, date(2024, 2, 29)]},
    }
    assert unpack(pack(state), STATE_CLASSES) == state
