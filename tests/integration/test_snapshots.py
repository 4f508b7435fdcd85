"""Snapshots of the customer aggregate (every 100 versions) give exactly the state a full fold gives."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from aggregates.customer import (
    STATE_CLASSES,
    STATE_CODEC,
    Account,
    Contract,
    Customer,
    Device,
    Invitation,
    Room,
    Spare,
)
from aggregates.packing import STATE_FORMAT, StateCodec, pack, unpack
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.readside import customer_at, version_at
from tests.kit.big_customer import build_big_customer
from tests.kit.commands import command, run
from tests.kit.helpers import JANE, acme_with_admin
from tests.kit.support import open_ticket, support_customer


def _state(aggregate: object) -> dict[str, object]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_r20_snapshot_state_equals_full_fold_at_every_sampled_version(app: LedgerApplication) -> None:
    customer_id, _, _ = build_big_customer(app, 450)
    assert app.snapshots is not None
    versions = [s.originator_version for s in app.snapshots.get(customer_id)]
    # one save crossed 100, 200, 300 and 400: one snapshot, of the aggregate as saved
    assert versions == [app.customer(customer_id).version]
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


def _full_state() -> dict[str, object]:
    t = datetime(2026, 3, 1, 9, tzinfo=UTC)
    account, room, invitation = uuid4(), uuid4(), uuid4()
    address = {"line1": "1 Main", "city": "X", "postal_code": "1", "country": "US"}
    return {
        "_created_on": t,
        "_modified_on": t,
        "key": "acme",
        "name": "\x00Acme",
        "last_at": t,
        "accounts": {account: Account(account, "Acme", "a@acme.example", address, t)},
        "contracts": {
            "PO-1": Contract("PO-1", account, "select", 3, 10, t, 60, {"company": "Acme", "address": address},
                             {"name": "R"}, {"name": "D"}, ["w"], started_at=t, rooms={room: t},
                             invitation_id=invitation),
            "PO-2": Contract("PO-2", account, "extended_warranty", 1, 1, t, 60, {}, {}, {}, []),
        },
        "rooms": {room: Room(room, account, "\x00Boardroom", "HQ", "US", t, {"select": "PO-1"}, ["S1"])},
        "devices": {"S1": Device("S1", "Rally Bar", date(2024, 2, 29), room, t)},
        "spares": [Spare(1, t), Spare(2, t, revoked_at=t, product="Rally", ship_to="HQ", allocated_at=t)],
        "invitations": {invitation: Invitation(invitation, "a@acme.example", "admin", t, t, po_number="PO-1")},
        "users": {"a@acme.example": "admin"},
        "partners": {"P-1": "viewer"},
    }


def test_r20_typed_snapshot_state_round_trips_every_collection() -> None:
    state = _full_state()
    packed = STATE_CODEC.pack(state)
    assert packed[STATE_FORMAT] == StateCodec.VERSION
    assert isinstance(packed["rooms"], list)  # typed records, not the generic form
    assert STATE_CODEC.unpack(json.loads(json.dumps(packed))) == state


def test_r20_a_collection_that_does_not_fit_its_declaration_is_packed_generically() -> None:
    state = _full_state()
    room = next(iter(state["rooms"].values()))  # type: ignore[attr-defined]
    state["rooms"] = {uuid4(): room}  # keyed by something else than its room_id
    packed = STATE_CODEC.pack(state)
    assert "rooms" in packed["__generic__"]
    assert STATE_CODEC.unpack(json.loads(json.dumps(packed))) == state


def test_r20_snapshots_in_the_earlier_generic_form_still_load() -> None:
    state = _full_state()
    assert STATE_CODEC.unpack(json.loads(json.dumps(pack(state)))) == state


def test_r18_latest_versions_reads_every_aggregate_in_one_query(app: LedgerApplication) -> None:
    customer_id, _, _ = build_big_customer(app, 120)
    absent = uuid4()
    found = app.latest_versions([customer_id, absent])
    assert found == {customer_id: app.customer(customer_id).version}
    assert app.latest_versions([]) == {}


# ----- support state (tickets, RMAs, spare swaps, imported-room links; moved from tests/rules)


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


def test_r22_sso_survives_a_snapshot(app: LedgerApplication) -> None:
    """The snapshot codec over a real customer with single sign-on (moved from tests/rules/test_r22_sso.py)."""
    cid = str(acme_with_admin(app)["customer_id"])
    run(app, command("ConfigureSso", "2026-05-05T09:00:00Z", JANE, customer_id=cid, issuer="https://login.acme.example",
                     audience="ledger-portal", allowed_domains=["ACME.example", "acme-labs.example"]))
    customer = app.customer(UUID(cid))
    snapshot = Customer.Snapshot.take(customer)
    restored = snapshot.mutate(None)
    assert restored.sso == customer.sso
    assert isinstance(restored.sso.allowed_domains, tuple)
