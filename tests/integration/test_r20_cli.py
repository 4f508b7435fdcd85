"""R20 through the command line: far-dated events already stored, and out-of-range ``--as-of``."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.app import LedgerApplication
from ledger.config import load_settings
from tests.kit.cli import apply, ledger
from tests.kit.commands import command, order, run

pytestmark = pytest.mark.integration


def _poisoned(db: str) -> dict[str, Any]:
    """A ledger holding a 9999-12-31 order, recorded the way it was before R20 bounded ``at``."""
    app = LedgerApplication(load_settings(db, {"LEDGER_SECRET_KEY": "cli-test"}))
    try:
        ok = run(app, order(po="PO-OK", at="2026-05-04T09:00:00Z"))
        app.check_future = lambda *args, **kwargs: None  # type: ignore[method-assign]
        run(app, order(po="PO-9999", company="Placeholder Inc", email="p@ph.example", at="9999-12-31T00:00:00Z"))
        return ok
    finally:
        app.close()


def test_r20_far_dated_event_already_stored_leaves_the_cli_working(db_url: str) -> None:
    ok = _poisoned(db_url)
    status, results, stderr = apply(
        db_url,
        order(po="PO-LATER", company="Later Inc", email="l@later.example", at="2026-06-01T00:00:00Z"),
        command("ExpireContracts", "2026-12-01T00:00:00Z"),
    )
    assert status == 0, stderr
    assert [r["ok"] for r in results] == [True, True]
    for name in ("contracts", "rooms", "spares", "access"):
        proc = ledger("view", name, "--json", db=db_url)
        assert proc.returncode == 0, proc.stderr
    rows = json.loads(ledger("view", "contracts", "--json", db=db_url).stdout)
    assert {r["po_number"] for r in rows} == {"PO-OK", "PO-9999", "PO-LATER"}
    for args in (("replay",), ("replay", "--check"), ("history", "--customer", ok["customer_id"], "--json")):
        proc = ledger(*args, db=db_url)
        assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("as_of", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_r20_as_of_outside_the_calendar_is_a_usage_error(db_url: str, as_of: str) -> None:
    ok = _poisoned(db_url)
    for args in (("view", "contracts", "--as-of", as_of), ("view", "rooms", "--json", "--as-of", as_of),
                 ("history", "--customer", ok["customer_id"], "--as-of", as_of)):
        proc = ledger(*args, db=db_url)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "--as-of" in proc.stderr and "representable" in proc.stderr
        assert "Traceback" not in proc.stderr and "OverflowError" not in proc.stderr


def test_r20_as_of_at_the_end_of_the_calendar_works(db_url: str) -> None:
    ok = _poisoned(db_url)
    proc = ledger("view", "contracts", "--json", "--as-of", "9999-12-31T23:59:59Z", db=db_url)
    assert proc.returncode == 0, proc.stderr
    assert {r["po_number"] for r in json.loads(proc.stdout)} == {"PO-OK", "PO-9999"}
    proc = ledger("history", "--customer", ok["customer_id"], "--as-of", "9999-12-31T23:59:59Z", db=db_url)
    assert proc.returncode == 0, proc.stderr
