"""R25 notifications: the ticket's opener is mailed on each status change; the stream carries tickets.

Given a set-up customer (``tests/kit/support.py``), when each step of a ticket's life, then the event it
recorded (``tests/kit/rules.py``); then the mails and the stream's envelopes built from what was recorded."""

from __future__ import annotations

from typing import Any

from ledger.app import LedgerApplication
from ledger.stream.envelope import build_envelope, is_published, read_event
from ledger.stream.notifications import SENDER, mails_for
from ledger.stream.schemas.models import RmaRequested, TicketOpened, TicketStatusChanged
from tests.kit.app import SECRET
from tests.kit.commands import command
from tests.kit.rules import Rules
from tests.kit.support import JANE, support_customer, ticket_command

KEY = SECRET.encode()


def stream_events(app: LedgerApplication) -> list[Any]:
    out = []
    for notification in app.recorder.select_notifications(1, 10_000):
        domain_event = app.mapper.to_domain_event(notification)
        if is_published(domain_event):
            out.append(read_event(build_envelope(domain_event, notification.id)))
    return out


def _lifecycle(app: LedgerApplication, actor: str) -> tuple[str, str]:
    rules = Rules(app)
    acme = support_customer(app)
    cid = acme["customer_id"]
    tid = rules.when(ticket_command(cid, acme["rooms"]["boardroom"], actor=actor, serials=["RB-0001"])).then(
        ("TicketOpened", {"room_id": acme["rooms"]["boardroom"], "serial_numbers": ["RB-0001"]})
    )["ticket_id"]
    rules.when(command("UpdateTicket", "2026-06-01T09:10:00Z", customer_id=cid, ticket_id=tid,
                       status="in_progress")).then(
        ("TicketStatusChanged", {"ticket_id": tid, "status": "in_progress", "previous": "open", "opened_by": actor})
    )
    rules.when(command("RequestRma", "2026-06-01T09:20:00Z", customer_id=cid, ticket_id=tid,
                       serial_number="RB-0001")).then(
        ("RmaRequested", {"ticket_id": tid, "serial_number": "RB-0001", "due": "2026-06-02"})
    )
    rules.when(command("UpdateTicket", "2026-06-02T09:00:00Z", customer_id=cid, ticket_id=tid,
                       status="resolved")).then(
        ("TicketStatusChanged", {"ticket_id": tid, "status": "resolved", "previous": "in_progress",
                                 "opened_by": actor})
    )
    rules.when(command("ReopenTicket", "2026-06-03T09:00:00Z", JANE, customer_id=cid, ticket_id=tid)).then(
        ("TicketReopened", {"ticket_id": tid, "opened_by": actor})
    )
    return cid, tid


def test_r25_opener_is_mailed_on_each_status_change(app: LedgerApplication) -> None:
    _, tid = _lifecycle(app, JANE)
    mails = [m for e in stream_events(app) for m in mails_for(e, KEY) if m.kind == "ticket-update"]
    assert len(mails) == 3
    assert {m.message["To"] for m in mails} == {JANE}
    assert all(m.message["From"] == SENDER and m.message["X-Select-Ticket-Id"] == tid for m in mails)
    subjects = [m.message["Subject"] for m in mails]
    assert subjects == [f"Logitech Select support ticket {tid[:8]} is in progress",
                        f"Logitech Select support ticket {tid[:8]} is resolved",
                        f"Logitech Select support ticket {tid[:8]} reopened"]
    assert len({m.message["Message-ID"] for m in mails}) == 3


def test_r25_ticket_opened_by_support_staff_mails_nobody(app: LedgerApplication) -> None:
    _lifecycle(app, "ops")
    assert not [m for e in stream_events(app) for m in mails_for(e, KEY) if m.kind == "ticket-update"]


def test_r24_a_downstream_consumer_can_follow_a_ticket(app: LedgerApplication) -> None:
    _, tid = _lifecycle(app, JANE)
    about = [e for e in stream_events(app) if str(getattr(e.data, "ticket_id", "")) == tid]
    kinds = [type(e.data).__name__ for e in about]
    assert kinds == ["TicketOpened", "TicketStatusChanged", "RmaRequested", "TicketStatusChanged", "TicketReopened"]
    assert isinstance(about[0].data, TicketOpened) and about[0].data.room["name"] == "Boardroom"
    assert isinstance(about[1].data, TicketStatusChanged) and about[1].data.status == "in_progress"
    assert isinstance(about[2].data, RmaRequested) and about[2].data.due.isoformat() == "2026-06-02"
