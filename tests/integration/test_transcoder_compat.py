"""Records written by the library's ``JSONTranscoder`` (the ledger's writer before ``OrjsonTranscoder``)
decode unchanged through the ledger's transcoder, events and snapshots, on the selected backend; and
what the ledger writes now, the old transcoder still reads (SPEC 9: the log stays readable)."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import Transcoder

from ledger.app import LedgerApplication
from ledger.bootstrap import build_app, wire
from ledger.config import load_settings
from ledger.readside import customer_view_as_of
from ledger.transcoding import OrjsonTranscoder, library_json_transcoder
from tests.kit.big_customer import build_big_customer
from tests.kit.commands import order, run

SECRET = {"LEDGER_SECRET_KEY": "transcoder-compat"}


class OldTranscoderApplication(LedgerApplication):
    """The ledger as it was: the library's ``JSONTranscoder`` writes and reads the log."""

    name = "Ledger"  # the same tables as the ledger's (the library names them after the application)

    def construct_transcoder(self) -> Transcoder:
        return library_json_transcoder()


def _all_events(app: LedgerApplication) -> list[tuple[int, str, dict[str, Any]]]:
    out = []
    for n in app.recorder.select_notifications(1, 1_000_000):
        domain_event = app.mapper.to_domain_event(n)
        out.append((n.id, type(domain_event).__qualname__, dict(vars(domain_event))))
    return out


def _state(aggregate: object) -> dict[str, Any]:
    return {k: v for k, v in vars(aggregate).items() if k != "_pending_events"}


def test_old_records_decode_through_the_ledger_transcoder_and_back(db_url: str) -> None:
    old = wire(OldTranscoderApplication, load_settings(db_url, SECRET))
    try:
        customer_id, first, last = build_big_customer(old, 260)
        run(old, order(po="PO-COMPAT-1"))
        written_by_old = _all_events(old)
        old_state = _state(old.repository.get(customer_id))
        assert old.snapshots is not None and list(old.snapshots.get(customer_id))
    finally:
        old.close()

    new = build_app(db_url, SECRET)
    try:
        assert isinstance(new.mapper.transcoder, OrjsonTranscoder)
        assert _all_events(new) == written_by_old
        # the state is built from the snapshot the old transcoder wrote, then later events
        assert _state(new.repository.get(customer_id)) == old_state
        middle = first + (last - first) / 2
        rooms = customer_view_as_of(new, "rooms", customer_id, middle)
        assert rooms
        # new events and a new snapshot, written by the ledger transcoder
        second_id, _, _ = build_big_customer(new, 120, company="Second Co", key="SEC")
        assert new.snapshots is not None and list(new.snapshots.get(second_id))
        written_by_new = _all_events(new)
        new_state = _state(new.repository.get(second_id))
        assert len(written_by_new) > len(written_by_old)
    finally:
        new.close()

    again = wire(OldTranscoderApplication, load_settings(db_url, SECRET))
    try:
        assert _all_events(again) == written_by_new
        assert _state(again.repository.get(second_id)) == new_state
        assert _state(again.repository.get(customer_id)) == old_state
        assert customer_view_as_of(again, "rooms", customer_id, middle) == rooms
    finally:
        again.close()
