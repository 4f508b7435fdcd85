"""The one place that wires the application from configuration. Nothing connects at import time."""

from __future__ import annotations

from collections.abc import Mapping

from ledger.app import LedgerApplication
from ledger.config import Settings, load_settings


def build_app(db: str | None = None, environ: Mapping[str, str] | None = None) -> LedgerApplication:
    """Create the ledger application for ``db`` (or LEDGER_DB, or ./ledger.db)."""
    return LedgerApplication(load_settings(db, environ))


def build_app_from(settings: Settings) -> LedgerApplication:
    return LedgerApplication(settings)
