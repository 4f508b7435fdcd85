"""Commands per second through ``ledger apply``'s code path (group commit), against
(a) a plain ``eventsourcing`` application doing the same writes naively, one save per command, and
(b) raw driver inserts of the same rows, one transaction per group (the ceiling).

All three write the same events: the ledger's run is recorded first, then replayed as plans.
"""

from __future__ import annotations

import io
import json
import sqlite3
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event

from ledger.bootstrap import build_app
from ledger.cli import apply_lines
from ledger.config import load_settings
from ledger.demo import generate

GROUP = 200


class Generic(Aggregate):
    """The naive baseline's aggregate: one event type carrying the same payload."""

    class Started(Aggregate.Created):
        data: dict[str, Any]

    class Happened(Aggregate.Event):
        data: dict[str, Any]

    @event(Started)
    def __init__(self, data: dict[str, Any]) -> None:
        self.count = 1

    @event(Happened)
    def happened(self, data: dict[str, Any]) -> None:
        self.count += 1


def workload_lines(customers: int) -> list[str]:
    return [json.dumps(c) for c in generate(customers=customers, expiry_days=0)]


def run_ledger(url: str, lines: list[str]) -> tuple[float, list[list[tuple[UUID, str, bytes]]]]:
    """Apply through the command line's code path; return seconds and, per command, its rows."""
    app = build_app(url, {"LEDGER_SECRET_KEY": "bench"})
    out = io.StringIO()
    started = time.perf_counter()
    apply_lines(app, lines, out, GROUP)
    seconds = time.perf_counter() - started
    by_position = {n.id: n for n in app.recorder.select_notifications(1, 10_000_000)}
    plans = []
    for line in out.getvalue().splitlines():
        result = json.loads(line)
        if result.get("ok"):
            rows = [by_position[e["position"]] for e in result["events"]]
            plans.append([(UUID(str(n.originator_id)), n.topic, n.state) for n in rows])
    app.close()
    return seconds, plans


def run_naive(env: dict[str, str], plans: list[list[tuple[UUID, str, bytes]]]) -> float:
    """A plain application: load each aggregate from its events, append, one save per command."""
    app: Application[UUID] = Application(env={**env, "CREATE_TABLE": "y"})
    started = time.perf_counter()
    for plan in plans:
        touched: dict[UUID, Generic] = {}
        for aggregate_id, _, state in plan:
            data = {"state": state.decode()}
            agg = touched.get(aggregate_id)
            if agg is None:
                try:
                    agg = app.repository.get(aggregate_id)
                except AggregateNotFoundError:
                    agg = Generic._create(Generic.Started, id=aggregate_id, data=data)
                    touched[aggregate_id] = agg
                    continue
                touched[aggregate_id] = agg
            agg.happened(data=data)
        app.save(*touched.values())
    seconds = time.perf_counter() - started
    app.close()
    return seconds


def run_raw_sqlite(path: Path, plans: list[list[tuple[UUID, str, bytes]]]) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
        "PRIMARY KEY (originator_id, originator_version))"
    )
    versions: dict[UUID, int] = {}
    started = time.perf_counter()
    for i in range(0, len(plans), GROUP):
        rows = []
        for plan in plans[i : i + GROUP]:
            for aggregate_id, topic, state in plan:
                versions[aggregate_id] = versions.get(aggregate_id, 0) + 1
                rows.append((aggregate_id.hex, versions[aggregate_id], topic, state))
        with conn:
            conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", rows)
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def run_raw_postgres(url: str, plans: list[list[tuple[UUID, str, bytes]]]) -> float:
    import psycopg

    base, _, query = url.partition("?schema=")
    with psycopg.connect(base) as conn:
        conn.execute(f'SET search_path TO "{query}"' if query else "SELECT 1")
        conn.execute(
            "CREATE TABLE raw_events (originator_id uuid, originator_version int, topic text, state bytea, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        conn.commit()
        versions: dict[UUID, int] = {}
        started = time.perf_counter()
        for i in range(0, len(plans), GROUP):
            rows = []
            for plan in plans[i : i + GROUP]:
                for aggregate_id, topic, state in plan:
                    versions[aggregate_id] = versions.get(aggregate_id, 0) + 1
                    rows.append((aggregate_id, versions[aggregate_id], topic, state))
            with conn.cursor() as cur:
                cur.executemany("INSERT INTO raw_events VALUES (%s, %s, %s, %s)", rows)
            conn.commit()
        return time.perf_counter() - started


def measure(
    backend: str, customers: int, rounds: int, fresh: Callable[[int], str]
) -> dict[str, float]:
    """Median commands/s of the ledger, the naive baseline and the raw ceiling, alternating."""
    lines = workload_lines(customers)
    ledger, naive, raw = [], [], []
    n = 0
    for r in range(rounds):
        url = fresh(n := n + 1)
        seconds, plans = run_ledger(url, lines)
        commands = len(plans)
        ledger.append(commands / seconds)
        order = ("naive", "raw") if r % 2 == 0 else ("raw", "naive")
        for kind in order:
            target = fresh(n := n + 1)
            if kind == "naive":
                env = dict(load_settings(target, {"LEDGER_SECRET_KEY": "bench"}).store.env)
                naive.append(commands / run_naive(env, plans))
            elif backend == "sqlite":
                raw.append(commands / run_raw_sqlite(Path(target), plans))
            else:
                raw.append(commands / run_raw_postgres(target, plans))
    return {
        "ledger": statistics.median(ledger),
        "naive": statistics.median(naive),
        "raw": statistics.median(raw),
        "commands": float(len(lines)),
    }
