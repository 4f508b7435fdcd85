"""Rendering of the R19 e-mails from stream events (no SMTP, no Kafka)."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from commands.tokens import read_token
from ledger.app import LedgerApplication
from ledger.stream.envelope import build_envelope, is_published, read_event
from ledger.stream.notifications import PURCHASE_SUBJECT, SENDER, WELCOME_SUBJECT, invitation_link, mails_for
from tests.kit.app import SECRET
from tests.kit.commands import DISTRIBUTOR, RESELLER, command, order, run

KEY = SECRET.encode()


def stream_events(app: LedgerApplication) -> list[Any]:
    out = []
    for notification in app.recorder.select_notifications(1, 1000):
        domain_event = app.mapper.to_domain_event(notification)
        if is_published(domain_event):
            out.append(read_event(build_envelope(domain_event, notification.id)))
    return out


def test_r19_purchase_confirmation_to_end_customer_cc_reseller_and_distributor(app: LedgerApplication) -> None:
    run(app, order(po="PO-MAIL-1", quantity=7, years=2))
    mails = [m for e in stream_events(app) for m in mails_for(e, KEY)]
    confirmation = next(m for m in mails if m.kind == "purchase-confirmation")
    message = confirmation.message
    assert message["Subject"] == PURCHASE_SUBJECT == "Logitech Select Service Contract Details"
    assert message["From"] == SENDER == "Logitech Support Services <noreply@logitech.com>"
    assert message["To"] == "jane.doe@acme.example"
    assert message["Cc"] == f"{RESELLER['email']}, {DISTRIBUTOR['email']}"
    body = message.get_content()
    assert "PO-MAIL-1" in body and "2 years" in body and "7 (one per room)" in body
    assert confirmation.recipients == ["jane.doe@acme.example", RESELLER["email"], DISTRIBUTOR["email"]]


def test_r19_welcome_invitation_to_end_customer_only_with_working_link(app: LedgerApplication) -> None:
    result = run(app, order(po="PO-MAIL-2"))
    events = stream_events(app)
    mails = [m for e in events for m in mails_for(e, KEY, "https://portal.example/accept")]
    assert [m.kind for m in mails] == ["purchase-confirmation", "welcome-invitation"]
    welcome = mails[1].message
    assert welcome["Subject"] == WELCOME_SUBJECT == "Welcome to Logitech Select"
    assert welcome["To"] == "jane.doe@acme.example" and welcome["Cc"] is None
    token = re.search(r"token=(\S+)", welcome.get_content())
    assert token is not None
    assert token.group(1) == result["invitation"]["token"]
    assert read_token(KEY, token.group(1))[0] == UUID(result["customer_id"])


def test_r15_consumer_without_the_key_cannot_make_a_working_link(app: LedgerApplication) -> None:
    result = run(app, order(po="PO-MAIL-3"))
    mails = [m for e in stream_events(app) for m in mails_for(e, b"some other key")]
    body = mails[1].message.get_content()
    assert result["invitation"]["token"] not in body


def test_invited_co_worker_gets_a_welcome_mail_and_other_events_none(app: LedgerApplication) -> None:
    result = run(app, order(po="PO-MAIL-4"))
    run(
        app,
        command(
            "InviteUser",
            "2026-05-05T09:00:00Z",
            customer_id=result["customer_id"],
            email="bob@acme.example",
            role="viewer",
        ),
    )
    events = stream_events(app)
    kinds = [(e.event, [m.kind for m in mails_for(e, KEY)]) for e in events]
    assert ("UserInvited", ["welcome-invitation"]) in kinds
    assert all(not mails for name, mails in kinds if name not in ("OrderPlaced", "InvitationSent", "UserInvited"))
    invited = next(m for e in events for m in mails_for(e, KEY) if e.event == "UserInvited")
    assert invited.message["To"] == "bob@acme.example"


def test_message_ids_are_derived_from_the_event(app: LedgerApplication) -> None:
    run(app, order(po="PO-MAIL-5"))
    event = next(e for e in stream_events(app) if e.event == "OrderPlaced")
    first, again = mails_for(event, KEY)[0], mails_for(event, KEY)[0]
    assert (
        first.message["Message-ID"]
        == again.message["Message-ID"]
        == f"<{event.id}.purchase-confirmation@select-ledger>"
    )


def test_invitation_link_appends_the_token() -> None:
    assert invitation_link("https://p.example/accept", "inv_abc") == "https://p.example/accept?token=inv_abc"
    assert invitation_link("https://p.example/a?x=1", "inv_abc") == "https://p.example/a?x=1&token=inv_abc"


def test_r19_confirmation_for_a_non_ascii_company_name(app: LedgerApplication) -> None:
    run(app, order(po="PO-MAIL-6", company="Müller Bürotechnik GmbH", email="anna.mueller@mueller.example"))
    mail = next(m for e in stream_events(app) for m in mails_for(e, KEY) if m.kind == "purchase-confirmation")
    assert "Dear Müller Bürotechnik GmbH," in mail.message.get_content()
    assert mail.message.as_bytes().isascii()
