"""Projection mechanics: positions only advance, a stale writer cannot commit, tables self-heal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from ledger.app import LedgerApplication
from ledger.readside import catch_up, live_view, open_read_models, read_engine
from projections.store import ProjectionConflict, ReadModels, decode, live_target
from projections.tables import PROJECTIONS, table_set
from tests.kit.commands import command, order, run

LATER = datetime(2026, 6, 1, tzinfo=UTC)


def test_r13_positions_never_move_back_when_projections_are_uneven(app: LedgerApplication) -> None:
    run(app, order(po="PO-1", quantity=60))
    models = open_read_models(app)
    models.catch_up(app.recorder, app.mapper, [live_target("contracts")])
    end = app.recorder.max_notification_id()
    models.catch_up(app.recorder, app.mapper, batch_size=1)
    assert models.positions() == {name: end for name in PROJECTIONS}
    assert live_view(app, models, "spares", LATER)[0]["accrued"] == 1
    assert len(live_view(app, models, "contracts", LATER)) == 1
    models.close()


def test_r13_a_runner_with_a_stale_position_cannot_commit(app: LedgerApplication) -> None:
    run(app, order(po="PO-1", quantity=60))
    first = open_read_models(app)
    second = open_read_models(app)
    catch_up(app, first)
    notifications = app.recorder.select_notifications(1, 100)
    targets = [live_target("spares")]
    with pytest.raises(ProjectionConflict):
        second._apply_batch(targets, {"spares": 0}, decode(app.mapper, notifications), notifications[-1].id)
    with first.engine.connect() as conn:
        spares = conn.execute(select(table_set("spares")["spares"])).all()
    assert len(spares) == 1, "the stale batch was not rolled back"
    first.close()
    second.close()


def test_r13_catching_up_twice_counts_once(app: LedgerApplication) -> None:
    run(app, order(po="PO-1", quantity=60))
    models = open_read_models(app)
    assert catch_up(app, models) > 0
    assert catch_up(app, models) == 0
    assert live_view(app, models, "contracts", LATER)[0]["quantity"] == 60
    models.close()


def test_r6_tables_of_an_older_shape_are_rebuilt_from_the_log(app: LedgerApplication) -> None:
    run(app, order(po="PO-1", quantity=10))
    engine = read_engine(app.settings.store)
    old = MetaData()
    Table("contracts", old, Column("customer_id", String(36), primary_key=True), Column("po", String(64)),
          Column("quantity", Integer))
    old.create_all(engine)
    models = ReadModels(engine)
    catch_up(app, models)
    rows = live_view(app, models, "contracts", LATER)
    assert [r["po_number"] for r in rows] == ["PO-1"]
    models.close()


def test_r8_expiry_candidates_are_customers_with_ended_grace_or_term(app: LedgerApplication) -> None:
    acme = run(app, order(po="PO-1", at="2026-01-05T09:00:00Z", years=1))
    run(app, order(po="PO-2", at="2026-01-05T09:00:00Z", company="Globex", email="a@globex.example"))
    assert list(app.expiry_candidates(datetime(2026, 2, 1, tzinfo=UTC))) == []
    in_grace_end = datetime(2026, 3, 10, tzinfo=UTC)
    assert len(list(app.expiry_candidates(in_grace_end))) == 2
    run(app, command("ExpireContracts", "2026-03-10T00:00:00Z"))
    assert list(app.expiry_candidates(in_grace_end)) == []
    after_one_year = datetime(2027, 3, 7, tzinfo=UTC)
    assert [str(c) for c in app.expiry_candidates(after_one_year)] == [acme["customer_id"]]
