"""Soak: the mixed portal workload at a fixed rate through HTTP on PostgreSQL, with the consumers running.

    python -m benchmarks.soak [--duration 300] [--rate 20] [--customers 200] [--cache-events 3000]
                              [--ceiling 64] [--json FILE]

Starts ``ledger serve`` on a fresh PostgreSQL schema (``LEDGER_TEST_PG_URL`` or ``.cache/pg-url``),
``ledger project --follow``, ``ledger relay --follow`` (topic of its own on the broker at
``LEDGER_TEST_KAFKA``/127.0.0.1:9092) and ``ledger notify --follow`` (to an SMTP server on loopback),
each with ``--metrics-port``. Sends the workload's commands (``ledger.demo.generate``, ops key,
without ``actor``; invitation acceptances left out, they need the invitee's own sign-in) at ``--rate``
per second, on a fixed schedule. Every 2 s it scrapes each consumer's ``ledger_consumer_lag_seconds``,
the server's aggregate cache (``ledger_aggregate_cache_events``) and the events in the store (the
contracts view's position), and reads every process's RSS. Prints p50/p99 command latency, each
consumer's lag in seconds (p50, p99, max; target p99 < 2 s) and RSS at start and end, with RSS at each
quarter of the run.

RSS flat is judged fairly, per process: over the *judged window*, from the later of the run's half
and the moment the server's cache first reached its bound (``--cache-events``, given to ``ledger
serve`` as ``LEDGER_AGGREGATE_CACHE_EVENTS``; before that the server's memory grows with the data by
design), the least-squares slope of RSS in KiB/min, the growth in KiB per 1000 events recorded in the
window, and the data's growth over it (events at its end over events at its start). A process is
``flat`` when that slope is at most ``--ceiling`` KiB/min (default 64: about 3.8 MiB an hour, a
fourteenth of the 870 KiB/min the server grew with a count-bounded cache) — else ``not flat``. A
window shorter than 3 minutes gives no verdict. Not in the test command.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from aggregates.customer import Customer
from ledger.demo import generate
from tests.kit.http import LEDGER, SECRET, Server, create_key, free_port, ledger_cli
from tests.kit.pg import fresh_database_url

KAFKA = os.environ.get("LEDGER_TEST_KAFKA", "127.0.0.1:9092")


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        return "250 OK"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def lag_seconds(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    out = {}
    for line in text.splitlines():
        if line.startswith("ledger_consumer_lag_seconds{"):
            name = line.split('consumer="', 1)[1].split('"', 1)[0]
            out[name] = float(line.rsplit(" ", 1)[1])
    return out


def customer_key(body: dict[str, Any]) -> str:
    """Which customer a command is for (an order without ``customer_id``: the one its company makes)."""
    if body.get("customer_id"):
        return str(body["customer_id"])
    party = body.get("end_customer")
    if isinstance(party, dict):
        return str(Customer.create_id(Customer.key_for(party["company"], party.get("parent_company"))))
    return "global"


def pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300.0)
    parser.add_argument("--rate", type=float, default=20.0, help="commands per second")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--senders", type=int, default=8, help="concurrent HTTP clients (default 8)")
    parser.add_argument("--cache-events", type=int, default=3000,
                        help="the server's LEDGER_AGGREGATE_CACHE_EVENTS (default 3000, so it fills early; 0: "
                             "the product's default)")
    parser.add_argument("--ceiling", type=float, default=64.0, help="flat: RSS slope at most this, KiB/min")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()

    db = fresh_database_url()
    folder = Path(tempfile.mkdtemp(prefix="ledger-soak-"))
    topic = f"soak.{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "LEDGER_SECRET_KEY": SECRET}
    sink = Sink()
    smtp_port = free_port()
    smtp = Controller(sink, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    ledger_cli(db, "api-key", "list")
    cache_env = {"LEDGER_AGGREGATE_CACHE_EVENTS": str(args.cache_events)} if args.cache_events else {}
    server = Server(db, log=folder / "serve.log", env=cache_env).start()
    key = create_key(db, "soak", "--role", "ops")
    ports = {"project": free_port(), "relay": free_port(), "notify": free_port()}

    def spawn(name: str, *argv: str) -> subprocess.Popen[bytes]:
        log = (folder / f"{name}.log").open("wb")
        return subprocess.Popen([LEDGER, "--db", db, *argv, "--metrics-port", str(ports[name])], stdout=log,
                                stderr=subprocess.STDOUT, env=env)

    procs = {
        "project": spawn("project", "project", "--follow", "--interval", "0.2"),
        "relay": spawn("relay", "relay", "--follow", "--bootstrap-servers", KAFKA, "--topic", topic),
        "notify": spawn("notify", "notify", "--follow", "--bootstrap-servers", KAFKA, "--topic", topic,
                        "--smtp-host", "127.0.0.1", "--smtp-port", str(smtp_port), "--state",
                        str(folder / "notify.db"), "--from-beginning"),
    }
    assert server.process is not None
    pids = {"serve": server.process.pid, **{n: p.pid for n, p in procs.items()}}
    commands = [{k: v for k, v in c.items() if k != "actor"} for c in generate(customers=args.customers, seed=11)
                if c["command"] != "AcceptInvitation"]
    latencies: list[float] = []
    outcomes = {"accepted": 0, "refused": 0, "error": 0}
    lags: dict[str, list[float]] = {}
    stop = threading.Event()
    deadline = time.monotonic() + 120
    for name, port in ports.items():  # every consumer up, its metrics port answering
        while True:
            try:
                lag_seconds(port)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or procs[name].poll() is not None:
                    raise SystemExit(f"soak: {name} did not start; see {folder}/{name}.log") from None
                time.sleep(0.5)
    rss_start = {n: rss_kib(p) for n, p in pids.items()}

    rss_samples: dict[str, list[tuple[float, int]]] = {n: [] for n in pids}
    data_samples: list[tuple[float, float, float, float]] = []  # (t, events in the store, cache events, bound)
    sampling_from = time.monotonic()

    def sampler() -> None:
        while not stop.wait(2.0):
            with contextlib.suppress(httpx.HTTPError, ValueError):
                served = server_figures(server.url)
                data_samples.append((time.monotonic() - sampling_from, *served))
            for name, pid in pids.items():
                with contextlib.suppress(OSError):
                    rss_samples[name].append((time.monotonic() - sampling_from, rss_kib(pid)))
            for name, port in ports.items():
                try:
                    for consumer, value in lag_seconds(port).items():
                        lags.setdefault(consumer, []).append(value)
                except httpx.HTTPError:
                    lags.setdefault(f"{name}:unreachable", []).append(1.0)

    threading.Thread(target=sampler, daemon=True).start()
    # Senders in parallel (the server groups their commands into one commit), one customer's
    # commands always on the same sender, in order; a dispatcher hands them out on the fixed schedule.
    queues: list[queue.Queue[dict[str, Any] | None]] = [queue.Queue() for _ in range(args.senders)]
    lock = threading.Lock()

    def sender(q: queue.Queue[dict[str, Any] | None]) -> None:
        client = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        try:
            while (body := q.get()) is not None:
                t0 = time.perf_counter()
                try:
                    response = client.post("/v1/commands", json=body)
                    outcome = "accepted" if response.status_code == 200 else "refused"
                except httpx.HTTPError:
                    outcome = "error"
                with lock:
                    outcomes[outcome] += 1
                    latencies.append(time.perf_counter() - t0)
        finally:
            client.close()

    workers = [threading.Thread(target=sender, args=(q,), daemon=True) for q in queues]
    for worker in workers:
        worker.start()
    started = time.monotonic()
    sent = 0
    try:
        while time.monotonic() - started < args.duration and sent < len(commands):
            due = started + sent / args.rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            body = commands[sent]
            queues[hash(customer_key(body)) % len(queues)].put(body)
            sent += 1
        for q in queues:
            q.put(None)
        for worker in workers:
            worker.join(120)
        elapsed = time.monotonic() - started
        time.sleep(5)  # let the consumers catch up, then read the end figures
        rss_end = {n: rss_kib(p) for n, p in pids.items()}
        final_lag = {}
        for port in ports.values():
            final_lag.update(lag_seconds(port))
    finally:
        stop.set()
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.stop()
        smtp.stop()
    report = {
        "duration_s": round(elapsed, 1), "rate_target": args.rate, "commands": sent,
        # the workload of --customers is finite (about 44 commands a customer): a run longer than it
        # lasts at --rate ends early; raise --customers for a longer soak
        "workload_exhausted": sent >= len(commands),
        "rate_achieved": round(sent / elapsed, 2), "senders": args.senders, "outcomes": outcomes, "mails": sink.count,
        "latency_ms": {"p50": round(1000 * statistics.median(latencies), 2),
                       "p99": round(1000 * pct(latencies, 0.99), 2), "max": round(1000 * max(latencies), 2)},
        "lag_seconds": {c: {"p50": round(pct(v, 0.5), 3), "p99": round(pct(v, 0.99), 3), "max": round(max(v), 3),
                            "samples": len(v), "at_end": final_lag.get(c)} for c, v in sorted(lags.items())},
        "cache_events_bound": args.cache_events or "default",
        "logs": str(folder),
    }
    window_from, cache_full_at = judged_from(rss_samples["serve"], data_samples)
    if data_samples:
        report["server"] = {"events_in_store_at_end": int(data_samples[-1][1]),
                            "cache_events_at_end": int(data_samples[-1][2]), "cache_bound": int(data_samples[-1][3])}
    report["judged_window"] = {"from_s": round(window_from, 1), "cache_full_at_s": cache_full_at,
                               "ceiling_kib_per_min": args.ceiling}
    report["rss_kib"] = {n: {"start": rss_start[n], "end": rss_end[n], **rss_trend(rss_samples[n]),
                             **flatness(rss_samples[n], data_samples, window_from, args.ceiling)} for n in pids}
    print(json.dumps(report, indent=2))
    for name, figures in report["rss_kib"].items():
        print(f"soak: {name:8} RSS {figures['start']} -> {figures['end']} KiB, window slope "
              f"{figures.get('window_slope_kib_per_min')} KiB/min (ceiling {args.ceiling:g}): {figures.get('verdict')}",
              file=sys.stderr)
    if sent >= len(commands) and elapsed < args.duration:
        print(f"soak: the workload of {args.customers} customers ran out after {sent} commands ({elapsed:.0f} s of "
              f"{args.duration:.0f}); give more --customers for a longer run", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def server_figures(url: str) -> tuple[float, float, float]:
    """Events in the store (the contracts view's position), what the aggregate cache holds, its bound."""
    figures = {"position": 0.0, "cache": 0.0, "bound": 0.0}
    for line in httpx.get(f"{url}/metrics", timeout=5).text.splitlines():
        if line.startswith('ledger_consumer_position{consumer="contracts"}'):
            figures["position"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("ledger_aggregate_cache_events "):
            figures["cache"] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("ledger_aggregate_cache_bound_events "):
            figures["bound"] = float(line.rsplit(" ", 1)[1])
    return figures["position"], figures["cache"], figures["bound"]


def judged_from(serve: list[tuple[float, int]], data: list[tuple[float, float, float, float]]) -> tuple[float, Any]:
    """Where the judged window starts: the later of the run's half and the first time the server's
    cache held 95% of its bound (None: never, and the window is the second half)."""
    half = serve[len(serve) // 2][0] if serve else 0.0
    full = next((t for t, _, cache, bound in data if bound and cache >= 0.95 * bound), None)
    return max(half, full or 0.0), None if full is None else round(full, 1)


def slope_per_min(points: list[tuple[float, float]]) -> float:
    ts, rs = [t for t, _ in points], [r for _, r in points]
    mt, mr = statistics.fmean(ts), statistics.fmean(rs)
    spread = sum((t - mt) ** 2 for t in ts)
    return 60 * sum((t - mt) * (r - mr) for t, r in points) / spread if spread else 0.0


def flatness(samples: list[tuple[float, int]], data: list[tuple[float, float, float, float]], start: float,
             ceiling: float) -> dict[str, Any]:
    """Slope of RSS over the judged window, its growth per 1000 events recorded in it, the data's growth
    over it, and the verdict against ``ceiling`` (KiB/min)."""
    window = [(t, float(r)) for t, r in samples if t >= start]
    if len(window) < 8 or window[-1][0] - window[0][0] < 180:
        return {"verdict": "no verdict (judged window under 3 minutes)"}
    slope = slope_per_min(window)
    events = [(t, e) for t, e, _, _ in data if t >= start]
    out: dict[str, Any] = {"window_s": round(window[-1][0] - window[0][0], 1),
                           "window_slope_kib_per_min": round(slope, 1),
                           "window_growth_kib": round(window[-1][1] - window[0][1])}
    if len(events) >= 2 and events[-1][1] > events[0][1]:
        minutes = (window[-1][0] - window[0][0]) / 60
        out["window_kib_per_1000_events"] = round(1000 * slope * minutes / (events[-1][1] - events[0][1]), 2)
        out["data_growth_ratio"] = round(events[-1][1] / max(1.0, events[0][1]), 3)
    out["verdict"] = "flat" if slope <= ceiling else "not flat"
    return out


def rss_trend(samples: list[tuple[float, int]]) -> dict[str, Any]:
    """RSS at each quarter of the run and its least-squares slope over the second half (KiB/min):
    a warm-up flattens out, a leak keeps its slope."""
    if len(samples) < 8:
        return {}
    quarters = [samples[min(len(samples) - 1, len(samples) * q // 4)][1] for q in range(5)]
    half = samples[len(samples) // 2:]
    ts, rs = [t for t, _ in half], [r for _, r in half]
    mt, mr = statistics.fmean(ts), statistics.fmean(rs)
    spread = sum((t - mt) ** 2 for t in ts)
    slope = sum((t - mt) * (r - mr) for t, r in half) / spread if spread else 0.0
    return {"quarters": quarters, "second_half_slope_kib_per_min": round(slope * 60, 1)}


if __name__ == "__main__":
    main()
