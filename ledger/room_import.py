"""Reading a device platform's room export (R28), streamed: JSON or CSV, one room at a time.

JSON: an array of rooms, or an object whose ``rooms`` member is that array (the ``ImportRooms``
command's shape), parsed incrementally with ``ijson``. CSV: a header row with ``external_id``,
``name``, ``site``, ``country`` and, for devices, ``serial_number``, ``product``,
``purchased_on``; one row per device, consecutive rows of one ``external_id`` form one room (a row
with empty device columns is a room without devices). Memory stays flat in the file's size.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson

ROOM_COLUMNS = ("external_id", "name", "site", "country")
DEVICE_COLUMNS = ("serial_number", "product", "purchased_on")


class ImportFileError(Exception):
    """The file cannot be read as a room export (not JSON/CSV, wrong shape); nothing is imported."""


@dataclass(frozen=True)
class RawRoom:
    """One room as read from the file, before validation; ``where`` locates it for the report."""

    index: int
    where: str
    data: Any


def detect_format(path: Path, head: bytes) -> str:
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix.lower() in (".json", ".jsonl"):
        return "json"
    return "json" if head.lstrip()[:1] in (b"[", b"{") else "csv"


def _json_rooms(stream: IO[bytes]) -> Iterator[RawRoom]:
    first = b""
    while not first:
        chunk = stream.read(1)
        if not chunk:
            raise ImportFileError("the file is empty")
        if not chunk.isspace():
            first = chunk
    stream.seek(stream.tell() - 1)
    if first == b"[":
        prefix = "item"
    elif first == b"{":
        prefix = "rooms.item"
    else:
        raise ImportFileError("a JSON room export is an array of rooms or an object with a 'rooms' array")
    try:
        for index, item in enumerate(ijson.items(stream, prefix, use_float=True)):
            yield RawRoom(index, f"rooms[{index}]", item)
    except ijson.JSONError as exc:
        raise ImportFileError(f"not valid JSON: {exc}") from None


def _csv_rooms(stream: IO[bytes]) -> Iterator[RawRoom]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.DictReader(text)
    header = reader.fieldnames or []
    missing = [c for c in ROOM_COLUMNS if c not in header]
    if missing:
        columns = ", ".join(ROOM_COLUMNS + DEVICE_COLUMNS)
        raise ImportFileError(f"CSV header lacks {', '.join(missing)} (columns: {columns})")
    unknown = [c for c in header if c not in ROOM_COLUMNS + DEVICE_COLUMNS]
    if unknown:
        raise ImportFileError(f"CSV column {unknown[0]!r} is not one of {', '.join(ROOM_COLUMNS + DEVICE_COLUMNS)}")
    current: dict[str, Any] | None = None
    line = 1
    start = 1
    index = 0
    try:
        for row in reader:
            line = reader.line_num
            if None in row:
                raise ImportFileError(f"line {line}: more fields than columns")
            room = {c: (row.get(c) or "").strip() for c in ROOM_COLUMNS}
            if current is None or room["external_id"] != current["external_id"]:
                if current is not None:
                    yield RawRoom(index, f"line {start}", current)
                    index += 1
                current = {**room, "devices": []}
                start = line
            device = {c: (row.get(c) or "").strip() for c in DEVICE_COLUMNS if c in header}
            if any(device.values()):
                current["devices"].append(device)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ImportFileError(f"line {line}: {exc}") from None
    if current is not None:
        yield RawRoom(index, f"line {start}", current)


def read_rooms(
    path: Path, stream: IO[bytes], progress: Callable[[int], None] | None = None
) -> Iterator[RawRoom]:
    """The rooms of an open export file, one at a time; ``progress`` gets the bytes read so far."""
    head = stream.read(64)
    stream.seek(0)
    rooms = _csv_rooms(stream) if detect_format(path, head) == "csv" else _json_rooms(stream)
    for room in rooms:
        if progress is not None:
            progress(stream.tell())
        yield room
