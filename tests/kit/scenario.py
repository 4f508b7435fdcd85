"""Random command sequences (hypothesis) run through the application and through the handlers on
in-memory aggregates side by side, with the domain invariants checked after every step."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from hypothesis import strategies as st

from aggregates.customer import Customer
from aggregates.errors import LedgerError
from commands.parsing import parse_command
from commands.registry import HANDLERS
from ledger.app import LedgerApplication
from tests.kit.commands import DE_SITE, US_HQ, order
from tests.kit.memory import MemoryUnitOfWork

COMPANIES = ["Acme Corp", "ACME, Inc.", "Globex GmbH", "Initech LLC"]
ADDRESSES = [US_HQ, DE_SITE]
PRODUCTS = ["Rally Bar", "Meetup", "Scribe", "Toaster 3000"]
COUNTRIES = ["US", "DE", "KP"]
EMAILS = ["ann@acme.example", "bob@acme.example", "it@acme.example"]
T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)



def check_invariants(customer: Customer) -> None:
    held: dict[str, int] = {}
    for room in customer.rooms.values():
        for service, po in room.licenses.items():
            contract = customer.contracts[po]
            assert contract.service == service
            assert room.room_id in contract.rooms
            assert contract.account_id == room.account_id
            held[po] = held.get(po, 0) + 1
    for contract in customer.contracts.values():
        assert contract.assigned <= contract.quantity, "R10: assigned exceeds purchased"
        assert held.get(contract.po_number, 0) == contract.assigned
        if not contract.is_live:
            assert contract.assigned == 0, "R7/R8: a cancelled or expired contract holds rooms"
    placements = [s for room in customer.rooms.values() for s in room.devices]
    assert sorted(placements) == sorted(customer.devices), "R11: a device is in exactly one room"
    for serial, device in customer.devices.items():
        assert serial in customer.rooms[device.room_id].devices
    live = customer.live_spares
    assert len(live) == customer.active_select_licenses // 50, "R13: spares = floor(n/50)"
    assert all(s.spare_no == i + 1 for i, s in enumerate(customer.spares))


class Scenario:
    def __init__(self, app: LedgerApplication) -> None:
        self.app = app
        self.live: dict[UUID, Aggregate] = {}
        self.customers: list[str] = []
        self.accounts: list[tuple[str, str]] = []
        self.rooms: list[tuple[str, str]] = []
        self.pos: list[str] = []
        self.serials: list[tuple[str, str]] = []
        self.tokens: list[tuple[str, str]] = []
        self.at = T0
        self.accepted = 0
        self.refused = 0

    def step(self, raw: dict[str, Any]) -> dict[str, Any] | None:
        command = parse_command(raw)
        ctx = self.app.context(command)
        uow = MemoryUnitOfWork(self.live)
        before = copy.deepcopy(self.live)
        try:
            expected: dict[str, Any] | None = HANDLERS[type(command)](command, uow, ctx)
        except LedgerError as refusal:
            expected, expected_code = None, refusal.code
        position = self.app.recorder.max_notification_id()
        try:
            actual: dict[str, Any] | None = self.app.execute(command)
        except LedgerError as refusal:
            actual = None
            assert expected is None, f"store refused ({refusal.code}) what memory accepted: {raw}"
            assert refusal.code == expected_code
            assert self.app.recorder.max_notification_id() == position, "a refusal recorded events"
            assert self.live == before, "a refusal changed the live state"
            self.refused += 1
            return None
        assert expected is not None, f"store accepted what memory refused ({expected_code}): {raw}"
        for aggregate in uow.staged.values():
            aggregate.collect_events()
            self.live[aggregate.id] = aggregate
        for key in expected:
            assert actual[key] == expected[key], key
        self.accepted += 1
        for aggregate in self.live.values():
            if isinstance(aggregate, Customer):
                check_invariants(aggregate)
        return actual


def one_step(data: st.DataObject, sc: Scenario) -> None:
    days = data.draw(st.integers(min_value=-2, max_value=25), label="days")
    sc.at = sc.at + timedelta(days=days, hours=1)
    at = sc.at.isoformat()
    actor = data.draw(st.sampled_from(["ops"] * 8 + ["ann@acme.example", "mallory@evil.example"]), label="actor")
    kinds = ["order", "order", "room", "assign", "assign", "device", "expire"]
    if sc.pos:
        kinds += ["cancel", "move_license", "resubmit"]
    if sc.serials:
        kinds += ["move_device", "spare"]
    if sc.customers:
        kinds += ["invite"]
    if sc.tokens:
        kinds += ["accept"]
    kind = data.draw(st.sampled_from(kinds), label="kind")
    pick = lambda seq, label: data.draw(st.sampled_from(seq), label=label)  # noqa: E731
    raw: dict[str, Any] | None = None
    if kind == "order":
        raw = order(
            po=f"PO-{len(sc.pos) + 1}",
            at=at,
            company=pick(COMPANIES, "company"),
            address=pick(ADDRESSES, "address"),
            service=pick(["select", "select", "syncplus", "extended_warranty"], "service"),
            years=data.draw(st.integers(1, 5), label="years"),
            quantity=pick([1, 10, 25, 40, 50, 60], "quantity"),
            actor=actor,
        )
    elif kind == "resubmit":
        raw = order(po=pick(sc.pos, "po"), at=at, quantity=pick([1, 10], "quantity"), actor=actor)
    elif kind == "cancel":
        raw = {"command": "CancelOrder", "at": at, "actor": actor, "po_number": pick(sc.pos, "po")}
    elif kind == "expire":
        raw = {"command": "ExpireContracts", "at": at, "actor": actor}
    elif kind == "room" and sc.accounts:
        customer_id, account_id = pick(sc.accounts, "account")
        raw = {"command": "AddRoom", "at": at, "actor": actor, "customer_id": customer_id,
               "account_id": account_id, "name": f"Room {data.draw(st.integers(1, 4), label='room')}",
               "site": "HQ", "country": pick(COUNTRIES, "country")}
    elif kind == "assign" and sc.rooms and sc.pos:
        customer_id, room_id = pick(sc.rooms, "room")
        raw = {"command": "AssignLicense", "at": at, "actor": actor, "customer_id": customer_id,
               "room_id": room_id, "po_number": pick(sc.pos, "po")}
    elif kind == "move_license" and len(sc.rooms) > 1:
        (customer_id, a), (_, b) = pick(sc.rooms, "from"), pick(sc.rooms, "to")
        raw = {"command": "MoveLicense", "at": at, "actor": actor, "customer_id": customer_id,
               "service": pick(["select", "syncplus"], "service"), "from_room_id": a, "to_room_id": b}
    elif kind == "device" and sc.rooms:
        customer_id, room_id = pick(sc.rooms, "room")
        raw = {"command": "RegisterDevice", "at": at, "actor": actor, "customer_id": customer_id,
               "room_id": room_id, "serial_number": f"SN-{data.draw(st.integers(1, 6), label='serial')}",
               "product": pick(PRODUCTS, "product"), "purchased_on": "2024-02-29"}
    elif kind == "move_device" and sc.rooms:
        customer_id, serial = pick(sc.serials, "serial")
        _, room_id = pick(sc.rooms, "room")
        raw = {"command": "MoveDevice", "at": at, "actor": actor, "customer_id": customer_id,
               "serial_number": serial, "to_room_id": room_id}
    elif kind == "spare":
        customer_id, _ = pick(sc.serials, "serial")
        raw = {"command": "AllocateSpare", "at": at, "actor": actor, "customer_id": customer_id,
               "product": pick(PRODUCTS, "product"), "ship_to": "HQ mail room"}
    elif kind == "invite":
        raw = {"command": "SendInvitation", "at": at, "actor": actor,
               "customer_id": pick(sc.customers, "customer"), "email": pick(EMAILS, "email")}
    elif kind == "accept":
        token, email = pick(sc.tokens, "token")
        raw = {"command": "AcceptInvitation", "at": at, "token": token,
               "actor": email if data.draw(st.booleans(), label="own") else "mallory@evil.example"}
    if raw is None:
        return
    result = sc.step(raw)
    if result is None:
        return
    if raw["command"] == "PlaceOrder":
        if raw["po_number"] not in sc.pos:
            sc.pos.append(raw["po_number"])
        if result["customer_id"] not in sc.customers:
            sc.customers.append(result["customer_id"])
        if (result["customer_id"], result["account_id"]) not in sc.accounts:
            sc.accounts.append((result["customer_id"], result["account_id"]))
    if raw["command"] == "AddRoom":
        sc.rooms.append((raw["customer_id"], result["room_id"]))
    if raw["command"] == "RegisterDevice":
        sc.serials.append((raw["customer_id"], raw["serial_number"]))
    if "invitation" in result:
        sc.tokens.append((result["invitation"]["token"], result["invitation"]["email"]))
