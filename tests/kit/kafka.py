"""Fixtures of the stream tests (used by the integration and fault conftests): the real Kafka broker
that scripts/kafka.sh starts, unique topics, and a broker of a test's own.

A broker that is not reachable fails these tests, it never skips them: run `scripts/kafka.sh start`.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import uuid
from collections.abc import Iterator

import pytest

from tests.kit.broker import OwnBroker

KAFKA = os.environ.get("LEDGER_TEST_KAFKA", "127.0.0.1:9092")


def broker_reachable(bootstrap: str = KAFKA, timeout: float = 3.0) -> bool:
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


@pytest.fixture
def kafka() -> str:
    """The bootstrap servers of the test broker (LEDGER_TEST_KAFKA, default 127.0.0.1:9092)."""
    if not broker_reachable():
        pytest.fail(
            f"the Kafka broker is not reachable at {KAFKA}: run `scripts/kafka.sh start` first "
            "(stream tests need the real broker and are never skipped)",
            pytrace=False,
        )
    return KAFKA


@pytest.fixture
def topic(request: pytest.FixtureRequest) -> Iterator[str]:
    """A topic name no other test uses; the topics named after it are deleted afterwards, so the
    broker does not pile up partitions over many runs."""
    name = re.sub(r"[^A-Za-z0-9]+", "-", request.node.name)[:80].strip("-")
    unique = f"test.{name}.{uuid.uuid4().hex[:8]}"
    yield unique
    if not broker_reachable(timeout=1.0):
        return
    from kafka import KafkaAdminClient

    with contextlib.suppress(Exception):
        admin = KafkaAdminClient(bootstrap_servers=KAFKA, bootstrap_timeout_ms=5000, request_timeout_ms=5000)
        try:
            ours = [t for t in admin.list_topics() if t.startswith(unique)]
            if ours:
                admin.delete_topics(ours, timeout_ms=5000)
        finally:
            admin.close()


@pytest.fixture
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnBroker]:
    """A broker of this test's own on free ports, for tests that stop and restart it (never the shared one)."""
    broker = OwnBroker.on_free_ports(tmp_path_factory.mktemp("kafka"))
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
