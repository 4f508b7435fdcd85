"""Room import and the tickets view, each beside a baseline measured in the same run (R24–R28).

- ``ledger import-rooms`` of N rooms with 3 devices each into one customer (a JSON export, read
  streamed) against ``ledger apply`` of the equivalent commands (AddRoom + 3 RegisterDevice a room),
  both the installed command line on fresh SQLite stores, alternating rounds: wall time, events/s,
  peak RSS of the process; and the reader's own peak memory for the file at N and 2N rooms (flat
  when the file is streamed).
- The tickets view of one customer with T tickets as of a past date (folded from the nearest
  snapshot), p50/p99, against the same customer's contracts view as of the same dates (the cost of
  rebuilding the state without rendering tickets) and the live tickets view from the read model.

    python -m benchmarks.support [--rooms 10000] [--tickets 10000] [--rounds 3] [--json FILE] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from aggregates.catalog import normalise_name
from aggregates.ids import room_id_for

ADDRESS = {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
PARTY = {"name": "R", "email": "r@r.example", "address": ADDRESS}
ORDER_AT = "2026-01-05T09:00:00Z"
IMPORT_AT = "2026-01-06T09:00:00Z"
PRODUCTS = ("Rally Bar", "Tap and Tap IP", "Rally Camera")
LEDGER = str(Path(sys.executable).with_name("ledger"))
_RSS = (
    "import resource, subprocess, sys, time\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "s = time.perf_counter() - t\n"
    "print(p.returncode, s, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.stderr.write(p.stderr.decode()[-2000:] if p.returncode > 1 else '')\n"
)


def _order() -> dict[str, Any]:
    return {"command": "PlaceOrder", "at": ORDER_AT, "actor": "ops", "po_number": "BIG-1", "service": "select",
            "years": 5, "quantity": 100_000, "end_customer": {"company": "Big Co", "email": "cio@big.example",
                                                              "address": ADDRESS},
            "reseller": PARTY, "distributor": PARTY}


def _env() -> dict[str, str]:
    return {**os.environ, "LEDGER_SECRET_KEY": "bench"}


def _setup(db: Path) -> tuple[str, str]:
    out = subprocess.run([LEDGER, "apply", "-", "--db", str(db)], input=json.dumps(_order()), text=True,
                         capture_output=True, check=True, env=_env())
    result = json.loads(out.stdout.splitlines()[0])
    return result["customer_id"], result["account_id"]


def _room(i: int) -> dict[str, Any]:
    return {"external_id": f"sync-{i:06d}", "name": f"Room {i:06d}", "site": f"Site {i % 40}", "country": "US",
            "devices": [{"serial_number": f"D{i:06d}-{k}", "product": PRODUCTS[k], "purchased_on": "2025-06-01"}
                        for k in range(3)]}


def write_export(path: Path, rooms: int) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write("[\n")
        for i in range(rooms):
            f.write(("," if i else "") + json.dumps(_room(i)) + "\n")
        f.write("]\n")


def write_commands(path: Path, rooms: int, customer_id: str, account_id: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        for i in range(rooms):
            room = _room(i)
            f.write(json.dumps({"command": "AddRoom", "at": IMPORT_AT, "actor": "ops", "customer_id": customer_id,
                                "account_id": account_id, "name": room["name"], "site": room["site"],
                                "country": "US"}) + "\n")
            room_id = str(room_id_for(UUID(account_id), normalise_name(room["name"])))
            for device in room["devices"]:
                f.write(json.dumps({"command": "RegisterDevice", "at": IMPORT_AT, "actor": "ops",
                                    "customer_id": customer_id, "room_id": room_id, **device}) + "\n")


def _timed(argv: list[str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _RSS, *argv], capture_output=True, text=True, env=_env())
    code, seconds, rss_kb = out.stdout.split()
    if int(code) > 1:
        raise RuntimeError(f"{' '.join(argv[:2])} failed: {out.stderr}")
    return float(seconds), int(rss_kb) / 1024


def _events(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM stored_events").fetchone()[0] or 0)


def reader_peak_kb(path: Path) -> float:
    from ledger.room_import import read_rooms

    tracemalloc.start()
    with path.open("rb") as stream:
        for _ in read_rooms(path, stream):
            pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def measure_import(folder: Path, rooms: int, rounds: int) -> dict[str, Any]:
    export = folder / "rooms.json"
    write_export(export, rooms)
    results: dict[str, list[tuple[float, float, int]]] = {"import": [], "apply": []}
    commands: Path | None = None
    for r in range(rounds):
        for kind in (("import", "apply") if r % 2 == 0 else ("apply", "import")):
            db = folder / f"{kind}-{r}.db"
            customer_id, account_id = _setup(db)
            if kind == "import":
                argv = [LEDGER, "import-rooms", str(export), "--customer", customer_id, "--account", account_id,
                        "--db", str(db), "--at", IMPORT_AT, "--no-progress"]
            else:
                if commands is None:
                    commands = folder / "commands.jsonl"
                    write_commands(commands, rooms, customer_id, account_id)
                argv = [LEDGER, "apply", str(commands), "--db", str(db)]
            before = _events(db)
            seconds, rss = _timed(argv)
            results[kind].append((seconds, rss, _events(db) - before))
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    small = folder / "half.json"
    write_export(small, max(1, rooms // 2))
    out: dict[str, Any] = {"rooms": rooms, "devices": rooms * 3}
    for kind, rows in results.items():
        seconds = statistics.median(s for s, _, _ in rows)
        events = rows[0][2]
        out[kind] = {"seconds": seconds, "events": events, "events_per_s": events / seconds,
                     "rooms_per_s": rooms / seconds, "peak_rss_mb": max(m for _, m, _ in rows)}
    out["ratio_time_import_over_apply"] = out["import"]["seconds"] / out["apply"]["seconds"]
    out["reader_peak_kb"] = {"half": reader_peak_kb(small), "full": reader_peak_kb(export)}
    out["export_mb"] = export.stat().st_size / 2**20
    return out


def build_ticket_customer(app: Any, tickets: int, rooms: int = 200) -> tuple[UUID, datetime, datetime]:
    """One customer with ``rooms`` Select rooms (2 devices each) and ``tickets`` tickets, most worked."""
    from commands.parsing import parse_command

    def run(raw: dict[str, Any]) -> dict[str, Any]:
        return app.execute(parse_command(raw))

    result = run(_order())
    cid, aid = result["customer_id"], result["account_id"]
    t = datetime(2026, 1, 6, 9, tzinfo=UTC)
    batch = []
    room_ids = []
    for i in range(rooms):
        room_ids.append(str(room_id_for(UUID(aid), normalise_name(f"Room {i:06d}"))))
        batch.append({"command": "AddRoom", "at": t.isoformat(), "actor": "ops", "customer_id": cid,
                      "account_id": aid, "name": f"Room {i:06d}", "site": "HQ", "country": "US"})
        batch.append({"command": "AssignLicense", "at": t.isoformat(), "actor": "ops", "customer_id": cid,
                      "room_id": room_ids[-1], "po_number": "BIG-1"})
        for k in range(2):
            batch.append({"command": "RegisterDevice", "at": t.isoformat(), "actor": "ops", "customer_id": cid,
                          "room_id": room_ids[-1], "serial_number": f"T{i:06d}-{k}", "product": PRODUCTS[k],
                          "purchased_on": "2025-06-01"})
    app.execute_many([parse_command(raw) for raw in batch])
    first = t
    severities = ("critical", "high", "normal", "low")
    for start in range(0, tickets, 500):
        commands = []
        for i in range(start, min(tickets, start + 500)):
            t += timedelta(minutes=13)
            commands.append(parse_command({
                "command": "OpenTicket", "at": t.isoformat(), "actor": "ops", "customer_id": cid,
                "room_id": room_ids[i % rooms], "severity": severities[i % 4], "summary": f"Ticket {i}",
                "serial_numbers": [f"T{i % rooms:06d}-0"], "source": "api"}))
        outcomes = app.execute_many(commands)
        follow = []
        for i, outcome in enumerate(outcomes):
            if isinstance(outcome, Exception):
                raise outcome
            if i % 3:
                t += timedelta(minutes=1)
                follow.append(parse_command({"command": "UpdateTicket", "at": t.isoformat(), "actor": "ops",
                                             "customer_id": cid, "ticket_id": outcome["ticket_id"],
                                             "status": "in_progress"}))
        for outcome in app.execute_many(follow):
            if isinstance(outcome, Exception):
                raise outcome
    return UUID(cid), first, t


def measure_tickets(folder: Path, tickets: int, queries: int) -> dict[str, Any]:
    from benchmarks.asof import percentile
    from ledger.app import LedgerApplication
    from ledger.config import load_settings
    from ledger.readside import catch_up, customer_view_as_of, live_view, open_read_models

    app = LedgerApplication(load_settings(str(folder / "tickets.db"), {"LEDGER_SECRET_KEY": "bench"}))
    try:
        customer_id, first, last = build_ticket_customer(app, tickets)
        models = open_read_models(app)
        catch_up(app, models)
        asof, contracts, live = [], [], []
        span = last - first
        rows = 0
        for i in range(queries):
            at = first + span * (0.5 + 0.5 * ((i * 37) % 100) / 100)  # past dates in the second half
            t = time.perf_counter()
            rows = len(customer_view_as_of(app, "tickets", customer_id, at))
            asof.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            customer_view_as_of(app, "contracts", customer_id, at)
            contracts.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            live_view(app, models, "tickets", datetime.now(UTC), customer_id)
            live.append((time.perf_counter() - t) * 1000)
        models.close()
        return {"tickets": tickets, "rows_last_query": rows, "events": app.customer(customer_id).version,
                "asof_p50_ms": statistics.median(asof), "asof_p99_ms": percentile(asof, 99),
                "baseline_asof_contracts_p50_ms": statistics.median(contracts),
                "baseline_live_tickets_p50_ms": statistics.median(live)}
    finally:
        app.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.support", description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=10_000)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="500 rooms, 1,000 tickets, one round")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    if args.quick:
        args.rooms, args.tickets, args.rounds, args.queries = 500, 1000, 1, 10
    figures: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ledger-support-bench-") as tmp:
        folder = Path(tmp)
        imp = measure_import(folder, args.rooms, args.rounds)
        figures["import_rooms"] = imp
        print(f"import-rooms {imp['rooms']:,} rooms / {imp['devices']:,} devices: {imp['import']['seconds']:.1f} s, "
              f"{imp['import']['events_per_s']:,.0f} events/s, peak RSS {imp['import']['peak_rss_mb']:.0f} MB")
        print(f"  baseline apply of the equivalent {imp['rooms'] * 4:,} commands: {imp['apply']['seconds']:.1f} s, "
              f"{imp['apply']['events_per_s']:,.0f} events/s, peak RSS {imp['apply']['peak_rss_mb']:.0f} MB")
        print(f"  ratio import/apply time {imp['ratio_time_import_over_apply']:.2f} (target ≤ 1.5); reader peak "
              f"{imp['reader_peak_kb']['half']:.0f} KB at half the file, {imp['reader_peak_kb']['full']:.0f} KB "
              f"at the whole {imp['export_mb']:.1f} MB file")
        tickets = measure_tickets(folder, args.tickets, args.queries)
        figures["tickets_view"] = tickets
        print(f"tickets view as of a past date, {tickets['tickets']:,} tickets ({tickets['events']:,} events): "
              f"p50 {tickets['asof_p50_ms']:.0f} ms, p99 {tickets['asof_p99_ms']:.0f} ms")
        print(f"  baselines: as-of contracts view of the same customer p50 "
              f"{tickets['baseline_asof_contracts_p50_ms']:.0f} ms; live tickets view (read model) p50 "
              f"{tickets['baseline_live_tickets_p50_ms']:.0f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
