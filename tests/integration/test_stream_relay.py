"""The relay against the real broker: everything published, in order, at least once; crash and broker
restarts lose nothing; the spares view rebuilt from the topic alone equals the ledger's."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ledger.app import LedgerApplication
from ledger.stream.envelope import event_id
from ledger.stream.relay import Relay, encode_rows
from ledger.stream.schemas.models import (
    ContractExpired,
    OrderCancelled,
    OrderPlaced,
    SpareAccrued,
    SpareAllocated,
    SpareRevoked,
)
from ledger.stream.subscriber import Subscriber
from tests.kit.broker import OwnBroker
from tests.kit.commands import FAR_FUTURE, order, run
from tests.kit.stream import (
    assert_per_customer_order,
    customer_events,
    end_offsets_total,
    ledger_cli,
    populate,
    read_topic,
    spares_from_aggregate,
    start_relay,
    stop_process,
    tracking_locked,
    wait_for,
)

pytestmark = pytest.mark.integration


def relay_all(app: LedgerApplication, kafka: str, topic: str, **kwargs: Any) -> Relay:
    relay = Relay(app, kafka, topic, **kwargs)
    try:
        relay.run()
    finally:
        relay.close()
    return relay


def subscribe_all(kafka: str, topic: str, group: str = "test", **kwargs: Any) -> tuple[list[Any], Subscriber]:
    with Subscriber(kafka, topic, group, **kwargs) as subscriber:
        events = list(subscriber.events(until_caught_up=True))
    return events, subscriber


def test_relay_publishes_every_customer_event_once_keyed_and_in_order(
    make_app: Callable[..., LedgerApplication], kafka: str, topic: str
) -> None:
    app = make_app(**FAR_FUTURE)  # dated years ahead of the clock (R20 bound)
    populate(app, customers=2)
    expected = customer_events(app)
    relay = relay_all(app, kafka, topic, batch_size=64)
    assert relay.stats.published == len(expected)
    assert relay.stats.skipped > 0, "reservation and partner events stay inside the ledger"
    assert relay.position() == app.recorder.max_notification_id()

    messages = read_topic(kafka, topic)
    assert len(messages) == len(expected)
    assert_per_customer_order(messages)
    envelopes = [m.envelope for m in messages]
    assert {e["id"] for e in envelopes} == {event_id(c, v) for c, v, _ in expected}
    for message in messages:
        assert ("content-type", b"application/cloudevents+json; charset=UTF-8") in message.headers
    # In log order per customer: each customer's ledger positions increase with its versions.
    by_customer: dict[str, list[tuple[int, int]]] = {}
    for e in envelopes:
        by_customer.setdefault(e["subject"], []).append((e["aggregateversion"], e["ledgerposition"]))
    for pairs in by_customer.values():
        assert [v for v, _ in pairs] == list(range(1, len(pairs) + 1))
        assert [p for _, p in pairs] == sorted(p for _, p in pairs)

    # The position is in the ledger database: a new relay publishes only what is new.
    again = relay_all(app, kafka, topic)
    assert again.stats.published == 0
    run(app, order(po="PO-NEW-1", at="2031-01-01T00:00:00Z", company="Latecomer Inc", email="ann@late.example"))
    again = relay_all(app, kafka, topic)
    assert again.stats.published == len(customer_events(app)) - len(expected)
    assert len(read_topic(kafka, topic)) == len(customer_events(app))


class SparesFromTopic:
    """The spares view (SPEC section 3) folded from the topic's events alone."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, tuple[str, int, bool]]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.last_entitled: dict[str, int] = {}

    def _view(self, customer: str) -> dict[str, Any]:
        return self.views.setdefault(customer, {"accrued": set(), "revoked": set(), "allocations": {}})

    def apply(self, event: Any) -> None:
        customer, data = str(event.customer_id), event.data
        orders = self.orders.setdefault(customer, {})
        if isinstance(data, OrderPlaced):
            orders[data.po_number] = (data.service, data.quantity, True)
        elif isinstance(data, (OrderCancelled, ContractExpired)):
            service, quantity, _ = orders[data.po_number]
            orders[data.po_number] = (service, quantity, False)
        elif isinstance(data, SpareAccrued):
            self._view(customer)["accrued"].add(data.spare_no)
            self.last_entitled[customer] = data.entitled
        elif isinstance(data, SpareRevoked):
            view = self._view(customer)
            view["revoked"].add(data.spare_no)
            view["allocations"].pop(data.spare_no, None)
            self.last_entitled[customer] = data.entitled
        elif isinstance(data, SpareAllocated):
            self._view(customer)["allocations"][data.spare_no] = (data.spare_no, data.product, data.ship_to)

    def view(self, customer: str) -> dict[str, Any]:
        active = sum(q for s, q, live in self.orders.get(customer, {}).values() if s == "select" and live)
        view = self._view(customer)
        result = {
            "customer_id": customer,
            "active_select_licenses": active,
            "entitled": active // 50,
            "accrued": len(view["accrued"]),
            "revoked": len(view["revoked"]),
            "live": len(view["accrued"] - view["revoked"]),
            "allocations": sorted(view["allocations"].values()),
        }
        if customer in self.last_entitled:
            assert self.last_entitled[customer] == result["entitled"]
        return result


def test_r13_spares_view_rebuilt_from_topic_equals_ledger(app: LedgerApplication, kafka: str, topic: str) -> None:
    results = populate(app, customers=4, seed=11)
    relay_all(app, kafka, topic)
    events, subscriber = subscribe_all(kafka, topic, from_beginning=True)
    assert subscriber.duplicates == 0
    folded = SparesFromTopic()
    for event in events:
        folded.apply(event)
    customers = sorted({str(r["customer_id"]) for r in results if r.get("customer_id")})
    assert customers
    with_spares = 0
    for customer in customers:
        expected = spares_from_aggregate(app, customer)
        assert folded.view(customer) == expected, customer
        with_spares += expected["accrued"] > 0
    assert with_spares >= 1, "the workload must accrue spares for the comparison to mean something"


def test_relay_sigkill_mid_batch_then_restart_loses_nothing_and_subscriber_drops_duplicates(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, tmp_path: Path
) -> None:
    populate(app, customers=4)
    expected = customer_events(app)
    Relay(app, kafka, topic).position()  # creates the tracking table before it is locked
    log = tmp_path / "relay.log"
    with tracking_locked(db_url):
        proc = start_relay(db_url, kafka, topic, "--follow", "--batch-size", "200", log=log)
        try:
            # The broker has acknowledged (part of) the first batch; the relay cannot record it.
            wait_for(lambda: end_offsets_total(kafka, topic) > 0, 60, "the first acknowledged messages")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    time.sleep(1)  # let the broker finish requests it had received before the kill
    published_before_crash = end_offsets_total(kafka, topic)
    assert Relay(app, kafka, topic).position() == 0, "the killed relay recorded nothing"

    done = ledger_cli("relay", "--bootstrap-servers", kafka, "--topic", topic, "--batch-size", "200", db=db_url)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    messages = read_topic(kafka, topic)
    assert len(messages) == len(expected) + published_before_crash, "the unrecorded batch was published again"
    assert_per_customer_order(messages)
    assert {m.envelope["id"] for m in messages} == {event_id(c, v) for c, v, _ in expected}, "no event lost"

    events, subscriber = subscribe_all(kafka, topic)
    assert subscriber.duplicates == published_before_crash
    assert [e.id for e in events] == list(dict.fromkeys(e.id for e in events)), "each event once"
    assert len(events) == len(expected)
    versions: dict[str, list[int]] = {}
    for event in events:
        versions.setdefault(str(event.customer_id), []).append(event.aggregate_version)
    for customer, seen in versions.items():
        assert seen == list(range(1, len(seen) + 1)), f"customer {customer} out of order"


def test_broker_stopped_and_restarted_under_running_relay_loses_nothing(
    make_app: Callable[..., LedgerApplication], db_url: str, own_kafka: OwnBroker, topic: str, tmp_path: Path
) -> None:
    kafka = own_kafka.bootstrap
    app = make_app(**FAR_FUTURE)
    populate(app, customers=1, with_seed_example=False)
    log = tmp_path / "relay.log"
    proc = start_relay(
        db_url,
        kafka,
        topic,
        "--follow",
        "--batch-size",
        "100",
        "--poll-interval",
        "0.1",
        "--delivery-timeout",
        "2",
        log=log,
    )
    relay = Relay(app, kafka, topic)
    try:
        head = app.recorder.max_notification_id()
        wait_for(lambda: relay.position() == head, 60, "the relay to publish the first events")
        own_kafka.stop()
        try:
            # Written while the broker is down: the relay must keep them until it is back.
            for n in range(5):
                run(
                    app,
                    order(
                        po=f"PO-DOWN-{n}",
                        at="2030-01-01T00:00:00Z",
                        company=f"Down {n} Ltd",
                        email=f"it.lead{n}@down{n}.example",
                    ),
                )
            head = app.recorder.max_notification_id()
            # Longer than the relay's delivery timeout: its rounds fail and are published again.
            wait_for(lambda: "re-publishing" in log.read_text(), 60, "the relay to notice the broker is gone")
        finally:
            own_kafka.start()
        for n in range(3):
            run(
                app,
                order(po=f"PO-UP-{n}", at="2030-02-01T00:00:00Z", company=f"Up {n} Ltd", email=f"cto{n}@up{n}.example"),
            )
        head = app.recorder.max_notification_id()
        wait_for(lambda: relay.position() == head, 120, "the relay to catch up after the broker restart")
        assert proc.poll() is None, "the relay kept running"
    finally:
        code = stop_process(proc)
    output = log.read_text()
    assert code == 0, output
    assert "Traceback" not in output
    assert "relay: resumed at position" in output, output

    expected = customer_events(app)
    messages = read_topic(kafka, topic)
    assert {m.envelope["id"] for m in messages} == {event_id(c, v) for c, v, _ in expected}, "nothing lost"
    assert_per_customer_order(messages)
    events, _ = subscribe_all(kafka, topic)
    assert len(events) == len(expected)


def test_relay_cli_errors_are_clear(db_url: str, topic: str) -> None:
    down = ledger_cli(
        "relay", "--bootstrap-servers", "127.0.0.1:1", "--topic", topic, "--connect-timeout", "2", db=db_url
    )
    assert down.returncode == 1
    assert "cannot reach Kafka at 127.0.0.1:1" in down.stderr and "scripts/kafka.sh start" in down.stderr
    bad = ledger_cli("relay", "--topic", "no spaces allowed", db=db_url)
    assert bad.returncode == 2 and "--topic" in bad.stderr
    bad = ledger_cli("relay", "--bootstrap-servers", "nohostport", "--topic", topic, db=db_url)
    assert bad.returncode == 2 and "--bootstrap-servers" in bad.stderr
    both = ledger_cli("relay", "--follow", "--until-caught-up", db=db_url)
    assert both.returncode == 2
    for proc in (down, bad, both):
        assert "Traceback" not in proc.stderr + proc.stdout


def test_relay_encoder_processes_build_the_very_messages_built_inline(app: LedgerApplication) -> None:
    populate(app, customers=2)
    notifications = app.recorder.select_notifications(1, 100_000)
    inline = Relay(app, "127.0.0.1:1", "unused", encoders=0)
    expected = list(inline._messages(notifications))
    audit = inline._audit(notifications)
    assert expected and expected == encode_rows(
        [(n.id, n.originator_id, n.originator_version, n.topic, n.state, audit.get(n.id)) for n in notifications],
        app.mapper,
    )
    # Every message carries its audit log entry's sequence number and leaf hash (SPEC section 8).
    assert all({"auditseq", "auditleaf"} <= set(json.loads(value)) for _, value in expected)
    pooled = Relay(app, "127.0.0.1:1", "unused", encoders=1, batch_size=50)
    try:
        pages, start = [], 1
        while True:
            page = pooled._page(start)
            if not page.notifications:
                break
            pages.extend(pooled._page_messages(page))
            start = page.notifications[-1].id + 1
        assert pooled._pool is not None, "the encoder process started"
        assert pages == expected
    finally:
        pooled.close()


@pytest.mark.parametrize("encoders", [0, 2])
def test_relay_publishes_the_same_bytes_with_or_without_encoder_processes(
    app: LedgerApplication, kafka: str, topic: str, encoders: int
) -> None:
    populate(app, customers=2)
    expected = list(Relay(app, kafka, "unused", encoders=0)._messages(app.recorder.select_notifications(1, 100_000)))
    relay = relay_all(app, kafka, topic, batch_size=37, encoders=encoders)
    assert relay.stats.published == len(expected)
    messages = read_topic(kafka, topic)
    by_key: dict[bytes, list[bytes]] = {}
    for m in sorted(messages, key=lambda m: (m.partition, m.offset)):
        by_key.setdefault(m.key, []).append(m.value)
    expected_by_key: dict[bytes, list[bytes]] = {}
    for key, value in expected:
        expected_by_key.setdefault(key, []).append(value)
    assert by_key == expected_by_key


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_relay_encoder_process_ends_when_the_relay_is_killed(
    app: LedgerApplication, db_url: str, kafka: str, topic: str, tmp_path: Path
) -> None:
    populate(app, customers=1)
    proc = start_relay(db_url, kafka, topic, "--follow", "--encoders", "1", log=tmp_path / "relay.log")
    try:
        wait_for(lambda: end_offsets_total(kafka, topic) > 0, 60, "the first acknowledged messages")
        encoders = [p for p in _children(proc.pid) if "spawn_main" in Path(f"/proc/{p}/cmdline").read_text()]
        assert encoders, "ledger relay runs an encoder process"
    finally:
        stop_process(proc, signal.SIGKILL)
    wait_for(lambda: not any(_alive(p) for p in encoders), 15, "the orphaned encoder process to end")
