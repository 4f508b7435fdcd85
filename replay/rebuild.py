"""Rebuilding read models from the events.

A rebuild writes into shadow tables (``contracts__r<token>``) with their own tracking row
(``rebuild:<projection>``), batch by batch, so a killed rebuild resumes where it stopped. When the
shadow has caught up with the log, one transaction drops the live tables, renames the shadow ones
into their place and moves the tracking position: readers see the old view or the new one, never a
half-built one. ``check`` builds the shadow, compares it with the live view row by row, reports the
differences and drops the shadow.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, text, update

from projections.locking import MAINTENANCE, SCHEMA, SCHEMA_WAIT_SECONDS, exclusive
from projections.projectors import PROJECTORS
from projections.store import Progress, ReadModels, Target, live_target
from projections.tables import PROJECTIONS, table_set, tracking

DEFAULT_WAIT_SECONDS = 300.0


def rebuild_name(projection: str) -> str:
    return f"rebuild:{projection}"


@dataclass
class RebuildReport:
    projection: str
    events_read: int
    resumed_from: int
    differences: list[str] = field(default_factory=list)
    stopped: str | None = None  # the rebuild stopped at an event it cannot apply (SPEC 9): why


def _shadow_suffix(models: ReadModels, projection: str) -> tuple[str, int]:
    """The suffix of an unfinished rebuild to resume, or a new one; and its position."""
    name = rebuild_name(projection)
    with models.engine.begin() as conn:
        row = conn.execute(select(tracking).where(tracking.c.name == name)).first()
        if row is not None and row.suffix:
            return str(row.suffix), int(row.position)
        suffix = "__r" + secrets.token_hex(4)
        if row is None:
            conn.execute(insert(tracking).values(name=name, position=0, suffix=suffix))
        else:
            conn.execute(update(tracking).where(tracking.c.name == name).values(position=0, suffix=suffix))
    return suffix, 0


def _drop_shadow(models: ReadModels, projection: str, suffix: str) -> None:
    shadow = table_set(projection, suffix)
    with models.engine.begin() as conn:
        shadow.metadata.drop_all(conn)
        conn.execute(delete(tracking).where(tracking.c.name == rebuild_name(projection)))


def _swap(models: ReadModels, projection: str, suffix: str) -> None:
    live = table_set(projection)
    shadow = table_set(projection, suffix)
    # Under the start-up schema lock: a process starting meanwhile never sees the live tables
    # dropped and creates them in the gap before the rename (SQLite runs each DDL on its own).
    with exclusive(models.engine, SCHEMA, timeout=SCHEMA_WAIT_SECONDS), models.engine.begin() as conn:
        position = conn.execute(
            select(tracking.c.position).where(tracking.c.name == rebuild_name(projection))
        ).scalar_one()
        live.metadata.drop_all(conn)
        for key, table in shadow.tables.items():
            conn.execute(text(f'ALTER TABLE "{table.name}" RENAME TO "{live[key].name}"'))
        found = conn.execute(select(tracking.c.name).where(tracking.c.name == projection)).first()
        # The live row names the rebuild its tables came from (their generation): a reader that cached
        # an answer from the tables before sees that they were replaced (ledger.http.viewcache).
        if found is None:
            conn.execute(insert(tracking).values(name=projection, position=position, suffix=suffix))
        else:
            conn.execute(update(tracking).where(tracking.c.name == projection).values(position=position, suffix=suffix))
        conn.execute(delete(tracking).where(tracking.c.name == rebuild_name(projection)))


def _rows(models: ReadModels, projection: str, suffix: str) -> dict[str, list[tuple[Any, ...]]]:
    ts = table_set(projection, suffix)
    out = {}
    with models.engine.connect() as conn:
        for key, table in ts.tables.items():
            out[key] = [tuple(r) for r in conn.execute(select(table).order_by(*table.primary_key.columns))]
    return out


def diff_rows(live: dict[str, list[tuple[Any, ...]]], shadow: dict[str, list[tuple[Any, ...]]]) -> list[str]:
    differences = []
    for key in sorted(set(live) | set(shadow)):
        a, b = set(live.get(key, [])), set(shadow.get(key, []))
        for row in sorted(a - b, key=repr)[:20]:
            differences.append(f"{key}: live has {row} which the events do not give")
        for row in sorted(b - a, key=repr)[:20]:
            differences.append(f"{key}: the events give {row} which the live view lacks")
    return differences


def rebuild(
    models: ReadModels,
    recorder: Any,
    mapper: Any,
    projections: tuple[str, ...] = PROJECTIONS,
    *,
    check: bool = False,
    batch_size: int = 2000,
    progress: Progress | None = None,
    max_batches: int | None = None,
    wait: float = DEFAULT_WAIT_SECONDS,
    on_wait: Callable[[str], None] | None = None,
) -> list[RebuildReport]:
    """Rebuild (or, with ``check``, verify) projections from the whole event log.

    One maintenance run at a time per store: a second rebuild or check waits for the first (telling
    ``on_wait`` once) up to ``wait`` seconds, then raises ``LockTimeout``. Two runs never share a
    shadow table, so neither drops or swaps what the other is building.
    """
    with exclusive(models.engine, MAINTENANCE, timeout=wait, on_wait=on_wait):
        return _rebuild(models, recorder, mapper, projections, check=check, batch_size=batch_size,
                        progress=progress, max_batches=max_batches)


def _rebuild(
    models: ReadModels,
    recorder: Any,
    mapper: Any,
    projections: tuple[str, ...],
    *,
    check: bool,
    batch_size: int,
    progress: Progress | None,
    max_batches: int | None,
) -> list[RebuildReport]:
    stop = recorder.max_notification_id() or 0
    if check:
        models.catch_up(recorder, mapper, [live_target(p) for p in projections], stop=stop, batch_size=batch_size)
    shadows: dict[str, str] = {}
    reports: dict[str, RebuildReport] = {}
    targets = []
    for projection in projections:
        suffix, resumed_from = _shadow_suffix(models, projection)
        shadow = table_set(projection, suffix)
        shadow.metadata.create_all(models.engine)
        shadows[projection] = suffix
        reports[projection] = RebuildReport(projection, 0, resumed_from)
        targets.append(Target(rebuild_name(projection), shadow, PROJECTORS[projection]))
    # One pass over the log feeds every projection: each page is read and decoded once.
    read = models.catch_up(
        recorder, mapper, targets, stop=stop, batch_size=batch_size, progress=progress, max_batches=max_batches
    )
    for projection in projections:
        report = reports[projection]
        report.events_read = read
        if models.position(rebuild_name(projection)) < stop:
            fault = models.fault(rebuild_name(projection))
            if fault is not None:
                report.stopped = fault.describe()
            continue
        if check:
            shadow_rows = _rows(models, projection, shadows[projection])
            report.differences = diff_rows(_rows(models, projection, ""), shadow_rows)
            _drop_shadow(models, projection, shadows[projection])
        else:
            _swap(models, projection, shadows[projection])
    return [reports[p] for p in projections]
