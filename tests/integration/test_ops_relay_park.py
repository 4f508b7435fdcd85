"""SPEC 9 error policy of the relay (a side effect: it parks), on the real broker.

An event the relay can never publish (its record is larger than the producer's limit, or it cannot
be decoded) is parked under its customer; that customer's later events are parked behind it, in
order; other customers' events are published and the position advances. ``ledger parked retry
--consumer relay:<topic>`` marks them, and the relay publishes them again, in original order.
A broker outage is not parked (waited out: ``test_stream_relay``).
"""

from __future__ import annotations

import json

import pytest
from eventsourcing.utils import get_topic

from aggregates.customer import Customer
from ledger.app import LedgerApplication
from ledger.stream.relay import WAITS_BEHIND, Relay
from tests.kit.commands import order, run
from tests.kit.ops import inject_event
from tests.kit.stream import ledger_cli, read_topic

pytestmark = pytest.mark.integration

LONG = "x" * 190


def _published(kafka: str, topic: str) -> list[tuple[str, int]]:
    """(customer, ledger position) of every message on the topic, in each partition's order."""
    return [(m.envelope["subject"], m.envelope["ledgerposition"]) for m in read_topic(kafka, topic)]


def _relay(app: LedgerApplication, kafka: str, topic: str, **overrides: int) -> Relay:
    relay = Relay(app, kafka, topic, producer_overrides=overrides)
    try:
        relay.run()
    finally:
        relay.close()
    return relay


def test_r13_relay_parks_an_oversized_event_and_its_customers_later_ones_others_go_on(
    app: LedgerApplication, kafka: str, db_url: str, topic: str
) -> None:
    small = run(app, order(po="PO-SMALL-1", company="Small", email="s@small.example"))["customer_id"]
    run(app, order(po="PO-SMALL-2", company="Small", email="s@small.example", customer_id=small))
    big = run(app, order(
        po="PO-BIG-1", company="Big " + LONG, email="b@big.example",
        address={"line1": LONG, "city": LONG, "postal_code": "12345", "country": "US"},
    ))["customer_id"]
    run(app, order(po="PO-BIG-2", company="Big " + LONG, email="b@big.example", customer_id=big))
    other = run(app, order(po="PO-OTHER-1", company="Other", email="o@other.example"))["customer_id"]

    probe = Relay(app, kafka, topic)
    sizes = [(json.loads(v)["subject"], json.loads(v)["ledgerposition"], len(k) + len(v))
             for k, v in probe._messages(app.recorder.select_notifications(1, 1000))]
    probe.close()
    largest_small = max(n for c, _, n in sizes if c != big)
    first_big = next((p, n) for c, p, n in sizes if c == big and n > largest_small + 400)
    limit = (largest_small + first_big[1]) // 2  # every other record fits, the big customer's does not
    relay = _relay(app, kafka, topic, max_request_size=limit)

    head = app.recorder.max_notification_id() or 0
    assert relay.position() == head, "the relay did not advance past the parked event"
    big_positions = [p for c, p, _ in sizes if c == big]
    published = _published(kafka, topic)
    assert {c for c, _ in published} == {small, other, big}
    assert [p for c, p in published if c == big] == [p for p in big_positions if p < first_big[0]]
    assert sorted(p for c, p in published if c != big) == [p for c, p, _ in sizes if c != big]

    parked = relay.parked.listing("relay:" + topic)
    assert [p.position for p in parked] == [p for p in big_positions if p >= first_big[0]]
    assert {p.customer_id for p in parked} == {big}
    assert "MessageSizeTooLargeError" in parked[0].error
    assert all(p.error == WAITS_BEHIND for p in parked[1:])
    assert relay.stats.parked == len(parked)

    # the operator raises the limit and retries them: published in original order, once each
    listed = ledger_cli("parked", "list", "--consumer", f"relay:{topic}", "--json", db=db_url)
    assert listed.returncode == 0, listed.stderr
    assert [row["position"] for row in json.loads(listed.stdout)] == [p.position for p in parked]
    retried = ledger_cli("parked", "retry", "--consumer", f"relay:{topic}", "--reason", "limit raised",
                         "--customer", big, db=db_url)
    assert retried.returncode == 0, retried.stderr
    again = _relay(app, kafka, topic)
    assert [p for c, p in _published(kafka, topic) if c == big] == big_positions
    assert again.parked_count() == 0
    assert {a.action for a in again.parked.actions("relay:" + topic)} >= {"parked", "retry_requested", "retried"}


def test_r13_relay_parks_an_event_it_cannot_decode_and_goes_on(
    app: LedgerApplication, kafka: str, topic: str
) -> None:
    broken = run(app, order(po="PO-BROKEN-1", company="Broken", email="b@broken.example"))["customer_id"]
    poison = inject_event(app, broken, Customer.Registered,
                          topic=get_topic(Customer).replace(":Customer", ":Customer.NoSuchEvent"), name="x")
    fine = run(app, order(po="PO-FINE-1", company="Fine", email="f@fine.example"))["customer_id"]
    relay = _relay(app, kafka, topic)
    assert relay.position() == (app.recorder.max_notification_id() or 0)
    parked = relay.parked.listing("relay:" + topic)
    assert [(p.customer_id, p.position) for p in parked] == [(broken, poison)]
    assert parked[0].error.split(":")[0] in {"TopicError", "ModuleNotFoundError", "AttributeError"}, parked[0].error
    published = _published(kafka, topic)
    fine_events = [e for e in customer_events_safe(app) if e[0] == fine]
    assert len([c for c, _ in published if c == fine]) == len(fine_events) > 0
    assert poison not in [p for _, p in published]


def customer_events_safe(app: LedgerApplication) -> list[tuple[str, int]]:
    """(customer, position) of every decodable customer event (the poison one is left out)."""
    out = []
    for n in app.recorder.select_notifications(1, 1000):
        try:
            event = app.mapper.to_domain_event(n)
        except Exception:
            continue
        if isinstance(event, Customer.Event):
            out.append((str(event.originator_id), n.id))
    return out

