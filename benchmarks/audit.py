"""The verifiable audit log's cost, each figure against a baseline measured in the same run.

- commands/s through ``ledger apply``'s path with the log on (the default) and off
  (``LEDGER_AUDIT=n``), alternating rounds on fresh stores (target: on ≥ 85 % of off);
- ``ledger verify`` events/s on a ledger against merely reading and decoding every event of it
  (the ceiling; target ≥ 50 %);
- proof generation (``Audit.proof``: find the entry, the checkpoint, the O(log n) nodes, the
  bundle) p50/p99 on a log of N leaves, against one primary-key read of an entry (the floor).
  Building a million-event ledger through the commands takes too long on a shared machine, so
  the audit tables for N synthetic entries are written directly, with the real entry format,
  leaf and node hashes (``AuditLog._append``).

    python -m benchmarks.audit [--quick] [--leaves N] [--only commands|verify|proofs] [--postgres]
                                  [--folder DIR]

``--postgres`` adds the commands rounds on PostgreSQL (``LEDGER_TEST_PG_URL``).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger.app import LedgerApplication
from ledger.cli import apply_lines
from ledger.config import load_settings
from ledger.demo import generate

GROUP = 200


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def _apply(url: str, lines: list[str], audit: bool) -> tuple[float, float]:
    """Wall and CPU seconds (this process: the whole of SQLite's work, the client's of PostgreSQL)
    of applying ``lines`` to a fresh store."""
    env = {"LEDGER_SECRET_KEY": "bench", "LEDGER_AUDIT": "y" if audit else "n"}
    app = LedgerApplication(load_settings(url, env))
    try:
        started, cpu = time.perf_counter(), time.process_time()
        apply_lines(app, lines, io.StringIO(), GROUP)
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        app.close()


def measure_commands(customers: int, rounds: int, fresh: Callable[[], str]) -> dict[str, float]:
    """Commands/s with the log on and off in ``rounds`` short rounds, each an on and an off run
    back to back on fresh stores (which goes first alternates). On a shared, noisy machine the
    figure to trust is the median of the per-round ratios (both runs of a round see about the
    same load), with the ratio of CPU seconds beside it (the load barely changes that one)."""
    lines = [json.dumps(c) for c in generate(customers=customers, expiry_days=0)]
    on: list[float] = []
    off: list[float] = []
    ratios: list[float] = []
    cpu_ratios: list[float] = []
    _apply(fresh(), lines, True)  # warm-up (imports, caches), not counted
    for r in range(rounds):
        seconds: dict[bool, tuple[float, float]] = {}
        for audit in ((True, False) if r % 2 == 0 else (False, True)):
            seconds[audit] = _apply(fresh(), lines, audit)
        (wall_on, cpu_on), (wall_off, cpu_off) = seconds[True], seconds[False]
        on.append(len(lines) / wall_on)
        off.append(len(lines) / wall_off)
        ratios.append(wall_off / wall_on)
        cpu_ratios.append(cpu_off / cpu_on)
    return {
        "on": statistics.median(on),
        "off": statistics.median(off),
        "ratio": statistics.median(ratios),
        "cpu_ratio": statistics.median(cpu_ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "rounds": float(rounds),
        "commands": float(len(lines)),
    }


def _verify_once(url: str, env: dict[str, str]) -> tuple[int, float]:
    from ledger.audit.service import Audit, load_signer

    app = LedgerApplication(load_settings(url, env))
    try:
        verifier = load_signer(app.settings).verifier
        started = time.perf_counter()
        report = Audit(app).verify(verifier)
        seconds = time.perf_counter() - started
        if not report.ok:
            raise RuntimeError(f"verify failed on the benchmark ledger: {report.findings[:3]}")
        return report.events, seconds
    finally:
        app.close()


def _decode_once(url: str, env: dict[str, str]) -> tuple[int, float]:
    app = LedgerApplication(load_settings(url, env))
    try:
        started = time.perf_counter()
        count, start = 0, 1
        to_domain_event = app.mapper.to_domain_event
        while True:
            page = app.recorder.select_notifications(start, 5000)
            for notification in page:
                to_domain_event(notification)
            count += len(page)
            if len(page) < 5000:
                break
            start = page[-1].id + 1
        return count, time.perf_counter() - started
    finally:
        app.close()


def measure_verify(url: str, rounds: int, key_file: Path) -> dict[str, float]:
    """Median events/s of ``ledger verify`` and of reading + decoding every event, alternating."""
    from ledger.audit.service import Audit, load_signer

    env = {"LEDGER_SECRET_KEY": "bench", "LEDGER_SIGNING_KEY_FILE": str(key_file)}
    app = LedgerApplication(load_settings(url, env))
    try:
        Audit(app).checkpoint(load_signer(app.settings))
    finally:
        app.close()
    verify, decode, ratios = [], [], []
    events = 0
    for r in range(rounds):
        rates: dict[str, float] = {}
        for mode in (("verify", "decode") if r % 2 == 0 else ("decode", "verify")):
            n, seconds = (_verify_once if mode == "verify" else _decode_once)(url, env)
            events = n
            rates[mode] = n / seconds
        verify.append(rates["verify"])
        decode.append(rates["decode"])
        ratios.append(rates["verify"] / rates["decode"])
    return {"verify": statistics.median(verify), "decode": statistics.median(decode),
            "ratio": statistics.median(ratios), "events": float(events)}


def build_synthetic(url: str, leaves: int, key_file: Path) -> tuple[LedgerApplication, list[tuple[uuid.UUID, int]]]:
    """An audit log of ``leaves`` synthetic entries (real entry format, leaves and nodes), signed."""
    from ledger.audit.service import Audit, load_signer

    env = {"LEDGER_SECRET_KEY": "bench", "LEDGER_SIGNING_KEY_FILE": str(key_file)}
    app = LedgerApplication(load_settings(url, env))
    audit = Audit(app)
    state = json.dumps({
        "timestamp": {"_type_": "datetime_iso", "_data_": "2026-05-01T09:00:01+00:00"},
        "at": {"_type_": "datetime_iso", "_data_": "2026-05-01T09:00:00+00:00"},
        "actor": "ops", "po_number": "PO-1", "service": "select", "years": 3, "quantity": 10,
        "end_customer": {"company": "Acme", "email": "it@acme.example", "address": {"city": "Oslo"}},
    }).encode()
    topic = "aggregates.customer:Customer.OrderPlaced"
    keys: list[tuple[uuid.UUID, int]] = []
    batch = 20_000
    with audit.writing() as curs:
        head = audit.log.read_head(curs) or audit.log._create_head(curs, complete=True)
    done = 0
    while done < leaves:
        rows = []
        for i in range(done, min(leaves, done + batch)):
            aggregate = uuid.UUID(int=i // 50 + 1)
            version = i % 50 + 1
            keys.append((aggregate, version))
            rows.append((i + 1, StoredEvent(aggregate, version, topic, state)))
        with audit.writing() as curs:
            head = audit.log.read_head(curs)
            assert head is not None
            audit.log._append(curs, head, rows)
        done += len(rows)
    audit.checkpoint(load_signer(app.settings))
    return app, keys


def measure_proofs(url: str, leaves: int, samples: int, key_file: Path) -> dict[str, float]:
    import random

    from ledger.audit.service import Audit, load_signer

    started = time.perf_counter()
    app, keys = build_synthetic(url, leaves, key_file)
    built = time.perf_counter() - started
    try:
        audit, signer = Audit(app), load_signer(app.settings)
        rng = random.Random(7)
        proof_ms, read_ms = [], []
        for _ in range(samples):
            aggregate, version = keys[rng.randrange(len(keys))]
            t = time.perf_counter()
            proof = audit.proof(aggregate, version, signer)
            proof.bundle.render()
            proof_ms.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            audit.find(aggregate, version)
            read_ms.append((time.perf_counter() - t) * 1000)
        proof.bundle.verify(signer.verifier)
        return {
            "leaves": float(leaves),
            "build_s": built,
            "proof_p50_ms": statistics.median(proof_ms),
            "proof_p99_ms": percentile(proof_ms, 99),
            "read_p50_ms": statistics.median(read_ms),
            "read_p99_ms": percentile(read_ms, 99),
            "path_length": float(len(proof.bundle.path)),
            "db_mb": sum(f.stat().st_size for f in (Path(url), Path(url + "-wal")) if f.is_file()) / 1e6,
        }
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--leaves", type=int, default=None, help="synthetic log size for proofs (1,000,000)")
    parser.add_argument("--only", choices=("commands", "verify", "proofs"), help="one figure only")
    parser.add_argument("--postgres", action="store_true", help="also the commands rounds on PostgreSQL")
    parser.add_argument("--folder", metavar="DIR", help="work here; a verify.db left by an earlier run is reused")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    if args.folder:
        folder = Path(args.folder)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("c*.db*"):
            old.unlink()
        for old in folder.glob("proofs.*"):
            old.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="ledger-audit-bench-"))
    counter = iter(range(1_000_000))
    figures = run(folder, args.quick, args.leaves, lambda: str(folder / f"c{next(counter)}.db"), args.only)
    if args.postgres and args.only in (None, "commands"):
        from tests.kit.pg import fresh_database_url

        c = measure_commands(8 if args.quick else 20, 3 if args.quick else 9, fresh_database_url)
        figures["postgres_audit_commands_per_s_on"] = c["on"]
        figures["postgres_audit_commands_per_s_off"] = c["off"]
        figures["postgres_audit_on_over_off_median_round_ratio"] = c["ratio"]
        figures["postgres_audit_on_over_off_client_cpu_ratio"] = c["cpu_ratio"]
        figures["postgres_audit_on_over_off_ratio_range"] = [c["ratio_min"], c["ratio_max"]]
    print(json.dumps(figures, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


def run(
    folder: Path, quick: bool, leaves: int | None, fresh: Callable[[], str], only: str | None = None
) -> dict[str, Any]:
    """Every audit figure on SQLite (or the ``only`` one)."""
    figures: dict[str, Any] = {}
    if only in (None, "commands"):
        _commands(figures, quick, fresh)
    if only in (None, "verify"):
        _verify(figures, folder, quick)
    if only in (None, "proofs"):
        _proofs(figures, folder, quick, leaves)
    figures["load_average_at_end"] = list(os.getloadavg())
    return figures


def _commands(figures: dict[str, Any], quick: bool, fresh: Callable[[], str]) -> None:
    c = measure_commands(8 if quick else 20, 3 if quick else 9, fresh)
    figures["audit_commands_per_s_on"] = c["on"]
    figures["audit_commands_per_s_off"] = c["off"]
    figures["audit_on_over_off_median_round_ratio"] = c["ratio"]
    figures["audit_on_over_off_cpu_ratio"] = c["cpu_ratio"]
    figures["audit_on_over_off_ratio_range"] = [c["ratio_min"], c["ratio_max"]]
    figures["audit_commands_per_round"] = c["commands"]


def _verify(figures: dict[str, Any], folder: Path, quick: bool) -> None:
    import subprocess
    import sys

    big = folder / "verify.db"
    if not big.exists():  # (a --folder of an earlier run keeps its ledger)
        subprocess.run([sys.executable, "-m", "benchmarks.loader", "--db", str(big), "--customers",
                        "30" if quick else "1500", "--expiry-days", "30" if quick else "730"],
                       check=True, capture_output=True, env={**os.environ, "LEDGER_SECRET_KEY": "bench"})
    v = measure_verify(str(big), 1 if quick else 3, folder / "verify.key")
    figures["verify_events_per_s"] = v["verify"]
    figures["ceiling_verify_read_decode_events_per_s"] = v["decode"]
    figures["verify_events"] = v["events"]
    figures["verify_over_ceiling"] = v["ratio"]


def _proofs(figures: dict[str, Any], folder: Path, quick: bool, leaves: int | None) -> None:
    p = measure_proofs(str(folder / "proofs.db"), leaves or (50_000 if quick else 1_000_000),
                       100 if quick else 1000, folder / "proofs.key")
    figures.update({f"proof_{k}" if not k.startswith("proof") else k: val for k, val in p.items()})


if __name__ == "__main__":
    raise SystemExit(main())
