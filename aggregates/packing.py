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


def uuid_from_hex(hex_text: str) -> UUID:
    """A UUID from 32 hex digits, without ``UUID.__init__``'s parsing of text this code wrote."""
    if len(hex_text) != 32:
        return UUID(hex_text)
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
            return uuid_from_hex(text)
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


# Typed records: a dataclass as a list of its field values, converted by the field's declared type.
# Much smaller and faster than the generic form (no per-object marks, no type tests per value).

_RAW, _UUID, _TIME, _DATE, _UUID_TIME_MAP, _GENERIC = range(6)


def _kind(annotation: Any) -> int:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
    text = text.replace(" ", "")
    return {
        "str": _RAW, "int": _RAW, "bool": _RAW, "float": _RAW, "list[str]": _RAW, "dict[str,str]": _RAW,
        "str|None": _RAW, "int|None": _RAW,
        "UUID": _UUID, "UUID|None": _UUID, "datetime": _TIME, "datetime|None": _TIME, "date": _DATE,
        "dict[UUID,datetime]": _UUID_TIME_MAP,
    }.get(text, _GENERIC)


class RecordCodec:
    """Packs instances of one dataclass as lists of values and unpacks them again.

    The conversion of each field follows its annotation: UUIDs as hex, times and dates as ISO text,
    ``dict[UUID, datetime]`` as a flat list, strings and lists of strings as they are, anything
    else through the generic ``pack``/``unpack``.
    """

    def __init__(self, cls: type, classes: dict[str, type]) -> None:
        self.cls = cls
        self.classes = classes
        self.names = [f.name for f in fields(cls)]
        self.kinds = [_kind(f.type) for f in fields(cls)]
        self._unpack = self._compile_unpack()

    def pack(self, value: Any) -> list[Any]:
        out: list[Any] = []
        for name, kind in zip(self.names, self.kinds, strict=True):
            v = getattr(value, name)
            if kind == _RAW:
                out.append(v)
            elif kind == _UUID:
                out.append(None if v is None else v.hex)
            elif kind in (_TIME, _DATE):
                out.append(None if v is None else v.isoformat())
            elif kind == _UUID_TIME_MAP:
                flat: list[str] = []
                for k, t in v.items():
                    flat.append(k.hex)
                    flat.append(t.isoformat())
                out.append(flat)
            else:
                out.append(pack(v))
        return out

    def unpack(self, row: list[Any], uuids: dict[str, UUID]) -> Any:
        return self._unpack(row, uuids)

    def _compile_unpack(self) -> Any:
        """One function per record class that converts each field in place, like ``dataclasses``
        generates ``__init__``: no loop or type test per value at run time."""
        optional = {
            name: "None" in str(f.type) for name, f in zip(self.names, fields(self.cls), strict=True)
        }
        parts = []
        for i, (name, kind) in enumerate(zip(self.names, self.kinds, strict=True)):
            value = f"row[{i}]"
            if kind == _RAW:
                parts.append(value)
                continue
            call = {
                _UUID: f"_uuid({value}, uuids)",
                _TIME: f"_time({value})",
                _DATE: f"_date({value})",
                _UUID_TIME_MAP: f"_uuid_times({value}, uuids)",
                _GENERIC: f"_generic({value}, classes)",
            }[kind]
            parts.append(f"(None if {value} is None else {call})" if optional[name] else call)
        source = f"def unpack_record(row, uuids):\n    return cls({', '.join(parts)})\n"
        namespace: dict[str, Any] = {
            "cls": self.cls, "classes": self.classes, "_uuid": _memo_uuid, "_time": datetime.fromisoformat,
            "_date": date.fromisoformat, "_uuid_times": _uuid_times, "_generic": unpack,
        }
        exec(compile(source, f"<unpack {self.cls.__name__}>", "exec"), namespace)
        return namespace["unpack_record"]


def _memo_uuid(hex_text: str, uuids: dict[str, UUID]) -> UUID:
    u = uuids.get(hex_text)
    if u is None:
        u = uuids[hex_text] = uuid_from_hex(hex_text)
    return u


def _uuid_times(flat: list[str], uuids: dict[str, UUID]) -> dict[UUID, datetime]:
    return {_memo_uuid(flat[i], uuids): datetime.fromisoformat(flat[i + 1]) for i in range(0, len(flat), 2)}


STATE_FORMAT = "__format__"
_GENERIC_KEYS = "__generic__"


class StateCodec:
    """Packs an aggregate's state: its collections of dataclasses as typed records, the rest generically.

    ``collections`` names, for each attribute holding a ``dict`` of records keyed by one of their
    fields, the record class and that field (``None`` for a ``list`` of records). An attribute that
    does not fit its declaration (a foreign key or class) is packed generically, so nothing is lost.
    """

    VERSION = 2

    def __init__(self, collections: dict[str, tuple[type, str | None]], classes: dict[str, type]) -> None:
        self.collections = collections
        self.classes = classes
        self.codecs = {name: RecordCodec(cls, classes) for name, (cls, _) in collections.items()}

    def _fits(self, name: str, value: Any) -> bool:
        cls, key = self.collections[name]
        if key is None:
            return isinstance(value, list) and all(type(v) is cls for v in value)
        return isinstance(value, dict) and all(type(v) is cls and getattr(v, key) == k for k, v in value.items())

    def pack(self, state: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {STATE_FORMAT: self.VERSION}
        generic: list[str] = []
        for name, value in state.items():
            if name in self.collections and self._fits(name, value):
                items = value if isinstance(value, list) else value.values()
                out[name] = [self.codecs[name].pack(item) for item in items]
            else:
                out[name] = pack(value)
                generic.append(name)
        out[_GENERIC_KEYS] = generic
        return out

    def unpack(self, packed: dict[str, Any]) -> dict[str, Any]:
        if packed.get(STATE_FORMAT) != self.VERSION:
            return dict(unpack(packed, self.classes))
        generic = set(packed[_GENERIC_KEYS])
        uuids: dict[str, UUID] = {}
        state: dict[str, Any] = {}
        for name, value in packed.items():
            if name in (STATE_FORMAT, _GENERIC_KEYS):
                continue
            if name in generic:
                state[name] = unpack(value, self.classes)
                continue
            codec = self.codecs[name]
            records = [codec.unpack(row, uuids) for row in value]
            key = self.collections[name][1]
            state[name] = records if key is None else {getattr(r, key): r for r in records}
        return state
