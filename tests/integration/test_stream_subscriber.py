"""The subscriber API against the real broker: stored positions, dedup across restarts, upcasting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kafka import KafkaProducer

from ledger.app import LedgerApplication
from ledger.stream.envelope import encode, event_id
from ledger.stream.relay import Relay, ensure_topic
from ledger.stream.schemas.models import OrderPlaced, SpareAccrued
from ledger.stream.subscriber import SqliteCheckpointStore, Subscriber, SubscriberError
from tests.kit.stream import customer_events, populate, read_topic

pytestmark = pytest.mark.integration


def relay_all(app: LedgerApplication, kafka: str, topic: str) -> None:
    relay = Relay(app, kafka, topic)
    try:
        relay.run()
    finally:
        relay.close()


def republish(kafka: str, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    """Put messages on the topic again, as a relay that crashed before recording its position would."""
    producer = KafkaProducer(bootstrap_servers=kafka, acks="all")
    for key, value in values:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


def test_subscriber_resumes_from_stored_position_and_drops_duplicates_across_restart(
    app: LedgerApplication, kafka: str, topic: str, tmp_path: Path
) -> None:
    populate(app, customers=2)
    expected = customer_events(app)
    relay_all(app, kafka, topic)
    store_path = tmp_path / "state.db"

    seen: list[str] = []
    store = SqliteCheckpointStore(store_path)
    with Subscriber(kafka, topic, "resume", store=store, checkpoint_every=7) as subscriber:
        for event in subscriber.events(until_caught_up=True):
            seen.append(event.id)
            if len(seen) == len(expected) // 2:
                break  # stopped before asking for the next one: this last event is not processed
    store.close()

    # Everything already on the topic is published once more (a relay crash before recording).
    originals = read_topic(kafka, topic)
    republish(kafka, topic, [(m.key, m.value) for m in originals])

    store = SqliteCheckpointStore(store_path)
    with Subscriber(kafka, topic, "resume", store=store) as subscriber:
        rest = [event.id for event in subscriber.events(until_caught_up=True)]
        duplicates = subscriber.duplicates
    store.close()
    # The event the first run broke out on was not processed: it is delivered again, once.
    assert seen[-1] in rest
    delivered = seen[:-1] + rest
    assert len(delivered) == len(set(delivered)) == len(expected)
    assert set(delivered) == {event_id(c, v) for c, v, _ in expected}
    assert duplicates == len(originals), "every re-published message was recognised"

    # A third run has nothing new; from the beginning replays each event once (duplicates dropped).
    store = SqliteCheckpointStore(store_path)
    with Subscriber(kafka, topic, "resume", store=store) as subscriber:
        assert list(subscriber.events(until_caught_up=True)) == []
    with Subscriber(kafka, topic, "resume", store=store, from_beginning=True) as subscriber:
        replay = [event.id for event in subscriber.events(until_caught_up=True)]
        assert subscriber.duplicates == len(originals)
    store.close()
    assert sorted(replay) == sorted(delivered)


def test_subscriber_without_store_uses_group_offsets(app: LedgerApplication, kafka: str, topic: str) -> None:
    populate(app, customers=1, with_seed_example=False)
    relay_all(app, kafka, topic)
    with Subscriber(kafka, topic, "group-offsets") as subscriber:
        first = list(subscriber.events(until_caught_up=True))
    assert len(first) == len(customer_events(app))
    with Subscriber(kafka, topic, "group-offsets") as subscriber:
        assert list(subscriber.events(until_caught_up=True)) == [], "the group's committed offsets are the position"
    with Subscriber(kafka, topic, "another-group") as subscriber:
        assert len(list(subscriber.events(until_caught_up=True))) == len(first), "a new group starts at the beginning"


def test_subscriber_upcasts_v1_spare_messages_published_earlier(app: LedgerApplication, kafka: str, topic: str) -> None:
    populate(app, customers=0)  # the seed example: two spares accrued
    relay_all(app, kafka, topic)
    current = read_topic(kafka, topic)
    spare_messages = [m for m in current if ".SpareAccrued." in m.envelope["type"]]
    assert len(spare_messages) == 2
    # The same events as an earlier relay (stream version 1) published them, on a topic of their own.
    old_topic = topic + ".v1"
    ensure_topic(kafka, old_topic)
    old = []
    for message in spare_messages:
        envelope = message.envelope
        envelope["type"] = envelope["type"].replace(".v2", ".v1")
        envelope["dataschema"] = envelope["dataschema"].replace(".v2", ".v1")
        envelope["data"].pop("entitled")
        old.append((message.key, encode(envelope)))
    republish(kafka, old_topic, old)
    with Subscriber(kafka, old_topic, "upcast") as subscriber:
        upcast = list(subscriber.events(until_caught_up=True))
        assert subscriber.upcast == 2
    with Subscriber(kafka, topic, "current") as subscriber:
        native = [e for e in subscriber.events(until_caught_up=True) if isinstance(e.data, SpareAccrued)]
    assert [e.published_version for e in upcast] == [1, 1]
    assert all(e.upcast and e.version == 2 and isinstance(e.data, SpareAccrued) for e in upcast)
    assert [e.data for e in upcast] == [e.data for e in native]
    assert [e.data.entitled for e in upcast] == [1, 2]


def test_subscriber_refuses_foreign_messages_unless_told_to_skip(
    kafka: str, topic: str, app: LedgerApplication
) -> None:
    populate(app, customers=0)
    relay_all(app, kafka, topic)
    republish(kafka, topic, [(b"x", b"not json"), (b"y", json.dumps({"specversion": "1.0"}).encode())])
    with Subscriber(kafka, topic, "strict") as subscriber, pytest.raises(SubscriberError, match="not a ledger event"):
        list(subscriber.events(until_caught_up=True))
    with Subscriber(kafka, topic, "lenient", skip_invalid=True) as subscriber:
        events = list(subscriber.events(until_caught_up=True))
        assert subscriber.invalid == 2
    assert any(isinstance(e.data, OrderPlaced) for e in events)
