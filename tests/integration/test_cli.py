"""The installed ``ledger`` command line, end to end, on the backend the suite runs on."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from commands.schema import SCHEMA_PATH, render_schema
from ledger.demo import seed_example
from tests.kit.cli import LEDGER, apply, event_count, ledger
from tests.kit.commands import order

pytestmark = pytest.mark.integration

def test_r13_seed_example_through_ledger_apply(db_url: str) -> None:
    status, results, _ = apply(db_url, *seed_example())
    assert status == 0
    assert all(r["ok"] for r in results)
    assert len({r["customer_id"] for r in results}) == 1, "R1: one parent entity across subsidiaries"
    accrued = [[e for e in r["events"] if e["type"] == "SpareAccrued"] for r in results]
    assert [len(a) for a in accrued] == [0, 1, 1]
    history = json.loads(ledger("history", "--customer", results[0]["customer_id"], "--json", db=db_url).stdout)
    spares = [row for row in history if row["type"] == "SpareAccrued"]
    assert [row["data"]["active_select_licenses"] for row in spares] == [80, 100]
    assert [row["data"]["spare_no"] for row in spares] == [1, 2]
    assert {"position", "type", "effective_at", "recorded_at", "actor", "data"} <= set(history[0])


def test_r15_token_in_result_never_in_history(db_url: str) -> None:
    status, results, _ = apply(db_url, order(po="PO-T1"))
    assert status == 0
    token = results[0]["invitation"]["token"]
    assert results[0]["invitation"]["email"] == "jane.doe@acme.example"
    proc = ledger("history", "--customer", results[0]["customer_id"], "--json", db=db_url)
    assert token not in proc.stdout
    assert token[4:20] not in proc.stdout


def test_r5_resubmitting_the_same_order_returns_the_original_result(db_url: str) -> None:
    cmd = order(po="PO-IDEM")
    _, first, _ = apply(db_url, cmd)
    status, second, _ = apply(db_url, cmd)
    assert status == 0
    assert second[0]["events"] == []
    for key in ("customer_id", "account_id", "warnings", "invitation"):
        assert second[0][key] == first[0][key]


BAD_INPUT = [
    ("years", {"years": 6}, "R4"),
    ("quantity", {"quantity": 0}, "R4"),
    ("years", {"years": "three"}, "R4"),
    ("end_customer.email", {"end_customer": {"company": "Acme", "email": "not-an-email",
                                              "address": {"line1": "1", "city": "x", "postal_code": "1",
                                                          "country": "US"}}}, "R4"),
    ("end_customer.address.country", {"end_customer": {"company": "Acme", "email": "a@b.example",
                                                        "address": {"line1": "1", "city": "x",
                                                                    "postal_code": "1", "country": "ZZ"}}}, "R4"),
    ("colour", {"colour": "blue"}, "R4"),
    ("service", {"service": "gold"}, "R4"),
    ("at", {"at": "yesterday"}, "R20"),
    ("actor", {"actor": "somebody"}, "R18"),
]


@pytest.mark.parametrize(("field", "change", "rule"), BAD_INPUT, ids=[b[0] + "-" + b[2] for b in BAD_INPUT])
def test_r4_bad_input_is_one_json_line_naming_field_and_rule(db_url: str, field: str, change: dict[str, Any],
                                                              rule: str) -> None:
    cmd = {**order(po="PO-BAD"), **change}
    status, results, stderr = apply(db_url, cmd)
    assert status == 1
    assert len(results) == 1
    error = results[0]["error"]
    assert results[0]["ok"] is False
    assert error["field"] == field
    assert error["rule"] == rule
    assert error["message"].startswith(field)
    assert stderr == ""
    status, results, _ = apply(db_url, order(po="PO-GOOD"))
    assert results[0]["events"][0]["position"] == 1, "the refused command recorded something"


def test_r4_missing_parties_are_named(db_url: str) -> None:
    cmd = order(po="PO-NOPARTY")
    del cmd["reseller"], cmd["distributor"]
    status, results, _ = apply(db_url, cmd)
    assert status == 1
    assert results[0]["error"]["field"] == "reseller"
    assert "distributor" in results[0]["error"]["message"]


def test_r18_unknown_command_and_non_json_lines(db_url: str) -> None:
    status, results, _ = apply(
        db_url,
        {"command": "EraseEverything", "actor": "ops"},
        "this is not json",
        "[1, 2]",
        order(po="PO-AFTER"),
    )
    assert status == 2
    assert [r["ok"] for r in results] == [False, False, False, True]
    assert results[0]["error"]["code"] == "unknown_command" and results[0]["error"]["field"] == "command"
    assert results[1]["error"]["code"] == "malformed_json" and results[1]["error"]["line"] == 2
    assert results[2]["error"]["code"] == "malformed"
    assert results[3]["events"][0]["position"] == 1


def test_r18_refusal_exit_status_is_1_and_records_nothing(db_url: str) -> None:
    _, placed, _ = apply(db_url, order(po="PO-R18"))
    customer_id = placed[0]["customer_id"]
    before = event_count(db_url, customer_id)
    status, results, _ = apply(db_url, {"command": "CancelOrder", "at": "2026-05-05T00:00:00Z",
                                        "actor": "jane.doe@acme.example", "po_number": "PO-R18"})
    assert status == 1
    assert results[0]["error"]["rule"] == "R18"
    assert event_count(db_url, customer_id) == before


def test_missing_file_and_bad_settings_exit_2_without_traceback(tmp_path: Path, db_url: str) -> None:
    proc = ledger("apply", str(tmp_path / "nope.jsonl"), db=db_url)
    assert proc.returncode == 2
    assert "nope.jsonl" in proc.stderr and "Traceback" not in proc.stderr
    proc = ledger("history", "--customer", "not-a-uuid", db=db_url)
    assert proc.returncode == 2 and "--customer" in proc.stderr
    proc = ledger("apply", "-", db="mysql://nowhere/db")
    assert proc.returncode == 2 and "LEDGER_DB" in proc.stderr


def test_r1_history_of_unknown_customer_is_a_clear_error(db_url: str) -> None:
    proc = ledger("history", "--customer", "00000000-0000-0000-0000-000000000000", db=db_url)
    assert proc.returncode == 1
    assert "no customer" in proc.stderr and "Traceback" not in proc.stderr


def test_default_store_is_sqlite_file_in_current_directory(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    proc = subprocess.run([LEDGER, "apply", "-"], input=json.dumps(order(po="PO-CWD")), capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ledger.db").exists()
    key = tmp_path / "ledger.db.key"
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"


def test_demo_runs_on_a_fresh_embedded_store(tmp_path: Path) -> None:
    proc = subprocess.run([LEDGER, "demo"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "SpareAccrued" in proc.stdout and "events recorded" in proc.stdout
    assert (tmp_path / "ledger-demo.db").exists()


def test_published_command_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text("utf-8") == render_schema(), "run `ledger schema --write`"
    schema = json.loads(SCHEMA_PATH.read_text("utf-8"))
    names = {ref.split("/")[-1] for ref in schema["discriminator"]["mapping"].values()}
    assert {"PlaceOrder", "CancelOrder", "ExpireContracts", "RevokePartner"} <= names
    assert schema["$defs"]["PlaceOrder"]["additionalProperties"] is False
