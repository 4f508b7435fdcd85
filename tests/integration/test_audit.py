"""Verifiable audit (SPEC section 8) through the application, on the selected backend: the log is
written with the events, tampering of every kind is named by ``ledger verify``, checkpoints refuse
to contradict themselves, proofs verify offline, and the backfill brings an older ledger under the log."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.audit.service import Audit, InconsistentCheckpoint, load_signer
from ledger.config import load_settings
from ledger.demo import generate
from replay.audit.merkle import verify_consistency, verify_inclusion
from replay.audit.note import open_checkpoint
from replay.audit.verify import Report
from tests.kit.audit import Raw

SECRET = "test-secret-key"
COMMANDS = [c for c in generate(customers=2, seed=3, expiry_days=0)]


@pytest.fixture
def signing_env(tmp_path: Path) -> dict[str, str]:
    return {"LEDGER_SECRET_KEY": SECRET, "LEDGER_SIGNING_KEY_FILE": str(tmp_path / "signing.key")}


@pytest.fixture
def ledger(db_url: str, signing_env: dict[str, str]) -> Iterator[LedgerApplication]:
    app = LedgerApplication(load_settings(db_url, signing_env))
    yield app
    app.close()


@pytest.fixture
def raw(ledger: LedgerApplication, db_url: str, backend: str) -> Iterator[Raw]:
    r = Raw(db_url, backend)
    yield r
    r.close()


def apply(app: LedgerApplication, commands: list[dict[str, Any]], batch: int = 20) -> None:
    for i in range(0, len(commands), batch):
        app.execute_many([parse_command(c) for c in commands[i : i + batch]])


def verify(app: LedgerApplication, **kwargs: Any) -> Report:
    return Audit(app).verify(load_signer(app.settings).verifier, **kwargs)


def kinds(report: Report) -> list[str]:
    return [f.kind for f in report.findings]


def test_s8_every_event_is_logged_densely_in_commit_order(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:60])
    events = raw.run(f"SELECT {raw.nid} FROM {raw.events} ORDER BY {raw.nid}")
    logged = raw.run("SELECT seq, notification_id FROM audit_log ORDER BY seq")
    assert [s for s, _ in logged] == list(range(len(events)))
    assert [n for _, n in logged] == [e[0] for e in events]
    report = verify(ledger)
    assert report.ok, [f.line() for f in report.findings]
    assert report.entries == report.events == len(events)


def test_s8_personal_values_are_committed_not_logged(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:20])
    entries = b"".join(bytes(e) for (e,) in raw.run("SELECT entry FROM audit_log"))
    emails = {c["end_customer"]["email"] for c in COMMANDS[:20] if c["command"] == "PlaceOrder"}
    assert emails and not any(e.encode() in entries for e in emails)
    assert b"salted_sha256" in entries


def test_s8_refused_command_logs_nothing(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:10])
    before = raw.run("SELECT count(*) FROM audit_log")[0][0]
    from aggregates.errors import LedgerError

    with pytest.raises(LedgerError):
        ledger.execute(parse_command({"command": "CancelOrder", "at": "2030-01-01T00:00:00Z", "actor": "ops",
                                      "po_number": "PO-NOPE"}))
    assert raw.run("SELECT count(*) FROM audit_log")[0][0] == before
    assert verify(ledger).ok


def _position_of(raw: Raw, kind: str) -> tuple[int, int, str]:
    for nid, topic in raw.run(f"SELECT {raw.nid}, topic FROM {raw.events} ORDER BY {raw.nid}"):
        if topic.endswith(kind):
            seq, agg = raw.run("SELECT seq, originator_id FROM audit_log WHERE notification_id = ?", (nid,))[0]
            return int(nid), int(seq), str(agg)
    raise AssertionError(kind)


def test_s8_tamper_update_one_events_data_is_named(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:40])
    nid, seq, _ = _position_of(raw, "Customer.OrderPlaced")
    state = bytes(raw.run(f"SELECT state FROM {raw.events} WHERE {raw.nid} = ?", (nid,))[0][0])
    data = json.loads(state)
    data["quantity"] += 1
    raw.run(f"UPDATE {raw.events} SET state = ? WHERE {raw.nid} = ?", (json.dumps(data).encode(), nid))
    report = verify(ledger)
    assert kinds(report) == ["altered"]
    finding = report.findings[0]
    assert finding.position == seq and finding.type == "Customer.OrderPlaced"
    assert "data.quantity" in finding.detail


def test_s8_tamper_delete_one_event_is_named(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:40])
    nid, seq, _ = _position_of(raw, "Customer.RoomAdded")
    raw.run(f"DELETE FROM {raw.events} WHERE {raw.nid} = ?", (nid,))
    report = verify(ledger)
    assert kinds(report) == ["deleted"]
    assert report.findings[0].position == seq and report.findings[0].type == "Customer.RoomAdded"


def test_s8_tamper_delete_event_and_its_log_row_is_named(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:40])
    nid, seq, _ = _position_of(raw, "Customer.RoomAdded")
    raw.run(f"DELETE FROM {raw.events} WHERE {raw.nid} = ?", (nid,))
    raw.run("DELETE FROM audit_log WHERE seq = ?", (seq,))
    report = verify(ledger)
    assert "deleted" in kinds(report) and "chain" in kinds(report)
    assert any(f.kind == "deleted" and f.position == seq for f in report.findings)


def test_s8_tamper_insert_forged_event_is_named(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:40])
    nid, _, _ = _position_of(raw, "Customer.OrderPlaced")
    agg, topic, state = raw.run(f"SELECT originator_id, topic, state FROM {raw.events} WHERE {raw.nid} = ?", (nid,))[0]
    raw.run(f"INSERT INTO {raw.events} (originator_id, originator_version, topic, state) VALUES (?, ?, ?, ?)",
            (agg, 9999, topic, state))
    report = verify(ledger)
    assert kinds(report) == ["inserted"]
    assert report.findings[0].version == 9999


def test_s8_tamper_swap_two_events_is_named(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:40])
    a, b = 10, 11
    ids = [r[0] for r in raw.run(f"SELECT {raw.nid} FROM {raw.events} ORDER BY {raw.nid}")]
    na, nb = ids[a], ids[b]
    raw.run(f"UPDATE {raw.events} SET {raw.nid} = ? WHERE {raw.nid} = ?", (-1, na))
    raw.run(f"UPDATE {raw.events} SET {raw.nid} = ? WHERE {raw.nid} = ?", (na, nb))
    raw.run(f"UPDATE {raw.events} SET {raw.nid} = ? WHERE {raw.nid} = ?", (nb, -1))
    report = verify(ledger)
    assert kinds(report) == ["reordered", "reordered"]
    assert sorted(f.position for f in report.findings) == [a, b]


def test_s8_tamper_rewritten_log_breaks_the_signed_checkpoint(ledger: LedgerApplication, raw: Raw) -> None:
    apply(ledger, COMMANDS[:30])
    Audit(ledger).checkpoint(load_signer(ledger.settings))
    # Rewrite an event and its entry and leaf consistently: only the signed root can tell.
    nid, seq, _ = _position_of(raw, "Customer.OrderPlaced")
    state = json.loads(bytes(raw.run(f"SELECT state FROM {raw.events} WHERE {raw.nid} = ?", (nid,))[0][0]))
    state["quantity"] += 5
    raw.run(f"UPDATE {raw.events} SET state = ? WHERE {raw.nid} = ?", (json.dumps(state).encode(), nid))
    entry = json.loads(bytes(raw.run("SELECT entry FROM audit_log WHERE seq = ?", (seq,))[0][0]))
    entry["data"]["quantity"] += 5
    from replay.audit.entry import canonical
    from replay.audit.merkle import leaf_hash

    forged = canonical(entry)
    raw.run("UPDATE audit_log SET entry = ?, leaf = ? WHERE seq = ?", (forged, leaf_hash(forged), seq))
    report = verify(ledger)
    assert "checkpoint" in kinds(report)
    assert any("history before position" in f.detail for f in report.findings)
    assert "tree" in kinds(report)  # the stored interior hashes no longer match the entries


def test_s8_checkpoint_refuses_a_tree_inconsistent_with_the_last_one(ledger: LedgerApplication, raw: Raw) -> None:
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    apply(ledger, COMMANDS[:30])
    first = audit.checkpoint(signer)
    apply(ledger, COMMANDS[30:40])
    from ledger.audit.store import node_key
    from replay.audit.merkle import decompose

    level, index = decompose(0, first.size)[0]
    raw.run("UPDATE audit_nodes SET hash = ? WHERE node = ?", (b"\x00" * 32, node_key((level, index))))
    with pytest.raises(InconsistentCheckpoint, match="inconsistent"):
        audit.checkpoint(signer)
    assert len(audit.checkpoints()) == 1


def test_s8_tamper_dropped_checkpoint_is_named(ledger: LedgerApplication, raw: Raw) -> None:
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    for chunk in (COMMANDS[:10], COMMANDS[10:20], COMMANDS[20:30]):
        apply(ledger, chunk)
        audit.checkpoint(signer)
    assert verify(ledger).ok
    raw.run("DELETE FROM audit_checkpoints WHERE number = 1")
    report = verify(ledger)
    assert kinds(report) == ["checkpoint"] and "#1 is missing" in report.findings[0].detail
    raw.run("DELETE FROM audit_checkpoints WHERE number = 2")
    assert any("#2 is missing" in f.detail for f in verify(ledger).findings)


def test_s8_rollback_to_an_older_copy_is_named(ledger: LedgerApplication, raw: Raw, tmp_path: Path) -> None:
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    apply(ledger, COMMANDS[:20])
    audit.checkpoint(signer)
    # The older copy: every table as it is now.
    old_head = raw.run("SELECT size, frontier, complete, checkpoints FROM audit_head")[0]
    old_nid = raw.run("SELECT max(notification_id) FROM audit_log")[0][0]
    old_nodes = {n for (n,) in raw.run("SELECT node FROM audit_nodes")}
    apply(ledger, COMMANDS[20:40])
    exported = audit.checkpoint(signer)
    outside = tmp_path / "checkpoint.txt"
    outside.write_text(exported.note)
    # Restore the older copy.
    raw.run(f"DELETE FROM {raw.events} WHERE {raw.nid} > ?", (old_nid,))
    raw.run("DELETE FROM audit_log WHERE seq >= ?", (old_head[0],))
    raw.run("DELETE FROM audit_salts WHERE seq >= ?", (old_head[0],))
    raw.run("DELETE FROM audit_checkpoints WHERE number >= ?", (old_head[3],))
    for (node,) in raw.run("SELECT node FROM audit_nodes"):
        if node not in old_nodes:
            raw.run("DELETE FROM audit_nodes WHERE node = ?", (node,))
    raw.run("UPDATE audit_head SET size = ?, frontier = ?, complete = ?, checkpoints = ?", tuple(old_head))
    ledger.close()
    env = {"LEDGER_SECRET_KEY": SECRET, "LEDGER_SIGNING_KEY_FILE": str(signer_path(ledger))}
    again = LedgerApplication(load_settings(ledger.settings.store.url, env))
    try:
        assert verify(again).ok  # the copy is self-consistent...
        report = verify(again, external=[("checkpoint file", outside.read_text())])
        assert kinds(report) == ["checkpoint"] and "rolled back" in report.findings[0].detail
        # ...and the key refuses to sign a tree that contradicts what it signed before.
        with pytest.raises(InconsistentCheckpoint, match="rolled back"):
            Audit(again).checkpoint(load_signer(again.settings))
    finally:
        again.close()


def _salted(raw: Raw, pointer_suffix: str, not_seq: int = -1) -> tuple[int, str, int, str]:
    """``(seq, aggregate id, version, pointer)`` of the first logged entry with a salted value at a
    pointer ending in ``pointer_suffix``."""
    for seq, salts in raw.run("SELECT seq, salts FROM audit_salts ORDER BY seq"):
        for pointer in json.loads(salts):
            if pointer.endswith(pointer_suffix) and seq != not_seq:
                agg, version = raw.run("SELECT originator_id, originator_version FROM audit_log WHERE seq = ?",
                                       (seq,))[0]
                return int(seq), str(uuid.UUID(str(agg))), int(version), pointer
    raise AssertionError(pointer_suffix)


def test_s8_erased_value_is_reported_erased_not_altered(ledger: LedgerApplication, raw: Raw) -> None:
    # given a ledger with orders whose end customer's e-mail is committed to with a salt
    apply(ledger, COMMANDS[:40])
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    audit.checkpoint(signer)
    seq, agg, version, pointer = _salted(raw, "/email")
    # when that value is erased (its salt deleted, the erasure record signed)
    audit.erase(uuid.UUID(agg), version, pointer, signer)
    # then verify passes, lists the value as erased, and every checkpoint still holds
    left = raw.run("SELECT salts FROM audit_salts WHERE seq = ?", (seq,))
    assert not left or pointer not in json.loads(left[0][0])
    report = verify(ledger)
    assert report.ok, [f.line() for f in report.findings]
    assert [(f.kind, f.position, f.customer_id, f.version) for f in report.erased] == [("erased", seq, agg, version)]
    assert pointer in report.erased[0].detail
    assert report.as_dict()["erased"][0]["position"] == seq
    audit.checkpoint(signer)  # the tree is unchanged: the next checkpoint is consistent


def test_s8_erased_entry_is_still_checked_beyond_the_erased_value(ledger: LedgerApplication, raw: Raw) -> None:
    # given an erased e-mail of an order
    apply(ledger, COMMANDS[:40])
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    seq, agg, version, pointer = _salted(raw, "/email")
    audit.erase(uuid.UUID(agg), version, pointer, signer)
    # when another field of the same event is changed in the event store
    nid = raw.run("SELECT notification_id FROM audit_log WHERE seq = ?", (seq,))[0][0]
    data = json.loads(bytes(raw.run(f"SELECT state FROM {raw.events} WHERE {raw.nid} = ?", (nid,))[0][0]))
    data["forged"] = 1
    raw.run(f"UPDATE {raw.events} SET state = ? WHERE {raw.nid} = ?", (json.dumps(data).encode(), nid))
    # then that change is named as altered, and the erasure is not reported as such
    report = verify(ledger)
    assert kinds(report) == ["altered"] and report.findings[0].position == seq
    assert "data.forged" in report.findings[0].detail and not report.erased


def test_s8_salt_deleted_without_an_erasure_record_is_altered(ledger: LedgerApplication, raw: Raw) -> None:
    # given a ledger with salted personal values
    apply(ledger, COMMANDS[:40])
    seq, agg, _, pointer = _salted(raw, "/email")
    # when a salt is deleted directly in the database, with no erasure record
    salts = json.loads(raw.run("SELECT salts FROM audit_salts WHERE seq = ?", (seq,))[0][0])
    del salts[pointer]
    raw.run("UPDATE audit_salts SET salts = ? WHERE seq = ?", (json.dumps(salts), seq))
    # then verify names that entry and value as altered
    report = verify(ledger)
    assert kinds(report) == ["altered"] and not report.erased
    assert (report.findings[0].position, report.findings[0].customer_id) == (seq, agg)
    assert pointer in report.findings[0].detail and "no erasure record" in report.findings[0].detail


def test_s8_forged_or_misplaced_erasure_record_is_altered(
    ledger: LedgerApplication, raw: Raw, tmp_path: Path
) -> None:
    # given an honest erasure of one value, and a key that is not the ledger's
    apply(ledger, COMMANDS[:40])
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    seq, agg, version, pointer = _salted(raw, "/email")
    audit.erase(uuid.UUID(agg), version, pointer, signer)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from replay.audit.note import Signer, erasure_text

    other = Signer(signer.name, Ed25519PrivateKey.generate())
    seq2, _, _, pointer2 = _salted(raw, "/address", not_seq=seq)
    leaf2 = bytes(raw.run("SELECT leaf FROM audit_log WHERE seq = ?", (seq2,))[0][0])
    # when a salt is deleted under an erasure record signed by another key
    raw.run("INSERT INTO audit_erasures VALUES (?, ?, ?)",
            (seq2, pointer2, other.sign(erasure_text(other.name, seq2, leaf2, pointer2))))
    salts = json.loads(raw.run("SELECT salts FROM audit_salts WHERE seq = ?", (seq2,))[0][0])
    del salts[pointer2]
    raw.run("UPDATE audit_salts SET salts = ? WHERE seq = ?", (json.dumps(salts), seq2))
    # and the honest record is moved to another pointer of its entry
    raw.run("UPDATE audit_erasures SET pointer = ? WHERE seq = ? AND pointer = ?", ("/actor", seq, pointer))
    # then both are named as altered, and nothing is reported erased
    report = verify(ledger)
    assert set(kinds(report)) == {"altered"} and not report.erased
    details = {(f.position, f.detail) for f in report.findings}
    assert any(p == seq2 and "erasure record of " + pointer2 in d for p, d in details)
    assert any(p == seq2 and "no stored salt" in d for p, d in details)
    assert any(p == seq and "erasure record of /actor" in d for p, d in details)
    assert any(p == seq and "no stored salt for the personal value " + pointer in d for p, d in details)


def test_s8_tampered_commitment_of_an_erased_value_is_altered(ledger: LedgerApplication, raw: Raw) -> None:
    # given an erased e-mail and a checkpoint
    apply(ledger, COMMANDS[:40])
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    seq, agg, version, pointer = _salted(raw, "/email")
    audit.erase(uuid.UUID(agg), version, pointer, signer)
    audit.checkpoint(signer)
    # when the logged commitment of the erased value is replaced (entry and leaf rewritten)
    from replay.audit.merkle import leaf_hash

    entry = json.loads(bytes(raw.run("SELECT entry FROM audit_log WHERE seq = ?", (seq,))[0][0]))
    *parents, last = pointer.split("/")[1:]
    holder = entry
    for token in parents:
        holder = holder[token]
    holder[last] = {"salted_sha256": "00" * 32}
    forged = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    raw.run("UPDATE audit_log SET entry = ?, leaf = ? WHERE seq = ?", (forged, leaf_hash(forged), seq))
    # then the erasure record (bound to the old leaf) no longer holds, and the signed root breaks
    report = verify(ledger)
    assert "altered" in kinds(report) and "checkpoint" in kinds(report) and not report.erased
    assert any(f.position == seq and "erasure record" in f.detail for f in report.findings)


def signer_path(app: LedgerApplication) -> Path:
    from ledger.audit.service import key_file

    return key_file(app.settings)


def test_s8_proofs_verify_offline_against_signed_checkpoints(ledger: LedgerApplication) -> None:
    audit, signer = Audit(ledger), load_signer(ledger.settings)
    apply(ledger, COMMANDS[:15])
    first = audit.checkpoint(signer)
    apply(ledger, COMMANDS[15:40])
    second = audit.checkpoint(signer)
    cp1 = open_checkpoint(first.note, signer.verifier)
    cp2 = open_checkpoint(second.note, signer.verifier)
    verify_consistency(cp1.size, cp2.size, cp1.root, cp2.root, audit.consistency(cp1.size, cp2.size))
    rows = audit.log
    with audit.reading() as curs:
        some = rows.rows(curs, cp1.size - 1, 3)
    for row in some:
        proof = audit.proof(row.aggregate_id, row.version, signer)
        checkpoint = proof.bundle.verify(signer.verifier)
        assert checkpoint.size == cp2.size and proof.bundle.index == row.seq
        verify_inclusion(row.seq, cp2.size, row.leaf, proof.bundle.path, cp2.root)


def test_s8_backfill_brings_an_older_ledger_under_the_log(db_url: str, signing_env: dict[str, str]) -> None:
    before = LedgerApplication(load_settings(db_url, {**signing_env, "LEDGER_AUDIT": "n"}))
    try:
        apply(before, COMMANDS[:30])
    finally:
        before.close()
    app = LedgerApplication(load_settings(db_url, signing_env))
    try:
        apply(app, COMMANDS[30:40])  # written while the backfill is due: logged by the backfill, in order
        report = verify(app)
        assert kinds(report) == ["incomplete"]
        audit = Audit(app)
        with pytest.raises(InconsistentCheckpoint, match="backfill"):
            audit.checkpoint(load_signer(app.settings))
        # Killed after one batch, it resumes where it stopped.
        with audit.writing() as curs:
            logged, done = audit.log.backfill_step(curs, 7)
        assert (logged, done) == (7, False)
        assert audit.backfill(batch=10) > 0
        apply(app, COMMANDS[40:50])
        report = verify(app)
        assert report.ok, [f.line() for f in report.findings]
        assert report.entries == report.events
        audit.checkpoint(load_signer(app.settings))
    finally:
        app.close()


def _apply_all(url: str, env: dict[str, str], commands: list[dict[str, Any]], errors: list[BaseException]) -> None:
    app = LedgerApplication(load_settings(url, env))
    try:
        for c in commands:
            try:
                app.execute(parse_command(c))
            except Exception as exc:  # refusals are fine; anything else fails the test
                from aggregates.errors import LedgerError

                if not isinstance(exc, LedgerError):
                    errors.append(exc)
    finally:
        app.close()


def test_s8_concurrent_writers_keep_the_log_dense_and_verifiable(
    db_url: str, signing_env: dict[str, str], raw_factory: Callable[[LedgerApplication], Raw]
) -> None:
    streams = [list(generate(customers=1, seed=s, expiry_days=0))[2:] for s in (11, 12, 13)]
    first = LedgerApplication(load_settings(db_url, signing_env))
    errors: list[BaseException] = []
    try:
        threads = [threading.Thread(target=_apply_all, args=(db_url, signing_env, s, errors)) for s in streams]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        report = verify(first)
        assert report.ok, [f.line() for f in report.findings]
        raw = raw_factory(first)
        logged = raw.run("SELECT seq, notification_id FROM audit_log ORDER BY seq")
        assert [s for s, _ in logged] == list(range(report.events))
        nids = [n for _, n in logged]
        assert nids == sorted(nids)
    finally:
        first.close()


@pytest.fixture
def raw_factory(db_url: str, backend: str) -> Iterator[Callable[[LedgerApplication], Raw]]:
    made: list[Raw] = []

    def factory(app: LedgerApplication) -> Raw:
        made.append(Raw(db_url, backend))
        return made[-1]

    yield factory
    for r in made:
        r.close()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_s8_verify_passes_on_every_honest_ledger(
    fresh_url: Callable[[], str], tmp_path: Path, data: st.DataObject
) -> None:
    """Random command sequences, batch sizes, checkpoints, 1-3 concurrent writer processes'
    worth of applications on their own connections and up to 3 personal values erased: verify
    finds nothing (the erased values listed apart), the log is dense."""
    picks = data.draw(st.lists(st.integers(0, len(COMMANDS) - 1), min_size=1, max_size=40))
    commands = [COMMANDS[i] for i in sorted(picks)]
    batch = data.draw(st.integers(1, 8))
    writers = data.draw(st.integers(1, 3))
    checkpoint_after = data.draw(st.sets(st.integers(0, len(commands)), max_size=3))
    key = tmp_path / f"key-{uuid.uuid4().hex}"
    env = {"LEDGER_SECRET_KEY": SECRET, "LEDGER_SIGNING_KEY_FILE": str(key)}
    url = fresh_url()
    app = LedgerApplication(load_settings(url, env))
    try:
        audit, signer = Audit(app), load_signer(app.settings)
        if writers == 1:
            for i in range(0, len(commands), batch):
                apply(app, commands[i : i + batch], batch)
                if i in checkpoint_after:
                    audit.checkpoint(signer)
        else:
            errors: list[BaseException] = []
            shares = [commands[w::writers] for w in range(writers)]
            threads = [threading.Thread(target=_apply_all, args=(url, env, share, errors)) for share in shares]
            for t in threads:
                t.start()
            for _ in checkpoint_after:
                audit.checkpoint(signer)  # while the writers write
            for t in threads:
                t.join()
            assert not errors, errors
        with audit.reading() as curs:
            salted = [(r.seq, r.aggregate_id, r.version, p) for r in audit.log.rows(curs, 0, 100_000)
                      for p in sorted(r.salts or {})]
        erase = data.draw(st.lists(st.sampled_from(salted), max_size=3, unique=True)) if salted else []
        for _, aggregate, version, pointer in erase:  # values erased on purpose are no finding
            audit.erase(uuid.UUID(aggregate), version, pointer, signer)
        report = verify(app)
        assert report.ok, [f.line() for f in report.findings]
        assert sorted((f.position, f.detail.split()[3]) for f in report.erased) == sorted(
            (seq, p) for seq, _, _, p in erase)
        assert report.entries == report.events
        with audit.reading() as curs:
            seqs = [r.seq for r in audit.log.rows(curs, 0, 100_000)]
        assert seqs == list(range(report.entries))
    finally:
        app.close()


def test_s8_relay_follow_publishes_checkpoints_while_the_log_grows(
    ledger: LedgerApplication, kafka: str, topic: str
) -> None:
    from kafka import KafkaConsumer

    from ledger.audit.cli import PeriodicCheckpoints

    periodic = PeriodicCheckpoints(None, kafka, topic, 60.0, lambda _: None)
    audit = Audit(ledger)
    apply(ledger, COMMANDS[:10])
    size = periodic.once(ledger, audit, -1)
    assert periodic.once(ledger, audit, size) == size  # nothing new: no new checkpoint
    apply(ledger, COMMANDS[10:20])
    assert periodic.once(ledger, audit, size) > size
    consumer = KafkaConsumer(topic, bootstrap_servers=kafka, auto_offset_reset="earliest", consumer_timeout_ms=10_000)
    try:
        published = [m.value.decode() for m in consumer]
    finally:
        consumer.close()
    assert published == [cp.note for cp in audit.checkpoints()] and len(published) == 2


def test_s8_fast_entry_path_gives_the_bytes_of_the_full_walk(ledger: LedgerApplication) -> None:
    from replay.audit.entry import build_entry

    apply(ledger, COMMANDS[:60])
    audit = Audit(ledger)
    with audit.reading() as curs:
        rows = {r.notification_id: r for r in audit.log.rows(curs, 0, 10_000)}
    for n in ledger.recorder.select_notifications(1, 10_000):
        row = rows[n.id]
        prev = None if row.version == 1 else next(
            r.leaf for r in rows.values() if (r.aggregate_id, r.version) == (row.aggregate_id, row.version - 1))
        fast, _ = build_entry(row.seq, n.originator_id, n.originator_version, n.topic, n.state, prev, row.salts or {})
        slow, _ = build_entry(row.seq, n.originator_id, n.originator_version, n.topic, n.state, prev, row.salts or {},
                              fast=False)
        assert fast == slow == row.entry


def test_s8_verify_in_worker_processes_names_the_same_findings(
    ledger: LedgerApplication, raw: Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    import replay.audit.verify

    apply(ledger, COMMANDS[:40])
    nid, seq, _ = _position_of(raw, "Customer.OrderPlaced")
    data = json.loads(bytes(raw.run(f"SELECT state FROM {raw.events} WHERE {raw.nid} = ?", (nid,))[0][0]))
    data["years"] = 9
    raw.run(f"UPDATE {raw.events} SET state = ? WHERE {raw.nid} = ?", (json.dumps(data).encode(), nid))
    monkeypatch.setattr(replay.audit.verify, "CHUNK", 7)
    inline = Audit(ledger).verify(load_signer(ledger.settings).verifier, workers=0)
    pooled = Audit(ledger).verify(load_signer(ledger.settings).verifier, workers=2)
    assert [f.line() for f in pooled.findings] == [f.line() for f in inline.findings]
    assert kinds(pooled) == ["altered"] and pooled.findings[0].position == seq
    assert "data.years" in pooled.findings[0].detail
