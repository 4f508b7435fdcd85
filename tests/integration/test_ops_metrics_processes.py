"""SPEC 9 metrics of the stream processes: ``ledger relay --follow`` and ``ledger notify --follow``,
scraped on their ``--metrics-port`` while they run (real broker, real SMTP server on loopback).

The figures must move with the work: the relay's acknowledged position follows the log's head as
new events are recorded, its lag returns to 0; the notifier's position advances as it reads them.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import order, run
from tests.kit.notify import free_port, notify_args
from tests.kit.ops import scrape
from tests.kit.stream import LEDGER, ledger_env, start_relay, stop_process

pytestmark = pytest.mark.integration


def metric(body: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition ``body`` (None when it is not there)."""
    wanted = name + ("{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else "")
    for line in body.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def wait_metrics(port: int, condition: Callable[[str], bool], what: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        body = scrape(port)
        if condition(body):
            return body
        assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{body}"
        time.sleep(0.2)


def test_r13_relay_follow_metrics_track_the_acknowledged_position_and_lag(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, tmp_path: Path
) -> None:
    run(app, order(po="PO-M1", company="Metrics One", email="m1@one.example"))
    head = app.recorder.max_notification_id() or 0
    port = free_port()
    relay = start_relay(db_url, kafka, topic, "--follow", "--poll-interval", "0.2", "--metrics-port", str(port),
                        log=tmp_path / "relay.log")
    consumer = f"relay:{topic}"
    try:
        body = wait_metrics(port, lambda b: metric(b, "ledger_relay_acknowledged_position", topic=topic) == head,
                            "the relay to acknowledge the first events")
        assert metric(body, "ledger_consumer_lag_events", consumer=consumer) == 0
        assert metric(body, "ledger_consumer_lag_seconds", consumer=consumer) == 0
        assert metric(body, "ledger_consumer_position", consumer=consumer) == head
        assert metric(body, "ledger_parked_events", consumer=consumer) == 0
        run(app, order(po="PO-M2", company="Metrics Two", email="m2@two.example"))
        run(app, order(po="PO-M3", company="Metrics Three", email="m3@three.example"))
        later = app.recorder.max_notification_id() or 0
        assert later > head
        body = wait_metrics(port, lambda b: metric(b, "ledger_relay_acknowledged_position", topic=topic) == later,
                            "the relay to acknowledge the new events")
        assert metric(body, "ledger_consumer_lag_events", consumer=consumer) == 0
        assert metric(body, "ledger_consumer_position", consumer=consumer) == later
    finally:
        code = stop_process(relay)
    assert code == 0, (tmp_path / "relay.log").read_text()


def test_r13_notify_metrics_advance_as_it_reads_the_topic(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, tmp_path: Path, smtp: tuple[Any, int]
) -> None:
    inbox, smtp_port = smtp
    run(app, order(po="PO-N1", company="Notified One", email="n1@one.example"))
    relay = start_relay(db_url, kafka, topic, "--follow", "--poll-interval", "0.2", log=tmp_path / "relay.log")
    port = free_port()
    log = (tmp_path / "notify.log").open("wb")
    notify = subprocess.Popen(
        [LEDGER, "--db", db_url, *notify_args(kafka, topic, smtp_port, tmp_path / "notify.db"), "--follow",
         "--from-beginning", "--portal-url", "https://portal.example/accept", "--metrics-port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, env=ledger_env(),
    )
    try:
        body = wait_metrics(port, lambda b: (metric(b, "ledger_consumer_position", consumer="notify") or 0) > 0
                            and metric(b, "ledger_consumer_lag_events", consumer="notify") == 0,
                            "the notifier to read the first events")
        first = metric(body, "ledger_consumer_position", consumer="notify") or 0
        assert metric(body, "ledger_parked_events", consumer="notify") == 0
        assert metric(body, "ledger_consumer_lag_seconds", consumer="notify") == 0
        mails = len(inbox.subjects())
        run(app, order(po="PO-N2", company="Notified Two", email="n2@two.example"))
        body = wait_metrics(port, lambda b: (metric(b, "ledger_consumer_position", consumer="notify") or 0) > first
                            and metric(b, "ledger_consumer_lag_events", consumer="notify") == 0,
                            "the notifier's position to advance")
        deadline = time.monotonic() + 30
        while len(inbox.subjects()) <= mails and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(inbox.subjects()) > mails, "the new order's mail was not sent"
    finally:
        notify_code = stop_process(notify)
        stop_process(relay)
        log.close()
    assert notify_code == 0, (tmp_path / "notify.log").read_text()
