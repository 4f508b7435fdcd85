"""SPEC 9 error policy of the notifier: park per customer, in order; `ledger parked` works them.

Real parts throughout: the ledger store of the selected backend, the relay, the Kafka broker, the
notifier as the installed command line, and an SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from aggregates.customer import Customer
from ledger.app import LedgerApplication
from tests.kit.commands import command, order, run
from tests.kit.notify import Inbox, notify, relay_all, serving_smtp
from tests.kit.ops import inject_event
from tests.kit.stream import ledger_cli

pytestmark = pytest.mark.integration


class MoodyInbox(Inbox):
    """An inbox whose server answers 450 (mailbox busy) for the addresses in ``busy``."""

    def __init__(self) -> None:
        super().__init__()
        self.busy: set[str] = set()
        self.busy_lock = threading.Lock()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        with self.busy_lock:
            if address in self.busy:
                return "450 4.2.1 Mailbox busy, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    def to(self) -> list[tuple[str, str]]:
        with self.lock:
            return [(str(m.message["Subject"]), ",".join(m.rcpt_tos)) for m in self.mails]


@pytest.fixture
def moody() -> Iterator[tuple[MoodyInbox, int]]:
    with serving_smtp(MoodyInbox()) as served:
        yield served


def parked(db: str, state: Path, *args: str) -> Any:
    proc = ledger_cli("parked", *args, "--state", str(state), "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout)


def invite(app: LedgerApplication, customer_id: str, email: str, at: str) -> None:
    run(app, command("InviteUser", at, customer_id=customer_id, email=email, role="viewer"))


def test_r19_a_poison_event_is_parked_per_customer_in_order_and_worked_with_ledger_parked(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, moody: tuple[MoodyInbox, int], tmp_path: Path,
    make_app: Any,
) -> None:
    inbox, port = moody
    state = tmp_path / "notify.db"
    a = run(app, order(po="PO-A1", company="Alpha", email="ann@alpha.example", at="2026-05-04T09:00:00Z"))
    b = run(app, order(po="PO-B1", company="Beta", email="bob@beta.example", at="2026-05-04T10:00:00Z"))
    # A poison event of Alpha: an order whose parties are missing (the stream schema refuses it).
    inject_event(app, a["customer_id"], Customer.OrderPlaced, po_number="PO-A-BAD", account_id=a["account_id"],
                 service="select", years=1, quantity=1, end_customer={}, reseller={}, distributor={},
                 grace_days=60, warnings=[], at=datetime(2026, 5, 4, 12, tzinfo=UTC))
    app = make_app()  # a fresh application: the cached Alpha does not know the injected event
    invite(app, a["customer_id"], "al@alpha.example", "2026-05-05T09:00:00Z")   # waits behind the poison
    invite(app, b["customer_id"], "bea@beta.example", "2026-05-05T10:00:00Z")   # another customer: goes on
    relay_all(app, kafka, topic)

    done = notify(db_url, kafka, topic, port, state)
    assert done.returncode == 0, done.stderr
    assert "2 parked" in done.stdout, done.stdout
    recipients = [r for _, r in inbox.to()]
    assert "bea@beta.example" in recipients, "other customers' mails go on"
    assert "al@alpha.example" not in recipients, "Alpha's later event waits behind its parked one"
    assert sum("ann@alpha.example" in r for r in recipients) == 2, "Alpha's mails before the poison were sent"

    rows = parked(db_url, state, "list")
    assert [(r["customer_id"], r["status"]) for r in rows] == [(a["customer_id"], "parked")] * 2
    poison, behind = rows
    assert "OrderPlaced" in poison["event_type"] and "schema" in poison["error"]
    assert behind["event_type"] == "UserInvited" and "waits behind" in behind["error"]
    assert poison["seq"] < behind["seq"] and poison["position"] < behind["position"]

    refused = ledger_cli("parked", "retry", "--state", str(state), db=db_url)
    assert refused.returncode == 2 and "--reason" in refused.stderr
    too_many = ledger_cli("parked", "list", "--state", str(state), "--limit", "5000", db=db_url)
    assert too_many.returncode == 2 and "--limit" in too_many.stderr

    # Retry the first one only (a chunk of one): it is still poison, so it is parked again.
    marked = parked(db_url, state, "retry", "--limit", "1", "--reason", "after the deploy", "--actor", "ops:carl")
    assert [m["event_id"] for m in marked] == [poison["event_id"]]
    again = notify(db_url, kafka, topic, port, state)
    assert again.returncode == 0, again.stderr
    rows = parked(db_url, state, "list")
    assert [(r["event_id"], r["status"], r["attempts"]) for r in rows] == [
        (poison["event_id"], "parked", 2), (behind["event_id"], "parked", 1)
    ]

    # Discard the poison with a reason; then retry the rest: Alpha's invitation goes out, once.
    gone = parked(db_url, state, "discard", "--event-id", poison["event_id"], "--reason", "order re-entered by hand",
                  "--actor", "ops:alice")
    assert [g["event_id"] for g in gone] == [poison["event_id"]]
    parked(db_url, state, "retry", "--reason", "the head was discarded", "--actor", "ops:alice")
    final = notify(db_url, kafka, topic, port, state)
    assert final.returncode == 0, final.stderr
    assert "1 parked ones delivered" in final.stdout, final.stdout
    assert [r for _, r in inbox.to()].count("al@alpha.example") == 1
    assert parked(db_url, state, "list") == []
    history = {r["event_id"]: r["status"] for r in parked(db_url, state, "list", "--all")}
    assert history == {poison["event_id"]: "discarded", behind["event_id"]: "delivered"}

    # Read the whole topic again: nothing is delivered twice, the discarded event stays discarded.
    replay = notify(db_url, kafka, topic, port, state, "--from-beginning")
    assert replay.returncode == 0, replay.stderr
    assert "0 mails sent" in replay.stdout, replay.stdout
    ids = [str(m.message["Message-ID"]) for m in inbox.mails]
    assert len(ids) == len(set(ids))
    assert parked(db_url, state, "list") == []

    from ledger.ops.parked import ParkedStore, sqlite_engine

    store = ParkedStore(sqlite_engine(str(state)))
    try:
        trail = [(x.action, x.actor) for x in store.actions("notify", poison["event_id"])]
        assert trail == [("parked", "notify"), ("retry_requested", "ops:carl"), ("retry_failed", "notify"),
                         ("discarded", "ops:alice")]
        discarded = store.actions("notify", poison["event_id"])[-1]
        assert discarded.reason == "order re-entered by hand" and discarded.at
    finally:
        store.close()


def test_r19_a_refused_recipient_parks_its_customer_and_a_retry_delivers_in_order(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, moody: tuple[MoodyInbox, int], tmp_path: Path
) -> None:
    inbox, port = moody
    state = tmp_path / "notify.db"
    inbox.busy.add("busy@beta.example")
    a = run(app, order(po="PO-A1", company="Alpha", email="ann@alpha.example", at="2026-05-04T09:00:00Z"))
    b = run(app, order(po="PO-B1", company="Beta", email="bob@beta.example", at="2026-05-04T10:00:00Z"))
    invite(app, b["customer_id"], "busy@beta.example", "2026-05-05T09:00:00Z")
    invite(app, b["customer_id"], "second@beta.example", "2026-05-05T09:30:00Z")
    invite(app, a["customer_id"], "al@alpha.example", "2026-05-05T10:00:00Z")
    relay_all(app, kafka, topic)

    done = notify(db_url, kafka, topic, port, state, "--park-after", "0")
    assert done.returncode == 0, done.stderr
    recipients = [r for _, r in inbox.to()]
    assert "al@alpha.example" in recipients and "second@beta.example" not in recipients
    rows = parked(db_url, state, "list", "--customer", b["customer_id"])
    assert [r["event_type"] for r in rows] == ["UserInvited", "UserInvited"]
    assert "450" in rows[0]["error"]

    inbox.busy.clear()
    parked(db_url, state, "retry", "--customer", b["customer_id"], "--reason", "mailbox free again")
    retried = notify(db_url, kafka, topic, port, state)
    assert retried.returncode == 0, retried.stderr
    assert "2 parked ones delivered" in retried.stdout, retried.stdout
    order_sent = [r for _, r in inbox.to() if r in ("busy@beta.example", "second@beta.example")]
    assert order_sent == ["busy@beta.example", "second@beta.example"], "in original order"
    assert parked(db_url, state, "list") == []
