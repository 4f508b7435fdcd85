"""Clients that are not ours read the topic; messages match the published schemas; no token on it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest
from cloudevents.core.bindings import kafka as ce_kafka
from confluent_kafka import Consumer, KafkaError, TopicPartition

from ledger.app import LedgerApplication
from ledger.stream.relay import Relay
from ledger.stream.schemas import SCHEMA_DIR
from tests.kit.commands import FAR_FUTURE, command, order, run
from tests.kit.stream import customer_events, populate, read_topic

pytestmark = pytest.mark.integration


def relay_all(app: LedgerApplication, kafka: str, topic: str) -> None:
    relay = Relay(app, kafka, topic)
    try:
        relay.run()
    finally:
        relay.close()


def confluent_read_all(kafka: str, topic: str, expected: int, timeout: float = 60) -> list[Any]:
    consumer = Consumer(
        {
            "bootstrap.servers": kafka,
            "group.id": f"confluent-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=10)
        partitions = sorted(metadata.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(messages) < expected and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                assert message.error().code() == KafkaError._PARTITION_EOF, message.error()
                continue
            messages.append(message)
        # Nothing more than expected either.
        extra = consumer.poll(1.0)
        assert extra is None or extra.error() is not None
        return messages
    finally:
        consumer.close()


def test_confluent_kafka_consumes_every_message_and_cloudevents_sdk_parses_each(
    app: LedgerApplication, kafka: str, topic: str
) -> None:
    populate(app, customers=2)
    expected = customer_events(app)
    relay_all(app, kafka, topic)
    messages = confluent_read_all(kafka, topic, len(expected))
    assert len(messages) == len(expected)
    types = set()
    for message in messages:
        headers = {k: v for k, v in (message.headers() or [])}
        # Auto-detects structured mode from the content-type header, validates the attributes.
        event = ce_kafka.from_kafka_event(
            ce_kafka.KafkaMessage(headers=headers, key=message.key(), value=message.value())
        )
        assert event.get_specversion() == "1.0"
        assert event.get_source() == "urn:select-ledger"
        assert event.get_type().startswith("com.select.ledger.customer.")
        assert event.get_subject() == message.key().decode()
        assert event.get_time() is not None and event.get_time().tzinfo is not None
        assert event.get_datacontenttype() == "application/json"
        assert isinstance(event.get_extension("ledgerposition"), int)
        assert isinstance(event.get_extension("aggregateversion"), int)
        assert event.get_extension("actor")
        assert event.get_extension("recordedtime")
        assert isinstance(event.get_data(), dict)
        types.add(event.get_type())
    assert {(c, v) for c, v, _ in expected} == {
        (json.loads(m.value())["subject"], json.loads(m.value())["aggregateversion"]) for m in messages
    }
    assert len(types) >= 10


def _schema(name: str) -> dict[str, Any]:
    return dict(json.loads((SCHEMA_DIR / name).read_text("utf-8")))


def test_stream_messages_validate_against_published_schemas(
    make_app: Callable[..., LedgerApplication], kafka: str, topic: str
) -> None:
    app = make_app(**FAR_FUTURE)  # dated years ahead of the clock (R20 bound)
    results = populate(app, customers=3)
    customer_id = next(r["customer_id"] for r in results if r.get("customer_id"))
    run(app, command("SendInvitation", "2031-01-01T00:00:00Z", customer_id=customer_id, email="new.admin@acme.example"))
    relay_all(app, kafka, topic)
    envelope_schema = _schema("envelope.schema.json")
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    jsonschema.Draft202012Validator.check_schema(envelope_schema)
    seen = set()
    for message in read_topic(kafka, topic):
        envelope = message.envelope
        jsonschema.validate(envelope, envelope_schema, cls=jsonschema.Draft202012Validator, format_checker=checker)
        name = envelope["dataschema"].rsplit(":", 1)[1] + ".schema.json"
        data_schema = _schema(name)
        assert data_schema["$id"] == envelope["dataschema"]
        jsonschema.validate(envelope["data"], data_schema, cls=jsonschema.Draft202012Validator, format_checker=checker)
        seen.add(envelope["type"])
    index = _schema("index.json")
    for required in ("OrderPlaced", "SpareAccrued", "InvitationSent", "LicenseAssigned", "RoomAdded"):
        assert index["events"][required]["type"] in seen


def test_r15_token_never_on_stream(app: LedgerApplication, kafka: str, topic: str) -> None:
    tokens = []
    first = run(app, order(po="PO-TOK-1", at="2026-05-04T09:00:00Z"))
    tokens.append(first["invitation"]["token"])
    customer_id = first["customer_id"]
    resent = run(
        app, command("SendInvitation", "2026-05-05T09:00:00Z", customer_id=customer_id, email="jane.doe@acme.example")
    )
    tokens.append(resent["invitation"]["token"])
    accepted_token = resent["invitation"]["token"]
    run(app, command("AcceptInvitation", "2026-05-06T09:00:00Z", actor="jane.doe@acme.example", token=accepted_token))
    invited = run(
        app,
        command(
            "InviteUser",
            "2026-05-07T09:00:00Z",
            actor="jane.doe@acme.example",
            customer_id=customer_id,
            email="bob.viewer@acme.example",
            role="viewer",
        ),
    )
    tokens.append(invited["invitation"]["token"])
    relay_all(app, kafka, topic)
    messages = read_topic(kafka, topic)
    assert len(messages) == len(customer_events(app))
    for message in messages:
        blob = message.key + message.value + b"".join(v for _, v in message.headers)
        for token in tokens:
            assert token.encode() not in blob, "R15: an invitation token is on the stream"
            body = token.removeprefix("inv_")
            assert body[:20].encode() not in blob
        assert b"inv_" not in blob
        assert "token" not in json.dumps(message.envelope["data"]).lower()
