"""Fault: ``ledger serve`` SIGKILLed mid-load, restarted, every client retrying with its Idempotency-Keys.

Many clients post orders, each with its own ``Idempotency-Key``, to a real server process on the
backend the suite runs on; the process is killed with SIGKILL while requests are in flight. After
a restart every client sends again every command whose answer it did not get, with the same key,
and every acknowledged one too. R18: every acknowledged command is in the store, none is recorded
twice, every retry is answered (never "in progress"), and the retry of a recorded command gets its
original answer back, marked as replayed.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger.app import LedgerApplication
from ledger.config import load_settings
from tests.kit.commands import order
from tests.kit.http import SECRET, Client, Server, create_key, ledger_cli, without_actor

pytestmark = pytest.mark.integration

CLIENTS = 8
PER_CLIENT = 40
KILL_AFTER = 60  # acknowledged commands before the kill
T0 = "2026-05-04T09:00:00Z"

Job = tuple[int, int]


def body(job: Job) -> dict[str, Any]:
    c, i = job
    return without_actor(order(
        po=f"PO-KILL-{c:02d}-{i:03d}", company=f"Killed {c}-{i}", email=f"k{c}x{i}@killed{c}x{i}.example", at=T0,
    ))


def key_of(job: Job) -> str:
    return f"sigkill-{job[0]}-{job[1]}"


def test_r18_sigkill_of_serve_mid_load_keeps_every_acknowledged_command_once(db_url: str, tmp_path: Path) -> None:
    ledger_cli(db_url, "api-key", "list")
    credential = create_key(db_url, "ops", "--role", "ops")
    server = Server(db_url, log=tmp_path / "before.log").start()
    acknowledged: dict[Job, dict[str, Any]] = {}
    unanswered: set[Job] = set()
    other: dict[Job, int] = {}
    lock = threading.Lock()

    def client(c: int) -> None:
        http = Client(server.url, credential)
        try:
            for i in range(PER_CLIENT):
                job = (c, i)
                try:
                    response = http.command(body(job), idempotency_key=key_of(job))
                except httpx.HTTPError:
                    with lock:
                        unanswered.add(job)
                    continue
                with lock:
                    if response.status_code == 200:
                        acknowledged[job] = response.json()
                    else:
                        other[job] = response.status_code
        finally:
            http.close()

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 120
        while len(acknowledged) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(acknowledged) >= KILL_AFTER, f"only {len(acknowledged)} commands acknowledged: {server.log_text()}"
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
        killed_at = len(acknowledged)
    finally:
        for thread in threads:
            thread.join(60)
    assert not other, f"commands answered with other than 200 before the kill: {other}"
    assert killed_at < CLIENTS * PER_CLIENT and unanswered, "the kill came after the load: nothing was in flight"

    restarted = Server(db_url, log=tmp_path / "after.log").start()
    replayed_unanswered = 0
    try:
        http = Client(restarted.url, credential)
        for job in sorted(unanswered):
            again = http.command(body(job), idempotency_key=key_of(job))
            assert again.status_code == 200, (job, again.text)  # answered, never "in progress"
            replayed_unanswered += again.headers.get("idempotent-replayed") == "true"
            acknowledged[job] = again.json()
        for job, first in sorted(acknowledged.items()):
            again = http.command(body(job), idempotency_key=key_of(job))
            assert again.status_code == 200, (job, again.text)
            assert again.headers.get("idempotent-replayed") == "true", job
            assert again.json() == first, job  # the original answer, positions and token included
        customers = http.get("/v1/customers").json()
        http.close()
    finally:
        restarted.stop()

    jobs = {(c, i) for c in range(CLIENTS) for i in range(PER_CLIENT)}
    assert set(acknowledged) == jobs
    names = Counter(row["name"] for row in customers)
    assert all(names[f"Killed {c}-{i}"] == 1 for c, i in jobs), [n for n, k in names.items() if k != 1]
    by_name = {row["name"]: row["customer_id"] for row in customers}
    assert all(by_name[f"Killed {c}-{i}"] == acknowledged[(c, i)]["customer_id"] for c, i in jobs)
    # the store: one registration and one order per command, and every answer's events are the stored ones
    app = LedgerApplication(load_settings(db_url, {"LEDGER_SECRET_KEY": SECRET}))
    try:
        topics: Counter[str] = Counter()
        stored: dict[int, tuple[str, int]] = {}
        start = 1
        while page := app.recorder.select_notifications(start, 1000):
            for n in page:
                topics[n.topic.rsplit(".", 1)[-1]] += 1
                stored[n.id] = (str(n.originator_id), n.originator_version)
            start = page[-1].id + 1
    finally:
        app.close()
    assert topics["Registered"] == topics["OrderPlaced"] == len(jobs), topics
    for answer in acknowledged.values():
        for event in answer["events"]:
            assert stored[event["position"]] == (event["aggregate_id"], event["version"])
    print(f"\nkilled after {killed_at} acknowledged; {len(unanswered)} unanswered retried, "
          f"{replayed_unanswered} of them recorded before the kill (answer replayed)")
