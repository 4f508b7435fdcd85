"""As-of view latency for one customer with many events (default 10,000), p50 and p99.

Baseline in the same run: folding the same customer's events through the library's repository
(``app.repository.get``, all events, no as-of cut) — the cost of reading the whole history.

    python -m benchmarks.asof [--events 10000] [--queries 50]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from ledger.bootstrap import build_app
from ledger.readside import customer_view_as_of
from tests.kit.big_customer import build_big_customer


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure(db: str, events: int, queries: int) -> dict[str, float]:
    """p50/p99 of the as-of rooms view of one customer of about ``events`` events, and of the baseline
    full fold, interleaved query by query, on a fresh SQLite store at ``db``."""
    app = build_app(db, {"LEDGER_SECRET_KEY": "bench"})
    try:
        customer_id, first, last = build_big_customer(app, events)
        asof: list[float] = []
        full: list[float] = []
        for i in range(queries):
            at = first + (last - first) * (((i * 37) % 100) / 100)
            started = time.perf_counter()
            customer_view_as_of(app, "rooms", customer_id, at)
            asof.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            app.repository.get(customer_id, version=None)
            full.append((time.perf_counter() - started) * 1000)
        return {
            "events": float(app.customer(customer_id).version),
            "asof_p50_ms": statistics.median(asof),
            "asof_p99_ms": percentile(asof, 99),
            "full_p50_ms": statistics.median(full),
            "full_p99_ms": percentile(full, 99),
        }
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        m = measure(str(Path(folder) / "l.db"), args.events, args.queries)
    print(f"customer with {m['events']:.0f} events")
    print(f"as-of rooms view: p50 {m['asof_p50_ms']:.1f} ms, p99 {m['asof_p99_ms']:.1f} ms")
    print(f"baseline full fold (library repository): p50 {m['full_p50_ms']:.1f} ms, p99 {m['full_p99_ms']:.1f} ms")
    print(f"ratio as-of/baseline p50: {m['asof_p50_ms'] / m['full_p50_ms']:.2f}")


if __name__ == "__main__":
    main()
