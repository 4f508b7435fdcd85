"""SPEC 9 on `ledger serve`: X-Request-Id correlation, /metrics, /readyz with a check per projection."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from aggregates.customer import Customer
from ledger.app import LedgerApplication
from ledger.config import load_settings
from tests.kit.commands import order
from tests.kit.http import SECRET, Client, Server, create_key, ledger_cli, without_actor
from tests.kit.ops import inject_event

pytestmark = pytest.mark.integration


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Client]]:
    ledger_cli(db_url, "api-key", "list")
    server = Server(db_url, log=tmp_path / "serve.log").start()
    client = Client(server.url, create_key(db_url, "ops-ops", "--role", "ops"))
    try:
        yield server, client
    finally:
        client.close()
        server.stop()


def sample(text: str, name: str, **labels: str) -> float:
    wanted = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
    for line in text.splitlines():
        if line.startswith(f"{name}{wanted} "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name}{wanted} not in the metrics")


def test_r18_x_request_id_is_the_correlation_id_of_the_events_and_echoed(served: tuple[Server, Client]) -> None:
    _server, ops = served
    response = ops.http.post("/v1/commands", json=without_actor(order(po="PO-H1")),
                             headers={"X-Request-Id": "req-abc-123"})
    assert response.status_code == 200, response.text
    assert response.headers["x-request-id"] == "req-abc-123"
    customer = response.json()["customer_id"]
    history = ops.get(f"/v1/customers/{customer}/history").json()
    rows = history if isinstance(history, list) else history["items"]
    assert {r["correlation_id"] for r in rows} == {"req-abc-123"}

    generated = ops.http.post("/v1/commands", json=without_actor(order(po="PO-H2", company="Other Co",
                                                                       email="x@other.example")))
    assert generated.status_code == 200
    assert len(generated.headers["x-request-id"]) >= 32, "generated when absent"
    forged = ops.http.post("/v1/commands", json=without_actor(order(po="PO-H3", company="Third Co",
                                                                    email="y@third.example")),
                           headers={"X-Request-Id": "bad id\twith tabs " + "x" * 300})
    assert forged.headers["x-request-id"] != "bad id", "an unusable id is replaced"
    assert " " not in forged.headers["x-request-id"]


def test_r13_metrics_count_commands_by_outcome_and_rule_with_latency(served: tuple[Server, Client]) -> None:
    server, ops = served
    ops.ok(without_actor(order(po="PO-M1")))
    refused = ops.command({"command": "CancelOrder", "at": "2027-01-01T00:00:00Z", "po_number": "PO-M1"})
    assert refused.status_code == 409, refused.text
    text = httpx.get(server.url + "/metrics").text
    assert sample(text, "ledger_commands_total", command="PlaceOrder", outcome="accepted", rule="") == 1
    assert sample(text, "ledger_commands_total", command="CancelOrder", outcome="refused", rule="R7") == 1
    assert sample(text, "ledger_command_duration_seconds_count", command="PlaceOrder") == 1
    assert sample(text, "ledger_consumer_lag_events", consumer="contracts") == 0
    assert sample(text, "ledger_consumer_lag_seconds", consumer="contracts") == 0
    assert sample(text, "ledger_consumer_stopped", consumer="spares") == 0
    # the aggregate cache (ledger.cache): the refused command dropped the customer it read; the next
    # accepted one holds it again, a few events within the default bound
    assert sample(text, "ledger_aggregate_cache_aggregates") == 0
    assert sample(text, "ledger_aggregate_cache_events") == 0
    ops.ok(without_actor(order(po="PO-M2")))
    text = httpx.get(server.url + "/metrics").text
    assert sample(text, "ledger_aggregate_cache_aggregates") == 1
    assert 8 < sample(text, "ledger_aggregate_cache_events") < 50
    assert sample(text, "ledger_aggregate_cache_bound_events") == 50_000
    assert sample(text, "ledger_aggregate_cache_evictions_total") == 0


def test_r13_readyz_lists_each_check_and_fails_while_a_money_view_is_stopped(
    served: tuple[Server, Client], db_url: str
) -> None:
    server, ops = served
    first = ops.ok(without_actor(order(po="PO-R1")))
    ready = httpx.get(server.url + "/readyz")
    assert ready.status_code == 200
    checks = {c["name"]: c for c in ready.json()["checks"]}
    assert {"store", "schema", "projection:contracts", "projection:rooms", "projection:spares",
            "projection:access"} <= set(checks)
    assert all(c["ok"] for c in checks.values())
    assert checks["projection:contracts"]["lag_seconds"] == 0

    app = LedgerApplication(load_settings(db_url, {"LEDGER_SECRET_KEY": SECRET}))
    try:
        poison = inject_event(app, first["customer_id"], Customer.OrderPlaced, po_number="PO-BAD",
                              account_id=first["account_id"], service="select", years=1, end_customer={},
                              reseller={}, distributor={}, grace_days=60, warnings=[])
    finally:
        app.close()
    ops.ok(without_actor(order(po="PO-R2", company="After Co", email="z@after.example")))  # the writer catches up
    stopped = httpx.get(server.url + "/readyz")
    assert stopped.status_code == 503
    body: dict[str, Any] = stopped.json()
    assert body["status"] == "not_ready"
    contracts = next(c for c in body["checks"] if c["name"] == "projection:contracts")
    assert contracts["ok"] is False and contracts["stopped"]["position"] == poison
    assert contracts["stopped"]["event_type"] == "OrderPlaced" and contracts["lag_events"] >= 1
    access = next(c for c in body["checks"] if c["name"] == "projection:access")
    assert access["ok"] is True
    text = httpx.get(server.url + "/metrics").text
    assert sample(text, "ledger_consumer_stopped", consumer="contracts") == 1
