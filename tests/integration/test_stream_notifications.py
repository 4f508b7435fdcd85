"""The notifications consumer (R19) end to end: ledger → relay → Kafka → `ledger notify` → a real SMTP
server on loopback (aiosmtpd). Each mail once, also across restarts; links carry working tokens."""

from __future__ import annotations

import re
import signal
import subprocess
from email.message import Message
from email.utils import getaddresses
from pathlib import Path
from uuid import UUID

import pytest
from kafka import KafkaProducer

from commands.tokens import read_token
from ledger.app import LedgerApplication
from tests.kit.app import SECRET
from tests.kit.commands import DISTRIBUTOR, RESELLER, command, order, run
from tests.kit.notify import Inbox, free_port, notify, notify_args, relay_all
from tests.kit.stream import LEDGER, ledger_env, read_topic, stop_process, wait_for

pytestmark = pytest.mark.integration

SENDER = "Logitech Support Services <noreply@logitech.com>"


def addresses(message: Message, header: str) -> list[str]:
    return [a for _, a in getaddresses(message.get_all(header) or [])]


def test_r19_purchase_confirmation_and_welcome_invitation(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    first = run(app, order(po="PO-R19-1", at="2026-05-04T09:00:00Z", quantity=12))
    token = first["invitation"]["token"]
    run(app, order(po="PO-R19-2", at="2026-06-01T09:00:00Z", service="syncplus", quantity=3))
    relay_all(app, kafka, topic)

    done = notify(db_url, kafka, topic, port, tmp_path / "notify.db")
    assert done.returncode == 0, done.stderr
    assert "3 mails sent" in done.stdout, done.stdout

    confirmations = [m for m in inbox.mails if m.message["Subject"] == "Logitech Select Service Contract Details"]
    welcomes = [m for m in inbox.mails if m.message["Subject"] == "Welcome to Logitech Select"]
    assert len(confirmations) == 2 and len(welcomes) == 1 and len(inbox.mails) == 3
    for mail, po in zip(confirmations, ["PO-R19-1", "PO-R19-2"], strict=True):
        message = mail.message
        assert message["From"] == SENDER
        assert mail.mail_from == "noreply@logitech.com"
        assert addresses(message, "To") == ["jane.doe@acme.example"]
        assert sorted(addresses(message, "Cc")) == sorted([RESELLER["email"], DISTRIBUTOR["email"]])
        assert sorted(mail.rcpt_tos) == sorted(["jane.doe@acme.example", RESELLER["email"], DISTRIBUTOR["email"]])
        assert po in message.get_payload(decode=True).decode()
        assert message["X-Select-PO-Number"] == po

    welcome = welcomes[0]
    assert welcome.message["From"] == SENDER
    assert addresses(welcome.message, "To") == ["jane.doe@acme.example"]
    assert welcome.message["Cc"] is None
    assert welcome.rcpt_tos == ["jane.doe@acme.example"], "R19: the invitation goes to the end customer only"
    body = welcome.message.get_payload(decode=True).decode()
    link = re.search(r"https://portal\.example/accept\?token=(\S+)", body)
    assert link is not None, body
    # The consumer derived the very token the ledger returned, from ids on the stream and the key.
    assert link.group(1) == token
    assert read_token(SECRET.encode(), link.group(1)) == (
        UUID(first["customer_id"]),
        read_token(SECRET.encode(), token)[1],
    )
    for message in read_topic(kafka, topic):
        assert token.encode() not in message.value, "R15: the token is never on the stream"


def test_r19_each_mail_sent_once_across_consumer_restarts(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, smtp: tuple[Inbox, int], tmp_path: Path
) -> None:
    inbox, port = smtp
    state = tmp_path / "notify.db"
    run(app, order(po="PO-ONCE-1", at="2026-05-04T09:00:00Z"))
    relay_all(app, kafka, topic)

    # 1. Following the topic; stopped with SIGTERM once its mails are out.
    log = (tmp_path / "notify.log").open("wb")
    proc = subprocess.Popen(
        [LEDGER, "--db", db_url, *notify_args(kafka, topic, port, state), "--follow"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=ledger_env(),
    )
    try:
        wait_for(lambda: len(inbox.mails) >= 2, 60, "the first two mails")
        run(app, order(po="PO-ONCE-2", at="2026-05-10T09:00:00Z"))
        relay_all(app, kafka, topic)
        wait_for(lambda: len(inbox.mails) >= 3, 60, "the mail of an order placed while following")
    finally:
        code = stop_process(proc, signal.SIGTERM)
    output = (tmp_path / "notify.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output

    # 2. More orders, and every message on the topic published a second time (a relay crash).
    run(app, order(po="PO-ONCE-3", at="2026-05-20T09:00:00Z"))
    other = run(
        app, order(po="PO-ONCE-4", at="2026-05-21T09:00:00Z", company="Initech LLC", email="peter@initech.example")
    )
    run(
        app,
        command(
            "InviteUser",
            "2026-05-22T09:00:00Z",
            actor="ops",
            customer_id=other["customer_id"],
            email="milton@initech.example",
            role="viewer",
        ),
    )
    relay_all(app, kafka, topic)
    producer = KafkaProducer(bootstrap_servers=kafka, acks="all")
    for message in read_topic(kafka, topic):
        producer.send(topic, key=message.key, value=message.value)
    producer.flush()
    producer.close()
    done = notify(db_url, kafka, topic, port, state)
    assert done.returncode == 0, done.stderr

    # 3. A replay from the beginning with the same sent-log sends nothing.
    replay = notify(db_url, kafka, topic, port, state, "--from-beginning")
    assert replay.returncode == 0, replay.stderr
    assert "0 mails sent" in replay.stdout, replay.stdout

    ids = [str(m.message["Message-ID"]) for m in inbox.mails]
    assert len(ids) == len(set(ids)), "a mail was sent twice"
    subjects = sorted(inbox.subjects())
    assert subjects.count("Logitech Select Service Contract Details") == 4
    # Acme's first order and Initech's first order invite their end customers; Milton is invited by ops.
    assert subjects.count("Welcome to Logitech Select") == 3
    assert len(inbox.mails) == 7


def test_notify_cli_errors_are_clear(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, tmp_path: Path
) -> None:
    no_key = subprocess.run(
        [LEDGER, "--db", str(tmp_path / "none.db"), "notify", "--topic", topic, "--state", str(tmp_path / "s.db")],
        capture_output=True,
        text=True,
        env={k: v for k, v in ledger_env().items() if k != "LEDGER_SECRET_KEY"},
        timeout=60,
    )
    assert no_key.returncode == 2
    assert "secret key" in no_key.stderr and "LEDGER_SECRET_KEY" in no_key.stderr
    bad_port = notify(db_url, kafka, topic, 70000, tmp_path / "s.db")
    assert bad_port.returncode == 2 and "--smtp-port" in bad_port.stderr
    # An SMTP server that is not there: the run fails clearly and the event stays unprocessed.
    run(app, order(po="PO-NOSMTP-1", at="2026-05-04T09:00:00Z"))
    relay_all(app, kafka, topic)
    down = notify(db_url, kafka, topic, free_port(), tmp_path / "s.db", "--retry-for", "1")
    assert down.returncode == 1, down.stderr
    assert "cannot hand mail to SMTP server 127.0.0.1" in down.stderr
