"""SPEC 9 (the soak's RSS flat): the aggregate cache is bounded by the events it holds (``ledger.cache``).

A customer's state grows with its events, so a cache of N aggregates grows with the ledger; this one
keeps the sum of its aggregates' weights (events plus a fixed part) within its bound, evicting the
least recently used first and always keeping the one just used.
"""

from __future__ import annotations

import contextlib
from types import SimpleNamespace
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.cache import FIXED_WEIGHT, EventBoundedCache, weight_of


def agg(version: int) -> SimpleNamespace:
    return SimpleNamespace(version=version)


def test_s9_an_aggregate_weighs_its_events_plus_its_fixed_part() -> None:
    assert weight_of(agg(0)) == FIXED_WEIGHT
    assert weight_of(agg(40)) == 40 + FIXED_WEIGHT


def test_s9_the_least_recently_used_is_evicted_first_once_the_events_exceed_the_bound() -> None:
    cache = EventBoundedCache(max_events=3 * (10 + FIXED_WEIGHT))
    a, b, c, d = (uuid4() for _ in range(4))
    for key in (a, b, c):
        cache.put(key, agg(10))
    assert cache.get(a).version == 10  # a is now the most recently used
    cache.put(d, agg(10))
    assert set(cache.cache) == {c, a, d}
    assert cache.evictions == 1
    with pytest.raises(KeyError):
        cache.get(b)
    assert cache.events == 3 * (10 + FIXED_WEIGHT)


def test_s9_an_aggregate_that_grew_in_place_is_weighed_again_and_evicts_older_ones() -> None:
    cache = EventBoundedCache(max_events=100)
    a, b = uuid4(), uuid4()
    cache.put(a, agg(20))
    grown = agg(20)
    cache.put(b, grown)
    grown.version = 80  # a command recorded 60 events on the cached object
    cache.reweigh(b)
    assert list(cache.cache) == [b]
    assert cache.events == 80 + FIXED_WEIGHT


def test_s9_the_aggregate_just_used_stays_even_alone_above_the_bound() -> None:
    cache = EventBoundedCache(max_events=1)
    a, b = uuid4(), uuid4()
    cache.put(a, agg(500))
    assert cache.get(a).version == 500
    cache.put(b, agg(3))
    assert list(cache.cache) == [b]


def test_s9_evict_removes_and_returns_and_an_empty_cache_is_still_a_cache() -> None:
    cache = EventBoundedCache(max_events=50)
    assert cache  # the repository tests ``if self.cache``
    a = uuid4()
    cache.put(a, agg(5))
    assert cache.get(a, evict=True).version == 5
    assert cache.events == 0 and len(cache) == 0
    with pytest.raises(KeyError):
        cache.get(a)
    cache.put(a, None)  # the library puts what it read; None is nothing
    assert len(cache) == 0


def test_s9_a_bound_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_events"):
        EventBoundedCache(max_events=0)


keys = [UUID(int=i) for i in range(6)]
operations = st.lists(
    st.tuples(st.sampled_from(["put", "get", "evict", "grow"]), st.sampled_from(keys), st.integers(0, 60)),
    max_size=60,
)


@given(st.integers(1, 200), operations)
def test_s9_the_events_held_stay_within_the_bound_and_are_the_sum_of_the_weights(
    bound: int, ops: list[tuple[str, UUID, int]]
) -> None:
    cache = EventBoundedCache(max_events=bound)
    model: dict[UUID, SimpleNamespace] = {}  # what was last put under each key
    for op, key, version in ops:
        if op == "put":
            model[key] = agg(version)
            cache.put(key, model[key])
        elif op == "get":
            with contextlib.suppress(KeyError):
                assert cache.get(key) is model[key]
        elif op == "evict":
            with contextlib.suppress(KeyError):
                cache.get(key, evict=True)
            assert key not in cache.cache
        elif key in cache.cache:
            cache.cache[key].version += version
            cache.reweigh(key)
        assert cache.events == sum(weight_of(a) for a in cache.cache.values())
        assert cache.events <= bound or len(cache) == 1
        if op in ("put", "grow") and key in model and (op == "put" or key in cache.cache):
            assert next(reversed(cache.cache)) == key  # the one just used is kept, at the recent end
