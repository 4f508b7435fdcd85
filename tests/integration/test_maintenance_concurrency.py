"""Concurrent maintenance (stress): replays, checks and first starts of many processes on one store.

Each scenario is repeated ``LEDGER_STRESS_ROUNDS`` times (default 10); before the maintenance lock
and the serialised start-up, each failed at least once in ten rounds.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.app import LedgerApplication
from ledger.config import load_settings
from ledger.demo import generate
from ledger.readside import live_view, open_read_models, rebuild_views
from tests.kit.cli import LEDGER, ledger
from tests.kit.commands import order

pytestmark = pytest.mark.integration

ROUNDS = int(os.environ.get("LEDGER_STRESS_ROUNDS", "10"))
ENV = {**os.environ, "LEDGER_SECRET_KEY": "stress", "LEDGER_MAINTENANCE_WAIT": "120"}


def _start(
    db: str, *args: str, stdin: str | None = None, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [LEDGER, "--db", db, *args], stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env or ENV, cwd=cwd,
    )


def _finish(proc: subprocess.Popen[str], stdin: str | None = None) -> tuple[int, str, str]:
    out, err = proc.communicate(stdin, timeout=300)
    return proc.returncode, out, err


def _ledger_with_events(db: str, tmp_path: Path) -> int:
    commands = list(generate(customers=6, seed=3, expiry_days=30))
    file = tmp_path / "workload.jsonl"
    file.write_text("\n".join(json.dumps(c) for c in commands) + "\n")
    proc = ledger("apply", str(file), db=db)
    assert proc.returncode in (0, 1), proc.stderr
    return len(json.loads(ledger("view", "contracts", "--json", db=db).stdout))


def _assert_identical(db: str, contracts: int) -> None:
    """The live views equal a rebuild from the events, and no contract row is missing."""
    app = LedgerApplication(load_settings(db, {"LEDGER_SECRET_KEY": "stress"}))
    models = open_read_models(app)
    try:
        reports = rebuild_views(app, models, check=True)
        assert all(not r.differences and r.stopped is None for r in reports), [r.differences[:3] for r in reports]
        assert len(live_view(app, models, "contracts", datetime.now(UTC))) == contracts
    finally:
        models.close()
        app.close()


@pytest.mark.parametrize(
    "pair",
    [("replay",), ("replay", "--check")],
    ids=["two-replays", "replay-beside-check"],
)
def test_r18_concurrent_replays_both_finish_and_leave_the_views_whole(
    db_url: str, tmp_path: Path, pair: tuple[str, ...]
) -> None:
    contracts = _ledger_with_events(db_url, tmp_path)
    outcomes: list[tuple[int, str, str]] = []
    for _ in range(ROUNDS):
        first, second = _start(db_url, "replay"), _start(db_url, *pair)
        outcomes += [_finish(first), _finish(second)]
        _assert_identical(db_url, contracts)
    failed = [o for o in outcomes if o[0] != 0]
    assert not failed, failed[:3]
    assert all("Traceback" not in err for _, _, err in outcomes)


def test_r18_two_checks_at_once_both_report_identical(db_url: str, tmp_path: Path) -> None:
    contracts = _ledger_with_events(db_url, tmp_path)
    for _ in range(ROUNDS):
        procs = [_start(db_url, "replay", "--check") for _ in range(2)]
        for code, out, err in (_finish(p) for p in procs):
            assert code == 0, out + err
            assert "identical" in out
    _assert_identical(db_url, contracts)


def test_r18_maintenance_lock_wait_is_bounded_and_says_so(db_url: str, tmp_path: Path) -> None:
    from ledger.readside import read_engine
    from projections.locking import MAINTENANCE, exclusive

    _ledger_with_events(db_url, tmp_path)
    engine = read_engine(load_settings(db_url, {"LEDGER_SECRET_KEY": "stress"}).store)
    try:
        with exclusive(engine, MAINTENANCE, timeout=5):
            env = {**ENV, "LEDGER_MAINTENANCE_WAIT": "1"}
            proc = subprocess.run([LEDGER, "--db", db_url, "replay"], capture_output=True, text=True, env=env,
                                  timeout=120)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "waiting" in proc.stderr and "another maintenance run" in proc.stderr
        assert "Traceback" not in proc.stderr
    finally:
        engine.dispose()
    again = ledger("replay", db=db_url)
    assert again.returncode == 0, again.stderr


def test_r18_eight_first_starts_on_a_new_store_none_exits_2(fresh_url: Callable[[], str], tmp_path: Path) -> None:
    """Eight processes start at once on a brand-new store (tables, read models and the secret key
    all created on first start): every one answers all its commands and exits 0."""
    per_process = 8
    env = {k: v for k, v in ENV.items() if k not in ("LEDGER_SECRET_KEY", "LEDGER_SECRET_FILE")}
    for round_no in range(ROUNDS):
        db = fresh_url()
        cwd = tmp_path / f"round-{round_no}"
        cwd.mkdir()
        inputs = [
            "\n".join(
                json.dumps(order(po=f"PO-{round_no}-{p}-{n}", company=f"Start {p} {n} Inc",
                                 email=f"a{p}.{n}@start.example", at="2026-05-04T09:00:00Z"))
                for n in range(per_process)
            ) + "\n"
            for p in range(8)
        ]
        procs = [_start(db, "apply", "-", stdin="", env=env, cwd=cwd) for _ in inputs]
        outcomes: list[tuple[int, str, str]] = [_finish(p, text) for p, text in zip(procs, inputs, strict=True)]
        for code, out, err in outcomes:
            assert code == 0, (round_no, code, err[-2000:])
            results: list[dict[str, Any]] = [json.loads(line) for line in out.splitlines()]
            assert len(results) == per_process and all(r["ok"] for r in results)
        rows = json.loads(ledger("view", "contracts", "--json", db=db).stdout)
        assert len(rows) == 8 * per_process
