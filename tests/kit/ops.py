"""Test kit of the operations tests: poison events written straight into the event store."""

from __future__ import annotations

import time
import urllib.request
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.app import LedgerApplication


def inject_event(
    app: LedgerApplication, customer_id: UUID | str, event_class: type, topic: str | None = None, **state: Any
) -> int:
    """Append a customer event with exactly ``state`` (plus times and actor) at the customer's next
    version, bypassing the domain: what a bug or a hand-edited database could leave in the log.
    Returns its notification id (position)."""
    cid = UUID(str(customer_id))
    last = app.recorder.select_events(cid, desc=True, limit=1)
    version = (last[0].originator_version if last else 0) + 1
    now = datetime.now(UTC)
    body = {"timestamp": now, "at": now, "actor": "ops", **state}
    stored = StoredEvent(
        originator_id=cid,
        originator_version=version,
        topic=topic or get_topic(event_class),
        state=app.mapper.transcoder.encode(body),
    )
    ids = app.recorder.insert_events([stored])
    if ids:
        return int(ids[0])
    return int(app.recorder.max_notification_id() or 0)


def scrape(port: int, timeout: float = 30.0) -> str:
    """The text of ``/metrics`` on ``port`` of this host, retried until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
