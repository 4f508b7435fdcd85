"""Envelopes of the stream (SPEC section 5): CloudEvents 1.0 attributes, stable ids, typed reading."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aggregates.customer import Customer
from ledger.app import LedgerApplication
from ledger.demo import seed_example
from ledger.jsonvalues import event_data
from ledger.stream.envelope import (
    EnvelopeError,
    build_envelope,
    decode,
    encode,
    event_id,
    is_published,
    parse_type,
    read_event,
    rfc3339,
)
from ledger.stream.schemas.models import OrderPlaced, Registered, SpareAccrued
from tests.kit.commands import run


def recorded(app: LedgerApplication) -> list[tuple[int, Any]]:
    return [(n.id, app.mapper.to_domain_event(n)) for n in app.recorder.select_notifications(1, 1000)]


@pytest.fixture
def seeded(app: LedgerApplication) -> list[tuple[int, Any]]:
    for raw in seed_example():
        run(app, raw)
    return recorded(app)


def test_envelope_has_cloudevents_attributes_and_ledger_extensions(seeded: list[tuple[int, Any]]) -> None:
    position, placed = next((p, e) for p, e in seeded if isinstance(e, Customer.OrderPlaced))
    envelope = build_envelope(placed, position)
    assert envelope["specversion"] == "1.0"
    assert envelope["source"] == "urn:select-ledger"
    assert envelope["type"] == "com.select.ledger.customer.OrderPlaced.v2"
    assert envelope["subject"] == str(placed.originator_id)
    assert envelope["time"] == "2026-05-04T09:00:00Z"
    assert envelope["datacontenttype"] == "application/json"
    assert envelope["dataschema"] == "urn:select-ledger:schemas:events:customer.OrderPlaced.v2"
    assert envelope["ledgerposition"] == position
    assert envelope["aggregateversion"] == placed.originator_version
    assert envelope["recordedtime"] == rfc3339(placed.timestamp)
    assert envelope["actor"] == "ops"
    assert envelope["data"] == event_data(placed)
    assert envelope["data"]["po_number"] == "GLOBEX-2026-05"
    # CloudEvents extension attribute names: lowercase letters and digits only.
    for name in envelope:
        assert name.isalnum() and name.islower()


def test_event_id_is_stable_per_customer_and_version(seeded: list[tuple[int, Any]]) -> None:
    position, event = seeded[0]
    first = build_envelope(event, position)
    again = build_envelope(event, position + 100)
    assert first["id"] == again["id"] == event_id(event.originator_id, event.originator_version)
    ids = [build_envelope(e, p)["id"] for p, e in seeded if is_published(e)]
    assert len(ids) == len(set(ids))


def test_only_customer_events_are_published(seeded: list[tuple[int, Any]]) -> None:
    kinds = {type(e).__qualname__ for _, e in seeded if not is_published(e)}
    assert kinds == {"PurchaseOrder.Reserved"}
    assert all(isinstance(e, Customer.Event) for _, e in seeded if is_published(e))


def test_spare_events_are_published_as_v2_with_entitled(seeded: list[tuple[int, Any]]) -> None:
    spares = [build_envelope(e, p) for p, e in seeded if isinstance(e, Customer.SpareAccrued)]
    assert [s["type"] for s in spares] == ["com.select.ledger.customer.SpareAccrued.v2"] * 2
    assert [(s["data"]["active_select_licenses"], s["data"]["entitled"]) for s in spares] == [(80, 1), (100, 2)]


def test_read_event_gives_typed_current_models(seeded: list[tuple[int, Any]]) -> None:
    events = [read_event(decode(encode(build_envelope(e, p)))) for p, e in seeded if is_published(e)]
    assert isinstance(events[0].data, Registered)
    placed = [e for e in events if isinstance(e.data, OrderPlaced)]
    assert [e.data.quantity for e in placed] == [40, 40, 20]
    assert placed[0].data.end_customer.address.country == "US"
    assert placed[0].effective_at.isoformat() == "2026-05-04T09:00:00+00:00"
    spares = [e for e in events if isinstance(e.data, SpareAccrued)]
    assert [e.data.entitled for e in spares] == [1, 2] and not any(e.upcast for e in spares)
    assert [e.aggregate_version for e in events] == list(range(1, len(events) + 1))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"specversion": "1.0"}).encode(), "missing attributes"),
    ],
)
def test_decode_refuses_what_is_not_an_envelope(value: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        decode(value)


def test_decode_refuses_other_specversions(seeded: list[tuple[int, Any]]) -> None:
    position, event = seeded[0]
    envelope = build_envelope(event, position)
    envelope["specversion"] = "0.3"
    with pytest.raises(EnvelopeError, match="specversion"):
        decode(encode(envelope))


def test_parse_type() -> None:
    assert parse_type("com.select.ledger.customer.OrderPlaced.v1") == ("OrderPlaced", 1)
    assert parse_type("com.select.ledger.customer.SpareAccrued.v12") == ("SpareAccrued", 12)
    for bad in ("OrderPlaced", "com.select.ledger.partner.Registered.v1", "com.select.ledger.customer.X.v0"):
        with pytest.raises(EnvelopeError):
            parse_type(bad)


def test_read_event_refuses_data_that_does_not_match_its_schema(seeded: list[tuple[int, Any]]) -> None:
    position, placed = next((p, e) for p, e in seeded if isinstance(e, Customer.OrderPlaced))
    envelope = build_envelope(placed, position)
    envelope["data"]["quantity"] = "many"
    with pytest.raises(EnvelopeError, match="does not match its schema"):
        read_event(envelope)
    envelope = build_envelope(placed, position)
    envelope["data"]["surprise"] = 1
    with pytest.raises(EnvelopeError, match="does not match its schema"):
        read_event(envelope)


def test_event_id_is_uuid5_of_customer_and_version() -> None:
    from uuid import UUID, uuid5

    from ledger.stream.envelope import EVENT_ID_NAMESPACE

    customer = UUID("7ca1becb-1aa1-59ef-8d34-277cfcfd5ea2")
    for version in (1, 2, 99, 123456):
        assert event_id(customer, version) == str(uuid5(EVENT_ID_NAMESPACE, f"{customer}:{version}"))


def test_relay_encoding_is_byte_identical_to_the_envelope(seeded: list[tuple[int, Any]]) -> None:
    from ledger.stream.envelope import encode_event

    for position, event in seeded:
        if is_published(event):
            key, value = encode_event(event, position)
            assert key == str(event.originator_id).encode()
            assert value == encode(build_envelope(event, position))


def test_s8_envelope_carries_the_audit_sequence_and_leaf_hash(seeded: list[tuple[int, Any]]) -> None:
    from ledger.stream.envelope import encode_event

    position, event = next((p, e) for p, e in seeded if is_published(e))
    leaf = bytes(range(32))
    envelope = build_envelope(event, position, (position - 1, leaf))
    assert envelope["auditseq"] == position - 1 and envelope["auditleaf"] == leaf.hex()
    assert encode_event(event, position, (position - 1, leaf))[1] == encode(envelope)
    assert "auditseq" not in build_envelope(event, position)


def test_envelopes_have_exactly_the_attributes_of_the_one_definition(seeded: list[tuple[int, Any]]) -> None:
    from ledger.stream.schemas import render
    from ledger.stream.schemas.envelope import NAMES, REQUIRED

    leaf = bytes(range(32))
    for position, event in seeded:
        if is_published(event):
            envelope = build_envelope(event, position, (position - 1, leaf))
            assert set(REQUIRED) <= set(envelope) <= set(NAMES), sorted(set(envelope) ^ set(NAMES))
    published = json.loads(render()["envelope.schema.json"])
    assert list(published["properties"]) == sorted(NAMES) and published["required"] == list(REQUIRED)
