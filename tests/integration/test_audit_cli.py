"""The audit verbs of the installed ``ledger`` command line (SPEC section 8), on the suite's backend."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from ledger.demo import generate
from tests.kit.audit import Raw

pytestmark = pytest.mark.integration

LEDGER = shutil.which("ledger") or str(Path(sys.executable).with_name("ledger"))


@pytest.fixture
def run(db_url: str, tmp_path: Path) -> Any:
    env = {**os.environ, "LEDGER_SECRET_KEY": "cli-test", "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "sign.key")}

    def ledger(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([LEDGER, *args, "--db", db_url] if args[0] != "verify-proof" else [LEDGER, *args],
                              input=stdin, capture_output=True, text=True, env=env, timeout=180)
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc

    commands = "\n".join(json.dumps(c) for c in generate(customers=1, seed=5, expiry_days=0)) + "\n"
    assert ledger("apply", "-", stdin=commands).returncode in (0, 1)
    return ledger


def _customer(run: Any) -> str:
    proc = run("view", "contracts", "--json")
    return str(json.loads(proc.stdout)[0]["customer_id"])


def test_s8_public_key_is_a_signed_note_vkey(run: Any, tmp_path: Path) -> None:
    proc = run("audit", "public-key")
    assert proc.returncode == 0
    name, key_id, material = proc.stdout.strip().split("+", 2)
    raw = base64.b64decode(material)
    assert name == "select-ledger.example/audit" and len(key_id) == 8 and raw[0] == 1 and len(raw) == 33
    assert oct((tmp_path / "sign.key").stat().st_mode & 0o777) == "0o600"
    assert run("audit", "public-key").stdout == proc.stdout  # made once


def test_s8_checkpoint_proof_and_offline_verification(run: Any, tmp_path: Path) -> None:
    note = run("checkpoint")
    assert note.returncode == 0
    lines = note.stdout.split("\n")
    assert lines[0] == "select-ledger.example/audit" and int(lines[1]) > 0 and lines[4].startswith("\u2014 ")
    customer = _customer(run)
    entry = run("audit", "entry", "--customer", customer, "--version", "2")
    assert entry.returncode == 0 and json.loads(entry.stdout)["version"] == 2
    out = tmp_path / "p.tlog-proof"
    assert run("proof", "--customer", customer, "--version", "2", "--out", str(out)).returncode == 0
    text = out.read_text()
    assert text.startswith("c2sp.org/tlog-proof@v1\nextra ")
    assert base64.b64decode(text.split("\n")[1][6:]).decode() == entry.stdout.strip()
    key = run("audit", "public-key").stdout.strip()
    ok = run("verify-proof", str(out), "--public-key", key)
    assert ok.returncode == 0 and "verified" in ok.stdout
    bad = tmp_path / "bad.tlog-proof"
    forged = text.split("\n")
    changed = entry.stdout.strip().replace('"version":2', '"version":3').encode()
    forged[1] = "extra " + base64.b64encode(changed).decode()
    bad.write_text("\n".join(forged))
    refused = run("verify-proof", str(bad), "--public-key", key)
    assert refused.returncode == 1 and "NOT verified" in refused.stderr


def test_s8_verify_json_names_the_altered_event_and_exits_1(run: Any, db_url: str, backend: str) -> None:
    assert run("verify").returncode == 0
    raw = Raw(db_url, backend)
    try:
        query = f"SELECT {raw.nid}, state FROM {raw.events} WHERE topic LIKE ? LIMIT 1"
        nid, state = raw.run(query, ("%RoomAdded",))[0]
        data = json.loads(bytes(state))
        data["site"] = "Elsewhere"
        raw.run(f"UPDATE {raw.events} SET state = ? WHERE {raw.nid} = ?", (json.dumps(data).encode(), nid))
    finally:
        raw.close()
    proc = run("verify", "--json")
    assert proc.returncode == 1
    report = json.loads(proc.stdout)
    assert not report["ok"] and [f["kind"] for f in report["findings"]] == ["altered"]
    assert "data.site" in report["findings"][0]["detail"] and report["findings"][0]["type"] == "Customer.RoomAdded"
    pooled = run("verify", "--json", "--workers", "2")  # the entries rebuilt in two worker processes
    assert pooled.returncode == 1 and json.loads(pooled.stdout)["findings"] == report["findings"]


def test_s8_verify_against_an_exported_checkpoint_file(run: Any, tmp_path: Path) -> None:
    exported = tmp_path / "cp.txt"
    exported.write_text(run("checkpoint").stdout)
    proc = run("verify", "--checkpoint", str(exported))
    assert proc.returncode == 0 and "verified" in proc.stdout


def test_s8_verify_reports_an_erased_value_and_exits_0(run: Any, db_url: str, tmp_path: Path) -> None:
    # given a ledger whose first salted personal value was erased (salt deleted, record signed)
    from uuid import UUID

    from ledger.app import LedgerApplication
    from ledger.audit.service import Audit, load_signer
    from ledger.config import load_settings

    env = {"LEDGER_SECRET_KEY": "cli-test", "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "sign.key")}
    app = LedgerApplication(load_settings(db_url, env))
    try:
        audit = Audit(app)
        with audit.reading() as curs:
            row = next(r for r in audit.log.rows(curs, 0, 10_000) if r.salts)
        pointer = sorted(row.salts or {})[0]
        audit.erase(UUID(row.aggregate_id), row.version, pointer, load_signer(app.settings))
    finally:
        app.close()
    # when the auditor verifies
    proc = run("verify")
    report = json.loads(run("verify", "--json").stdout)
    # then it passes and names the erased value apart from findings
    assert proc.returncode == 0 and "audit: verified" in proc.stdout and "1 personal values erased" in proc.stdout
    assert f"ERASED: position {row.seq}" in proc.stdout and pointer in proc.stdout
    assert report["ok"] and report["findings"] == [] and report["erased"][0]["position"] == row.seq


def test_s8_bad_input_names_the_field_without_a_traceback(run: Any, tmp_path: Path) -> None:
    proc = run("proof", "--customer", "not-a-uuid", "--version", "1")
    assert proc.returncode == 2 and "--customer" in proc.stderr
    proc = run("audit", "entry", "--customer", "00000000-0000-0000-0000-000000000000", "--version", "1")
    assert proc.returncode == 1 and "--version" in proc.stderr
    proc = run("verify", "--workers", "-1")
    assert proc.returncode == 2 and "--workers" in proc.stderr
    missing = run("verify-proof", str(tmp_path / "nope"), "--public-key", "x+00+AA==")
    assert missing.returncode == 2
    (tmp_path / "p").write_text("c2sp.org/tlog-proof@v1\nindex 0\n\nx\n")
    proc = run("verify-proof", str(tmp_path / "p"), "--public-key", "garbage")
    assert proc.returncode == 2 and "--public-key" in proc.stderr


def test_s8_checkpoint_published_to_its_own_topic(run: Any, kafka: str, topic: str) -> None:
    from kafka import KafkaConsumer

    proc = run("checkpoint", "--publish", "--bootstrap-servers", kafka, "--topic", topic)
    assert proc.returncode == 0, proc.stderr
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    try:
        messages = [m for m in consumer]
    finally:
        consumer.close()
    assert [m.value.decode() for m in messages] == [proc.stdout]


def test_s8_relay_follow_signs_and_publishes_a_checkpoint_each_time_the_log_grows(
    run: Any, db_url: str, kafka: str, topic: str, tmp_path: Path
) -> None:
    from tests.kit.stream import read_topic, stop_process, wait_for

    checkpoints_topic = topic + "-checkpoints"
    env = {**os.environ, "LEDGER_SECRET_KEY": "cli-test", "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "sign.key"),
           "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "relay.log"
    with log.open("wb") as out:
        relay = subprocess.Popen(
            [LEDGER, "--db", db_url, "relay", "--follow", "--bootstrap-servers", kafka, "--topic", topic,
             "--checkpoint-interval", "0.5", "--checkpoint-topic", checkpoints_topic],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    try:
        def notes() -> list[str]:
            try:
                return [m.value.decode() for m in read_topic(kafka, checkpoints_topic, timeout=5)]
            except AssertionError:
                return []  # the topic is made with the first checkpoint

        wait_for(lambda: len(notes()) >= 1, 120, "the first published checkpoint")
        first = notes()[0]
        size_before = int(first.split("\n")[1])
        more = "\n".join(json.dumps(c) for c in generate(customers=1, seed=11, expiry_days=0)) + "\n"
        assert run("apply", "-", stdin=more).returncode in (0, 1)
        wait_for(lambda: int(notes()[-1].split("\n")[1]) > size_before, 120, "a checkpoint of the grown log")
        published = notes()
        time.sleep(1.5)  # three more intervals with nothing new: no further checkpoint
        assert len(notes()) == len(published), "a checkpoint was published although the log did not grow"
    finally:
        assert stop_process(relay) == 0, log.read_text()
    sizes = [int(note.split("\n")[1]) for note in published]
    assert sizes == sorted(set(sizes)), f"each published checkpoint is of a larger log: {sizes}"
    assert "Traceback" not in log.read_text()
    files = []
    for i, note in enumerate(published):
        files.append(tmp_path / f"cp{i}.txt")
        files[-1].write_text(note)
    checked = run("verify", *[arg for f in files for arg in ("--checkpoint", str(f))])
    assert checked.returncode == 0 and "verified" in checked.stdout, checked.stdout + checked.stderr
