"""PostgreSQL for the suite: a fresh schema per test in the database scripts/postgres.sh made.

A missing server is a failure, never a skip: the test command starts PostgreSQL first.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import psycopg

URL_FILE = Path(__file__).resolve().parents[2] / ".cache" / "pg-url"


def base_url() -> str:
    url = os.environ.get("LEDGER_TEST_PG_URL")
    if not url and URL_FILE.exists():
        url = URL_FILE.read_text().strip()
    if not url:
        raise RuntimeError(
            "PostgreSQL tests need LEDGER_TEST_PG_URL or .cache/pg-url: run `scripts/postgres.sh start`"
        )
    return url


def fresh_database_url() -> str:
    """A URL whose ``schema`` is new and empty, so each test starts from nothing."""
    url = base_url()
    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return f"{url}?schema={schema}"
