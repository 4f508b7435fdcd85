"""The ledger's secret key is found one way by every process (ledger.config.secret_key): the ledger
creates it, ``ledger notify`` reads the very same key and never creates one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.cli.stream import notify_secret_key
from ledger.config import ConfigurationError, load_settings, secret_key_file

pytestmark = pytest.mark.backend_independent


def test_the_ledger_creates_its_key_beside_the_store_and_notify_reads_that_key(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    settings = load_settings(db, {})
    file = tmp_path / "ledger.db.key"
    assert file.is_file() and oct(file.stat().st_mode & 0o777) == "0o600"
    assert settings.secret_key == file.read_text().strip().encode()
    assert load_settings(db, {}).secret_key == settings.secret_key, "created once, then read"
    assert notify_secret_key(db, {}) == settings.secret_key
    assert secret_key_file({}, lambda: settings.store) == file


def test_the_environment_wins_and_a_secret_file_is_used_as_given(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    assert load_settings(db, {"LEDGER_SECRET_KEY": "k1"}).secret_key == b"k1"
    assert notify_secret_key(db, {"LEDGER_SECRET_KEY": "k1"}) == b"k1"
    given = tmp_path / "elsewhere.key"
    env = {"LEDGER_SECRET_FILE": str(given)}
    created = load_settings(db, env).secret_key
    assert given.read_text().strip().encode() == created
    assert notify_secret_key(db, env) == created
    assert not (tmp_path / "ledger.db.key").exists()


def test_notify_never_creates_a_key(tmp_path: Path) -> None:
    db = str(tmp_path / "ledger.db")
    with pytest.raises(ConfigurationError, match=r"ledger\.db\.key does not exist: set LEDGER_SECRET_KEY"):
        notify_secret_key(db, {})
    assert not (tmp_path / "ledger.db.key").exists()
    with pytest.raises(ConfigurationError, match="notify needs the ledger's secret key"):
        notify_secret_key(db, {"LEDGER_SECRET_FILE": str(tmp_path / "missing.key")})
    assert not (tmp_path / "missing.key").exists()


def test_an_in_memory_store_has_a_key_of_its_process_only() -> None:
    first = load_settings(":memory:", {}).secret_key
    assert len(first) == 32 and load_settings(":memory:", {}).secret_key != first
