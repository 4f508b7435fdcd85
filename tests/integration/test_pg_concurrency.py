"""Several OS processes writing at once (issue 4): on PostgreSQL, and on SQLite with the same tests.

Every writer is its own OS process (``multiprocessing`` with ``spawn``) with its own
``LedgerApplication``, connection pool and aggregate cache, on the database the ``--backend``
option selects (``db_url``: a fresh PostgreSQL schema, or a fresh SQLite file). Processes meet at a
``multiprocessing.Barrier`` so that they really start together.

* The stress test: 4 processes x 500 mixed commands (``tests.kit.contention.mixed_commands``) on 20
  customers that all of them share, while this process follows the log and keeps the read models
  current. Afterwards: every command has exactly one result; none raised; every event in the log
  belongs to exactly one accepted command and every accepted command's events are in the log; the
  number of accepted commands of each kind equals the number of events of its kind; the invariants
  hold after every command (folded from the log, in log order) and on the rebuilt aggregates; PO and
  serial numbers are unique across the ledger; the live views equal the views computed from the
  aggregates and a rebuild of the read models. SQLite runs the same 4 x 500: its writers queue on
  the database write lock (busy timeout 30 s, ``SQLITE_LOCK_TIMEOUT``), which costs less than the
  commands themselves, so the run stays well inside the time budget on two cores.
* Bounded retries: with ``LEDGER_MAX_ATTEMPTS=1`` lost races come back as refusals with code
  ``concurrency_conflict`` (R18), never as exceptions, and record nothing.
* A race test per ledger-wide uniqueness rule (R5, R11) and for the last free license (R10), 24
  rounds each; in every other round both racers are held just before saving until both have passed
  every check, so each of those rounds is a real collision decided by the store.
* Races the retries must get right, made deterministic in one process: an identical order
  resubmitted while its first submission commits (a torn read, R5), and a command without ``at``
  whose customer gets a later event between its reading of the clock and of the customer (R20).
* Six processes starting together on an empty database all start (PostgreSQL answers concurrent
  ``CREATE``s of the same table, type or function with errors that the application retries).
* No skipped events: a follower paging through the notification log while writers commit sees
  every event exactly once, in order (see ``test_r18_concurrency_follower_...`` for why), and the
  insert lock that guarantees it is shown at work, and what happens without it.
"""

from __future__ import annotations

import json
import multiprocessing
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import UUID

import psycopg
import pytest

import ledger.app as ledger_app
from aggregates.ids import purchase_order_id_for, serial_number_id_for
from aggregates.reservations import PurchaseOrder, SerialNumber
from ledger.app import LedgerApplication, event_type
from ledger.readside import as_of_view, catch_up, live_view, open_read_models, rebuild_views
from projections.tables import PROJECTIONS
from tests.kit.app import SECRET
from tests.kit.contention import (
    CLASHING_POS,
    customer_id,
    execute,
    mixed_commands,
    order,
    race_worker,
    read_results,
    room_id,
    run_worker,
    setup_commands,
    start_worker,
)

pytestmark = pytest.mark.integration

SPAWN = multiprocessing.get_context("spawn")
ENV = {"LEDGER_SECRET_KEY": SECRET}
WORKERS, COMMANDS, CUSTOMERS = 4, 500, 20
ROUNDS = 24
PROCESS_TIMEOUT = 240

# The event every accepted command of a kind records exactly once (when it records anything).
PRIMARY_EVENT = {
    "PlaceOrder": "OrderPlaced",
    "CancelOrder": "OrderCancelled",
    "AddRoom": "RoomAdded",
    "AssignLicense": "LicenseAssigned",
    "MoveLicense": "LicenseMoved",
    "RegisterDevice": "DeviceRegistered",
    "MoveDevice": "DeviceMoved",
    "InviteUser": "UserInvited",
    "AcceptInvitation": "InvitationAccepted",
    "ChangeRole": "RoleChanged",
    "RemoveUser": "UserRemoved",
    "AllocateSpare": "SpareAllocated",
    "DelegatePartner": "PartnerDelegated",
    "RevokePartner": "PartnerRevoked",
    "RegisterPartner": "Partner.Registered",
    "AddPartnerUser": "Partner.UserAdded",
}
# Accepted commands of these kinds always record something (the others may be accepted no-ops:
# an identical order again, a role or delegation that is already so, an expiry with nothing due).
ALWAYS_RECORDS = {
    "CancelOrder", "AddRoom", "AssignLicense", "MoveLicense", "RegisterDevice", "MoveDevice", "InviteUser",
    "AcceptInvitation", "RemoveUser", "AllocateSpare", "RevokePartner", "SendInvitation",
}


# ----- processes


def start(target: Callable[..., None], *args: Any, **kwargs: Any) -> Any:
    process = SPAWN.Process(target=target, args=args, kwargs=kwargs)
    process.start()
    return process


def finish(
    processes: list[Any], timeout: float = PROCESS_TIMEOUT, while_waiting: Callable[[], None] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    try:
        while any(p.is_alive() for p in processes) and time.monotonic() < deadline:
            if while_waiting is not None:
                while_waiting()
            time.sleep(0.05)
    except BaseException:
        for p in processes:
            p.terminate()
        raise
    for p in processes:
        p.join(timeout=max(0.1, deadline - time.monotonic()))
    hung = [p for p in processes if p.is_alive()]
    for p in hung:
        p.terminate()
    assert not hung, f"{len(hung)} writer processes did not finish within {timeout} s"
    assert [p.exitcode for p in processes] == [0] * len(processes), "a writer process crashed"


# ----- the log


@dataclass
class Entry:
    position: int
    aggregate_id: str
    version: int
    type: str
    event: Any


def read_log(app: LedgerApplication, page: int = 1000) -> list[Entry]:
    entries: list[Entry] = []
    start_at = 1
    while True:
        notifications = app.recorder.select_notifications(start_at, page)
        for n in notifications:
            domain_event = app.mapper.to_domain_event(n)
            entries.append(Entry(n.id, str(n.originator_id), n.originator_version, event_type(domain_event),
                                 domain_event))
        if len(notifications) < page:
            return entries
        start_at = notifications[-1].id + 1


class Follower:
    """Follows the notification log the way a projection or the stream relay does: it asks for the
    notifications after the last id it has seen, page by page, and never looks back."""

    def __init__(self, app: LedgerApplication, page: int = 50) -> None:
        self.app = app
        self.page = page
        self.seen: list[int] = []

    def poll(self) -> int:
        read = 0
        while True:
            after = self.seen[-1] + 1 if self.seen else 1
            notifications = self.app.recorder.select_notifications(after, self.page)
            self.seen.extend(n.id for n in notifications)
            read += len(notifications)
            if len(notifications) < self.page:
                return read


def audit_log(entries: list[Entry], accepted: Iterable[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Every event in the log was recorded by exactly one accepted command, and vice versa."""
    positions = [e.position for e in entries]
    assert positions == sorted(set(positions)), "the log is not in strictly ascending order"
    by_position = {e.position: e for e in entries}
    owner: dict[int, dict[str, Any]] = {}
    for result in accepted:
        mine = [event["position"] for event in result["events"]]
        if mine:
            contiguous = list(range(mine[0], mine[0] + len(mine)))
            assert mine == contiguous, f"the events of one command are not contiguous in the log: {mine}"
        for event in result["events"]:
            position = event["position"]
            assert position not in owner, f"two accepted commands claim the event at {position}"
            owner[position] = result
            entry = by_position.get(position)
            assert entry is not None, f"an accepted {result['command']} recorded {event}, which is not in the log"
            assert (entry.aggregate_id, entry.version, entry.type) == (
                event["aggregate_id"], event["version"], event["type"]
            )
    unclaimed = sorted(set(by_position) - set(owner))
    assert not unclaimed, f"{len(unclaimed)} events in the log were recorded by no accepted command: {unclaimed[:10]}"
    return owner


def audit_counts(entries: list[Entry], results: list[dict[str, Any]]) -> None:
    """The number of accepted commands of each kind equals what the events say."""
    in_log = Counter(e.type for e in entries)
    accepted = [r for r in results if r["ok"]]
    recording = Counter(r["command"] for r in accepted if r["events"])
    for result in accepted:
        if result["command"] in ALWAYS_RECORDS:
            assert result["events"], f"an accepted {result['command']} recorded nothing"
        primary = PRIMARY_EVENT.get(result["command"])
        if primary is not None and result["events"]:
            assert [e["type"] for e in result["events"]].count(primary) == 1, result
    for command, primary in PRIMARY_EVENT.items():
        assert in_log[primary] == recording[command], (
            f"{recording[command]} accepted {command} recorded something, the log has {in_log[primary]} {primary}"
        )
    invitations = recording["SendInvitation"] + sum(
        1 for r in accepted if r["command"] == "PlaceOrder" and "invitation" in r and r["events"]
    )
    assert in_log["InvitationSent"] == invitations
    assert in_log["PurchaseOrder.Reserved"] == in_log["OrderPlaced"], "R5: one reservation per order"
    assert in_log["SerialNumber.Reserved"] == in_log["DeviceRegistered"], "R11: one reservation per device"


# ----- invariants, folded from the log


@dataclass
class FoldedContract:
    service: str
    quantity: int
    live: bool = True
    rooms: set[str] = field(default_factory=set)


@dataclass
class FoldedCustomer:
    contracts: dict[str, FoldedContract] = field(default_factory=dict)
    licenses: dict[tuple[str, str], str] = field(default_factory=dict)  # (room, service) -> po
    rooms: set[str] = field(default_factory=set)
    devices: dict[str, str] = field(default_factory=dict)  # serial -> room
    live_spares: set[int] = field(default_factory=set)
    users: dict[str, str] = field(default_factory=dict)
    had_admin: bool = False

    def active_select(self) -> int:
        return sum(c.quantity for c in self.contracts.values() if c.service == "select" and c.live)


class Fold:
    """The entitlement state rebuilt from the global log, independently of the aggregate code, with
    the invariants checked at every event (R10, R11) and after every command (R13, R16)."""

    def __init__(self) -> None:
        self.customers: dict[str, FoldedCustomer] = defaultdict(FoldedCustomer)
        self.serial_owner: dict[str, str] = {}
        self.po_owner: dict[str, str] = {}
        self.versions: dict[str, int] = {}

    def apply(self, entry: Entry) -> None:
        assert entry.version == self.versions.get(entry.aggregate_id, 0) + 1, "an aggregate skipped a version"
        self.versions[entry.aggregate_id] = entry.version
        if not entry.type[:1].isupper() or "." in entry.type:
            return  # reservations and partners
        c = self.customers[entry.aggregate_id]
        e = entry.event
        kind = entry.type
        if kind == "OrderPlaced":
            assert e.po_number not in self.po_owner, f"R5: PO {e.po_number} placed twice"
            self.po_owner[e.po_number] = entry.aggregate_id
            c.contracts[e.po_number] = FoldedContract(e.service, e.quantity)
        elif kind in ("OrderCancelled", "ContractExpired"):
            c.contracts[e.po_number].live = False
        elif kind == "RoomAdded":
            assert str(e.room_id) not in c.rooms, "R9: a room added twice"
            c.rooms.add(str(e.room_id))
        elif kind == "LicenseAssigned":
            contract, room = c.contracts[e.po_number], str(e.room_id)
            assert contract.live, "R10: a license of an ended contract was assigned"
            assert (room, e.service) not in c.licenses, "R10: two licenses of one type in one room"
            assert len(contract.rooms) < contract.quantity, "R10: more licenses assigned than purchased"
            c.licenses[(room, e.service)] = e.po_number
            contract.rooms.add(room)
        elif kind == "LicenseMoved":
            source, target = str(e.from_room_id), str(e.to_room_id)
            assert c.licenses.get((source, e.service)) == e.po_number, "R10: moved a license the room did not hold"
            assert (target, e.service) not in c.licenses, "R10: moved into a room that holds that type"
            del c.licenses[(source, e.service)]
            c.licenses[(target, e.service)] = e.po_number
            c.contracts[e.po_number].rooms.remove(source)
            c.contracts[e.po_number].rooms.add(target)
        elif kind == "LicenseReleased":
            room = str(e.room_id)
            assert c.licenses.pop((room, e.service)) == e.po_number
            c.contracts[e.po_number].rooms.remove(room)
        elif kind == "DeviceRegistered":
            assert e.serial_number not in self.serial_owner, f"R11: serial {e.serial_number} registered twice"
            assert str(e.room_id) in c.rooms
            self.serial_owner[e.serial_number] = entry.aggregate_id
            c.devices[e.serial_number] = str(e.room_id)
        elif kind == "DeviceMoved":
            assert c.devices[e.serial_number] == str(e.from_room_id), "R11: a device moved from a room it was not in"
            c.devices[e.serial_number] = str(e.to_room_id)
        elif kind == "SpareAccrued":
            c.live_spares.add(e.spare_no)
        elif kind == "SpareRevoked":
            c.live_spares.remove(e.spare_no)
        elif kind in ("InvitationAccepted", "RoleChanged"):
            c.users[e.email] = e.role
            c.had_admin = c.had_admin or e.role == "admin"
        elif kind == "UserRemoved":
            del c.users[e.email]

    def check_after_command(self, customer_ids: Iterable[str]) -> None:
        for cid in customer_ids:
            c = self.customers.get(cid)
            if c is None:
                continue
            assert len(c.live_spares) == c.active_select() // 50, "R13: live spares != floor(active select / 50)"
            for po, contract in c.contracts.items():
                assert contract.live or not contract.rooms, f"R7/R8: ended contract {po} still holds rooms"
            if c.had_admin:
                assert "admin" in c.users.values(), "R16: the last admin was removed or demoted"


def fold_log(entries: list[Entry], owner: dict[int, dict[str, Any]]) -> Fold:
    fold = Fold()
    touched: set[str] = set()
    for index, entry in enumerate(entries):
        fold.apply(entry)
        touched.add(entry.aggregate_id)
        last_of_command = index + 1 == len(entries) or owner[entries[index + 1].position] is not owner[entry.position]
        if last_of_command:
            fold.check_after_command(touched)
            touched = set()
    return fold


def check_rebuilt(app: LedgerApplication, fold: Fold) -> int:
    """The aggregates rebuilt by a fresh application agree with the fold and keep every invariant."""
    checked = 0
    for cid in app.customer_ids():
        customer = app.customer(cid)
        folded = fold.customers[str(cid)]
        for contract in customer.contracts.values():
            assert contract.assigned <= contract.quantity, "R10"
            assert contract.is_live == folded.contracts[contract.po_number].live
            assert {str(r) for r in contract.rooms} == folded.contracts[contract.po_number].rooms
        licenses = {(str(r.room_id), s): po for r in customer.rooms.values() for s, po in r.licenses.items()}
        assert licenses == folded.licenses
        placements = Counter(serial for room in customer.rooms.values() for serial in room.devices)
        assert all(n == 1 for n in placements.values()), "R11: a device in two rooms"
        assert set(placements) == set(customer.devices)
        assert {s: str(d.room_id) for s, d in customer.devices.items()} == folded.devices
        assert len(customer.live_spares) == customer.entitled_spares, "R13"
        assert {s.spare_no for s in customer.live_spares} == folded.live_spares
        assert customer.users == folded.users
        for serial in customer.devices:
            reservation = app.repository.get(serial_number_id_for(serial))
            assert isinstance(reservation, SerialNumber) and reservation.customer_id == cid
        for po in customer.contracts:
            reservation = app.repository.get(purchase_order_id_for(po))
            assert isinstance(reservation, PurchaseOrder) and reservation.customer_id == cid
        checked += 1
    return checked


# ----- the stress test


def run_writers(
    db_url: str,
    tmp_path: Path,
    *,
    workers: int,
    commands: int,
    customers: int,
    environ: dict[str, str],
    contested: bool = True,
    while_waiting: Callable[[], None] | None = None,
) -> list[list[dict[str, Any]]]:
    barrier = SPAWN.Barrier(workers)
    outs = [tmp_path / f"writer{w}.jsonl" for w in range(workers)]
    processes = [
        start(
            run_worker, db_url, w, commands, str(outs[w]),
            customers=customers, first_customer=0 if contested else w * customers, contested=contested,
            environ=environ, barrier=barrier,
        )
        for w in range(workers)
    ]
    finish(processes, while_waiting=while_waiting)
    results = [list(read_results(out)) for out in outs]
    for w, mine in enumerate(results):
        expected = mixed_commands(w, commands, customers, first_customer=0 if contested else w * customers,
                                  contested=contested)
        assert [r["i"] for r in mine] == list(range(commands)), f"writer {w}: a command has no result or two"
        assert [r["command"] for r in mine] == [c["command"] for c in expected]
        escaped = [r for r in mine if r.get("code") == "EXCEPTION"]
        assert not escaped, f"writer {w}: an exception escaped execute:\n{escaped[0]['traceback']}"
        for r in mine:
            assert r["ok"] is True or (isinstance(r.get("code"), str) and r.get("rule")), r
            if r.get("code") == "concurrency_conflict":
                assert r["rule"] == "R18"
    return results


def setup(app: LedgerApplication) -> list[dict[str, Any]]:
    results = [{"command": raw["command"], **execute(app, raw)} for raw in setup_commands()]
    assert all(r["ok"] for r in results), results
    return results


def test_r18_concurrency_stress_4_processes_x_500_commands_on_20_shared_customers(
    db_url: str, make_app: Callable[..., LedgerApplication], tmp_path: Path, backend: str
) -> None:
    app = make_app()
    prepared = setup(app)
    models = open_read_models(app)
    follower = Follower(app)
    started = time.monotonic()

    def follow() -> None:
        follower.poll()
        catch_up(app, models)  # a projection runner keeping the views current meanwhile

    try:
        results = run_writers(db_url, tmp_path, workers=WORKERS, commands=COMMANDS, customers=CUSTOMERS,
                              environ=ENV, while_waiting=follow)
        elapsed = time.monotonic() - started
        follow()
        flat = prepared + [r for mine in results for r in mine]
        fresh = make_app()  # nothing cached: every aggregate is rebuilt from the store
        entries = read_log(fresh)
        assert follower.seen == [e.position for e in entries], "the follower missed or repeated events"

        owner = audit_log(entries, [r for r in flat if r["ok"]])
        audit_counts(entries, flat)
        fold = fold_log(entries, owner)
        assert check_rebuilt(fresh, fold) == CUSTOMERS

        # PO numbers several writers submit: with different content one writer owns it (R5); with
        # identical content every submission is accepted and one of them recorded it (R5)
        by_po: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
        for w, mine in enumerate(results):
            for r, raw in zip(mine, mixed_commands(w, COMMANDS, CUSTOMERS), strict=True):
                if raw["command"] == "PlaceOrder":
                    by_po[raw["po_number"]].append((w, r))
        clashing = {po: subs for po, subs in by_po.items() if po.startswith("CLASH-")}
        assert 0 < len(clashing) <= CLASHING_POS
        for po, submissions in clashing.items():
            owners = {w for w, r in submissions if r["ok"]}
            assert len(owners) <= 1, f"R5: {po} with different content accepted from writers {owners}"
            for w, r in submissions:
                if w not in owners and r.get("code") != "concurrency_conflict":
                    assert (r["code"], r["rule"]) == ("duplicate_po", "R5"), r
        identical = {po: subs for po, subs in by_po.items() if po.startswith("SAME-")}
        assert identical
        for submissions in identical.values():
            outcomes = [r for _, r in submissions]
            assert all(r["ok"] or r["code"] == "concurrency_conflict" for r in outcomes), outcomes
            assert sum(1 for r in outcomes if r["ok"] and r["events"]) == (1 if any(r["ok"] for r in outcomes) else 0)

        # the views kept current while the writers wrote equal the aggregates' and a rebuild
        catch_up(app, models)
        at = datetime.now(UTC)
        live = {name: live_view(fresh, models, name, at) for name in PROJECTIONS}
        assert live == {name: as_of_view(fresh, name, at) for name in PROJECTIONS}
        assert all(r.differences == [] for r in rebuild_views(fresh, models, check=True))

        codes = Counter(r.get("code") or "ok" for r in flat)
        print(
            f"\n[{backend}] {WORKERS} writers x {COMMANDS} commands in {elapsed:.1f} s: {len(entries)} events, "
            f"{codes['ok']} accepted, {codes['concurrency_conflict']} concurrency_conflict, "
            f"{sum(codes.values()) - codes['ok']} refused ({dict(codes.most_common(6))})"
        )
        assert codes["ok"] > len(flat) // 3, "too few commands accepted for the run to mean much"
    finally:
        models.close()


def test_r18_concurrency_conflict_after_bounded_attempts_is_a_refusal_that_records_nothing(
    db_url: str, make_app: Callable[..., LedgerApplication], tmp_path: Path
) -> None:
    app = make_app()
    prepared = setup(app)
    results = run_writers(db_url, tmp_path, workers=4, commands=120, customers=2,
                          environ={**ENV, "LEDGER_MAX_ATTEMPTS": "1"})
    flat = prepared + [r for mine in results for r in mine]
    conflicts = [r for r in flat if r.get("code") == "concurrency_conflict"]
    print(f"\n{len(conflicts)} of {len(flat)} commands lost their only attempt: concurrency_conflict")
    assert conflicts, "4 writers on 2 customers with one attempt each never collided"
    assert all(r["rule"] == "R18" and "submit it again" in r["message"] for r in conflicts)
    entries = read_log(make_app())
    owner = audit_log(entries, [r for r in flat if r["ok"]])  # the refused recorded nothing
    audit_counts(entries, flat)
    fold_log(entries, owner)


# ----- races on the ledger-wide uniqueness rules


Sides = tuple[list[dict[str, Any]], list[dict[str, Any]]]


def both(command: Callable[[int, int], dict[str, Any]]) -> Sides:
    """The commands of racer 0 and racer 1 for every round."""
    return ([command(0, n) for n in range(ROUNDS)], [command(1, n) for n in range(ROUNDS)])


def race(db_url: str, tmp_path: Path, sides: Sides) -> list[list[dict[str, Any]]]:
    """Two processes run round by round, starting each round together; in even rounds they also
    meet right before saving, so both have read the same state and passed every check."""
    begin = SPAWN.Barrier(2)
    holds = [SPAWN.Barrier(2) if n % 2 == 0 else None for n in range(len(sides[0]))]
    outs = [tmp_path / f"racer{side}.jsonl" for side in (0, 1)]
    processes = [start(race_worker, db_url, sides[s], str(outs[s]), begin, holds, ENV) for s in (0, 1)]
    finish(processes)
    rounds = [list(read_results(out)) for out in outs]
    assert [len(r) for r in rounds] == [len(sides[0])] * 2
    for side in rounds:
        assert not [r for r in side if r.get("code") == "EXCEPTION"], side
    return [[rounds[0][n], rounds[1][n]] for n in range(len(sides[0]))]


def held_rounds_collided(outcomes: list[list[dict[str, Any]]]) -> None:
    for n, pair in enumerate(outcomes):
        if n % 2 == 0:
            assert sum(r["lost_races"] for r in pair) >= 1, f"round {n}: the held racers did not collide"


def test_r11_serial_race_two_processes_two_customers_exactly_one_wins(
    db_url: str, make_app: Callable[..., LedgerApplication], tmp_path: Path
) -> None:
    app = make_app()
    rooms = []
    for c in (0, 1):
        placed = execute(app, order(f"SN-RACE-PO-{c}", c, site=False, service="select", years=3, quantity=5))
        assert placed["ok"], placed
        added = execute(app, {"command": "AddRoom", "actor": "ops", "customer_id": str(customer_id(c)),
                              "account_id": placed["account_id"], "name": "Room 1", "site": "HQ", "country": "US"})
        assert added["ok"] and added["room_id"] == str(room_id(c, False, 0)), added
        rooms.append(added["room_id"])

    def register(c: int, n: int) -> dict[str, Any]:
        return {"command": "RegisterDevice", "actor": "ops", "customer_id": str(customer_id(c)), "room_id": rooms[c],
                "serial_number": f"RACE-SN-{n:03d}", "product": "Rally Bar", "purchased_on": "2025-01-15"}

    outcomes = race(db_url, tmp_path, both(register))
    fresh = make_app()
    for n, pair in enumerate(outcomes):
        winners = [side for side, r in enumerate(pair) if r["ok"]]
        assert len(winners) == 1, f"round {n}: {pair}"
        loser = pair[1 - winners[0]]
        assert (loser["code"], loser["rule"]) == ("duplicate_serial", "R11"), loser
        serial = f"RACE-SN-{n:03d}"
        reservation = fresh.repository.get(serial_number_id_for(serial))
        assert reservation.customer_id == customer_id(winners[0])
        assert serial in fresh.customer(customer_id(winners[0])).devices
        assert serial not in fresh.customer(customer_id(1 - winners[0])).devices
    held_rounds_collided(outcomes)
    registered = [e for e in read_log(fresh) if e.type == "DeviceRegistered"]
    assert len(registered) == ROUNDS


def test_r5_po_race_different_content_two_customers_exactly_one_wins(
    db_url: str, make_app: Callable[..., LedgerApplication], tmp_path: Path
) -> None:
    def place(side: int, n: int) -> dict[str, Any]:
        # a new customer per side and round: the loser's customer must not come into being either
        return order(f"RACE-PO-{n:03d}", 100 + 2 * n + side, site=False, service="select", years=3,
                     quantity=10 + side)

    outcomes = race(db_url, tmp_path, both(place))
    fresh = make_app()
    for n, pair in enumerate(outcomes):
        winners = [side for side, r in enumerate(pair) if r["ok"]]
        assert len(winners) == 1, f"round {n}: {pair}"
        loser = pair[1 - winners[0]]
        assert (loser["code"], loser["rule"]) == ("duplicate_po", "R5"), loser
        reservation = fresh.repository.get(purchase_order_id_for(f"RACE-PO-{n:03d}"))
        assert reservation.customer_id == customer_id(100 + 2 * n + winners[0])
        assert str(customer_id(100 + 2 * n + 1 - winners[0])) not in {str(c) for c in fresh.customer_ids()}
    held_rounds_collided(outcomes)
    entries = read_log(fresh)
    assert sum(e.type == "OrderPlaced" for e in entries) == ROUNDS
    audit_log(entries, [r for pair in outcomes for r in pair if r["ok"]])


def test_r5_same_po_identical_content_race_both_ok_one_set_of_events(
    db_url: str, make_app: Callable[..., LedgerApplication], tmp_path: Path
) -> None:
    rounds = [order(f"IDEM-PO-{n:03d}", 200 + n, site=False, service="select", years=2, quantity=60)
              for n in range(ROUNDS)]
    outcomes = race(db_url, tmp_path, (rounds, rounds))
    fresh = make_app()
    for n, pair in enumerate(outcomes):
        assert all(r["ok"] for r in pair), f"round {n}: {pair}"
        recorded = [r for r in pair if r["events"]]
        assert len(recorded) == 1, f"round {n}: both or neither recorded events"
        for key in ("customer_id", "account_id", "warnings", "invitation"):
            assert pair[0][key] == pair[1][key], key
        customer = fresh.customer(customer_id(200 + n))
        assert list(customer.contracts) == [f"IDEM-PO-{n:03d}"]
        assert len(customer.live_spares) == 1, "R13: 60 select licenses give one spare, once"
        assert customer.version == len([e for e in recorded[0]["events"] if e["aggregate_id"] == str(customer.id)])
    held_rounds_collided(outcomes)
    entries = read_log(fresh)
    assert sum(e.type == "OrderPlaced" for e in entries) == ROUNDS
    assert sum(e.type == "SpareAccrued" for e in entries) == ROUNDS
    audit_log(entries, [r for pair in outcomes for r in pair if r["ok"]])


def test_r10_last_free_license_race_two_processes_exactly_one_wins(
    db_url: str, make_app: Callable[..., LedgerApplication], tmp_path: Path
) -> None:
    app = make_app()
    c = 300
    sides: Sides = ([], [])
    for n in range(ROUNDS):
        placed = execute(app, order(f"LAST-{n:03d}", c, site=False, service="select", years=1, quantity=1))
        assert placed["ok"], placed
        for side in (0, 1):
            name = f"Race Room {n}-{side}"
            added = execute(app, {"command": "AddRoom", "actor": "ops", "customer_id": str(customer_id(c)),
                                  "account_id": placed["account_id"], "name": name, "site": "HQ", "country": "US"})
            assert added["ok"], added
            sides[side].append({"command": "AssignLicense", "actor": "ops", "customer_id": str(customer_id(c)),
                                "room_id": added["room_id"], "po_number": f"LAST-{n:03d}"})
    outcomes = race(db_url, tmp_path, sides)
    customer = make_app().customer(customer_id(c))
    for n, pair in enumerate(outcomes):
        winners = [side for side, r in enumerate(pair) if r["ok"]]
        assert len(winners) == 1, f"round {n}: {pair}"
        loser = pair[1 - winners[0]]
        assert (loser["code"], loser["rule"]) == ("no_free_licenses", "R10"), loser
        assert customer.contracts[f"LAST-{n:03d}"].assigned == 1
    held_rounds_collided(outcomes)


def test_r5_identical_order_resubmitted_while_the_first_commits_is_idempotent(
    db_url: str, make_app: Callable[..., LedgerApplication], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The torn read, made deterministic: the resubmission reads the PO reservation as absent, then
    the first submission commits, then the resubmission reads the customer, with the PO on it. Both
    reads are true, but no order of the two commands refuses the identical order (R5), so the
    refusal is decided again on fresh reads: it becomes the idempotent result."""
    first, second = make_app(), make_app()
    raw = {**order("TORN-PO-1", 500, site=False, service="select", years=2, quantity=10), "at": "2026-05-04T09:00:00Z"}
    lookup = ledger_app.UnitOfWork.purchase_order
    committed: list[dict[str, Any]] = []

    def purchase_order(uow: Any, po_number: str) -> Any:
        found = lookup(uow, po_number)
        if uow._app is second and not committed:
            committed.append(execute(first, raw))  # the first submission commits in between
        return found

    monkeypatch.setattr(ledger_app.UnitOfWork, "purchase_order", purchase_order)
    again = execute(second, raw)
    assert committed[0]["ok"] and committed[0]["events"]
    assert again["ok"] and again["events"] == [], again
    assert again["customer_id"] == committed[0]["customer_id"]
    assert sum(e.type == "OrderPlaced" for e in read_log(make_app())) == 1


def test_r20_implicit_now_command_that_loses_the_clock_race_is_retried_not_refused(
    make_app: Callable[..., LedgerApplication], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A command without ``at`` reads the clock, then the customer. Another writer that commits an
    event dated between the two makes the customer's latest event later than "now": that is a lost
    race, not a command dated in the past (R20), so it is retried with a new reading of the clock."""
    first, second = make_app(), make_app()
    placed = execute(first, order("CLOCK-PO-1", 501, site=False, service="select", years=2, quantity=10))
    assert placed["ok"]
    cid = placed["customer_id"]
    load = ledger_app.UnitOfWork.customer
    interleaved: list[dict[str, Any]] = []

    def customer(uow: Any, customer_id: Any) -> Any:
        if uow._app is second and not interleaved:
            time.sleep(0.01)  # the clock moves on between second's reading of it and this read
            interleaved.append(execute(first, {"command": "AddRoom", "actor": "ops", "customer_id": cid,
                                               "account_id": placed["account_id"], "name": "Room A",
                                               "site": "HQ", "country": "US"}))
        return load(uow, customer_id)

    monkeypatch.setattr(ledger_app.UnitOfWork, "customer", customer)
    result = execute(second, {"command": "AddRoom", "actor": "ops", "customer_id": cid,
                              "account_id": placed["account_id"], "name": "Room B", "site": "HQ", "country": "US"})
    assert interleaved[0]["ok"]
    assert result["ok"], result
    rooms = make_app().customer(UUID(cid)).rooms.values()
    assert sorted(r.name for r in rooms) == ["Room A", "Room B"]


def test_r18_concurrency_processes_starting_together_on_a_new_store_all_start(
    db_url: str, make_app: Callable[..., LedgerApplication], tmp_path: Path
) -> None:
    """Six processes start on an empty database at the same moment: all create the events table,
    snapshot table, insert function and read-model tables at once. On PostgreSQL the losers of
    that race are told "tuple concurrently updated" or get a duplicate key in the catalogs; the
    application creates again instead of failing to start (``ledger.startup.created_concurrently``)."""
    barrier = SPAWN.Barrier(6)
    outs = [tmp_path / f"starter{n}.json" for n in range(6)]
    finish([start(start_worker, db_url, str(out), barrier, ENV) for out in outs])
    results = [json.loads(out.read_text()) for out in outs]
    assert all(r["ok"] for r in results), [r.get("traceback", r) for r in results if not r["ok"]][:1]
    assert make_app().recorder.max_notification_id() in (None, 0)


# ----- no skipped events


def schema_of(db_url: str) -> str:
    return parse_qs(urlparse(db_url).query)["schema"][0]


@pytest.mark.parametrize("contested", [False, True], ids=["disjoint-customers", "shared-customers"])
def test_r18_concurrency_follower_sees_every_event_once_in_order_while_writers_commit(
    db_url: str, make_app: Callable[..., LedgerApplication], tmp_path: Path, backend: str, contested: bool
) -> None:
    """A follower asks for "the notifications after the last one I saw", as projections and the
    stream relay do. That is only safe if no notification can become visible *after* one with a
    higher id. With a plain PostgreSQL ``bigserial`` it can: ids are drawn when a row is inserted, but
    become visible when its transaction commits, and transactions commit in any order. A follower
    that has read id 11 (committed first) has moved past id 10, which commits a moment later and is
    never read: the known failure of event stores built on sequences.

    The ``eventsourcing`` library avoids it by serialising the inserts: before inserting, every
    writer takes ``LOCK TABLE <events> IN EXCLUSIVE MODE`` within its transaction
    (``PostgresApplicationRecorder._lock_table``, called from ``_insert_stored_events`` in
    ``eventsourcing/postgres.py``), so the next writer draws its ids only after the previous one
    committed or rolled back: commit order equals id order. EXCLUSIVE mode does not conflict with
    the ACCESS SHARE lock of a SELECT, so followers read while a writer holds it. The lock is held
    only for the insert itself (the command's reads and rule checks happen before it, outside any
    transaction). The ledger keeps ``POSTGRES_ENABLE_DB_FUNCTIONS`` off (``ledger/config.py``):
    the library's insert *function* path does not take the lock. SQLite needs no such lock: it has
    one writer at a time, and a row's id is ``max(id) + 1`` drawn under that write lock.

    Ids themselves may have holes on PostgreSQL: a writer that loses an optimistic-concurrency race
    has drawn ids for its rows before the primary key refused them, and a sequence never gives ids
    back. Holes are harmless (nothing will ever fill them). With writers on disjoint customers
    nothing is refused, so there the ids must be exactly 1..max on both backends.
    """
    app = make_app()
    prepared = setup(app)
    follower = Follower(app, page=25)
    results = run_writers(db_url, tmp_path, workers=3, commands=150, customers=4, environ=ENV,
                          contested=contested, while_waiting=follower.poll)
    follower.poll()
    entries = read_log(make_app())
    positions = [e.position for e in entries]
    assert follower.seen == positions, "the follower skipped, repeated or reordered events"
    assert len(set(follower.seen)) == len(follower.seen)
    accepted = [r for r in prepared + [r for mine in results for r in mine] if r["ok"]]
    audit_log(entries, accepted)
    holes = positions[-1] - len(positions)
    print(f"\n[{backend}] follower read {len(follower.seen)} events in order; {holes} ids never used")
    if not contested or backend == "sqlite":
        assert positions == list(range(1, len(positions) + 1)), "holes in the notification ids"


def test_r18_concurrency_insert_lock_serialises_writers_and_followers_still_read(
    db_url: str, make_app: Callable[..., LedgerApplication], backend: str
) -> None:
    """While one transaction holds the events table's insert lock (PostgreSQL: the library's own
    ``_lock_table``; SQLite: the database write lock), another writer's command waits, and a
    follower can still read. When the lock is released the waiting command commits after it."""
    app, writer = make_app(), make_app()
    first = execute(app, order("LOCK-PO-1", 400, site=False, service="select", years=1, quantity=1))
    assert first["ok"]
    follower = Follower(app)
    follower.poll()
    done: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: done.append(
        execute(writer, order("LOCK-PO-2", 401, site=False, service="select", years=1, quantity=1))
    ))
    if backend == "postgres":
        recorder: Any = app.recorder
        assert "IN EXCLUSIVE MODE" in recorder.lock_table_statements[-1].as_string()
        assert recorder.datastore.enable_db_functions is False, "the insert function path takes no lock"
        with recorder.datastore.transaction(commit=True) as cursor:
            recorder._lock_table(cursor)
            thread.start()
            time.sleep(0.5)
            assert thread.is_alive() and not done, "a writer inserted while another held the table lock"
            assert follower.poll() == 0  # reading is not blocked by the lock
    else:
        path = app.settings.store.sqlite_path
        holder = sqlite3.connect(str(path), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and not done, "a writer committed while another held the write lock"
        assert follower.poll() == 0
        holder.execute("COMMIT")
        holder.close()
    thread.join(timeout=30)
    assert done and done[0]["ok"], done
    follower.poll()
    assert follower.seen == [e.position for e in read_log(make_app())]
    assert min(e["position"] for e in done[0]["events"]) > max(e["position"] for e in first["events"])


def test_r18_concurrency_without_the_lock_a_sequence_follower_would_skip(db_url: str, backend: str) -> None:
    """The failure the insert lock prevents, shown on a scratch table: without the lock a row with
    a lower id commits after one with a higher id, and a follower that already read the higher one
    never sees it. With the library's ``LOCK TABLE ... IN EXCLUSIVE MODE`` the second writer waits.
    On SQLite a second writer cannot even begin while the first holds the write lock."""
    if backend == "sqlite":
        first = sqlite3.connect(db_url, isolation_level=None, timeout=0.2)
        second = sqlite3.connect(db_url, isolation_level=None, timeout=0.2)
        first.execute("BEGIN IMMEDIATE")
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            second.execute("BEGIN IMMEDIATE")
        first.execute("ROLLBACK")
        first.close()
        second.close()
        return
    from tests.kit.pg import base_url

    schema = schema_of(db_url)
    options = f"-csearch_path={schema}"

    def connect(autocommit: bool = False) -> psycopg.Connection[Any]:
        return psycopg.connect(base_url(), options=options, autocommit=autocommit)

    with connect(autocommit=True) as reader, connect() as a, connect() as b:
        reader.execute("CREATE TABLE demo (id bigserial PRIMARY KEY, note text)")

        def follow(after: int) -> list[int]:
            return [row[0] for row in reader.execute("SELECT id FROM demo WHERE id > %s ORDER BY id", (after,))]

        # without the lock: ids are drawn at insert, made visible at commit, in any order
        low = a.execute("INSERT INTO demo (note) VALUES ('a') RETURNING id").fetchone()[0]
        high = b.execute("INSERT INTO demo (note) VALUES ('b') RETURNING id").fetchone()[0]
        b.commit()
        position = follow(0)[-1]
        assert position == high > low
        a.commit()
        assert follow(position) == [], "expected: the follower has passed over the later commit"
        assert low in follow(0), "the skipped row is there, below the follower's position"

        # with the lock, as the library inserts: the second writer waits for the first to commit
        a.execute(f'LOCK TABLE "{schema}".demo IN EXCLUSIVE MODE')
        low = a.execute("INSERT INTO demo (note) VALUES ('c') RETURNING id").fetchone()[0]
        got: list[int] = []

        def second_writer() -> None:
            b.execute("SET LOCAL lock_timeout = '20s'")
            b.execute(f'LOCK TABLE "{schema}".demo IN EXCLUSIVE MODE')
            got.append(b.execute("INSERT INTO demo (note) VALUES ('d') RETURNING id").fetchone()[0])
            b.commit()

        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and not got, "the second writer did not wait for the lock"
        assert follow(position) == []  # the follower is not blocked, and sees nothing out of order
        a.commit()
        thread.join(timeout=30)
        assert follow(position) == [low, got[0]] and got[0] > low
