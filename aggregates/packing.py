"""Aggregate state as plain JSON values, for snapshots: dataclasses, UUID-keyed maps, UUIDs, times.

UUIDs, datetimes and dates become tagged strings, so a snapshot decodes with the plain JSON parser
and no per-object hooks; UUIDs are rebuilt without re-parsing their text.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID, SafeUUID

DATACLASS_MARK = "__dataclass__"
MAP_MARK = "__map__"
_TAG = "\x00"


def _fast_uuid(hex_text: str) -> UUID:
    value = object.__new__(UUID)
    object.__setattr__(value, "int", int(hex_text, 16))
    object.__setattr__(value, "is_safe", SafeUUID.unknown)
    return value


def pack(value: Any) -> Any:
    if isinstance(value, str):
        return value if value[:1] != _TAG else f"{_TAG}S{value}"
    if isinstance(value, UUID):
        return f"{_TAG}U{value.hex}"
    if isinstance(value, datetime):
        return f"{_TAG}T{value.isoformat()}"
    if isinstance(value, date):
        return f"{_TAG}D{value.isoformat()}"
    if is_dataclass(value) and not isinstance(value, type):
        return {DATACLASS_MARK: type(value).__name__, "fields": [pack(getattr(value, f.name)) for f in fields(value)]}
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: pack(v) for k, v in value.items()}
        return {MAP_MARK: [[pack(k), pack(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [pack(v) for v in value]
    return value


def unpack(value: Any, classes: dict[str, type]) -> Any:
    if isinstance(value, str):
        if value[:1] != _TAG:
            return value
        kind, text = value[1], value[2:]
        if kind == "U":
            return _fast_uuid(text)
        if kind == "T":
            return datetime.fromisoformat(text)
        if kind == "S":
            return text
        return date.fromisoformat(text)
    if isinstance(value, dict):
        if DATACLASS_MARK in value:
            cls = classes[value[DATACLASS_MARK]]
            return cls(*[unpack(v, classes) for v in value["fields"]])
        if MAP_MARK in value:
            return {unpack(k, classes): unpack(v, classes) for k, v in value[MAP_MARK]}
        return {k: unpack(v, classes) for k, v in value.items()}
    if isinstance(value, list):
        return [unpack(v, classes) for v in value]
    return value
