"""SPEC 9 (the soak's RSS flat): what a long-running server keeps in memory is bounded by what it holds.

``ledger serve``'s heap grows with the state of the aggregates in the application's cache (the
customers' accounts, rooms, devices, contracts: the ledger's data, see ``benchmarks.serve_memory``),
and a customer's state grows with its events; so the cache is bounded by the events of the
aggregates it holds (``LEDGER_AGGREGATE_CACHE_EVENTS``, ``ledger.cache``), not by their number, and
evicting by that bound never changes an answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from aggregates.customer import Customer
from aggregates.errors import LedgerError
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from ledger.cache import EventBoundedCache, weight_of
from ledger.config import DEFAULT_CACHE_EVENTS, ConfigurationError
from ledger.demo import generate
from tests.kit.http import SECRET
from tests.kit.memory import state


def workload(customers: int) -> list[dict[str, Any]]:
    """The demo's commands for ``customers`` customers, with only the last few daily expiry runs."""
    commands = list(generate(customers=customers, seed=5))
    expiries = [i for i, c in enumerate(commands) if c["command"] == "ExpireContracts"]
    return [c for i, c in enumerate(commands) if c["command"] != "ExpireContracts" or i in expiries[-3:]]


def run(app: LedgerApplication, commands: list[dict[str, Any]], check: Callable[[], None] = lambda: None) -> list[Any]:
    answers: list[Any] = []
    for raw in commands:
        try:
            result = app.execute(parse_command(raw))
            answers.append({k: v for k, v in result.items() if k not in ("recorded_at", "positions")})
        except LedgerError as refusal:
            answers.append((refusal.code, refusal.rule, refusal.field))
        check()
    return answers


def test_s9_the_cache_is_bounded_by_the_events_it_holds_by_default(make_app: Callable[..., LedgerApplication]) -> None:
    cache = make_app().repository.cache
    assert isinstance(cache, EventBoundedCache)
    assert cache.max_events == DEFAULT_CACHE_EVENTS == 50_000  # the bound README's "Memory" documents
    assert make_app(LEDGER_AGGREGATE_CACHE_EVENTS="0").repository.cache is None
    with pytest.raises(ConfigurationError, match="LEDGER_AGGREGATE_CACHE_EVENTS"):
        make_app(LEDGER_AGGREGATE_CACHE_EVENTS="lots")


def test_s9_the_cache_stays_within_its_events_after_more_customers_than_it_holds(
    make_app: Callable[..., LedgerApplication],
) -> None:
    app = make_app(LEDGER_AGGREGATE_CACHE_EVENTS="120")
    cache = app.repository.cache
    assert isinstance(cache, EventBoundedCache)
    held: list[int] = []

    def check() -> None:
        assert cache.events == sum(weight_of(a) for a in cache.cache.values())
        assert cache.events <= 120 or len(cache) == 1
        # what it holds is each aggregate as recorded (weighed after the command's events)
        for aggregate_id, aggregate in cache.cache.items():
            assert aggregate.version == app.latest_versions([aggregate_id])[aggregate_id]
        held.append(len(cache))

    answers = run(app, workload(6), check)
    assert cache.evictions > 0
    customers = {UUID(str(a["customer_id"])) for a in answers if isinstance(a, dict) and a.get("customer_id")}
    assert len(customers) == 6 and max(held) < 6  # it never held them all
    for customer_id in customers:  # an evicted customer loads again from the store, whole
        assert isinstance(app.repository.get(customer_id), Customer)
        assert cache.events <= 120 or len(cache) == 1


def test_s9_evicting_by_the_bound_never_changes_an_answer_or_a_state(fresh_url: Callable[[], str]) -> None:
    commands = workload(4)
    apps = {bound: build_app(fresh_url(), {"LEDGER_SECRET_KEY": SECRET, "LEDGER_AGGREGATE_CACHE_EVENTS": bound})
            for bound in ("50000", "1", "0")}
    try:
        answers = {bound: run(app, commands) for bound, app in apps.items()}
        assert answers["1"] == answers["50000"] == answers["0"]
        assert any(isinstance(a, tuple) for a in answers["1"]) and any(isinstance(a, dict) for a in answers["1"])
        customers = list(apps["0"].customer_ids())
        assert len(customers) == 4
        for customer_id in customers:
            assert state(apps["1"].customer(customer_id)) == state(apps["50000"].customer(customer_id)) == state(
                apps["0"].customer(customer_id))
    finally:
        for app in apps.values():
            app.close()
