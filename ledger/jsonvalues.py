"""The one JSON encoding of the ledger's values: times and dates as ISO 8601, UUIDs as their text.

``jsonable`` turns an event's or a result's values into JSON-ready ones (the event data of ``history``,
the stream envelope and the command results); ``json_default`` is the same conversion as the
``default`` hook of ``json.dumps`` (the relay's one-pass encoder, the command line's output, the
stored idempotent replies). Anything else that is not JSON is a ``TypeError``, never a silent ``str``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: a ``datetime``/``date`` as ISO 8601, a ``UUID`` as text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def jsonable(value: Any) -> Any:
    """``value`` with every time, date and UUID inside it (dicts, lists, tuples) converted as ``json_default`` does."""
    if isinstance(value, (datetime, date, UUID)):
        return json_default(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


ENVELOPE_FIELDS = frozenset(
    {"originator_id", "originator_version", "originator_topic", "timestamp", "at", "actor", "correlation_id",
     "causation_id"}
)
"""Attributes of a domain event that are its envelope (identity, times, actor, tracing), not its data."""


def event_data(domain_event: object) -> dict[str, Any]:
    """An event's data as JSON-ready values: its attributes other than ``ENVELOPE_FIELDS`` (``history``,
    the stream envelope, the rule-test kit)."""
    return {k: jsonable(v) for k, v in vars(domain_event).items() if k not in ENVELOPE_FIELDS}
