"""R20: the one parser of an as-of time (``--as-of`` on the command line, ``as_of`` over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.errors import InvalidInput
from commands.parsing import parse_as_of


def test_r20_as_of_with_an_offset_is_the_same_moment_in_utc() -> None:
    assert parse_as_of("2026-05-01T12:00:00+02:00") == datetime(2026, 5, 1, 10, tzinfo=UTC)
    assert parse_as_of("2026-05-01T12:00:00Z") == datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert parse_as_of("2026-05-01") == datetime(2026, 5, 1, tzinfo=UTC)
    assert parse_as_of(" 2026-05-01T12:00:00 ") == datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("edge", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00"])
def test_r20_as_of_outside_the_calendar_in_utc_is_refused_naming_the_field(edge: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_as_of(edge, "--as-of")
    assert (info.value.rule, info.value.field) == ("R20", "--as-of")
    assert "representable" in info.value.message and edge in info.value.message


@pytest.mark.parametrize("bad", ["yesterday", "12345", "", "2026-13-01", "x" * 10_000])
def test_r20_as_of_that_is_not_iso_8601_is_refused_with_a_bounded_echo(bad: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_as_of(bad)
    assert (info.value.rule, info.value.field) == ("R20", "as_of")
    assert len(info.value.message) < 200


OFFSETS = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))


@given(st.datetimes(), OFFSETS)
def test_r20_any_parsed_as_of_is_aware_utc_or_a_clear_refusal(local: datetime, offset: timedelta) -> None:
    moment = local.replace(tzinfo=timezone(offset))
    try:
        parsed = parse_as_of(moment.isoformat())
    except InvalidInput as refusal:
        assert refusal.rule == "R20"
        return
    assert parsed.tzinfo is UTC and parsed == moment


def test_r20_an_offset_of_seconds_is_refused_naming_the_field() -> None:
    for text in ("2000-01-01T00:00:00+00:00:00.000001", "2026-03-01T12:00:00+05:30:15", "2026-03-01x12:00:00-05:30:15"):
        with pytest.raises(InvalidInput) as refused:
            parse_as_of(text, "as_of")
        assert refused.value.rule == "R20" and refused.value.field == "as_of"
        assert "hours and minutes" in str(refused.value)
    assert parse_as_of("2026-03-01T12:00:00+05:30") == datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
