"""Wiring of the read side: read models beside the event store, live and as-of views."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from aggregates.customer import Customer
from aggregates.errors import NotFound
from ledger.app import LedgerApplication, ViewStopped
from ledger.config import StoreSettings
from ledger.startup import READ_MODEL_RACES, created_concurrently
from projections import queries, tickets
from projections.store import Progress, ReadModels, create_read_engine
from projections.tables import PROJECTIONS
from replay.rebuild import RebuildReport, rebuild
from replay.views import view_of, views_of_customers


def _event_at(app: LedgerApplication, customer_id: UUID, version: int) -> datetime:
    (domain_event,) = app.events.get(customer_id, gt=version - 1, lte=version)
    return domain_event.at  # type: ignore[attr-defined, no-any-return]


def version_at(app: LedgerApplication, customer_id: UUID, at: datetime) -> int:
    """The customer's last version dated at or before ``at`` (0: none), by binary search on versions.

    Effective times never go backwards within a customer (R20), so versions are ordered by time.
    """
    last = app.recorder.select_events(customer_id, desc=True, limit=1)
    if not last:
        return 0
    low, high = 0, last[0].originator_version
    while low < high:
        middle = (low + high + 1) // 2
        if _event_at(app, customer_id, middle) <= at:
            low = middle
        else:
            high = middle - 1
    return low


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a large state is built from a snapshot.

    Unpacking a big customer makes hundreds of thousands of small acyclic objects; the collector
    would scan the growing heap again and again meanwhile (a third of the time, measured).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def customer_at(app: LedgerApplication, customer_id: UUID, at: datetime) -> Customer | None:
    """The customer as it was at ``at``: nearest snapshot at or before that version, plus later events."""
    version = version_at(app, customer_id, at)
    if version == 0:
        return None
    with gc_paused():
        aggregate: object = app.repository.get(customer_id, version=version)
    return aggregate if isinstance(aggregate, Customer) else None


def read_engine(store: StoreSettings) -> Engine:
    """An engine on the event store's database, where the read models live (same SQLite file, or
    same PostgreSQL schema)."""
    return create_read_engine(
        store.sqlalchemy_url, schema=store.schema, connect_timeout=int(store.env.get("POSTGRES_CONNECT_TIMEOUT", "10"))
    )


def open_read_models(app: LedgerApplication) -> ReadModels:
    """Open (and create where missing) the read-model tables in the event store's database."""
    return ReadModels(read_engine(app.settings.store))


class ReadModelExpiryCandidates:
    """``ExpireContracts``' candidates from the contracts read model, caught up to the end of the log.

    Injected into the application by ``ledger.bootstrap``; the handler decides on each customer's own
    recorded state, so the read model only narrows the search. The tables are opened on first use.
    """

    def __init__(self, store: StoreSettings) -> None:
        self._store = store
        self._models: ReadModels | None = None

    def __call__(self, recorder: Any, mapper: Any, at: datetime) -> list[UUID]:
        if self._models is None:
            engine = read_engine(self._store)
            try:
                # Writer processes that run their first expiry at the same moment all create the
                # read-model tables; the losers of that race create them again (all idempotent).
                self._models = created_concurrently(lambda: ReadModels(engine), READ_MODEL_RACES)
            except BaseException:
                engine.dispose()
                raise
        candidates = self._models.expiry_candidates(recorder, mapper, at)
        fault = self._models.fault("contracts")
        if fault is not None:
            raise ViewStopped(
                f"contracts: the contracts view is stopped, so the contracts to expire cannot be found; "
                f"{fault.describe()}; nothing was expired. Fix the cause (README 'Operating the ledger') and "
                "run ExpireContracts again (R8)",
                rule="R8", field="contracts",
            )
        return candidates

    def close(self) -> None:
        if self._models is not None:
            self._models.close()
            self._models = None


def catch_up(app: LedgerApplication, models: ReadModels, progress: Progress | None = None) -> int:
    """Bring every projection up to the end of the log; returns how many notifications were read."""
    return models.catch_up(app.recorder, app.mapper, progress=progress)


PAGED_IN_QUERY = frozenset({"rooms"})  # views whose pages (after a key, at most n rows) are read as pages
# views that say when their time-dependent values change (``changes``); spares has none
TIMED_VIEWS = frozenset({"contracts", "rooms", "spares", "access"})


def live_view(
    app: LedgerApplication, models: ReadModels, name: str, at: datetime, customer_id: UUID | None = None,
    *, after: str | None = None, limit: int | None = None, changes: list[datetime] | None = None,
) -> list[dict[str, Any]]:
    """A view from the read models, with time-dependent values computed for ``at``.

    ``after``/``limit`` (views of :data:`PAGED_IN_QUERY`, one customer): only the rows whose key sorts
    after ``after``, at most ``limit``, read from the tables as a page. ``changes`` (views of
    :data:`TIMED_VIEWS`): the moments at which the time-dependent values may change are added to it.
    """
    cid = str(customer_id) if customer_id is not None else None
    if (after is not None or limit is not None) and name not in PAGED_IN_QUERY:
        raise ValueError(f"live_view: the {name} view is not paged in its query")
    if changes is not None and name not in TIMED_VIEWS:
        raise ValueError(f"live_view: the {name} view does not say when its values change")
    if name == "rooms":
        return queries.rooms(models.engine, at, app.settings.countries, cid, after=after, limit=limit,
                             changes=changes)
    if name == "tickets":
        return tickets.tickets(models.engine, at, app.settings.support_targets, cid)
    if name in ("contracts", "access"):
        return queries.VIEWS[name](models.engine, at, cid, changes=changes)
    return queries.VIEWS[name](models.engine, at, cid)


def as_of_view(
    app: LedgerApplication, name: str, at: datetime, customer_id: UUID | None = None
) -> list[dict[str, Any]]:
    """A view as it was at ``at``, folded from each customer's own events up to that time."""
    ids = [customer_id] if customer_id is not None else list(app.customer_ids())
    customers = []
    for cid in ids:
        customer = customer_at(app, cid, at)
        if customer is None:
            if customer_id is not None:
                app.customer(cid)
                return []
            continue
        customers.append(customer)
    return views_of_customers(name, customers, at, app.settings.countries, app.settings.support_targets)


def customer_view_as_of(app: LedgerApplication, name: str, customer_id: UUID, at: datetime) -> list[dict[str, Any]]:
    """One customer's view as it was at ``at`` (its state built from a snapshot, then the view)."""
    customer = customer_at(app, customer_id, at)
    if customer is None:
        raise NotFound(f"customer_id: no customer {customer_id} at {at.isoformat()}", rule="R1",
                       field="customer_id")
    with gc_paused():
        return view_of(name, customer, at, app.settings.countries, app.settings.support_targets)


def rebuild_views(
    app: LedgerApplication,
    models: ReadModels,
    projections: tuple[str, ...] = PROJECTIONS,
    *,
    check: bool = False,
    progress: Progress | None = None,
    batch_size: int = 2000,
    max_batches: int | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> list[RebuildReport]:
    """Rebuild or check ``projections`` under the store's maintenance lock (one run at a time,
    waiting up to ``LEDGER_MAINTENANCE_WAIT`` seconds for another)."""
    return rebuild(
        models, app.recorder, app.mapper, projections, check=check, progress=progress,
        batch_size=batch_size, max_batches=max_batches, wait=app.settings.maintenance_wait, on_wait=on_wait,
    )
