"""Fast loading of a large ledger for measurements: the real handlers, many commands per save.

Not the product's write path (``LedgerApplication.execute`` is): refused commands here are
counted and skipped, and aggregates are kept across the commands of one save. Used to build the
million-event ledgers the replay and as-of measurements need.

    python -m benchmarks.loader --db /tmp/big.db --customers 25000
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from aggregates.errors import LedgerError
from aggregates.ids import partner_id_for, purchase_order_id_for, serial_number_id_for
from commands.handlers import HANDLERS
from commands.models import ExpireContracts
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from ledger.demo import generate


class BatchUnitOfWork:
    def __init__(self, app: LedgerApplication) -> None:
        self.app = app
        self.aggregates: dict[UUID, Aggregate | None] = {}
        self.staged: dict[UUID, Aggregate] = {}

    def _get(self, aggregate_id: UUID, kind: type) -> Any:
        if aggregate_id not in self.aggregates:
            try:
                self.aggregates[aggregate_id] = self.app.repository.get(aggregate_id, deepcopy_from_cache=False)
            except AggregateNotFoundError:
                self.aggregates[aggregate_id] = None
        found = self.aggregates[aggregate_id]
        return found if isinstance(found, kind) else None

    def customer(self, customer_id: UUID) -> Any:
        from aggregates.customer import Customer

        return self._get(customer_id, Customer)

    def partner(self, partner_id: str) -> Any:
        from aggregates.partner import Partner

        return self._get(partner_id_for(partner_id), Partner)

    def purchase_order(self, po_number: str) -> Any:
        from aggregates.reservations import PurchaseOrder

        return self._get(purchase_order_id_for(po_number), PurchaseOrder)

    def serial_number(self, serial_number: str) -> Any:
        from aggregates.reservations import SerialNumber

        return self._get(serial_number_id_for(serial_number), SerialNumber)

    def expiry_candidates(self, at: datetime) -> Iterator[UUID]:
        return self.app.expiry_candidates(at)

    def stage(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self.aggregates[aggregate.id] = aggregate
            self.staged[aggregate.id] = aggregate

    def flush(self) -> None:
        if self.staged:
            self.app.save(*self.staged.values())
        self.staged.clear()
        self.aggregates.clear()


def load(app: LedgerApplication, commands: Iterable[dict[str, Any]], batch: int = 500) -> tuple[int, int]:
    uow = BatchUnitOfWork(app)
    accepted = refused = pending = 0
    for raw in commands:
        command = parse_command(raw)
        if isinstance(command, ExpireContracts):
            uow.flush()
            pending = 0
        before = {k: len(v.pending_events) for k, v in uow.aggregates.items() if v is not None}
        try:
            HANDLERS[type(command)](command, uow, app.context(command))
            accepted += 1
        except LedgerError:
            refused += 1
            changed = [k for k, n in before.items() if len(uow.aggregates[k].pending_events) != n]  # type: ignore[union-attr]
            assert not changed, "a refused command changed an aggregate"
        pending += 1
        if pending >= batch or isinstance(command, ExpireContracts):
            uow.flush()
            pending = 0
    uow.flush()
    return accepted, refused


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--expiry-days", type=int, default=730)
    args = parser.parse_args()
    app = build_app(args.db)
    started = time.perf_counter()
    accepted, refused = load(app, generate(customers=args.customers, expiry_days=args.expiry_days))
    events = app.recorder.max_notification_id() or 0
    print(f"{events} events from {accepted} accepted and {refused} refused commands "
          f"in {time.perf_counter() - started:.1f} s")
    app.close()


if __name__ == "__main__":
    main()
