"""The one JSON encoding of dates, times and UUIDs (ledger.jsonvalues): the hook and the converter agree."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.jsonvalues import json_default, jsonable

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8), st.uuids(), st.dates(),
    st.datetimes(timezones=st.just(UTC)),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=12,
)


@given(values)
def test_the_hook_and_the_converter_write_the_same_json(value: Any) -> None:
    assert json.dumps(jsonable(value)) == json.dumps(value, default=json_default)


def test_times_dates_and_uuids_are_iso_8601_and_text() -> None:
    moment = datetime(2026, 5, 4, 9, 30, tzinfo=UTC)
    uid = UUID("5b0c3a3e-8f1d-4b8e-9a4f-2f6a1e7c9d20")
    assert jsonable({"at": moment, "on": date(2026, 5, 4), "id": uid, "ids": (uid,)}) == {
        "at": "2026-05-04T09:30:00+00:00", "on": "2026-05-04", "id": str(uid), "ids": [str(uid)],
    }


def test_anything_else_that_is_not_json_is_refused_not_stringified() -> None:
    with pytest.raises(TypeError, match="Decimal is not JSON serialisable"):
        json.dumps({"amount": Decimal("1.5")}, default=json_default)
