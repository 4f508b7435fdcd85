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
from datetime import timedelta
from pathlib import Path

from ledger.bootstrap import build_app
from ledger.readside import customer_view_as_of
from tests.kit.big_customer import build_big_customer


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(str(Path(folder) / "l.db"), {"LEDGER_SECRET_KEY": "b"})
        customer_id, first, last = build_big_customer(app, args.events)
        print(f"customer with {app.customer(customer_id).version} events")
        asof: list[float] = []
        full: list[float] = []
        span = (last - first).total_seconds()
        for i in range(args.queries):
            at = first + timedelta(seconds=span * ((i * 37) % 100) / 100)
            started = time.perf_counter()
            customer_view_as_of(app, "rooms", customer_id, at)
            asof.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            app.repository.get(customer_id, version=None)
            full.append((time.perf_counter() - started) * 1000)
        print(f"as-of rooms view: p50 {statistics.median(asof):.1f} ms, p99 {percentile(asof, 99):.1f} ms")
        print(f"baseline full fold (library repository): p50 {statistics.median(full):.1f} ms, "
              f"p99 {percentile(full, 99):.1f} ms")
        print(f"ratio as-of/baseline p50: {statistics.median(asof) / statistics.median(full):.2f}")
        app.close()


if __name__ == "__main__":
    main()
