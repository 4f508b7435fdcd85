"""The ledger's JSON transcoder: the library's format, decoded with less work per value.

Stored events stay exactly as the library writes them (``{"_type_": ..., "_data_": ...}`` for
UUIDs, times and dates), so any ``eventsourcing`` application can still read the log. Decoding
uses one closure as the object hook instead of a bound method with nested ``try`` blocks, and
builds UUIDs from their hex without re-validating text the ledger itself wrote.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Transcoding, UUIDAsHex

from aggregates.packing import uuid_from_hex


class DateAsISO(Transcoding):
    """Calendar dates (a device's purchase date) as ISO strings."""

    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class LedgerTranscoder(JSONTranscoder):
    """``JSONTranscoder`` with a faster decoder for the library's own encoding."""

    def __init__(self) -> None:
        super().__init__()
        self._decoders: dict[str, Any] = {}
        self.decoder = json.JSONDecoder(object_hook=self._hook())

    def register(self, transcoding: Transcoding) -> None:
        super().register(transcoding)
        fast = {UUIDAsHex: uuid_from_hex, DatetimeAsISO: datetime.fromisoformat, DateAsISO: date.fromisoformat}
        self._decoders[transcoding.name] = fast.get(type(transcoding), transcoding.decode)

    def _hook(self) -> Any:
        decoders = self._decoders
        slow = self._decode_obj

        def hook(d: dict[str, Any]) -> Any:
            if len(d) == 2:
                kind = d.get("_type_")
                if kind is not None and "_data_" in d:
                    decode = decoders.get(kind)
                    return decode(d["_data_"]) if decode is not None else slow(d)
            return d

        return hook


def ledger_transcoder() -> LedgerTranscoder:
    """The ledger's transcoder with every transcoding its events use registered."""
    transcoder = LedgerTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO(), DateAsISO()):
        transcoder.register(transcoding)
    return transcoder
