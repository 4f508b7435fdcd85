"""``ledger view``, ``replay`` and ``project`` end to end, on the backend the suite runs on."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from aggregates.errors import LedgerError
from commands.parsing import parse_command
from ledger.bootstrap import build_app
from ledger.demo import generate, seed_example
from ledger.readside import open_read_models
from tests.kit.cli import LEDGER, apply, ledger

pytestmark = pytest.mark.integration


def view(db: str, name: str, *extra: str) -> list[dict[str, Any]]:
    proc = ledger("view", name, "--json", *extra, db=db)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_r13_views_show_what_apply_recorded_as_soon_as_it_returns(db_url: str) -> None:
    status, results, _ = apply(db_url, *seed_example())
    assert status == 0
    customer_id = results[0]["customer_id"]
    spares = view(db_url, "spares", "--customer", customer_id)
    assert spares[0]["active_select_licenses"] == 100
    assert spares[0]["entitled"] == 2 and spares[0]["accrued"] == 2
    contracts = view(db_url, "contracts")
    assert [c["po_number"] for c in contracts] == ["GLOBEX-2026-05", "GLOBEX-2026-11", "GLOBEX-2027-02"]
    assert {"customer_id", "account_id", "po_number", "service", "years", "quantity", "start", "end", "status",
            "assigned", "free"} <= set(contracts[0])
    access = view(db_url, "access")
    assert access[0]["invitations"][0]["email"] == "hank.scorpio@globex.example"
    assert "token" not in json.dumps(access)


def test_r6_as_of_views_compute_status_for_the_time_asked(db_url: str) -> None:
    _, results, _ = apply(db_url, *seed_example())
    customer_id = results[0]["customer_id"]
    before = view(db_url, "contracts", "--customer", customer_id, "--as-of", "2026-06-01")
    assert [(c["po_number"], c["status"], c["start"]) for c in before] == [("GLOBEX-2026-05", "pending", None)]
    later = view(db_url, "contracts", "--customer", customer_id, "--as-of", "2026-07-04T00:00:00Z")
    assert later[0]["status"] == "active" and later[0]["start"].startswith("2026-07-03")
    assert later[0]["end"].startswith("2029-07-03")
    spares_may = view(db_url, "spares", "--customer", customer_id, "--as-of", "2026-05-31")
    assert spares_may[0]["entitled"] == 0
    proc = ledger("history", "--customer", customer_id, "--as-of", "2026-06-01", "--json", db=db_url)
    assert [row["type"] for row in json.loads(proc.stdout)] == ["Registered", "AccountOpened", "OrderPlaced",
                                                                "InvitationSent"]


def test_view_refuses_bad_arguments_clearly(db_url: str) -> None:
    proc = ledger("view", "contracts", "--as-of", "last tuesday", db=db_url)
    assert proc.returncode == 2 and "--as-of" in proc.stderr and "Traceback" not in proc.stderr
    proc = ledger("view", "contracts", "--customer", "00000000-0000-0000-0000-000000000001", db=db_url)
    assert proc.returncode == 1 and "no customer" in proc.stderr


def _load(db_url: str, customers: int) -> None:
    app = build_app(db_url, {"LEDGER_SECRET_KEY": "cli-test"})
    for raw in generate(customers=customers, expiry_days=60):
        with contextlib.suppress(LedgerError):  # refusals are part of the workload
            app.execute(parse_command(raw))
    app.close()


def test_replay_rebuilds_and_check_reports_a_tampered_view(db_url: str) -> None:
    _load(db_url, 4)
    assert ledger("project", db=db_url).returncode == 0
    live = view(db_url, "rooms")
    proc = ledger("replay", db=db_url)
    assert proc.returncode == 0, proc.stderr
    assert "rebuilt from" in proc.stdout
    assert view(db_url, "rooms") == live
    assert ledger("replay", "--check", db=db_url).returncode == 0
    app = build_app(db_url, {"LEDGER_SECRET_KEY": "cli-test"})
    models = open_read_models(app)
    with models.engine.begin() as conn:
        conn.execute(text("UPDATE contracts SET quantity = quantity + 1"))
    models.close()
    app.close()
    proc = ledger("replay", "--check", "--projection", "contracts", db=db_url)
    assert proc.returncode == 1
    assert "contracts: differs from a rebuild" in proc.stdout
    assert ledger("replay", "--projection", "contracts", db=db_url).returncode == 0
    assert ledger("replay", "--check", db=db_url).returncode == 0


def test_replay_killed_midway_resumes_to_the_same_views(db_url: str, tmp_path: Path) -> None:
    _load(db_url, 12)
    assert ledger("project", db=db_url).returncode == 0
    expected = {name: view(db_url, name) for name in ("contracts", "rooms", "spares", "access")}
    env = {**os.environ, "LEDGER_SECRET_KEY": "cli-test"}
    child = subprocess.Popen([LEDGER, "--db", db_url, "replay", "--batch-size", "20"], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    app = build_app(db_url, {"LEDGER_SECRET_KEY": "cli-test"})
    models = open_read_models(app)
    end = app.recorder.max_notification_id() or 0
    deadline = time.monotonic() + 60
    progress = 0
    while time.monotonic() < deadline and child.poll() is None:
        progress = models.position("rebuild:contracts")
        if progress > 0:
            break
        time.sleep(0.01)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    models.close()
    app.close()
    assert 0 < progress < end, "the replay was not caught mid-way"
    proc = ledger("replay", db=db_url)
    assert proc.returncode == 0, proc.stderr
    assert "resumed at position" in proc.stdout
    assert {name: view(db_url, name) for name in expected} == expected


def test_project_follow_keeps_views_current_for_other_writers(db_url: str) -> None:
    env = {**os.environ, "LEDGER_SECRET_KEY": "cli-test"}
    follower = subprocess.Popen([LEDGER, "--db", db_url, "project", "--follow", "--interval", "0.2"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        app = build_app(db_url, {"LEDGER_SECRET_KEY": "cli-test"})
        for raw in seed_example():
            app.execute(parse_command(raw))
        end = app.recorder.max_notification_id()
        models = open_read_models(app)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and set(models.positions().values()) != {end}:
            time.sleep(0.2)
        assert set(models.positions().values()) == {end}
        models.close()
        app.close()
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(timeout=30)
    assert follower.returncode in (0, 130)
    assert "Traceback" not in follower.stderr.read()  # type: ignore[union-attr]
