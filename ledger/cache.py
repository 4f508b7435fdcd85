"""The application's aggregate cache, bounded by what it holds rather than by how many aggregates.

The library's ``LRUCache`` holds at most N aggregates whatever their size; a customer's state grows
with every room, device and contract recorded on it, so a long-running ``ledger serve`` holding N
customers grows with the ledger's data. ``EventBoundedCache`` is an LRU whose bound is the sum of the
weights of its aggregates: each weighs its events (its version) plus ``FIXED_WEIGHT`` for the part
every aggregate has. A customer's state is close to linear in its events (``python -m
benchmarks.serve_memory`` measures about 5 KiB plus 0.6-1.2 KiB per event on the soak's workload),
so the bound is one on memory: ``LEDGER_AGGREGATE_CACHE_EVENTS`` events' worth.

The repository calls ``get`` (a hit moves the aggregate to the recent end) and ``put`` (after a
miss); the application calls ``reweigh`` after it recorded new events on an aggregate (a command
changes the cached object in place). Past the bound, the least recently used aggregates are evicted
until the rest fits; the one just used is always kept, even alone above the bound (an evicted
aggregate is only read again from its snapshot and later events).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

from eventsourcing.application import Cache

FIXED_WEIGHT = 8
"""What an aggregate weighs before its first event, in events: its fixed part (about 5 KiB) over
what an event adds to a customer's state (about 0.7 KiB)."""


def weight_of(aggregate: Any) -> int:
    """An aggregate's weight in the cache: its events (version) plus its fixed part."""
    return FIXED_WEIGHT + max(0, int(getattr(aggregate, "version", 0) or 0))


class EventBoundedCache(Cache[UUID, Any]):
    """LRU of aggregates whose total weight (``weight_of``) stays within ``max_events``."""

    def __init__(self, max_events: int) -> None:
        super().__init__()
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self.cache: OrderedDict[UUID, Any] = OrderedDict()
        self.weights: dict[UUID, int] = {}
        self.events = 0  # the sum of the weights held
        self.evictions = 0
        self.lock = threading.Lock()

    def __bool__(self) -> bool:  # the repository tests ``if self.cache``: an empty cache is still one
        return True

    def get(self, key: UUID, *, evict: bool = False) -> Any:
        with self.lock:
            value = self.cache[key]  # KeyError: a miss
            if evict:
                self._drop(key)
                return value
            self.cache.move_to_end(key)
            self._weigh(key, value)
            return value

    def put(self, key: UUID, value: Any) -> None:
        if value is None:
            return
        with self.lock:
            self.cache[key] = value
            self.cache.move_to_end(key)
            self._weigh(key, value)

    def reweigh(self, key: UUID) -> None:
        """Weigh ``key``'s aggregate again, as just used (new events were recorded on it); evicts past
        the bound."""
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                self._weigh(key, self.cache[key])

    def _weigh(self, key: UUID, value: Any) -> None:
        weight = weight_of(value)
        self.events += weight - self.weights.get(key, 0)
        self.weights[key] = weight
        # evict from the least recently used end; the aggregate just used (the recent end) stays
        while self.events > self.max_events and len(self.cache) > 1:
            self._drop(next(iter(self.cache)))
            self.evictions += 1

    def _drop(self, key: UUID) -> None:
        del self.cache[key]
        self.events -= self.weights.pop(key, 0)

    def __len__(self) -> int:
        return len(self.cache)
