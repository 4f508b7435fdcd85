"""The notifications consumer's test kit: a loopback SMTP inbox (aiosmtpd), the relay run once,
``ledger notify`` as the installed command line."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiosmtpd.controller import Controller

from ledger.app import LedgerApplication
from ledger.stream.relay import Relay
from tests.kit.broker import free_port
from tests.kit.stream import ledger_cli

__all__ = ["Inbox", "Received", "free_port", "notify", "notify_args", "relay_all"]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Received] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        with self.lock:
            self.mails.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
            )
        return "250 Message accepted for delivery"

    def subjects(self) -> list[str]:
        with self.lock:
            return [str(m.message["Subject"]) for m in self.mails]


def relay_all(app: LedgerApplication, kafka: str, topic: str) -> None:
    relay = Relay(app, kafka, topic)
    try:
        relay.run()
    finally:
        relay.close()


def notify_args(kafka: str, topic: str, port: int, state: Path) -> list[str]:
    """``ledger notify`` against the test broker's topic and the loopback SMTP server."""
    return ["notify", "--bootstrap-servers", kafka, "--topic", topic, "--smtp-host", "127.0.0.1",
            "--smtp-port", str(port), "--state", str(state)]


def notify(db: str, kafka: str, topic: str, port: int, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    proc = ledger_cli(
        *notify_args(kafka, topic, port, state), "--portal-url", "https://portal.example/accept", *extra, db=db
    )
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


InboxT = TypeVar("InboxT", bound=Inbox)


@contextlib.contextmanager
def serving_smtp(inbox: InboxT) -> Iterator[tuple[InboxT, int]]:
    """A local SMTP server (aiosmtpd) on a free loopback port delivering to ``inbox``: (inbox, port)."""
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    """A local SMTP server (aiosmtpd) collecting mails into an ``Inbox``: (inbox, port)."""
    with serving_smtp(Inbox()) as served:
        yield served
