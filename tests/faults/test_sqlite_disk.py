"""Faults of the embedded store: SQLite on a full file system and on a read-only one.

Each test mounts a small tmpfs of its own (the suite runs as root; a missing ``mount`` fails the
test). The ledger must name the cause, record nothing partial, and work again once the disk does.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.bootstrap import build_app
from tests.kit.cli import ledger
from tests.kit.commands import order

pytestmark = [pytest.mark.integration, pytest.mark.backend_independent]


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test only."""
    mount = tmp_path / "mnt"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0777", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def orders(start: int, count: int) -> list[dict[str, object]]:
    return [order(po=f"PO-F{i:04d}", company=f"Company {i}", email=f"it{i}@c{i}.example") for i in
            range(start, start + count)]


def apply_lines(db: str, commands: list[dict[str, object]], *extra: str) -> subprocess.CompletedProcess[str]:
    return ledger("apply", "-", *extra, stdin="".join(json.dumps(c) + "\n" for c in commands), db=db)


def customers(db: str) -> int:
    app = build_app(db, {"LEDGER_SECRET_KEY": "cli-test"})
    try:
        return len(list(app.customer_ids()))
    finally:
        app.close()


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave`` bytes free."""
    filler = folder / "filler"
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    with filler.open("wb") as f:
        f.write(b"\0" * max(0, free - leave))
    return filler


def test_r18_sqlite_on_a_full_disk_names_the_cause_records_nothing_partial_and_recovers(small_fs: Path) -> None:
    db = str(small_fs / "ledger.db")
    first = apply_lines(db, orders(0, 3))
    assert first.returncode == 0, first.stderr
    filler = fill(small_fs, leave=96 * 1024)

    batch = orders(3, 80)
    full = apply_lines(db, batch, "--batch-size", "4")
    assert full.returncode == 2, full.stdout[-500:] + full.stderr
    assert "Traceback" not in full.stderr
    assert "file system holding" in full.stderr and "is full" in full.stderr, full.stderr
    accepted = [json.loads(line) for line in full.stdout.splitlines()]
    assert all(r["ok"] for r in accepted)
    assert len(accepted) < len(batch), "the disk was expected to fill during the run"
    assert len(accepted) % 4 == 0, "whole groups were committed, the failing one not at all"

    filler.unlink()
    assert customers(db) == 3 + len(accepted), "exactly what was acknowledged is recorded, nothing partial"
    rest = apply_lines(db, batch[len(accepted):])
    assert rest.returncode == 0, rest.stderr
    assert customers(db) == 3 + len(batch)
    check = ledger("replay", "--check", db=db)
    assert check.returncode == 0, check.stdout + check.stderr


def test_r18_sqlite_on_a_read_only_file_system_names_the_cause_and_works_again_when_writable(
    small_fs: Path,
) -> None:
    db = str(small_fs / "ledger.db")
    assert apply_lines(db, orders(100, 2)).returncode == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        refused = apply_lines(db, orders(102, 1))
        assert refused.returncode == 2
        assert "Traceback" not in refused.stderr
        assert "read-only file system" in refused.stderr, refused.stderr
        assert refused.stdout == ""
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert customers(db) == 2, "nothing was recorded"
    again = apply_lines(db, orders(102, 1))
    assert again.returncode == 0, again.stderr
    assert customers(db) == 3
