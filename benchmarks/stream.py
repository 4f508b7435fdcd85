"""Relay throughput against a bare kafka-python producer, and append-to-consumer latency.

Needs the broker: ``scripts/kafka.sh start``.

1. Throughput. A SQLite ledger with ``--customers`` customers of about ``--events-per-customer``
   events each. In alternating rounds, on fresh topics of the same partition count: the relay
   publishes the whole log (read the notification log, build envelopes, send, wait for acks=all,
   record the position after each batch), then a bare ``KafkaProducer`` with the same settings sends
   the very same (key, value) messages, prebuilt, and flushes. Events per second of each, and the ratio.
2. Latency. ``ledger relay --follow`` runs as its own process on a fresh ledger; this process appends
   commands at a steady rate and a subscriber (consumer group, in a thread here) reads the topic.
   Latency of an event = the subscriber yields it − the command that recorded it returned. p50, p99.

    python -m benchmarks.stream [--customers 40] [--events-per-customer 500] [--rounds 3]
                                [--commands 300] [--rate 25] [--poll-interval 0.05]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer

from aggregates.catalog import normalise_address
from aggregates.customer import Customer
from aggregates.errors import LedgerError
from aggregates.ids import account_id_for
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from ledger.demo import generate
from ledger.stream.envelope import KAFKA_CONTENT_TYPE, event_id
from ledger.stream.relay import Relay, ensure_topic, producer_config
from ledger.stream.subscriber import Subscriber

ADDRESS = {"line1": "1 Main Street", "city": "Springfield", "postal_code": "12345", "country": "US"}
PARTY = {"name": "R", "email": "r@r.example", "address": ADDRESS}
SECRET = "bench"


def build_ledger(app: LedgerApplication, customers: int, events_per_customer: int) -> None:
    """Customers with rooms, licenses and devices, written straight through the aggregate."""
    t0 = datetime(2026, 1, 5, 9, tzinfo=UTC)
    for c in range(customers):
        name = f"Bench {c:04d} Corp"
        customer = Customer.register(company=name, parent_company=None, at=t0, actor="ops")
        end_customer = {"company": name, "email": f"cio@bench{c}.example", "address": ADDRESS}
        customer.place_order(
            po_number=f"B{c}-1", service="select", years=5, quantity=events_per_customer, end_customer=end_customer,
            reseller=PARTY, distributor=PARTY, grace_days=60, at=t0, actor="ops",
        )  # fmt: skip
        account_id = account_id_for(customer.id, normalise_address(ADDRESS))
        t, n = t0, 0
        while customer.version < events_per_customer:
            t += timedelta(minutes=7)
            room_id = customer.add_room(
                account_id=account_id, name=f"Room {n}", site="HQ", country="US",
                countries=app.settings.countries, at=t, actor="ops",
            )  # fmt: skip
            customer.assign_license(room_id=room_id, po_number=f"B{c}-1", countries=app.settings.countries, at=t,
                                    actor="ops")  # fmt: skip
            customer.register_device(room_id=room_id, serial_number=f"B{c:04d}N{n:06d}", product="Rally Bar",
                                     purchased_on=t.date(), at=t, actor="ops")  # fmt: skip
            n += 1
            if len(customer.pending_events) >= 500:
                app.save(customer)
        app.save(customer)


def relay_round(app: LedgerApplication, bootstrap: str, topic: str, batch_size: int) -> tuple[float, int]:
    ensure_topic(bootstrap, topic, 3)
    relay = Relay(app, bootstrap, topic, batch_size=batch_size, encoders=1)  # as `ledger relay` runs
    relay.connect()
    started = time.perf_counter()
    stats = relay.run()
    elapsed = time.perf_counter() - started
    relay.close()
    return elapsed, stats.published


def bare_round(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> float:
    ensure_topic(bootstrap, topic, 3)
    config = producer_config(bootstrap, client_id="bare-producer")
    del config["partitioner"]  # a bare producer: kafka-python's default partitioner
    producer = KafkaProducer(**config)
    headers = [("content-type", KAFKA_CONTENT_TYPE.encode())]
    started = time.perf_counter()
    futures = [producer.send(topic, key=key, value=value, headers=headers) for key, value in messages]
    producer.flush()
    elapsed = time.perf_counter() - started
    assert all(f.succeeded() for f in futures)
    producer.close()
    return elapsed


def throughput(args: argparse.Namespace, folder: Path) -> dict[str, float]:
    app = build_app(str(folder / "throughput.db"), {"LEDGER_SECRET_KEY": SECRET})
    started = time.perf_counter()
    build_ledger(app, args.customers, args.events_per_customer)
    head = app.recorder.max_notification_id() or 0
    built = time.perf_counter() - started
    print(f"ledger: {args.customers} customers, {head} events in the log (built in {built:.1f} s)")
    # The messages the relay sends, prebuilt once for the bare producer.
    builder = Relay(app, args.bootstrap, f"bench.unused.{uuid.uuid4().hex[:6]}")
    messages = list(builder._messages(app.recorder.select_notifications(1, head + 1)))
    print(f"messages: {len(messages)}, {sum(len(v) for _, v in messages) / len(messages):.0f} bytes on average")
    relay_rates, bare_rates = [], []
    run_id = uuid.uuid4().hex[:6]
    for r in range(1, args.rounds + 1):
        elapsed, published = relay_round(app, args.bootstrap, f"bench.relay.{run_id}.{r}", args.batch_size)
        assert published == len(messages)
        relay_rates.append(published / elapsed)
        bare = bare_round(args.bootstrap, f"bench.bare.{run_id}.{r}", messages)
        bare_rates.append(len(messages) / bare)
        print(
            f"round {r}: relay {relay_rates[-1]:8.0f} events/s ({elapsed:.2f} s)   "
            f"bare producer {bare_rates[-1]:8.0f} events/s ({bare:.2f} s)"
        )
    relay_median, bare_median = statistics.median(relay_rates), statistics.median(bare_rates)
    print(
        f"median: relay {relay_median:.0f} events/s, bare kafka-python producer {bare_median:.0f} events/s, "
        f"ratio relay/bare {relay_median / bare_median:.2f}"
    )
    app.close()
    return {"relay_events_per_s": relay_median, "baseline_producer_events_per_s": bare_median}


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def latency(args: argparse.Namespace, folder: Path) -> dict[str, float]:
    db = str(folder / "latency.db")
    app = build_app(db, {"LEDGER_SECRET_KEY": SECRET})
    topic = f"bench.latency.{uuid.uuid4().hex[:8]}"
    ensure_topic(args.bootstrap, topic, 3)
    ledger = str(Path(sys.executable).with_name("ledger"))
    relay = subprocess.Popen(
        [ledger, "--db", db, "relay", "--follow", "--bootstrap-servers", args.bootstrap, "--topic", topic,
         "--poll-interval", str(args.poll_interval)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "LEDGER_SECRET_KEY": SECRET},
    )  # fmt: skip
    appended: dict[str, float] = {}
    received: dict[str, float] = {}
    stop = threading.Event()
    ready = threading.Event()

    def consume() -> None:
        with Subscriber(args.bootstrap, topic, f"latency-{topic}") as subscriber:
            ready.set()
            for event in subscriber.events(stop=stop, poll_timeout=0.05):
                received.setdefault(event.id, time.monotonic())

    consumer = threading.Thread(target=consume, daemon=True)
    consumer.start()
    ready.wait(30)
    time.sleep(3)  # the group is formed and the relay connected before the clock starts
    commands = generate(customers=max(2, args.commands // 40), seed=3, expiry_days=0)
    interval = 1.0 / args.rate
    sent = 0
    next_at = time.monotonic()
    for raw in commands:
        if sent >= args.commands:
            break
        time.sleep(max(0.0, next_at - time.monotonic()))
        next_at += interval
        try:
            result = app.execute(parse_command(raw))
        except LedgerError:
            continue
        now = time.monotonic()
        sent += 1
        for e in result["events"]:
            if e["type"] in Customer.__dict__:
                appended[event_id(e["aggregate_id"], e["version"])] = now
    deadline = time.monotonic() + 60
    while not set(appended) <= set(received) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    relay.terminate()
    relay.wait(30)
    consumer.join(30)
    missing = set(appended) - set(received)
    lat = [(received[i] - appended[i]) * 1000 for i in appended if i in received]
    if not lat:
        print("latency: no event was received")
        return {}
    print(
        f"latency over {len(lat)} events of {sent} commands at {args.rate}/s (relay poll interval "
        f"{args.poll_interval * 1000:.0f} ms): p50 {percentile(lat, 50):.0f} ms, p99 {percentile(lat, 99):.0f} ms, "
        f"max {max(lat):.0f} ms" + (f"; {len(missing)} not received" if missing else "")
    )
    app.close()
    return {"e2e_p50_ms": percentile(lat, 50), "e2e_p99_ms": percentile(lat, 99), "e2e_missing": len(missing)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--customers", type=int, default=40)
    parser.add_argument("--events-per-customer", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--rate", type=float, default=25.0, help="commands per second in the latency run")
    parser.add_argument("--poll-interval", type=float, default=0.05)
    parser.add_argument("--json", metavar="FILE", help="write the figures to FILE")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        figures = throughput(args, Path(folder))
        figures.update(latency(args, Path(folder)))
    if args.json:
        Path(args.json).write_text(json.dumps(figures))


if __name__ == "__main__":
    main()
