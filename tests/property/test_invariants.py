"""Invariants over random command sequences (hypothesis).

Every sequence runs twice: through the real application on a SQLite event store, and through the
same handlers on plain in-memory aggregates (the live state). After every step both agree on
accepted/refused, refused commands recorded nothing, and the domain invariants hold; at the end the
state rebuilt from the stored events by a fresh application equals the live state.
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from aggregates.customer import Customer
from ledger.bootstrap import build_app
from tests.kit.memory import state
from tests.kit.scenario import Scenario, one_step


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), steps=st.integers(min_value=5, max_value=45))
def test_r10_r11_r13_invariants_hold_and_rebuild_equals_live(
    fresh_url: Callable[[], str], data: st.DataObject, steps: int
) -> None:
    db = fresh_url()
    environ = {"LEDGER_SECRET_KEY": "property"}
    app = build_app(db, environ)
    try:
        sc = Scenario(app)
        for _ in range(steps):
            one_step(data, sc)
        event(f"accepted>{min(sc.accepted, 20) // 5 * 5}")
        event(f"refused>{min(sc.refused, 20) // 5 * 5}")
        spares = sum(len(a.spares) for a in sc.live.values() if isinstance(a, Customer))
        event(f"spares accrued: {min(spares, 3)}")
    finally:
        app.close()
    rebuilt_app = build_app(db, environ)
    try:
        for aggregate_id, live in sc.live.items():
            rebuilt = rebuilt_app.repository.get(aggregate_id)
            assert type(rebuilt) is type(live)
            assert state(rebuilt) == state(live), f"rebuilt {type(live).__name__} differs from live"
        stored = sum(1 for _ in rebuilt_app.recorder.select_notifications(1, 1_000_000))
        live_events = sum(a.version for a in sc.live.values())
        assert stored == live_events, "events lost or duplicated"
    finally:
        rebuilt_app.close()
