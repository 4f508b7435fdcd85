"""A page of the live rooms view is read from the tables as a page: the rooms after a room id, at
most ``limit`` of them, each with its licenses and devices, equal to that slice of the whole view."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest

from ledger.app import LedgerApplication
from ledger.readside import catch_up, live_view, open_read_models
from tests.kit.commands import order, run
from tests.kit.support import command

pytestmark = pytest.mark.integration
AT = "2026-05-05T09:00:00Z"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_rooms_page_in_the_query_equals_the_slice_of_the_whole_view(app: LedgerApplication) -> None:
    """Every cursor (none, each room id, before and after all ids) with every limit (none, 1 … 12)."""
    placed = run(app, order(po="PO-PAGED", quantity=20))
    cid, aid = placed["customer_id"], placed["account_id"]
    other = run(app, order(po="PO-OTHER", company="Other Corp", email="it@other.example"))
    run(app, command("AddRoom", AT, customer_id=other["customer_id"], account_id=other["account_id"],
                     name="Elsewhere", site="HQ", country="US"))
    for n in range(9):
        room = run(app, command("AddRoom", AT, customer_id=cid, account_id=aid, name=f"R{n}", site="HQ",
                                country="US"))
        if n % 3 == 0:
            run(app, command("AssignLicense", AT, customer_id=cid, room_id=room["room_id"], po_number="PO-PAGED"))
        if n % 2 == 0:
            run(app, command("RegisterDevice", AT, customer_id=cid, room_id=room["room_id"],
                             serial_number=f"PAGED-{n}", product="Rally Bar", purchased_on="2026-01-15"))
    models = open_read_models(app)
    try:
        catch_up(app, models)
        whole = live_view(app, models, "rooms", NOW, UUID(cid))
        assert len(whole) == 9 and sum(len(r["devices"]) for r in whole) == 5
        assert sum(len(r["licenses"]) for r in whole) == 3
        cursors = [None, "0" * 36, "f" * 36, *(r["room_id"] for r in whole)]
        for after in cursors:
            for limit in (None, *range(1, 13)):
                page = live_view(app, models, "rooms", NOW, UUID(cid), after=after, limit=limit)
                expected = [r for r in whole if after is None or r["room_id"] > after]
                assert page == (expected if limit is None else expected[:limit]), (after, limit)
    finally:
        models.close()


def test_a_page_of_a_view_not_paged_in_its_query_is_refused(app: LedgerApplication) -> None:
    models = open_read_models(app)
    try:
        with pytest.raises(ValueError, match="not paged"):
            live_view(app, models, "contracts", NOW, None, limit=5)
    finally:
        models.close()
