"""Many writer processes on the same customers at once: a deterministic command mix and its worker.

Shared by the concurrency stress tests (``tests/integration/test_pg_concurrency.py``) and the
scaling benchmark (``benchmarks/pg_scaling.py``). Nothing here is used by the ledger itself.

``mixed_commands(worker, count)`` yields the same commands for the same ``(seed, worker, count)``
on every run: orders (own, shared-identical and clashing PO numbers), rooms, license assignments
and moves, devices (own and contested serial numbers) and their moves, cancellations, spare
allocations, invitations, acceptances, role changes, removals and partner delegations, on a small
set of customers that every worker shares. Commands carry no ``at``: like portal calls they take
effect *now*, so writers really interleave on the same aggregates. Many are refused by the rules
(duplicate rooms, full contracts, unknown POs, strangers); that is part of the mix.

``run_worker`` executes such a list in one process and writes one JSON line per command: its
index, name, and either the events it recorded or the refusal code. An exception that escapes
``LedgerApplication.execute`` is written as code ``EXCEPTION`` with its traceback instead of being
lost, so a test can insist that there were none.
"""

from __future__ import annotations

import json
import random
import time
import traceback
from collections import defaultdict
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from aggregates.catalog import SUPPORTED_PRODUCTS, normalise_address, normalise_company
from aggregates.errors import LedgerError
from aggregates.ids import account_id_for, customer_id_for, room_id_for
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app, wire
from ledger.config import load_settings

PARTNER_ID = "tsp-contention"
PARTNER_USER = "engineer@tsp-contention.example"
STRANGER = "mallory@evil.example"
ROOMS_PER_ACCOUNT = 6
USERS_PER_CUSTOMER = 5
SAME_PER_CUSTOMER = 3
CLASHING_POS = 30
SHARED_SERIALS = 40
PRODUCTS = SUPPORTED_PRODUCTS[:10]
TOKEN = "$token"

RESELLER = {
    "name": "Contention AV",
    "email": "orders@contention-av.example",
    "address": {"line1": "9 Side Street", "city": "Springfield", "postal_code": "12345", "country": "US"},
}
DISTRIBUTOR = {
    "name": "Contention Distribution",
    "email": "po@contention-distribution.example",
    "address": {"line1": "7 Dock Road", "city": "Newark", "postal_code": "07101", "country": "US"},
}


class Barrier(Protocol):
    def wait(self, timeout: float | None = None) -> int: ...
    def abort(self) -> None: ...


def company(c: int) -> str:
    return f"Contention {c:02d} Holdings"


def customer_id(c: int) -> UUID:
    return customer_id_for(normalise_company(company(c)))


def address(c: int, site: bool) -> dict[str, str]:
    if site:
        return {"line1": f"Hauptstrasse {c + 1}", "city": "Berlin", "postal_code": "10115", "country": "DE"}
    return {"line1": f"{c + 1} Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}


def account_id(c: int, site: bool) -> UUID:
    return account_id_for(customer_id(c), normalise_address(address(c, site)))


def room_name(r: int) -> str:
    return f"Room {r + 1}"


def room_id(c: int, site: bool, r: int) -> UUID:
    return room_id_for(account_id(c, site), normalise_company(room_name(r)))


def user_email(c: int, u: int) -> str:
    return f"it.lead@c{c:02d}.example" if u == 0 else f"user{u}@c{c:02d}.example"


def order(
    po: str, c: int, *, site: bool, service: str, years: int, quantity: int, actor: str = "ops"
) -> dict[str, Any]:
    end_customer: dict[str, Any] = {
        "company": f"{company(c)} Berlin" if site else company(c),
        "email": user_email(c, 0),
        "address": address(c, site),
    }
    if site:
        end_customer["parent_company"] = company(c)
    return {
        "command": "PlaceOrder",
        "actor": actor,
        "po_number": po,
        "service": service,
        "years": years,
        "quantity": quantity,
        "end_customer": end_customer,
        "reseller": RESELLER,
        "distributor": DISTRIBUTOR,
    }


def same_order(c: int, k: int) -> dict[str, Any]:
    """An order every worker may submit with identical content: all but the first are no-ops (R5)."""
    rng = random.Random(f"same:{c}:{k}")
    return order(
        f"SAME-{c:02d}-{k}",
        c,
        site=False,
        service=rng.choice(["select", "select", "syncplus"]),
        years=rng.randint(1, 5),
        quantity=rng.choice([2, 5, 10, 25]),
    )


def clashing_order(worker: int, k: int, customers: int, first_customer: int = 0) -> dict[str, Any]:
    """PO ``CLASH-k`` with content that differs per worker: one worker owns it, the rest are refused (R5)."""
    c = first_customer + (k + 5 * worker) % customers
    return order(f"CLASH-{k:03d}", c, site=False, service="select", years=3, quantity=1 + worker)


def setup_commands() -> list[dict[str, Any]]:
    """Run once before the workers start: the service partner that customers delegate to (R17)."""
    return [
        {"command": "RegisterPartner", "actor": "ops", "partner_id": PARTNER_ID, "name": "Contention Partner"},
        {"command": "AddPartnerUser", "actor": "ops", "partner_id": PARTNER_ID, "email": PARTNER_USER},
    ]


WEIGHTS: dict[str, int] = {
    "order": 12,
    "same_order": 4,
    "clash_order": 3,
    "room": 12,
    "assign": 18,
    "move_license": 7,
    "device": 10,
    "move_device": 6,
    "cancel": 3,
    "invite": 5,
    "resend": 2,
    "accept": 6,
    "change_role": 3,
    "remove_user": 2,
    "spare": 2,
    "delegate": 2,
    "revoke": 1,
    "expire": 1,
}


def mixed_commands(
    worker: int,
    count: int,
    customers: int = 20,
    seed: int = 2026,
    *,
    first_customer: int = 0,
    contested: bool = True,
) -> list[dict[str, Any]]:
    """``count`` commands of one worker on customers ``first_customer`` .. ``+ customers - 1``.

    Workers given the same customers share them. With ``contested`` (the default) workers also
    submit the same identical orders, clashing PO numbers and the same serial numbers; without it
    every ledger-wide key a worker uses is its own, so workers on disjoint customers never collide.
    """
    rng = random.Random(f"{seed}:{worker}")
    shared = "" if contested else f"W{worker}-"
    kinds = list(WEIGHTS)
    weights = [WEIGHTS[k] for k in kinds]
    commands: list[dict[str, Any]] = []
    own_pos: dict[int, list[str]] = defaultdict(list)
    own_serials: list[tuple[int, str]] = []
    n = 0

    def po_name() -> str:
        nonlocal n
        n += 1
        return f"W{worker}-{n:04d}"

    def own_order(c: int) -> dict[str, Any]:
        site = rng.random() < 0.3
        po = po_name()
        own_pos[c].append(po)
        return order(
            po,
            c,
            site=site,
            service=rng.choice(["select", "select", "select", "syncplus", "extended_warranty"]),
            years=rng.randint(1, 5),
            quantity=rng.choice([1, 2, 3, 5, 10, 25, 50]),
        )

    def actor(c: int) -> str:
        roll = rng.random()
        if roll < 0.80:
            return "ops"
        if roll < 0.92:
            return user_email(c, rng.randrange(USERS_PER_CUSTOMER))
        return PARTNER_USER if roll < 0.97 else STRANGER

    def a_room(c: int) -> tuple[bool, int]:
        return rng.random() < 0.3, rng.randrange(ROOMS_PER_ACCOUNT)

    def add_room(c: int) -> dict[str, Any]:
        site, r = a_room(c)
        country = "KP" if r == ROOMS_PER_ACCOUNT - 1 and not site else ("DE" if site else "US")
        return {"command": "AddRoom", "actor": actor(c), "customer_id": str(customer_id(c)),
                "account_id": str(account_id(c, site)), "name": room_name(r),
                "site": "Berlin office" if site else "Head office", "country": country}

    # Every worker starts by ordering for every customer and adding rooms, each in its own order:
    # all race to create the same customers and rooms.
    first = list(range(first_customer, first_customer + customers))
    rng.shuffle(first)
    for c in first:
        commands.extend([own_order(c), add_room(c), add_room(c)])
    del commands[count:]
    while len(commands) < count:
        kind = rng.choices(kinds, weights)[0]
        c = first_customer + rng.randrange(customers)
        cid = str(customer_id(c))
        cmd: dict[str, Any]
        if kind == "order":
            cmd = own_order(c)
        elif kind == "same_order":
            cmd = same_order(c, rng.randrange(SAME_PER_CUSTOMER))
        elif kind == "clash_order":
            cmd = clashing_order(worker, rng.randrange(CLASHING_POS), customers, first_customer)
            cmd["po_number"] = shared + cmd["po_number"]
        elif kind == "room":
            cmd = add_room(c)
        elif kind == "assign":
            site, r = a_room(c)
            pos = own_pos[c] + [f"SAME-{c:02d}-{k}" for k in range(SAME_PER_CUSTOMER)]
            cmd = {"command": "AssignLicense", "actor": actor(c), "customer_id": cid,
                   "room_id": str(room_id(c, site, r)), "po_number": rng.choice(pos)}
        elif kind == "move_license":
            site, r = a_room(c)
            to = rng.randrange(ROOMS_PER_ACCOUNT)
            cmd = {"command": "MoveLicense", "actor": actor(c), "customer_id": cid,
                   "service": rng.choice(["select", "select", "syncplus"]),
                   "from_room_id": str(room_id(c, site, r)), "to_room_id": str(room_id(c, site, to))}
        elif kind == "device":
            site, r = a_room(c)
            if rng.random() < 0.3:
                serial = f"SN-{shared}SHARED-{rng.randrange(SHARED_SERIALS):03d}"
            else:
                serial = f"SN-W{worker}-{len(commands):04d}"
            own_serials.append((c, serial))
            purchased = date(2023 + rng.randrange(3), rng.randint(1, 12), rng.randint(1, 28))
            cmd = {"command": "RegisterDevice", "actor": actor(c), "customer_id": cid,
                   "room_id": str(room_id(c, site, r)), "serial_number": serial,
                   "product": rng.choice(PRODUCTS), "purchased_on": purchased.isoformat()}
        elif kind == "move_device" and own_serials:
            c, serial = rng.choice(own_serials)
            site, r = a_room(c)
            cmd = {"command": "MoveDevice", "actor": actor(c), "customer_id": str(customer_id(c)),
                   "serial_number": serial, "to_room_id": str(room_id(c, site, r))}
        elif kind == "cancel" and own_pos[c]:
            cmd = {"command": "CancelOrder", "actor": "ops", "po_number": rng.choice(own_pos[c])}
        elif kind == "invite":
            cmd = {"command": "InviteUser", "actor": actor(c), "customer_id": cid,
                   "email": user_email(c, rng.randrange(1, USERS_PER_CUSTOMER)),
                   "role": rng.choice(["admin", "viewer"])}
        elif kind == "resend":
            cmd = {"command": "SendInvitation", "actor": actor(c), "customer_id": cid,
                   "email": user_email(c, rng.randrange(USERS_PER_CUSTOMER))}
        elif kind == "accept":
            email = user_email(c, rng.randrange(USERS_PER_CUSTOMER))
            cmd = {"command": "AcceptInvitation", "actor": email, "token": [TOKEN, cid, email]}
        elif kind == "change_role":
            cmd = {"command": "ChangeRole", "actor": actor(c), "customer_id": cid,
                   "email": user_email(c, rng.randrange(USERS_PER_CUSTOMER)), "role": rng.choice(["admin", "viewer"])}
        elif kind == "remove_user":
            cmd = {"command": "RemoveUser", "actor": actor(c), "customer_id": cid,
                   "email": user_email(c, rng.randrange(USERS_PER_CUSTOMER))}
        elif kind == "spare":
            cmd = {"command": "AllocateSpare", "actor": actor(c), "customer_id": cid,
                   "product": rng.choice(PRODUCTS), "ship_to": "Head office mail room"}
        elif kind == "delegate":
            cmd = {"command": "DelegatePartner", "actor": actor(c), "customer_id": cid,
                   "partner_id": PARTNER_ID, "role": rng.choice(["admin", "viewer"])}
        elif kind == "revoke":
            cmd = {"command": "RevokePartner", "actor": actor(c), "customer_id": cid, "partner_id": PARTNER_ID}
        elif kind == "expire":
            cmd = {"command": "ExpireContracts", "actor": "ops"}
        else:
            continue
        commands.append(cmd)
    return commands


def resolve(raw: Mapping[str, Any], tokens: Mapping[tuple[str, str], str]) -> dict[str, Any]:
    """Fill in what is only known at run time: the latest invitation token this worker received."""
    cmd = dict(raw)
    token = cmd.get("token")
    if isinstance(token, list) and token and token[0] == TOKEN:
        # A token this worker never received: a well-formed but unknown one, refused by R15.
        cmd["token"] = tokens.get((token[1], token[2]), "inv_unknown-token")
    return cmd


def execute(app: LedgerApplication, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Run one command; a refusal or an escaped exception becomes a result too."""
    try:
        result = app.execute(parse_command(raw))
    except LedgerError as refusal:
        return {"ok": False, "code": refusal.code, "rule": refusal.rule, "message": refusal.message}
    except Exception as exc:  # a command must never vanish: record what escaped
        return {"ok": False, "code": "EXCEPTION", "message": repr(exc), "traceback": traceback.format_exc()}
    return result


def run_commands(
    app: LedgerApplication, commands: list[dict[str, Any]], out: Path, worker: int = 0
) -> dict[str, float]:
    """Execute ``commands`` in order, one JSON line per result in ``out``; return start and end times."""
    tokens: dict[tuple[str, str], str] = {}
    start = time.time()
    with out.open("w", encoding="utf-8") as sink:
        for index, raw in enumerate(commands):
            result = execute(app, resolve(raw, tokens))
            invitation = result.get("invitation")
            if result.get("ok") and isinstance(invitation, dict):
                tokens[(str(result["customer_id"]), invitation["email"])] = invitation["token"]
            record = {"worker": worker, "i": index, "command": raw["command"], **result}
            sink.write(json.dumps(record, default=str) + "\n")
    return {"start": start, "end": time.time()}


def run_worker(
    db_url: str,
    worker: int,
    count: int,
    out: str,
    *,
    customers: int = 20,
    seed: int = 2026,
    first_customer: int = 0,
    contested: bool = True,
    environ: Mapping[str, str] | None = None,
    barrier: Barrier | None = None,
) -> None:
    """Process entry point: build the app, wait for the others at ``barrier``, run, write results.

    ``out`` receives one JSON line per command; ``out + ".times"`` the start and end of the run.
    """
    try:
        commands = mixed_commands(
            worker, count, customers=customers, seed=seed, first_customer=first_customer, contested=contested
        )
        app = build_app(db_url, dict(environ or {}))
    except BaseException:
        if barrier is not None:
            barrier.abort()  # the others must not wait for a worker that will never come
        raise
    try:
        if barrier is not None:
            barrier.wait(timeout=120)
        times = run_commands(app, commands, Path(out), worker)
    finally:
        app.close()
    Path(out + ".times").write_text(json.dumps(times), encoding="utf-8")


def read_results(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as source:
        for line in source:
            yield json.loads(line)


class RaceApp(LedgerApplication):
    """The application with two test hooks: it counts lost races, and can hold a save at a barrier.

    ``lost_races`` counts the saves refused by the store because another writer got there first
    (the optimistic-concurrency IntegrityError that ``execute`` retries). When ``hold`` is set, the
    next save first waits there for the other racer: both have then read the same state and passed
    every check, so exactly one of their saves can win, every time.
    """

    name = LedgerApplication.name  # the library names tables and settings after the application
    lost_races = 0
    hold: Barrier | None = None

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        hold, self.hold = self.hold, None
        if hold is not None:
            hold.wait(timeout=60)
        try:
            return super().save(*objs, **kwargs)
        except IntegrityError:
            self.lost_races += 1
            raise


def race_worker(
    db_url: str,
    rounds: list[dict[str, Any]],
    out: str,
    start: Barrier,
    holds: list[Barrier | None],
    environ: Mapping[str, str] | None = None,
) -> None:
    """Process entry point of one racer: per round, meet the other racer at ``start``, run the command.

    In a round with a ``holds`` barrier both racers also meet just before saving (see ``RaceApp``).
    One JSON line per round: the result, and how many lost races the command went through.
    """
    app = wire(RaceApp, load_settings(db_url, dict(environ or {})))
    try:
        with Path(out).open("w", encoding="utf-8") as sink:
            for number, (raw, hold) in enumerate(zip(rounds, holds, strict=True)):
                before = app.lost_races
                start.wait(timeout=60)
                app.hold = hold
                result = execute(app, raw)
                if hold is not None and app.hold is hold:  # refused before saving: release the other racer
                    app.hold = None
                    hold.wait(timeout=60)
                record = {"round": number, "lost_races": app.lost_races - before, **result}
                sink.write(json.dumps(record, default=str) + "\n")
    finally:
        app.close()


def start_worker(db_url: str, out: str, start: Barrier, environ: Mapping[str, str] | None = None) -> None:
    """Process entry point: start an application at the same moment as the others on a new store,
    and run a first expiry (which also opens the read models), writing the result to ``out``."""
    start.wait(timeout=60)
    try:
        app = build_app(db_url, dict(environ or {}))
    except Exception as exc:
        result: dict[str, Any] = {"ok": False, "code": "EXCEPTION", "message": repr(exc),
                                  "traceback": traceback.format_exc()}
    else:
        try:
            result = execute(app, {"command": "ExpireContracts", "actor": "ops"})
        finally:
            app.close()
    Path(out).write_text(json.dumps(result, default=str), encoding="utf-8")
