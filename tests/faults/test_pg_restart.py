"""Fault: PostgreSQL restarted under a running projector and relay (a cluster of the test's own).

Both keep running through the outage and catch up by themselves afterwards; nothing is lost (every
customer event is on the topic, the read models are at the head) and ``ledger replay --check``
finds the views identical to a rebuild.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.bootstrap import build_app
from ledger.readside import open_read_models
from tests.kit.commands import order
from tests.kit.pg_cluster import Cluster, create_cluster
from tests.kit.stream import (
    LEDGER,
    customer_events,
    ledger_cli,
    ledger_env,
    read_topic,
    start_relay,
    stop_process,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.backend_independent]


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    own = create_cluster()
    try:
        yield own
    finally:
        own.drop()


def apply(db: str, first: int, count: int) -> None:
    lines = "".join(
        json.dumps(order(po=f"PO-PG{i:04d}", company=f"Restart {i}", email=f"it{i}@r{i}.example")) + "\n"
        for i in range(first, first + count)
    )
    proc = subprocess.run([LEDGER, "--db", db, "apply", "-"], input=lines, capture_output=True, text=True,
                          env=ledger_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_r13_projector_and_relay_recover_from_a_postgres_restart(
    cluster: Cluster, kafka: str, topic: str, tmp_path: Path
) -> None:
    db = cluster.url
    apply(db, 0, 10)
    project_log = (tmp_path / "project.log").open("wb")
    projector = subprocess.Popen(
        [LEDGER, "--db", db, "project", "--follow", "--interval", "0.2"], stdout=project_log,
        stderr=subprocess.STDOUT, env=ledger_env(),
    )
    relay = start_relay(db, kafka, topic, "--follow", "--poll-interval", "0.2", log=tmp_path / "relay.log")
    app = build_app(db, {"LEDGER_SECRET_KEY": "x"})
    models = open_read_models(app)
    try:
        def caught_up() -> bool:
            head = app.recorder.max_notification_id() or 0
            relay_at = app.factory.tracking_recorder().max_tracking_id(f"relay:{topic}") or 0
            return relay_at == head and all(p == head for p in models.positions().values())

        wait_for(caught_up, 60, "projector and relay to catch up before the restart")
        models.engine.dispose()
        cluster.stop("fast")
        time.sleep(3)  # both processes meet a database that is gone
        assert projector.poll() is None and relay.poll() is None, "a process died with the database"
        cluster.start()
        apply(db, 10, 10)
        wait_for(caught_up, 90, "projector and relay to catch up after the restart", interval=0.3)
        assert projector.poll() is None and relay.poll() is None
    finally:
        assert stop_process(projector) == 0, (tmp_path / "project.log").read_text()[-3000:]
        assert stop_process(relay) == 0, (tmp_path / "relay.log").read_text()[-3000:]
    try:
        project_output = (tmp_path / "project.log").read_text()
        relay_output = (tmp_path / "relay.log").read_text()
        assert "Traceback" not in project_output + relay_output
        published = {(m.envelope["subject"], m.envelope["aggregateversion"]) for m in read_topic(kafka, topic)}
        stored = {(cid, version) for cid, version, _ in customer_events(app)}
        assert published == stored, "every customer event is on the topic"
        assert len(list(app.customer_ids())) == 20
    finally:
        models.close()
        app.close()
    check = ledger_cli("replay", "--check", db=db)
    assert check.returncode == 0, check.stdout + check.stderr
