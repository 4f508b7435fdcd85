"""The ledger's transcoder: the library's JSON format, parsed and written by ``orjson``.

Stored events keep exactly the format of the library's ``JSONTranscoder`` (``{"_type_": ...,
"_data_": ...}`` for UUIDs, times, dates and decimals, compact separators, UTF-8; the same bytes,
but for the spelling of a float's exponent, ``1e-7`` for ``1e-07``), so records
written before this transcoder decode unchanged and any ``eventsourcing`` application can still
read the log. ``OrjsonTranscoder`` implements the library's ``Transcoder`` interface and registers
``Transcoding`` objects as ``JSONTranscoder`` does.

Decoding parses with ``orjson`` (no per-object hook), then replaces the tagged objects in place;
it counts the ``"_type_"`` keys in the bytes first and stops walking as soon as that many tags are
replaced, so a snapshot (whose packed state has no tags, ``aggregates.packing``) is not walked
below its first level. Anything ``orjson`` refuses (integers beyond 64 bits, ``NaN``) goes through
the standard-library codec of the same format, so nothing the old transcoder wrote or accepted is
refused.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

from aggregates.packing import uuid_from_hex

_TAG_KEY = b'"_type_"'
_PLAIN = frozenset({str, int, bool, type(None)})
_ALL = 1 << 62


class DateAsISO(Transcoding):
    """Calendar dates (a device's purchase date) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class OrjsonTranscoder(Transcoder):
    """The library's JSON format (``JSONTranscoder``'s), parsed and written by ``orjson``.

    ``register`` takes the library's ``Transcoding`` objects; the library's own transcodings of
    UUIDs, times and dates decode through faster equivalents of their ``decode``.
    """

    def __init__(self) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        self._decoders: dict[str, Any] = {}
        self._fallback = JSONTranscoder()
        self._walk = self._walker()

    def register(self, transcoding: Transcoding) -> None:
        """Registers ``transcoding`` (its ``type`` for encoding, its ``name`` for decoding)."""
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding
        self._fallback.register(transcoding)
        fast = {UUIDAsHex: uuid_from_hex, DatetimeAsISO: datetime.fromisoformat, DateAsISO: date.fromisoformat}
        self._decoders[transcoding.name] = fast.get(type(transcoding), transcoding.decode)

    def encode(self, obj: Any) -> bytes:
        """``obj`` as the library's JSON bytes."""
        tagged = self._tag(obj)
        try:
            return orjson.dumps(tagged)
        except orjson.JSONEncodeError:
            return self._fallback.encode(obj)

    def decode(self, data: bytes) -> Any:
        """The object encoded in ``data`` (written by this transcoder or the library's JSON one)."""
        if type(data) is not bytes:
            data = bytes(data)
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return self._fallback.decode(data)
        tags = data.count(_TAG_KEY)
        if not tags:
            return obj
        if type(obj) is dict:
            if len(obj) == 2 and "_type_" in obj and "_data_" in obj:
                return self._untag(obj)
            self._walk(obj, tags)
        elif type(obj) is list:
            self._walk(obj, tags)
        return obj

    def _walker(self) -> Any:
        """The in-place walk over a parsed dict or list: it replaces tagged objects and returns how
        many of the ``tags`` it was given may be left (0: stop, every tag is replaced)."""
        untag, decoders = self._untag, self._decoders

        def walk(container: Any, tags: int) -> int:  # a dict or a list
            pairs = container.items() if type(container) is dict else enumerate(container)
            for key, value in pairs:  # replacing a value in place leaves the iteration valid
                kind = type(value)
                if kind is dict:
                    if "_type_" in value and "_data_" in value and len(value) == 2:
                        decode, data = decoders.get(value["_type_"]), value["_data_"]
                        container[key] = decode(data) if type(data) is str and decode is not None else untag(value)
                        tags -= 1
                    else:
                        tags = walk(value, tags)
                    if tags <= 0:
                        return 0
                elif kind is list:
                    tags = walk(value, tags)
                    if tags <= 0:
                        return 0
            return tags

        return walk

    def _tag(self, value: Any) -> Any:
        """``value`` with every registered type replaced by its tagged object; containers holding
        none are returned as they are (not copied)."""
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is dict:
            copy = None
            for key, item in value.items():
                if type(item) in _PLAIN:
                    continue
                tagged = self._tag(item)
                if tagged is not item:
                    if copy is None:
                        copy = dict(value)
                    copy[key] = tagged
            return value if copy is None else copy
        if kind is list:
            copied = None
            for i, item in enumerate(value):
                if type(item) in _PLAIN:
                    continue
                tagged = self._tag(item)
                if tagged is not item:
                    if copied is None:
                        copied = list(value)
                    copied[i] = tagged
            return value if copied is None else copied
        transcoding = self.types.get(kind)
        if transcoding is not None:
            return {"_type_": transcoding.name, "_data_": self._tag(transcoding.encode(value))}
        if kind is float:
            if not math.isfinite(value):
                raise ValueError(f"Out of range float value {value!r} is not JSON compliant")
            return value
        if kind is tuple or isinstance(value, tuple):
            return self._tag(list(value))
        if isinstance(value, (str, int, float)):
            return value
        if isinstance(value, dict):
            return self._tag(dict(value))
        if isinstance(value, list):
            return self._tag(list(value))
        raise TranscodingNotRegisteredError(
            f"Object of type {kind} is not serializable. Please define and register a custom transcoding "
            "for this type."
        )

    def _untag(self, tagged: dict[str, Any]) -> Any:
        name, data = tagged["_type_"], tagged["_data_"]
        decode = self._decoders.get(name)
        if decode is None:
            raise TranscodingNotRegisteredError(
                f"Data serialized with name '{name}' is not deserializable. Please register a custom "
                "transcoding for this type."
            )
        if type(data) is dict:
            if len(data) == 2 and "_type_" in data and "_data_" in data:
                data = self._untag(data)
            else:
                self._walk(data, _ALL)
        elif type(data) is list:
            self._walk(data, _ALL)
        return decode(data)


def library_json_transcoder() -> JSONTranscoder:
    """The library's own ``JSONTranscoder`` with the ledger's transcodings: the writer of every
    record stored before ``OrjsonTranscoder`` (kept to prove those records still decode)."""
    transcoder = JSONTranscoder()
    for transcoding in _transcodings():
        transcoder.register(transcoding)
    return transcoder


def _transcodings() -> tuple[Transcoding, ...]:
    return UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()


def ledger_transcoder() -> OrjsonTranscoder:
    """The ledger's transcoder with every transcoding its events use registered."""
    transcoder = OrjsonTranscoder()
    for transcoding in _transcodings():
        transcoder.register(transcoding)
    return transcoder

