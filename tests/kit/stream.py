"""Helpers of the stream tests: a workload in the ledger, raw reads of a topic, the relay as a process."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from kafka import KafkaConsumer, TopicPartition

from aggregates.customer import Customer
from aggregates.errors import LedgerError
from ledger.app import LedgerApplication
from ledger.demo import generate, seed_example
from tests.kit.app import SECRET
from tests.kit.commands import run

LEDGER = shutil.which("ledger") or str(Path(sys.executable).with_name("ledger"))
ROOT = Path(__file__).resolve().parents[2]


def populate(
    app: LedgerApplication, customers: int = 3, seed: int = 7, with_seed_example: bool = True
) -> list[dict[str, Any]]:
    """Run a realistic workload (and the seed's spares example); return the accepted results."""
    commands = list(seed_example()) if with_seed_example else []
    commands += list(generate(customers=customers, seed=seed))
    results = []
    for raw in commands:
        with contextlib.suppress(LedgerError):  # the workload includes refused commands on purpose
            results.append(run(app, raw))
    return results


def customer_events(app: LedgerApplication) -> list[tuple[str, int, str]]:
    """Every customer event in the ledger's log order: (customer id, aggregate version, type)."""
    out = []
    start = 1
    while True:
        page = app.recorder.select_notifications(start, 1000)
        for notification in page:
            domain_event = app.mapper.to_domain_event(notification)
            if isinstance(domain_event, Customer.Event):
                name = type(domain_event).__qualname__.removeprefix("Customer.")
                out.append((str(domain_event.originator_id), domain_event.originator_version, name))
        if len(page) < 1000:
            return out
        start = page[-1].id + 1


@dataclass(frozen=True)
class Raw:
    partition: int
    offset: int
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]

    @property
    def envelope(self) -> dict[str, Any]:
        return dict(json.loads(self.value))


def read_topic(bootstrap: str, topic: str, timeout: float = 30.0) -> list[Raw]:
    """Every message on ``topic`` now, partition by partition, without a consumer group."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        deadline = time.monotonic() + timeout
        partitions = consumer.partitions_for_topic(topic)
        while not partitions and time.monotonic() < deadline:
            time.sleep(0.2)
            consumer.poll(timeout_ms=100)
            partitions = consumer.partitions_for_topic(topic)
        assert partitions, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out: list[Raw] = []
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, "reading the topic took too long"
            for tp, messages in consumer.poll(timeout_ms=500).items():
                out.extend(Raw(tp.partition, m.offset, m.key, m.value, list(m.headers or [])) for m in messages)
        return sorted(out, key=lambda r: (r.partition, r.offset))
    finally:
        consumer.close(autocommit=False)


def end_offsets_total(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close(autocommit=False)


def assert_per_customer_order(messages: list[Raw]) -> None:
    """Within each partition, each customer's versions never skip ahead: every message is either the
    next version of its customer or a re-publication of one already seen (a duplicate)."""
    highest: dict[str, int] = {}
    partition_of: dict[str, int] = {}
    for message in messages:
        envelope = message.envelope
        subject, version = envelope["subject"], envelope["aggregateversion"]
        assert message.key == subject.encode()
        assert partition_of.setdefault(subject, message.partition) == message.partition, "one customer, one partition"
        seen = highest.get(subject, 0)
        assert version <= seen + 1, f"customer {subject}: version {version} after {seen} (a gap)"
        highest[subject] = max(seen, version)


def ledger_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "LEDGER_SECRET_KEY": SECRET, "PYTHONUNBUFFERED": "1"}
    env.update(extra)
    return env


def ledger_cli(*args: str, db: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEDGER, "--db", db, *args], capture_output=True, text=True, env=ledger_env(**env), timeout=timeout
    )


def start_relay(db: str, bootstrap: str, topic: str, *args: str, log: Path) -> subprocess.Popen[bytes]:
    handle = log.open("wb")
    return subprocess.Popen(
        [LEDGER, "--db", db, "relay", "--bootstrap-servers", bootstrap, "--topic", topic, *args],
        stdout=handle,
        stderr=subprocess.STDOUT,
        env=ledger_env(),
    )


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 30) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def wait_for(condition: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@contextlib.contextmanager
def tracking_locked(db_url: str) -> Iterator[None]:
    """Hold a write lock on the relay's tracking table: the relay can read and publish, but not
    record its position until the lock is released (it is then stuck right after the broker's ack)."""
    if db_url.startswith("postgresql://"):
        import psycopg

        parsed = urlparse(db_url)
        schema = parse_qs(parsed.query)["schema"][0]
        base = db_url.split("?")[0]
        with psycopg.connect(base) as conn:
            conn.execute(f'LOCK TABLE "{schema}".ledger_tracking IN EXCLUSIVE MODE')
            yield
            conn.rollback()
    else:
        conn = sqlite3.connect(db_url, isolation_level=None, timeout=30)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("ROLLBACK")
        finally:
            conn.close()


def spares_from_aggregate(app: LedgerApplication, customer_id: str) -> dict[str, Any]:
    """The spares numbers the ledger itself holds for a customer (R13, R14)."""
    from uuid import UUID

    customer = app.customer(UUID(customer_id))
    return {
        "customer_id": customer_id,
        "active_select_licenses": customer.active_select_licenses,
        "entitled": customer.entitled_spares,
        "accrued": len(customer.spares),
        "revoked": sum(1 for s in customer.spares if s.revoked_at is not None),
        "live": len(customer.live_spares),
        "allocations": sorted(
            (s.spare_no, s.product, s.ship_to) for s in customer.live_spares if s.product is not None
        ),
    }
