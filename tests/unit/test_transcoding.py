"""The ledger's transcoder (``ledger.transcoding.OrjsonTranscoder``) writes the format of the library's
``JSONTranscoder`` byte for byte and reads everything that one wrote (SPEC 9: the log stays readable,
old records decode unchanged)."""

from __future__ import annotations

import json
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.domain import CommandMethodDecorator
from eventsourcing.persistence import Mapper, StoredEvent, TranscodingNotRegisteredError
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregates.customer import Customer
from aggregates.partner import Partner
from aggregates.reservations import PurchaseOrder, SerialNumber
from ledger.transcoding import OrjsonTranscoder, ledger_transcoder, library_json_transcoder

OLD = library_json_transcoder()
NEW = ledger_transcoder()
RECORDS = Path(__file__).parent / "data" / "records_written_by_json_transcoder.json"
AGGREGATES = (Customer, Partner, PurchaseOrder, SerialNumber)
ENVELOPE: dict[str, Any] = {"timestamp": datetime, "at": datetime, "actor": str, "originator_topic": str,
                            "correlation_id": str, "causation_id": str}

uuids = st.uuids()
datetimes = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])),
)
texts = st.one_of(st.text(), st.sampled_from(["_type_", "_data_", '{"_type_":"uuid_hex"}', "\x00U00", "é ☃ 𝄞"]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), texts, uuids, datetimes, st.dates(),
                    st.decimals(allow_nan=False, allow_infinity=False),
                    st.floats(allow_nan=False, allow_infinity=False))


def _not_a_tag(d: dict[str, Any]) -> bool:
    return not (len(d) == 2 and "_type_" in d and "_data_" in d)


values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.one_of(texts, st.just("_type_")), inner, max_size=5).filter(_not_a_tag),
    ),
    max_leaves=30,
)


def event_field_types() -> dict[str, dict[str, Any]]:
    """Every event type of every aggregate and the declared type of each of its fields."""
    found: dict[str, dict[str, Any]] = {}
    for aggregate in AGGREGATES:
        for name, member in vars(aggregate).items():
            if isinstance(member, CommandMethodDecorator):
                hints = typing.get_type_hints(member.decorated_func)
                hints.pop("return", None)
                hints.pop("self", None)
                event_name = member.given_event_cls.__qualname__ if member.given_event_cls else name
                found[f"{aggregate.__name__}.{event_name}"] = {**ENVELOPE, **hints}
    return found


EVENT_FIELDS = event_field_types()
SUPPORTED: dict[Any, st.SearchStrategy[Any]] = {
    str: texts, int: st.integers(-(2**63), 2**63 - 1), bool: st.booleans(), UUID: uuids, datetime: datetimes,
    date: st.dates(), int | None: st.none() | st.integers(), str | None: st.none() | texts,
    list[str]: st.lists(texts, max_size=4),
    dict[str, Any]: st.dictionaries(texts, values, max_size=5).filter(_not_a_tag),
}


def test_every_event_field_type_is_one_the_round_trip_covers() -> None:
    assert len(EVENT_FIELDS) >= 40
    unknown = {f"{event}.{field}": hint for event, fields in EVENT_FIELDS.items() for field, hint in fields.items()
               if hint not in SUPPORTED}
    assert unknown == {}


@st.composite
def event_states(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    event = draw(st.sampled_from(sorted(EVENT_FIELDS)))
    return event, {field: draw(SUPPORTED[hint]) for field, hint in EVENT_FIELDS[event].items()}


def _has_float(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_float(v) for v in value)
    return isinstance(value, float)


def assert_same_document(new: bytes, old: bytes, value: Any) -> None:
    """Byte for byte the library's output; where a float is written, its exponent may be spelt
    differently (``1e-7`` for ``1e-07``), the same number."""
    if _has_float(value):
        assert json.loads(new) == json.loads(old)
    else:
        assert new == old


def _as_json(value: Any) -> Any:
    """What a JSON round trip of ``value`` gives: tuples become lists."""
    if isinstance(value, dict):
        return {k: _as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_as_json(v) for v in value]
    return value


@settings(max_examples=300, deadline=None)
@given(event_states())
def test_every_event_type_round_trips_and_old_records_decode(case: tuple[str, dict[str, Any]]) -> None:
    _, state = case
    old_bytes = OLD.encode(state)
    assert_same_document(NEW.encode(state), old_bytes, state)
    assert NEW.decode(old_bytes) == state
    assert OLD.decode(NEW.encode(state)) == state


@settings(max_examples=300, deadline=None)
@given(values)
def test_nested_values_round_trip_with_the_old_transcoder_either_side(value: Any) -> None:
    expected = _as_json(value)
    assert NEW.decode(OLD.encode(value)) == expected
    assert OLD.decode(NEW.encode(value)) == expected
    assert NEW.decode(NEW.encode(value)) == expected
    assert_same_document(NEW.encode(value), OLD.encode(value), value)


def test_types_are_kept_exactly() -> None:
    when = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
    value = {"id": UUID(int=7), "at": when, "on": date(2026, 3, 1), "price": Decimal("1.10"),
             "deep": [{"x": [UUID(int=8), (1, 2)]}], "looks_like": {"_type_": "uuid_hex", "other": 1, "n": None}}
    out = NEW.decode(NEW.encode(value))
    assert out == {**value, "deep": [{"x": [UUID(int=8), [1, 2]]}]}
    assert type(out["id"]) is UUID and out["at"].utcoffset() == timedelta(hours=1)
    assert type(out["on"]) is date and type(out["price"]) is Decimal


def test_refusals_match_the_library_transcoder() -> None:
    class Unknown:
        pass

    with pytest.raises(TranscodingNotRegisteredError):
        NEW.encode({"x": Unknown()})
    with pytest.raises(TranscodingNotRegisteredError):
        NEW.decode(b'{"x":{"_type_":"nobody","_data_":"1"}}')
    with pytest.raises(ValueError, match="not JSON compliant"):
        NEW.encode({"x": float("nan")})
    bare = OrjsonTranscoder()
    with pytest.raises(TranscodingNotRegisteredError):
        bare.encode(UUID(int=1))


def test_what_orjson_refuses_goes_through_the_library_codec() -> None:
    big = {"n": 2**70, "m": [-(2**80)]}
    assert NEW.encode(big) == OLD.encode(big)
    assert NEW.decode(OLD.encode(big)) == big
    assert NEW.decode(b'{"x":NaN}')["x"] != NEW.decode(b'{"x":NaN}')["x"]  # NaN, as the library reads it


def test_committed_records_of_the_old_transcoder_decode_to_the_same_events() -> None:
    """Real records (one of each event type the workload writes, and a snapshot) as the ledger stored
    them with the library's ``JSONTranscoder`` before ``OrjsonTranscoder``."""
    records = json.loads(RECORDS.read_text("utf-8"))
    assert {r["table"] for r in records} == {"stored_events", "stored_snapshots"}
    old_mapper: Mapper[UUID] = Mapper(transcoder=OLD)
    new_mapper: Mapper[UUID] = Mapper(transcoder=NEW)
    for record in records:
        stored = StoredEvent(originator_id=UUID(record["originator_id"]),
                             originator_version=record["originator_version"], topic=record["topic"],
                             state=record["state"].encode("utf-8"))
        assert NEW.decode(stored.state) == OLD.decode(stored.state)
        new_event, old_event = new_mapper.to_domain_event(stored), old_mapper.to_domain_event(stored)
        assert type(new_event) is type(old_event)
        assert vars(new_event) == vars(old_event)
        assert isinstance(vars(new_event)["timestamp"], datetime)
        assert new_mapper.to_stored_event(new_event).state == stored.state
