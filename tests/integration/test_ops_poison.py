"""SPEC 9 error policy of the read models: stop at an event they cannot apply, report, never skip."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from aggregates.customer import Customer
from ledger.app import LedgerApplication, ViewStopped
from ledger.ops.metrics import LedgerMetrics, exposition
from ledger.ops.status import projection_statuses
from ledger.readside import catch_up, live_view, open_read_models
from projections import projectors
from tests.kit.cli import apply as cli_apply
from tests.kit.cli import ledger
from tests.kit.commands import order, run
from tests.kit.ops import inject_event

pytestmark = pytest.mark.integration
LATER = datetime(2026, 6, 1, tzinfo=UTC)


def _metric(text: str, name: str, consumer: str) -> float:
    prefix = f'{name}{{consumer="{consumer}"}} '
    (line,) = [line for line in text.splitlines() if line.startswith(prefix)]
    return float(line.removeprefix(prefix))


def _poisoned(app: LedgerApplication) -> tuple[str, int]:
    """Customer A, then a poison OrderPlaced of A (no quantity), then customer C's order."""
    a = run(app, order(po="PO-A", company="Alpha", email="a@alpha.example"))["customer_id"]
    poison = inject_event(
        app, a, Customer.OrderPlaced, po_number="PO-BAD", account_id=a,
        service="select", years=1, end_customer={}, reseller={}, distributor={}, grace_days=60, warnings=[],
    )
    run(app, order(po="PO-C", company="Gamma", email="c@gamma.example"))
    return a, poison


def test_r13_money_views_stop_at_a_poison_event_and_never_advance_past_it(app: LedgerApplication) -> None:
    a, poison = _poisoned(app)
    models = open_read_models(app)
    try:
        catch_up(app, models)
        stopped = {f.projection: f for f in models.faults()}
        assert set(stopped) == {"contracts", "spares"}, "rooms and access do not read the missing quantity"
        fault = stopped["contracts"]
        assert (fault.position, fault.customer_id, fault.event_type) == (poison, a, "OrderPlaced")
        assert "quantity" in fault.error
        assert models.position("contracts") == poison - 1
        assert models.position("spares") == poison - 1
        head = app.recorder.max_notification_id()
        assert models.position("rooms") == head and models.position("access") == head
        contracts = {c["po_number"] for c in live_view(app, models, "contracts", LATER)}
        assert contracts == {"PO-A"}, "the order after the poison event is not applied either"
        assert {c["name"] for c in live_view(app, models, "access", LATER)} == {"Alpha", "Gamma"}

        # Caught up again: still stopped at the same event, tried once more, nothing skipped.
        catch_up(app, models)
        assert models.fault("contracts").attempts == 2  # type: ignore[union-attr]
        assert models.position("contracts") == poison - 1

        metrics = LedgerMetrics()
        metrics.add_consumers(lambda: projection_statuses(app, models))
        text = exposition(metrics.registry)[0].decode()
        assert _metric(text, "ledger_consumer_stopped", "contracts") == 1
        assert _metric(text, "ledger_consumer_stopped", "access") == 0
        assert _metric(text, "ledger_consumer_lag_events", "contracts") >= 2
        assert _metric(text, "ledger_consumer_lag_seconds", "contracts") >= 0
        assert _metric(text, "ledger_consumer_lag_events", "access") == 0
        assert _metric(text, "ledger_consumer_lag_seconds", "access") == 0
    finally:
        models.close()


def test_r13_a_stopped_view_resumes_at_the_same_event_once_the_code_handles_it(
    app: LedgerApplication, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _poison = _poisoned(app)
    models = open_read_models(app)
    try:
        catch_up(app, models)
        assert models.fault("contracts") is not None
        original = projectors.CONTRACTS[Customer.OrderPlaced]

        def tolerant(w: Any, e: Any) -> None:  # the fix a new release would bring
            if not hasattr(e, "quantity"):
                object.__setattr__(e, "quantity", 0)
            original(w, e)

        monkeypatch.setitem(projectors.CONTRACTS, Customer.OrderPlaced, tolerant)
        catch_up(app, models)
        assert models.fault("contracts") is None
        assert models.position("contracts") == app.recorder.max_notification_id()
        assert {c["po_number"] for c in live_view(app, models, "contracts", LATER)} == {"PO-A", "PO-BAD", "PO-C"}
    finally:
        models.close()


def test_r13_ledger_project_reports_the_stopped_view_and_exits_1(db_url: str, make_app: Any) -> None:
    app = make_app()
    a, poison = _poisoned(app)
    app.close()
    proc = ledger("project", db=db_url)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    reports = [json.loads(line.split("stopped ", 1)[1]) for line in proc.stderr.splitlines() if "stopped {" in line]
    contracts = next(r for r in reports if r["projection"] == "contracts")
    assert contracts["position"] == poison and contracts["customer_id"] == a
    assert contracts["event_type"] == "OrderPlaced" and "quantity" in contracts["error"]


def test_r13_view_and_replay_refuse_to_present_a_stopped_view_as_current(db_url: str, make_app: Any) -> None:
    app = make_app()
    _poisoned(app)
    app.close()
    view = ledger("view", "contracts", "--json", db=db_url)
    assert view.returncode == 1 and view.stdout == ""
    assert "contracts view is not current" in view.stderr and "OrderPlaced" in view.stderr
    assert ledger("view", "access", "--json", db=db_url).returncode == 0, "a running view still answers"
    check = ledger("replay", "--check", db=db_url)
    assert check.returncode == 1
    assert "contracts: not rebuilt" in check.stdout and "identical" not in check.stdout.split("contracts:")[1][:60]


def test_r8_expire_contracts_refuses_on_a_stopped_contracts_view_naming_it_and_the_cause(
    db_url: str, make_app: Any
) -> None:
    app = make_app()
    _, poison = _poisoned(app)
    head = app.recorder.max_notification_id()
    app.close()
    # The contracts view is stopped before the poison event, so Gamma's contract (recorded after it)
    # is not in the view: candidates taken from it would leave Gamma's contract out whatever the date.
    status, results, _ = cli_apply(db_url, {"command": "ExpireContracts", "at": "2028-11-01T00:00:00Z",
                                            "actor": "ops"})
    assert status != 0
    (refusal,) = results
    assert refusal["ok"] is False and refusal["error"]["code"] == "view_stopped", refusal
    message = refusal["error"]["message"]
    assert "contracts view is stopped" in message and f"position {poison}" in message and "OrderPlaced" in message
    assert refusal["error"]["field"] == "contracts" and refusal["error"]["rule"] == "R8"
    again = make_app()
    assert again.recorder.max_notification_id() == head, "something was expired on a stale view"
    with pytest.raises(ViewStopped):
        run(again, {"command": "ExpireContracts", "at": "2028-11-01T00:00:00Z", "actor": "ops"})
    assert again.recorder.max_notification_id() == head
