"""SPEC 9 tracing: a correlation id on every event, causation ids where one event causes another,
shown by `ledger history`, carried by the stream envelope; JSON logs that never carry a secret."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.app import LedgerApplication
from ledger.stream.envelope import build_envelope, event_id, read_event
from tests.kit.cli import ledger
from tests.kit.commands import command, order, run
from tests.kit.ops import inject_event

pytestmark = pytest.mark.integration


def add_room(at: str, customer_id: str, account_id: str) -> dict[str, Any]:
    return {"command": "AddRoom", "at": at, "actor": "ops", "customer_id": customer_id, "account_id": account_id,
            "name": "Room 1", "site": "HQ", "country": "US"}


def history(db: str, customer_id: str) -> list[dict[str, Any]]:
    proc = ledger("history", "--customer", customer_id, "--json", db=db)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_r18_every_event_of_an_apply_run_carries_the_run_correlation_id(db_url: str) -> None:
    lines = [order(po="PO-T1", company="Trace One", email="a@one.example"),
             order(po="PO-T2", company="Trace Two", email="b@two.example")]
    first = ledger("apply", "-", "--correlation-id", "run-42", stdin="".join(json.dumps(c) + "\n" for c in lines),
                   db=db_url)
    assert first.returncode == 0, first.stderr
    ids = [json.loads(line)["customer_id"] for line in first.stdout.splitlines()]
    account = json.loads(first.stdout.splitlines()[0])["account_id"]
    second = ledger("apply", "-", stdin=json.dumps(add_room("2026-05-05T09:00:00Z", ids[0], account)) + "\n",
                    db=db_url)
    assert second.returncode == 0, second.stderr
    rows = history(db_url, ids[0])
    assert {r["correlation_id"] for r in rows[:-1]} == {"run-42"}
    assert rows[-1]["correlation_id"] not in (None, "run-42"), "another run, another correlation id"
    assert {r["correlation_id"] for r in history(db_url, ids[1])} == {"run-42"}


def test_r7_a_cancellation_causes_the_release_of_licenses_and_the_revocation_of_spares(
    app: LedgerApplication,
) -> None:
    placed = run(app, order(po="PO-C1", quantity=60, at="2026-05-04T09:00:00Z"))
    cid, account = placed["customer_id"], placed["account_id"]
    room = run(app, add_room("2026-05-05T09:00:00Z", cid, account))["room_id"]
    run(app, command("AssignLicense", "2026-05-06T09:00:00Z", customer_id=cid, room_id=room, po_number="PO-C1"))
    run(app, command("CancelOrder", "2026-05-10T09:00:00Z", po_number="PO-C1"))
    from uuid import UUID

    rows = app.history(UUID(cid))
    by_type = {r["type"]: r for r in rows}
    cancelled = by_type["OrderCancelled"]
    cancelled_id = event_id(cid, cancelled["position"])
    assert by_type["LicenseReleased"]["causation_id"] == cancelled_id
    assert by_type["SpareRevoked"]["causation_id"] == cancelled_id
    assert cancelled["causation_id"] is None, "caused by the command, not by an event"
    started = by_type["ContractStarted"]
    assert started["causation_id"] == event_id(cid, by_type["LicenseAssigned"]["position"])
    assert by_type["SpareAccrued"]["causation_id"] == event_id(cid, by_type["OrderPlaced"]["position"])
    release = by_type["LicenseReleased"]
    assert release["correlation_id"] == cancelled["correlation_id"], "one command, one correlation id"
    assert "correlation_id" not in release["data"] and "causation_id" not in release["data"]

    # The stream envelope carries both as CloudEvents extension attributes.
    events = app.customer_events(UUID(cid))
    envelope = build_envelope(events[release["position"] - 1], 99)
    assert envelope["causationid"] == cancelled_id and envelope["correlationid"] == release["correlation_id"]
    assert read_event(envelope).causation_id == cancelled_id


def test_r8_an_expiry_causes_the_release_of_its_licenses(app: LedgerApplication) -> None:
    placed = run(app, order(po="PO-E1", years=1, quantity=2, service="syncplus", at="2026-05-04T09:00:00Z"))
    cid, account = placed["customer_id"], placed["account_id"]
    room = run(app, add_room("2026-05-05T09:00:00Z", cid, account))["room_id"]
    run(app, command("AssignLicense", "2026-05-06T09:00:00Z", customer_id=cid, room_id=room, po_number="PO-E1"))
    run(app, command("ExpireContracts", "2027-05-07T09:00:00Z"))
    from uuid import UUID

    by_type = {r["type"]: r for r in app.history(UUID(cid))}
    assert by_type["LicenseReleased"]["causation_id"] == event_id(cid, by_type["ContractExpired"]["position"])


def test_r18_events_recorded_before_correlation_ids_still_load(app: LedgerApplication) -> None:
    placed = run(app, order(po="PO-OLD", at="2026-05-04T09:00:00Z"))
    from datetime import UTC, datetime
    from uuid import UUID

    from aggregates.customer import Customer

    # An event as the ledger wrote it before: no correlation or causation id in its stored state.
    inject_event(app, placed["customer_id"], Customer.RoleChanged, email="jane.doe@acme.example", role="admin",
                 at=datetime(2026, 5, 5, tzinfo=UTC))
    rows = app.history(UUID(placed["customer_id"]))
    assert rows[-1]["type"] == "RoleChanged"
    assert rows[-1]["correlation_id"] is None and rows[-1]["causation_id"] is None
    assert "correlationid" not in build_envelope(app.customer_events(UUID(placed["customer_id"]))[-1], 1)


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert lines, "no log lines"
    return lines


def test_r15_json_logs_carry_correlation_ids_and_never_a_secret(db_url: str) -> None:
    import os
    import subprocess

    from tests.kit.cli import LEDGER

    env = {**os.environ, "LEDGER_SECRET_KEY": "cli-test-secret-key", "LEDGER_LOG_FORMAT": "json"}
    lines = [order(po="PO-L1", company="Logs One", email="ann@logs.example"), {"command": "Nope"}]
    proc = subprocess.run([LEDGER, "--db", db_url, "apply", "-", "--correlation-id", "run-logs"],
                          input="".join(json.dumps(c) + "\n" for c in lines), capture_output=True, text=True,
                          env=env, timeout=120)
    assert proc.returncode == 1, proc.stderr
    token = json.loads(proc.stdout.splitlines()[0])["invitation"]["token"]
    records = json_lines(proc.stderr)
    assert {r["correlation_id"] for r in records} == {"run-logs"}
    assert {"time", "level", "logger", "message"} <= set(records[0])
    assert [r["command"] for r in records if r["message"].startswith("command ")] == ["PlaceOrder", "?"]
    assert token not in proc.stderr and "cli-test-secret-key" not in proc.stderr


def test_r15_the_notifier_logs_json_without_tokens_or_keys(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, tmp_path: Any
) -> None:
    from aiosmtpd.controller import Controller

    from tests.kit.notify import Inbox, free_port, notify_args, relay_all
    from tests.kit.stream import ledger_cli

    port = free_port()
    server = Controller(Inbox(), hostname="127.0.0.1", port=port)
    server.start()
    try:
        _notify_without_secrets(app, db_url, kafka, topic, port, tmp_path, notify_args, relay_all, ledger_cli)
    finally:
        server.stop()


def _notify_without_secrets(app: Any, db_url: str, kafka: str, topic: str, port: int, tmp_path: Any,
                            notify_args: Any, relay_all: Any, ledger_cli: Any) -> None:
    token = run(app, order(po="PO-L2", at="2026-05-04T09:00:00Z"))["invitation"]["token"]
    relay_all(app, kafka, topic)
    proc = ledger_cli(*notify_args(kafka, topic, port, tmp_path / "n.db"), db=db_url, LEDGER_LOG_FORMAT="json",
                      LEDGER_SMTP_PASSWORD="smtp-password-xyz")
    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stderr)
    assert any("sent welcome-invitation" in r["message"] for r in records)
    from tests.kit.app import SECRET

    for secret in (token, SECRET, "smtp-password-xyz"):
        assert secret not in proc.stderr + proc.stdout


def test_r15_the_log_filter_redacts_credentials_that_reach_a_log_call() -> None:
    import io
    import logging

    from ledger.ops import logs

    out = io.StringIO()
    logs.configure({"LEDGER_LOG_FORMAT": "json", "LEDGER_SECRET_KEY": "very-secret-key-123"}, stream=out)
    try:
        logging.getLogger("ledger.test").warning(
            "oops Authorization: Bearer abc.def.ghi key very-secret-key-123 link https://x/?token=T0K3N",
            extra={"header": "Bearer zzz"},
        )
    finally:
        logs.configure({})
    (record,) = json_lines(out.getvalue())
    text = json.dumps(record)
    for secret in ("abc.def.ghi", "very-secret-key-123", "T0K3N", "zzz"):
        assert secret not in text
    assert "[redacted]" in record["message"]
