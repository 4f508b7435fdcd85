"""SPEC 9 (the soak's RSS): what a long-running server keeps in memory is bounded.

``ledger serve``'s heap grows with the state of the aggregates in the application's cache (the
customers' accounts, rooms, devices, contracts: the ledger's data, see ``benchmarks.serve_memory``),
so that cache must stay an LRU of at most ``AGGREGATE_CACHE_MAXSIZE`` aggregates however many
customers the server sees; an unbounded cache (the library's plain ``Cache``, or no maximum) would
make its memory grow with the whole ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from eventsourcing.application import LRUCache

from aggregates.customer import Customer
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.demo import generate


def test_s9_aggregate_cache_stays_bounded_after_more_customers_than_it_holds(
    make_app: Callable[..., LedgerApplication],
) -> None:
    app = make_app()
    cache = app.repository.cache
    assert isinstance(cache, LRUCache)
    assert cache.maxsize == 2000  # the bound README's "Operating the ledger" documents
    cache.maxsize = 5
    orders = [c for c in generate(customers=12, seed=5) if c["command"] == "PlaceOrder"]
    customers: set[str] = set()
    for raw in orders:
        result = app.execute(parse_command(raw))
        customers.add(str(result["customer_id"]))
        assert len(cache.cache) <= 5
    assert len(customers) > 5
    for customer_id in customers:  # an evicted customer loads again from the store
        assert isinstance(app.repository.get(UUID(customer_id)), Customer)
        assert len(cache.cache) <= 5
