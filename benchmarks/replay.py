"""Rebuild of every read model from the log: events per second and peak memory, against the
ceilings of merely reading and decoding the same log and of the driver's bare select of its
notification rows (nothing decoded), alternating rounds in one invocation.

Each round runs in a fresh process so its peak RSS is its own.

    python -m benchmarks.replay --db /tmp/big.db [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

from ledger.bootstrap import build_app


def _one(db: str, mode: str) -> dict[str, float]:
    app = build_app(db)
    events = app.recorder.max_notification_id() or 0
    started = time.perf_counter()
    if mode == "rebuild":
        from ledger.readside import open_read_models, rebuild_views

        models = open_read_models(app)
        rebuild_views(app, models)
        models.close()
    elif mode == "raw":
        from ledger.library import raw_notification_rows

        start = 1
        while (last := raw_notification_rows(app.recorder, start, 2000)) >= start:
            start = last + 1
    else:
        from projections.store import iter_customer_events

        for _ in iter_customer_events(app.recorder, app.mapper):
            pass
    seconds = time.perf_counter() - started
    app.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"events": events, "seconds": seconds, "events_per_s": events / seconds, "peak_rss_mb": peak_mb}


MODES = ("rebuild", "decode", "raw")


def measure(db: str, rounds: int) -> dict[str, dict[str, float]]:
    results: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    for r in range(rounds):
        order = MODES if r % 2 == 0 else MODES[::-1]
        for mode in order:
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.replay", "--db", db, "--one", mode],
                capture_output=True, text=True, check=True,
            ).stdout
            results[mode].append(json.loads(out.strip().splitlines()[-1]))
    return {
        mode: {
            "events": rows[0]["events"],
            "events_per_s": statistics.median(r["events_per_s"] for r in rows),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rows),
        }
        for mode, rows in results.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", choices=MODES)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(_one(args.db, args.one)))
        return
    figures = measure(args.db, args.rounds)
    rebuild, decode, raw = figures["rebuild"], figures["decode"], figures["raw"]
    print(f"events in the log: {rebuild['events']:.0f}")
    print(f"rebuild of all views: {rebuild['events_per_s']:,.0f} events/s, peak RSS {rebuild['peak_rss_mb']:.0f} MB")
    print(f"ceiling, read+decode: {decode['events_per_s']:,.0f} events/s, peak RSS {decode['peak_rss_mb']:.0f} MB")
    print(f"raw read (driver select, nothing decoded): {raw['events_per_s']:,.0f} events/s")
    print(f"rebuild/read+decode: {rebuild['events_per_s'] / decode['events_per_s']:.2f}, "
          f"rebuild/raw read: {rebuild['events_per_s'] / raw['events_per_s']:.2f}")


if __name__ == "__main__":
    main()
