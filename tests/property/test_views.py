"""Read models: live (caught up batch by batch) = rebuilt = computed from the aggregates."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.bootstrap import build_app
from ledger.readside import as_of_view, catch_up, live_view, open_read_models, rebuild_views
from projections.tables import PROJECTIONS
from tests.kit.scenario import Scenario, one_step


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    steps=st.integers(min_value=3, max_value=40),
    batch=st.integers(min_value=1, max_value=7),
    kill_after=st.integers(min_value=0, max_value=6),
)
def test_r13_live_views_equal_rebuilt_equal_aggregate_views(
    fresh_url: Callable[[], str], data: st.DataObject, steps: int, batch: int, kill_after: int
) -> None:
    app = build_app(fresh_url(), {"LEDGER_SECRET_KEY": "p"})
    models = open_read_models(app)
    try:
        sc = Scenario(app)
        for _ in range(steps):
            one_step(data, sc)
            if data.draw(st.booleans(), label="catch up now"):
                models.catch_up(app.recorder, app.mapper, batch_size=batch)
        # a projection run killed after some batches, then restarted, ends in the same place
        models.catch_up(app.recorder, app.mapper, batch_size=batch, max_batches=kill_after)
        catch_up(app, models)
        end = app.recorder.max_notification_id() or 0
        assert all(position == end for position in models.positions().values())
        at = sc.at + timedelta(days=data.draw(st.integers(0, 2000), label="view day"))
        live = {name: live_view(app, models, name, at) for name in PROJECTIONS}
        from_aggregates = {name: as_of_view(app, name, at) for name in PROJECTIONS}
        assert live == from_aggregates
        # a rebuild killed after some batches resumes and swaps in the same views
        rebuild_views(app, models, batch_size=batch, max_batches=kill_after)
        reports = rebuild_views(app, models, batch_size=batch)
        assert all(r.projection in PROJECTIONS for r in reports)
        rebuilt = {name: live_view(app, models, name, at) for name in PROJECTIONS}
        assert rebuilt == live
        checks = rebuild_views(app, models, check=True, batch_size=batch)
        assert all(r.differences == [] for r in checks)
    finally:
        models.close()
        app.close()
