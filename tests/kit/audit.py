"""Test kit of the audit tests: direct SQL on a ledger's database, as someone with access could run."""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import parse_qs, urlparse


class Raw:
    """Direct SQL on the ledger's database, as someone with access to it could run."""

    def __init__(self, db_url: str, backend: str) -> None:
        self.backend = backend
        self.events = "stored_events" if backend == "sqlite" else "ledger_events"
        self.nid = "rowid" if backend == "sqlite" else "notification_id"
        if backend == "sqlite":
            self.conn: Any = sqlite3.connect(db_url)
        else:
            import psycopg

            parsed = urlparse(db_url)
            schema = parse_qs(parsed.query)["schema"][0]
            self.conn = psycopg.connect(parsed._replace(query="").geturl(), autocommit=False)
            self.conn.execute(f'SET search_path TO "{schema}"')

    def run(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        if self.backend == "postgres":
            sql = sql.replace("?", "%s")
        cur = self.conn.execute(sql, params)
        rows = cur.fetchall() if cur.description else []
        self.conn.commit()
        return list(rows)

    def close(self) -> None:
        self.conn.close()
