"""Wiring of the read side: read models beside the event store, live and as-of views."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from aggregates.errors import NotFound
from ledger.app import LedgerApplication
from projections import queries
from projections.store import Progress, ReadModels, create_read_engine
from projections.tables import PROJECTIONS
from replay.rebuild import RebuildReport, rebuild
from replay.views import customer_as_of, view_of, views_of_customers


def open_read_models(app: LedgerApplication) -> ReadModels:
    """Open (and create where missing) the read-model tables in the event store's database."""
    return ReadModels(create_read_engine(app.settings.store))


def catch_up(app: LedgerApplication, models: ReadModels, progress: Progress | None = None) -> int:
    """Bring every projection up to the end of the log; returns how many notifications were read."""
    return models.catch_up(app.recorder, app.mapper, progress=progress)


def live_view(
    app: LedgerApplication, models: ReadModels, name: str, at: datetime, customer_id: UUID | None = None
) -> list[dict[str, Any]]:
    """A view from the read models, with time-dependent values computed for ``at``."""
    cid = str(customer_id) if customer_id is not None else None
    if name == "rooms":
        return queries.rooms(models.engine, at, app.settings.countries, cid)
    return queries.VIEWS[name](models.engine, at, cid)


def as_of_view(
    app: LedgerApplication, name: str, at: datetime, customer_id: UUID | None = None
) -> list[dict[str, Any]]:
    """A view as it was at ``at``, folded from each customer's own events up to that time."""
    ids = [customer_id] if customer_id is not None else list(app.customer_ids())
    customers = []
    for cid in ids:
        customer = customer_as_of(app.events.get(cid), at)
        if customer is None:
            if customer_id is not None:
                app.customer(cid)
                return []
            continue
        customers.append(customer)
    return views_of_customers(name, customers, at, app.settings.countries)


def customer_view_as_of(app: LedgerApplication, name: str, customer_id: UUID, at: datetime) -> list[dict[str, Any]]:
    customer = customer_as_of(app.events.get(customer_id), at)
    if customer is None:
        raise NotFound(f"customer_id: no customer {customer_id} at {at.isoformat()} (R1)", rule="R1",
                       field="customer_id")
    return view_of(name, customer, at, app.settings.countries)


def rebuild_views(
    app: LedgerApplication,
    models: ReadModels,
    projections: tuple[str, ...] = PROJECTIONS,
    *,
    check: bool = False,
    progress: Progress | None = None,
    batch_size: int = 2000,
    max_batches: int | None = None,
) -> list[RebuildReport]:
    return rebuild(
        models, app.recorder, app.mapper, projections, check=check, progress=progress,
        batch_size=batch_size, max_batches=max_batches,
    )
