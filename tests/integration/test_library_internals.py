"""The private ``eventsourcing`` API that ``ledger.library`` uses is still there and still works.

When this fails after an upgrade of the library, read ``ledger/library.py`` against the new release.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from importlib.metadata import version

from eventsourcing.application import Application, Cache, LRUCache, ProcessingEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import get_topic, resolve_topic

from aggregates.customer import Customer, CustomerSnapshot
from aggregates.partner import Partner
from ledger import library
from ledger.app import LedgerApplication

T0 = datetime(2026, 1, 5, 9, tzinfo=UTC)


def test_the_installed_release_is_the_one_the_module_was_written_for() -> None:
    installed = version("eventsourcing").split(".")
    assert installed[:2] == library.WRITTEN_FOR.split(".")[:2], (
        f"eventsourcing {version('eventsourcing')} installed; ledger/library.py was written for "
        f"{library.WRITTEN_FOR}: read it against the new release, then update WRITTEN_FOR"
    )


def test_the_private_methods_keep_their_signatures() -> None:
    assert list(inspect.signature(Application._record).parameters) == ["self", "processing_event"]
    assert list(inspect.signature(Application._take_snapshots).parameters) == ["self", "processing_event"]
    assert list(inspect.signature(Application._notify).parameters) == ["self", "recordings"]
    for cache in (Cache, LRUCache):
        assert "evict" in inspect.signature(cache.get).parameters
    save = inspect.getsource(Application.save)
    assert save.index("self._record(") < save.index("self._take_snapshots(") < save.index("self._notify(")


def test_stored_topics_name_the_customer_module() -> None:
    # Every recorded event and snapshot names its class by topic; moving a class must not change them.
    assert get_topic(Customer) == "aggregates.customer:Customer"
    assert get_topic(Customer.OrderPlaced) == "aggregates.customer:Customer.OrderPlaced"
    assert get_topic(CustomerSnapshot) == "aggregates.customer:CustomerSnapshot"
    assert resolve_topic("aggregates.customer:CustomerSnapshot") is CustomerSnapshot


def test_record_after_record_evict_and_latest_versions(app: LedgerApplication) -> None:
    recorder = app.recorder
    assert isinstance(recorder, (SQLiteApplicationRecorder, PostgresApplicationRecorder))
    assert isinstance(recorder.events_table_name, str)
    partner = Partner(partner_id="p-1", name="P", at=T0, actor="ops")
    partner.add_user(email="a@p.example", at=T0, actor="ops")
    processing: ProcessingEvent = ProcessingEvent()  # type: ignore[type-arg]
    processing.collect_events(partner)
    recordings = app.record(processing)
    app.after_record(processing, recordings)
    assert [r.domain_event.originator_version for r in recordings] == [1, 2]
    assert all(r.notification.id for r in recordings)
    assert library.latest_versions(recorder, [partner.id]) == {partner.id: 2}
    assert library.latest_versions(recorder, []) == {}
    assert app.repository.cache is not None
    read = app.repository.get(partner.id)
    assert app.repository.cache.get(partner.id).version == read.version == 2, "the repository caches what it read"
    app.evict([partner.id])
    try:
        app.repository.cache.get(partner.id)
    except KeyError:
        pass
    else:
        raise AssertionError("evict() left the aggregate in the cache")


def test_raw_notification_rows_and_originator_ids(app: LedgerApplication) -> None:
    partner = Partner(partner_id="p-raw", name="P", at=T0, actor="ops")
    partner.add_user(email="a@p.example", at=T0, actor="ops")
    app.save(partner)
    last = app.recorder.max_notification_id()
    assert last is not None and last >= 2
    assert library.raw_notification_rows(app.recorder, 1, 1) == 1
    assert library.raw_notification_rows(app.recorder, 1, 10_000) == last
    assert library.raw_notification_rows(app.recorder, last + 1, 10) == 0
    notifications = app.recorder.select_notifications(1, 10_000)
    assert [n.originator_id for n in notifications][-2:] == [partner.id, partner.id]
    assert all(type(n.originator_id) is type(partner.id) and hash(n.originator_id) == hash(partner.id)
               for n in notifications[-2:])
    if isinstance(app.recorder, SQLiteApplicationRecorder):
        assert app.recorder.convert_originator_id(partner.id.hex) == partner.id
        assert app.recorder.convert_originator_id(str(partner.id)) == partner.id
