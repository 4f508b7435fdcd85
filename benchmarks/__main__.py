"""One entry point for the ledger's measurements, each against a baseline in the same run.

    python -m benchmarks [--quick] [--json FILE]

Prints a table of medians and ratios (never a bare absolute time alone). PostgreSQL parts run when
a server is reachable (LEDGER_TEST_PG_URL or .cache/pg-url, as `scripts/postgres.sh start` leaves);
the stream part when a broker answers on 127.0.0.1:9092 (`scripts/kafka.sh start`); the HTTP part
(``benchmarks.http``) on SQLite, and on PostgreSQL too outside ``--quick``; the support part
(``benchmarks.support``: room import against ``ledger apply``, the tickets view as of a past date).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def _pg_available() -> bool:
    try:
        from tests.kit.pg import fresh_database_url

        fresh_database_url()
        return True
    except Exception:
        return False


def _broker_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 9092), timeout=1):
            return True
    except OSError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute: proves it works")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)
    quick = args.quick
    figures: dict[str, Any] = {"quick": quick}
    rows: list[tuple[str, str, str, str]] = []
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-"))

    from benchmarks import commands

    rounds = 1 if quick else 3
    customers = 8 if quick else 60

    def sqlite_store(n: int) -> str:
        return str(folder / f"cmd-{n}.db")

    c = commands.measure("sqlite", customers, rounds, sqlite_store)
    figures.setdefault("commands_per_s", {})["sqlite"] = c["ledger"]
    figures.setdefault("baseline_commands_per_s", {})["sqlite"] = c["naive"]
    figures.setdefault("ceiling_commands_per_s", {})["sqlite"] = c["raw"]
    rows.append(("commands/s SQLite (apply, group commit)", f"{c['ledger']:,.0f}",
                 f"naive {c['naive']:,.0f} · raw {c['raw']:,.0f}",
                 f"×{c['ledger'] / c['naive']:.2f} naive, {c['ledger'] / c['raw']:.2f} of raw"))
    pg = _pg_available()
    if pg:
        from tests.kit.pg import fresh_database_url

        c = commands.measure("postgres", customers, rounds, lambda n: fresh_database_url())
        figures["commands_per_s"]["postgres"] = c["ledger"]
        figures["baseline_commands_per_s"]["postgres"] = c["naive"]
        figures.setdefault("ceiling_commands_per_s", {})["postgres"] = c["raw"]
        rows.append(("commands/s PostgreSQL (apply, group commit)", f"{c['ledger']:,.0f}",
                     f"naive {c['naive']:,.0f} · raw {c['raw']:,.0f}",
                     f"×{c['ledger'] / c['naive']:.2f} naive, {c['ledger'] / c['raw']:.2f} of raw"))

    from benchmarks import replay

    big = folder / "rebuild.db"
    subprocess.run([sys.executable, "-m", "benchmarks.loader", "--db", str(big), "--customers",
                    "30" if quick else "1500", "--expiry-days", "30" if quick else "730"],
                   check=True, capture_output=True)
    r = replay.measure(str(big), rounds)
    figures["rebuild_events_per_s"] = r["rebuild"]["events_per_s"]
    figures["ceiling_rebuild_events_per_s"] = r["decode"]["events_per_s"]
    figures["rebuild_peak_rss_mb"] = r["rebuild"]["peak_rss_mb"]
    figures["rebuild_events"] = r["rebuild"]["events"]
    figures["raw_read_events_per_s"] = {"sqlite": r["raw"]["events_per_s"]}
    rows.append((f"rebuild of all views ({r['rebuild']['events']:,.0f} events)",
                 f"{r['rebuild']['events_per_s']:,.0f} ev/s",
                 f"read+decode {r['decode']['events_per_s']:,.0f} ev/s · raw read {r['raw']['events_per_s']:,.0f} ev/s",
                 f"{r['rebuild']['events_per_s'] / r['decode']['events_per_s']:.2f} of read+decode, "
                 f"{r['rebuild']['events_per_s'] / r['raw']['events_per_s']:.2f} of raw read (target ≥ 0.35); "
                 f"peak {r['rebuild']['peak_rss_mb']:.0f} MB"))

    from benchmarks import audit as audit_bench

    counter = iter(range(1_000_000))
    audit_customers, audit_rounds = (8, 3) if quick else (20, 9)  # short rounds, median of per-round ratios
    a = audit_bench.measure_commands(audit_customers, audit_rounds, lambda: str(folder / f"audit-{next(counter)}.db"))
    figures["audit_commands_per_s_on"] = {"sqlite": a["on"]}
    figures["audit_commands_per_s_off"] = {"sqlite": a["off"]}
    figures["audit_on_over_off"] = {"sqlite": {"median_round_ratio": a["ratio"], "cpu_ratio": a["cpu_ratio"]}}
    rows.append(("commands/s SQLite, audit log on", f"{a['on']:,.0f}", f"log off {a['off']:,.0f}",
                 f"{a['ratio']:.2f} of off, median of {a['rounds']:.0f} rounds ({a['ratio_min']:.2f}–"
                 f"{a['ratio_max']:.2f}); CPU {a['cpu_ratio']:.2f} (target ≥ 0.85)"))
    if pg:
        from tests.kit.pg import fresh_database_url

        a = audit_bench.measure_commands(audit_customers, audit_rounds, fresh_database_url)
        figures["audit_commands_per_s_on"]["postgres"] = a["on"]
        figures["audit_commands_per_s_off"]["postgres"] = a["off"]
        figures["audit_on_over_off"]["postgres"] = {"median_round_ratio": a["ratio"],
                                                    "client_cpu_ratio": a["cpu_ratio"]}
        rows.append(("commands/s PostgreSQL, audit log on", f"{a['on']:,.0f}", f"log off {a['off']:,.0f}",
                     f"{a['ratio']:.2f} of off, median of {a['rounds']:.0f} rounds ({a['ratio_min']:.2f}–"
                     f"{a['ratio_max']:.2f}); client CPU {a['cpu_ratio']:.2f} (target ≥ 0.85)"))
    v = audit_bench.measure_verify(str(big), rounds, folder / "verify.key")
    figures["verify_events_per_s"] = v["verify"]
    figures["ceiling_verify_read_decode_events_per_s"] = v["decode"]
    rows.append((f"ledger verify ({v['events']:,.0f} events)", f"{v['verify']:,.0f} ev/s",
                 f"read+decode {v['decode']:,.0f} ev/s", f"{v['verify'] / v['decode']:.2f} of ceiling (target ≥ 0.5)"))
    leaves = 20_000 if quick else 1_000_000
    p = audit_bench.measure_proofs(str(folder / "proofs.db"), leaves, 100 if quick else 1000, folder / "proofs.key")
    figures["proof_leaves"] = leaves
    figures["proof_p50_ms"] = p["proof_p50_ms"]
    figures["proof_p99_ms"] = p["proof_p99_ms"]
    figures["baseline_entry_read_p99_ms"] = p["read_p99_ms"]
    figures["proof_db_mb"] = p["db_mb"]
    rows.append((f"proof generation, synthetic log of {leaves:,} leaves ({p['db_mb']:,.0f} MB)",
                 f"p99 {p['proof_p99_ms']:.1f} ms",
                 f"one entry read p99 {p['read_p99_ms']:.1f} ms",
                 f"p50 {p['proof_p50_ms']:.1f} ms (target p99 < 20 ms at 1M)"))

    if pg:
        from tests.kit.pg import fresh_database_url

        url = fresh_database_url()
        subprocess.run([sys.executable, "-m", "benchmarks.loader", "--db", url, "--customers",
                        "30" if quick else "300", "--expiry-days", "30" if quick else "365"],
                       check=True, capture_output=True)
        rates: dict[str, list[float]] = {"ours": [], "runner": [], "raw": []}
        for i in range(rounds):
            for kind in (("ours", "runner", "raw") if i % 2 == 0 else ("raw", "runner", "ours")):
                module = {
                    "ours": ["benchmarks.replay", "--db", url, "--one", "rebuild"],
                    "raw": ["benchmarks.replay", "--db", url, "--one", "raw"],
                    "runner": ["benchmarks.runner_baseline", "--db", url],
                }[kind]
                out = subprocess.run([sys.executable, "-m", *module], capture_output=True, text=True, check=True)
                rates[kind].append(json.loads(out.stdout.strip().splitlines()[-1])["events_per_s"])
        ours, runner, raw = (statistics.median(rates[k]) for k in ("ours", "runner", "raw"))
        figures["rebuild_events_per_s_postgres"] = ours
        figures["baseline_rebuild_events_per_s"] = runner
        figures["raw_read_events_per_s"]["postgres"] = raw
        rows.append(("rebuild on PostgreSQL (batched catch-up)", f"{ours:,.0f} ev/s",
                     f"library ProjectionRunner {runner:,.0f} ev/s · raw read {raw:,.0f} ev/s",
                     f"×{ours / runner:.1f} runner, {ours / raw:.2f} of raw read"))

    from benchmarks import asof as asof_bench

    for events, key in ((2000, "") if quick else (10_000, ""), (5000, "_big") if quick else (100_000, "_100k")):
        m = asof_bench.measure(str(folder / f"asof{key}.db"), events, 10 if quick else 40)
        figures[f"asof_p50_ms{key}"] = m["asof_p50_ms"]
        figures[f"asof_p99_ms{key}"] = m["asof_p99_ms"]
        figures[f"baseline_full_fold_p50_ms{key}"] = m["full_p50_ms"]
        figures[f"asof_events{key}"] = m["events"]
        target = " (target < 25 ms)" if key == "" else " (target < 100 ms)" if key == "_100k" else ""
        rows.append((f"as-of rooms view, one customer of {m['events']:,.0f} events", f"p50 {m['asof_p50_ms']:.0f} ms",
                     f"full fold p50 {m['full_p50_ms']:.0f} ms",
                     f"p99 {m['asof_p99_ms']:.0f} ms{target}; ×{m['full_p50_ms'] / m['asof_p50_ms']:.1f}"))

    if pg:
        out = subprocess.run([sys.executable, "-m", "benchmarks.pg_scaling", "--total", "200" if quick else "1200",
                              "--rounds", "1" if quick else "3", "--json", str(folder / "pg.json")],
                             capture_output=True, text=True)
        if out.returncode == 0 and (folder / "pg.json").exists():
            scaling = json.loads((folder / "pg.json").read_text())
            figures["pg_scaling"] = scaling
            per_writers = " / ".join(f"{scaling[k]:,.0f}" for k in ("1", "2", "4"))
            rows.append(("PostgreSQL writers 1/2/4 (commands/s)", per_writers, "1 writer",
                         f"×{scaling['2'] / scaling['1']:.2f}, ×{scaling['4'] / scaling['1']:.2f}"))
    if _broker_available():
        size = ["--customers", "10", "--events-per-customer", "200", "--rounds", "1", "--commands", "100"]
        size = size if quick else []
        out = subprocess.run([sys.executable, "-m", "benchmarks.stream", "--json", str(folder / "stream.json"), *size],
                             capture_output=True, text=True)
        if out.returncode == 0 and (folder / "stream.json").exists():
            stream = json.loads((folder / "stream.json").read_text())
            figures.update(stream)
            rows.append(("stream: relay (events/s)", f"{stream['relay_events_per_s']:,.0f}",
                         f"bare producer {stream['baseline_producer_events_per_s']:,.0f}",
                         f"{stream['relay_events_per_s'] / stream['baseline_producer_events_per_s']:.2f} of bare"))
            if "e2e_p99_ms" in stream:
                rows.append(("append → consumer latency", f"p50 {stream['e2e_p50_ms']:.0f} ms",
                             "-", f"p99 {stream['e2e_p99_ms']:.0f} ms"))
        else:
            rows.append(("stream", "failed", out.stderr.strip().splitlines()[-1] if out.stderr else "", ""))
    else:
        rows.append(("stream", "skipped", "no broker on 127.0.0.1:9092 (scripts/kafka.sh start)", ""))

    http_backends = "sqlite" if quick or not pg else "both"
    out = subprocess.run([sys.executable, "-m", "benchmarks.http", "--backend", http_backends,
                          "--json", str(folder / "http.json"), *(["--quick"] if quick else [])],
                         capture_output=True, text=True)
    if out.returncode == 0 and (folder / "http.json").exists():
        http = json.loads((folder / "http.json").read_text())
        figures.update(http)
        for backend in ("sqlite", "postgres"):
            key = f"http_{backend}_64"
            if f"{key}_commands_per_s" not in http:
                continue
            rate, local = http[f"{key}_commands_per_s"], http[f"{key}_inprocess_commands_per_s"]
            views, noop = http[f"{key}_views_per_s"], http[f"{key}_noop_per_s"]
            rows.append((f"HTTP {backend}, 64 clients: POST /v1/commands", f"{rate:,.0f} cmd/s",
                         f"in-process {local:,.0f} cmd/s",
                         f"{rate / local:.2f} of in-process; p99 {http[f'{key}_commands_p99_ms']:.0f} ms"))
            rows.append((f"HTTP {backend}, 64 clients: GET rooms view", f"{views:,.0f} req/s",
                         f"do-nothing {noop:,.0f} req/s", f"{views / noop:.2f} of do-nothing"))
            if f"{key}_page_per_s" in http:
                page = http[f"{key}_page_per_s"]
                rows.append((f"HTTP {backend}, 64 clients: GET rooms, a page of 50", f"{page:,.0f} req/s",
                             f"do-nothing {noop:,.0f} req/s", f"{page / noop:.2f} of do-nothing"))
    else:
        rows.append(("HTTP", "failed", out.stderr.strip().splitlines()[-1] if out.stderr else "", ""))

    out = subprocess.run([sys.executable, "-m", "benchmarks.support", "--json", str(folder / "support.json"),
                          *(["--quick"] if quick else ["--rounds", "1"])], capture_output=True, text=True)
    if out.returncode == 0 and (folder / "support.json").exists():
        support = json.loads((folder / "support.json").read_text())
        figures["support"] = support
        imp, tickets = support["import_rooms"], support["tickets_view"]
        rows.append((f"import-rooms, {imp['rooms']:,} rooms / {imp['devices']:,} devices",
                     f"{imp['import']['events_per_s']:,.0f} events/s",
                     f"ledger apply of the same: {imp['apply']['events_per_s']:,.0f} events/s",
                     f"{imp['ratio_time_import_over_apply']:.2f}× its time (target ≤ 1.5)"))
        rows.append((f"tickets view as of a past date, {tickets['tickets']:,} tickets",
                     f"p50 {tickets['asof_p50_ms']:.0f} ms",
                     f"as-of contracts view p50 {tickets['baseline_asof_contracts_p50_ms']:.0f} ms",
                     f"p99 {tickets['asof_p99_ms']:.0f} ms"))
    else:
        rows.append(("support", "failed", out.stderr.strip().splitlines()[-1] if out.stderr else "", ""))

    from rich.console import Console
    from rich.table import Table

    table = Table(title="Select ledger benchmarks" + (" (quick)" if quick else ""))
    for column in ("measure", "ledger", "baseline in the same run", "ratio"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    Console().print(table)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
