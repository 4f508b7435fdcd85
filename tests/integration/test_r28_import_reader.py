"""R28 room export files: JSON (array or {"rooms": [...]}) and CSV, read one room at a time."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest

from ledger.room_import import ImportFileError, read_rooms

ROOM = {
    "external_id": "sync-1",
    "name": "Boardroom",
    "site": "HQ",
    "country": "US",
    "devices": [{"serial_number": "RB-0001", "product": "Rally Bar", "purchased_on": "2026-01-15"}],
}


def _read(path: Path) -> list[tuple[str, object]]:
    with path.open("rb") as stream:
        return [(r.where, r.data) for r in read_rooms(path, stream)]


def test_r28_json_array_and_object_forms(tmp_path: Path) -> None:
    array = tmp_path / "rooms.json"
    array.write_text(json.dumps([ROOM, {**ROOM, "external_id": "sync-2", "devices": []}]))
    obj = tmp_path / "export.json"
    obj.write_text(json.dumps({"rooms": [ROOM]}))
    assert _read(array) == [("rooms[0]", ROOM), ("rooms[1]", {**ROOM, "external_id": "sync-2", "devices": []})]
    assert _read(obj) == [("rooms[0]", ROOM)]


def test_r28_csv_groups_consecutive_rows_of_one_room(tmp_path: Path) -> None:
    path = tmp_path / "rooms.csv"
    path.write_text(
        "external_id,name,site,country,serial_number,product,purchased_on\n"
        "sync-1,Boardroom,HQ,US,RB-0001,Rally Bar,2026-01-15\n"
        "sync-1,Boardroom,HQ,US,TAP-0001,Tap and Tap IP,2026-01-15\n"
        "sync-2,Huddle,HQ,US,,,\n"
    )
    rooms = _read(path)
    assert [w for w, _ in rooms] == ["line 2", "line 4"]
    assert rooms[0][1]["devices"] == [  # type: ignore[index]
        {"serial_number": "RB-0001", "product": "Rally Bar", "purchased_on": "2026-01-15"},
        {"serial_number": "TAP-0001", "product": "Tap and Tap IP", "purchased_on": "2026-01-15"},
    ]
    assert rooms[1][1]["devices"] == []  # type: ignore[index]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.json", "[{\"external_id\": ", "not valid JSON"),
        ("num.json", "42", "array of rooms"),
        ("empty.json", "   ", "empty"),
        ("bad.csv", "id,name\n1,x\n", "lacks external_id"),
        ("extra.csv", "external_id,name,site,country,colour\n", "'colour'"),
    ],
)
def test_r28_unreadable_files_are_refused_whole(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ImportFileError, match=message):
        _read(path)


def test_r28_reading_is_streamed_memory_flat_in_file_size(tmp_path: Path) -> None:
    def peak(rooms: int) -> int:
        path = tmp_path / f"big-{rooms}.json"
        with path.open("w") as f:
            f.write("[")
            for i in range(rooms):
                f.write(("," if i else "") + json.dumps({**ROOM, "external_id": f"sync-{i}"}))
            f.write("]")
        tracemalloc.start()
        with path.open("rb") as stream:
            count = sum(1 for _ in read_rooms(path, stream))
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert count == rooms
        return top

    small, large = peak(2_000), peak(20_000)
    assert large < small * 2, (small, large)
