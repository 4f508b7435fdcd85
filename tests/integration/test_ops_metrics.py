"""SPEC 9 metrics: lag in events (rows, never id differences) and seconds, served on --metrics-port."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from ledger.app import LedgerApplication
from ledger.ops.lag import log_lag
from ledger.readside import catch_up, open_read_models
from tests.kit.cli import LEDGER
from tests.kit.commands import order, run
from tests.kit.ops import scrape

pytestmark = pytest.mark.integration


def burn_notification_ids(app: LedgerApplication, how_many: int) -> None:
    """Leave a gap of ``how_many`` unused notification ids, as rolled-back transactions do."""
    models = open_read_models(app)
    table = app.recorder.events_table_name  # type: ignore[attr-defined]
    try:
        with models.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'notification_id'), "
                         f"(SELECT max(notification_id) FROM {table}) + :n)"),
                    {"n": how_many},
                )
            else:  # SQLite: the next rowid is max(rowid) + 1, so move the last row up
                conn.execute(text(f"UPDATE {table} SET rowid = rowid + :n WHERE rowid = (SELECT max(rowid) FROM "
                                  f"{table})"), {"n": how_many})
    finally:
        models.close()


def test_r13_lag_counts_events_not_id_differences(app: LedgerApplication) -> None:
    run(app, order(po="PO-1", company="One", email="one@one.example"))
    models = open_read_models(app)
    try:
        catch_up(app, models)
        position = models.position("contracts")
        assert log_lag(app.recorder, app.mapper, position).events == 0
        assert log_lag(app.recorder, app.mapper, position).seconds == 0
        burn_notification_ids(app, 1000)
        run(app, order(po="PO-2", company="Two", email="two@two.example"))
        new_events = len(app.recorder.select_notifications(position + 1, 10_000))
        head = app.recorder.max_notification_id() or 0
        assert head - position > 1000, "the log has a gap of ids"
        lag = log_lag(app.recorder, app.mapper, models.position("contracts"))
        assert lag.events == new_events < 20
        first = app.mapper.to_domain_event(app.recorder.select_notifications(position + 1, 1)[0])
        later = log_lag(app.recorder, app.mapper, position, now=first.timestamp + timedelta(seconds=5))
        assert later.seconds == pytest.approx(5.0)
        catch_up(app, models)
        assert log_lag(app.recorder, app.mapper, models.position("contracts")).events == 0
    finally:
        models.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_r13_project_follow_serves_lag_metrics(db_url: str, make_app: Any) -> None:
    app = make_app()
    run(app, order(po="PO-1"))
    app.close()
    port = free_port()
    proc = subprocess.Popen(
        [LEDGER, "--db", db_url, "project", "--follow", "--interval", "0.2", "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            body = scrape(port)
            if 'ledger_consumer_lag_events{consumer="contracts"} 0.0' in body:
                break
            assert time.monotonic() < deadline, body
            time.sleep(0.2)
        assert 'ledger_consumer_lag_seconds{consumer="contracts"} 0.0' in body
        assert 'ledger_consumer_stopped{consumer="spares"} 0.0' in body
        position = [line for line in body.splitlines() if line.startswith('ledger_consumer_position{consumer="rooms"}')]
        assert float(position[0].split()[-1]) > 0
    finally:
        proc.terminate()
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
