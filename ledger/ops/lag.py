"""How far a consumer of the notification log is behind: in events and in seconds.

A consumer's position is the last notification id it processed. Notification ids have gaps (a
PostgreSQL sequence value taken by a transaction that rolled back is never used), so the lag in
events counts the rows after the position instead of subtracting ids. The lag in seconds is now
minus the recorded time of the oldest event not yet processed (the first row after the position),
0 when there is none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Identifier

COUNT_CAP = 10_000_000


@dataclass(frozen=True)
class Lag:
    """A consumer's distance from the head of the log."""

    events: int
    seconds: float
    position: int

    @property
    def caught_up(self) -> bool:
        return self.events == 0


def rows_after(recorder: Any, position: int, cap: int = COUNT_CAP) -> int:
    """How many notifications the log holds after ``position`` (rows counted, at most ``cap``)."""
    if isinstance(recorder, PostgresApplicationRecorder):
        statement = SQL(
            "SELECT count(*) AS n FROM (SELECT 1 FROM {schema}.{table} WHERE notification_id > %s LIMIT %s) AS t"
        ).format(schema=Identifier(recorder.datastore.schema), table=Identifier(recorder.events_table_name))
        with recorder.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, [position, cap])
            row: Any = curs.fetchone()
            return int(row["n"] if isinstance(row, dict) else row[0])
    if isinstance(recorder, SQLiteApplicationRecorder):
        text = f"SELECT count(*) FROM (SELECT 1 FROM {recorder.events_table_name} WHERE rowid > ? LIMIT ?)"
        with recorder.datastore.transaction(commit=False) as c:
            c.execute(text, [position, cap])
            return int(c.fetchone()[0])
    count, start = 0, position + 1
    while count < cap:  # another recorder: page through the notifications
        page = recorder.select_notifications(start, 1000)
        count += len(page)
        if len(page) < 1000:
            break
        start = page[-1].id + 1
    return count


def oldest_unprocessed_at(recorder: Any, mapper: Any, position: int, look_ahead: int = 50) -> datetime | None:
    """The recorded time of the first notification after ``position`` (None: there is none).

    The time is inside the stored event. When that event cannot be decoded (a poison event), the
    first decodable one among the next ``look_ahead`` is used: it was recorded later, so the lag
    reported is a lower bound, never an inflated figure.
    """
    page = recorder.select_notifications(position + 1, look_ahead)
    for notification in page:
        try:
            timestamp = mapper.to_domain_event(notification).timestamp
        except Exception:
            continue
        if isinstance(timestamp, datetime):
            return timestamp
    return None


def log_lag(recorder: Any, mapper: Any, position: int, now: datetime | None = None) -> Lag:
    """The lag of a consumer at ``position`` of the notification log."""
    events = rows_after(recorder, position)
    if events == 0:
        return Lag(0, 0.0, position)
    oldest = oldest_unprocessed_at(recorder, mapper, position)
    moment = now or datetime.now(UTC)
    seconds = max(0.0, (moment - oldest).total_seconds()) if oldest is not None else 0.0
    return Lag(events, seconds, position)
