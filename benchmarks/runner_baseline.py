"""Baseline for the rebuild: the library's own ``ProjectionRunner`` feeding the same four views.

The runner's way is one transaction per event (rows + tracking). The rows are written by the very
same projectors and compiled statements as the ledger's batched catch-up, into tables of their own
(``*__runner``) in the same database, so the difference measured is the batching alone. The
library's SQLite recorder does not support subscriptions, so this runs on PostgreSQL.

    python -m benchmarks.runner_baseline --db postgresql://…   # prints {"events": n, "events_per_s": r}
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder, Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect

from aggregates.customer import Customer
from ledger.config import parse_db_url
from ledger.readside import read_engine
from ledger.transcoding import DateAsISO
from projections.projectors import PROJECTORS, Writer
from projections.tables import PROJECTIONS, table_set

SUFFIX = "__runner"


class LedgerLog(Application[Any]):
    """Reads the ledger's log (same table name, same transcodings)."""

    name = "Ledger"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


class _Shim:
    """Just enough of a SQLAlchemy connection for ``Writer``, over the library's psycopg cursor."""

    dialect = psycopg_dialect.dialect()

    def __init__(self, cursor: Any) -> None:
        self._raw = cursor
        self.connection = self
        self.dbapi_connection = self

    def cursor(self) -> Any:
        return self._raw


class ViewsRecorder(PostgresTrackingRecorder):
    view_schema: str | None = None

    def apply(self, domain_event: Any, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as c:
            if self.view_schema:
                c.execute(f'SET LOCAL search_path TO "{self.view_schema}"')
            if isinstance(domain_event, Customer.Event):
                shim = _Shim(c)
                for projection in PROJECTIONS:
                    apply = PROJECTORS[projection].get(type(domain_event))
                    if apply is not None:
                        writer = Writer(shim, table_set(projection, SUFFIX))  # type: ignore[arg-type]
                        apply(writer, domain_event)
                        writer.flush()
            self._insert_tracking(c, tracking)


class ViewsProjection(Projection[ViewsRecorder]):
    name = "views_runner"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.apply(domain_event, tracking)


def measure(db: str) -> dict[str, float]:
    store = parse_db_url(db)
    engine = read_engine(store)
    with engine.begin() as conn:
        # The runner's position from an earlier round would make it start at the end.
        conn.execute(text(f'DROP TABLE IF EXISTS "{ViewsProjection.name}_tracking"'))
    for projection in PROJECTIONS:
        tables = table_set(projection, SUFFIX)
        tables.metadata.drop_all(engine)
        tables.metadata.create_all(engine)
    engine.dispose()
    env = dict(store.env)
    ViewsRecorder.view_schema = store.schema
    log = LedgerLog(env=env)
    end = log.recorder.max_notification_id() or 0
    log.close()
    started = time.perf_counter()
    runner: ProjectionRunner[Any, Any] = ProjectionRunner(
        application_class=LedgerLog, projection_class=ViewsProjection, view_class=ViewsRecorder, env=env
    )
    with runner:
        runner.wait(end, timeout=3600)
    seconds = time.perf_counter() - started
    return {"events": end, "seconds": seconds, "events_per_s": end / seconds}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    args = parser.parse_args()
    print(json.dumps(measure(args.db)))


if __name__ == "__main__":
    main()
