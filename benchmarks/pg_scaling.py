"""Commands per second with 1, 2 and 4 writer processes on the same customers (PostgreSQL by default).

Every configuration runs the same commands: the mixed workload of ``tests.kit.contention`` for four
"virtual writers" (``--total`` commands in all, on ``--customers`` shared customers). With N writer
processes, process k runs the virtual writers assigned to it one after another, so 1 process runs all
four in turn and 4 processes run one each: the same command mix, more or less of it at once.

Each round starts from a fresh store (a new PostgreSQL schema, or a new SQLite file), and the order of
the configurations alternates from round to round (1-2-4, then 4-2-1, ...) so that warm-up and
background load do not favour one of them. Time is measured from the moment all writers have passed
their start barrier (application built, connections open) to the last writer's last command. The
table shows the median of the rounds and its ratio to 1 writer.

    scripts/postgres.sh start
    python -m benchmarks.pg_scaling [--total 1200] [--rounds 3] [--writers 1,2,4] [--backend postgres]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from ledger.bootstrap import build_app, wire
from ledger.config import load_settings
from tests.kit.contention import Barrier, RaceApp, execute, mixed_commands, read_results, run_commands, setup_commands

VIRTUAL_WRITERS = 4
ENV = {"LEDGER_SECRET_KEY": "benchmark"}


def writer(
    db_url: str, virtual: list[int], per_virtual: int, customers: int, out: str, barrier: Barrier,
    environ: dict[str, str],
) -> None:
    """One writer process: run the commands of its virtual writers in turn; write results and times."""
    commands = [c for v in virtual for c in mixed_commands(v, per_virtual, customers)]
    app = wire(RaceApp, load_settings(db_url, environ))  # the ledger application, counting lost races
    try:
        barrier.wait(timeout=120)
        times = run_commands(app, commands, Path(out), virtual[0])
    finally:
        app.close()
    Path(out + ".times").write_text(json.dumps({**times, "lost_races": app.lost_races}), encoding="utf-8")


def fresh_store(backend: str, folder: Path, n: int) -> str:
    if backend == "sqlite":
        return str(folder / f"round{n}.db")
    from tests.kit.pg import fresh_database_url

    return fresh_database_url()


def one_round(
    db_url: str, writers: int, total: int, customers: int, folder: Path, environ: dict[str, str]
) -> dict[str, Any]:
    app = build_app(db_url, environ)
    try:
        for raw in setup_commands():
            assert execute(app, raw)["ok"]
    finally:
        app.close()
    per_virtual = total // VIRTUAL_WRITERS
    assignment = [[v for v in range(VIRTUAL_WRITERS) if v % writers == k] for k in range(writers)]
    spawn = multiprocessing.get_context("spawn")
    barrier = spawn.Barrier(writers)
    outs = [str(folder / f"w{writers}-{k}-{time.monotonic_ns()}.jsonl") for k in range(writers)]
    processes = [
        spawn.Process(target=writer, args=(db_url, assignment[k], per_virtual, customers, outs[k], barrier, environ))
        for k in range(writers)
    ]
    for p in processes:
        p.start()
    for p in processes:
        p.join()
    if any(p.exitcode != 0 for p in processes):
        raise SystemExit(f"a writer process failed ({[p.exitcode for p in processes]})")
    times = [json.loads(Path(out + ".times").read_text()) for out in outs]
    results = [r for out in outs for r in read_results(Path(out))]
    codes = Counter("ok" if r["ok"] else r["code"] for r in results)
    if codes["EXCEPTION"]:
        raise SystemExit("an exception escaped a command; see the results files in " + str(folder))
    elapsed = max(t["end"] for t in times) - min(t["start"] for t in times)
    lost = sum(t["lost_races"] for t in times)
    return {"commands": len(results), "seconds": elapsed, "per_second": len(results) / elapsed, "codes": codes,
            "lost_races": lost}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--backend", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--total", type=int, default=1200, help="commands per configuration (all writers together)")
    parser.add_argument("--customers", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--writers", default="1,2,4")
    parser.add_argument("--pool-size", default=None, help="LEDGER_PG_POOL_SIZE for every writer")
    parser.add_argument("--pre-ping", choices=("y", "n"), default=None, help="LEDGER_PG_PRE_PING for every writer")
    parser.add_argument("--json", metavar="FILE", help="write {writers: median commands/s} to FILE")
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.writers.split(",")]
    environ = dict(ENV)
    if args.pool_size:
        environ["LEDGER_PG_POOL_SIZE"] = args.pool_size
    if args.pre_ping:
        environ["LEDGER_PG_PRE_PING"] = args.pre_ping
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in counts}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for r in range(args.rounds):
            order = counts if r % 2 == 0 else list(reversed(counts))
            for n in order:
                run = one_round(fresh_store(args.backend, folder, len(runs[n]) + 10 * n), n, args.total,
                                args.customers, folder, environ)
                runs[n].append(run)
                print(f"round {r + 1} {n} writer(s): {run['commands']} commands in {run['seconds']:.2f} s "
                      f"= {run['per_second']:.0f}/s ({run['codes']['ok']} accepted, {run['lost_races']} saves "
                      f"retried, {run['codes']['concurrency_conflict']} concurrency_conflict)", flush=True)
    base = statistics.median(run["per_second"] for run in runs[counts[0]])
    print(f"\n{args.backend}: {args.total} mixed commands on {args.customers} shared customers, "
          f"median of {args.rounds} rounds")
    print(f"{'writers':>8} {'commands/s':>11} {'ratio':>6} {'retried saves':>14} {'rounds (commands/s)':>30}")
    for n in counts:
        rates = [run["per_second"] for run in runs[n]]
        median = statistics.median(rates)
        retried = statistics.median(run["lost_races"] for run in runs[n])
        each = " ".join(f"{x:.0f}" for x in rates)
        print(f"{n:>8} {median:>11.0f} {median / base:>6.2f} {retried:>14.0f} {each:>30}")
    if args.json:
        medians = {str(n): statistics.median(run["per_second"] for run in runs[n]) for n in counts}
        Path(args.json).write_text(json.dumps(medians))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
