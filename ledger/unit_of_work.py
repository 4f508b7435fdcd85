"""The unit of work a command handler runs in, and group commit (many commands, one transaction)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from aggregates.customer import Customer
from aggregates.errors import LedgerError
from aggregates.ids import partner_id_for, purchase_order_id_for, serial_number_id_for
from aggregates.partner import Partner
from aggregates.reservations import PurchaseOrder, SerialNumber
from commands.auth import Principal
from commands.handlers import Context
from commands.models import Command
from commands.registry import HANDLERS
from ledger.answers import Answer, Pending, recording
from ledger.ops import tracing

Outcome = dict[str, Any] | LedgerError


class Ledger(Protocol):
    """What a unit of work and group commit use of the application (``ledger.app.LedgerApplication``),
    stated here so that this module does not import the application that imports it."""

    copy_from_cache: bool

    @property
    def repository(self) -> Repository[UUID]: ...

    def unsnapshotted(self, aggregate_id: UUID) -> Aggregate: ...

    def latest_versions(self, aggregate_ids: list[UUID]) -> dict[UUID, int]: ...

    def expiry_candidates(self, at: datetime) -> Iterator[UUID]: ...

    def context(self, command: Command, now: datetime | None = None, principal: Principal | None = None) -> Context: ...

    def outcome(
        self,
        command: Command,
        now: datetime | None = None,
        principal: Principal | None = None,
        correlation_id: str | None = None,
        answer: Answer | None = None,
    ) -> Outcome: ...

    def record(self, processing: ProcessingEvent[UUID]) -> list[Recording[UUID]]: ...

    def after_record(self, processing: ProcessingEvent[UUID], recordings: list[Recording[UUID]]) -> None: ...

    def forget(self, uow: UnitOfWork) -> None: ...


def event_type(domain_event: object) -> str:
    """Public name of an event type: ``OrderPlaced`` for customer events, else ``Partner.Registered``."""
    name = type(domain_event).__qualname__
    return name.removeprefix("Customer.")


def command_result(result: dict[str, Any], recordings: Any) -> dict[str, Any]:
    """An accepted command's result: the handler's ``result`` and the events recorded for it."""
    return result_body(result, [(r.domain_event, r.notification.id) for r in recordings])


def result_body(result: dict[str, Any], events: list[tuple[Any, int]]) -> dict[str, Any]:
    """An accepted command's result from its handler's ``result`` and its (event, position) pairs."""
    rest = dict(result)
    listed = [
        {
            "type": event_type(domain_event),
            "aggregate_id": str(domain_event.originator_id),
            "version": domain_event.originator_version,
            "position": position,
        }
        for domain_event, position in events
    ]
    return {"ok": True, "customer_id": rest.pop("customer_id", None), "events": listed, **rest}


def pending_answer(answer: Answer | None, result: dict[str, Any], produced: list[Any]) -> list[Pending]:
    """The answer to record with ``produced`` (the command's events), built once they have positions;
    none without an ``Idempotency-Key`` or without events (``ledger.answers``)."""
    if answer is None or not produced:
        return []
    kept = dict(result)
    keys = [(e.originator_id, e.originator_version) for e in produced]

    def body(positions: dict[tuple[UUID, int], int]) -> dict[str, Any]:
        return result_body(kept, [(e, positions[k]) for e, k in zip(produced, keys, strict=True)])

    return [Pending(answer, body, frozenset(keys))]


class UnitOfWork:
    """Reads current aggregates for one command and collects those to be saved together."""

    def __init__(self, app: Ledger) -> None:
        self._app = app
        self.staged: dict[UUID, Aggregate] = {}
        self.loaded: dict[UUID, Aggregate] = {}
        self.read_versions: dict[UUID, int] = {}  # 0: read as absent
        # Group commit: the pending events of each aggregate the current command has touched, as
        # they were when it first did, and the order in which the group first staged each.
        self.marks: dict[UUID, int] = {}
        self._order: dict[UUID, int] = {}

    def begin(self) -> None:
        """The next command of a group starts: it has touched nothing yet."""
        self.marks = {}

    def _known(self, aggregate_id: UUID) -> Aggregate | None:
        staged = self.staged.get(aggregate_id)
        return staged if staged is not None else self.loaded.get(aggregate_id)

    def _mark(self, aggregate_id: UUID) -> None:
        if aggregate_id not in self.marks:
            known = self._known(aggregate_id)
            self.marks[aggregate_id] = len(known.pending_events) if known is not None else 0

    def changed(self) -> bool:
        """Whether the current command left new pending events on any aggregate it touched."""
        return any(
            (a := self._known(k)) is not None and len(a.pending_events) != mark for k, mark in self.marks.items()
        )

    def produced(self) -> list[Any]:
        """The events the current command produced, aggregate by aggregate in the order the group
        first staged them (work in proportion to what the command touched, not to the group)."""
        touched = sorted((k for k in self.marks if k in self.staged), key=self._order.__getitem__)
        return [e for k in touched for e in self.staged[k].pending_events[self.marks[k]:]]

    def _get(self, aggregate_id: UUID, kind: type[Aggregate]) -> Any:
        self._mark(aggregate_id)
        known = self._known(aggregate_id)
        if known is not None:  # read once: the cache may have evicted it since (``ledger.cache``)
            return known if isinstance(known, kind) else None
        try:
            aggregate: Aggregate = (
                self._app.repository.get(aggregate_id, deepcopy_from_cache=self._app.copy_from_cache)
                if kind is Customer
                else self._app.unsnapshotted(aggregate_id)
            )
        except AggregateNotFoundError:
            self.read_versions.setdefault(aggregate_id, 0)
            return None
        self.loaded[aggregate_id] = aggregate
        self.read_versions.setdefault(aggregate_id, aggregate.version)
        return aggregate if isinstance(aggregate, kind) else None

    def changed_since_read(self) -> bool:
        """Whether another writer recorded events on any aggregate this command read (or found absent).

        The reads of one command are not one snapshot: a writer can commit between two of them. A
        refusal decided on such a torn read may be one that no order of the two commands gives (an
        identical order resubmitted while its first submission commits: the PO reservation read as
        absent, then the customer read with the PO on it), so it is decided again on fresh reads.
        All the versions are read in one query.
        """
        latest = self._app.latest_versions(list(self.read_versions))
        return any(latest.get(k, 0) != v for k, v in self.read_versions.items())

    def clock_raced(self, moment: datetime) -> bool:
        """Whether every aggregate read is dated at or before ``moment`` (a fresh reading of the clock).

        A command without ``at`` reads the clock before it reads the aggregates. If another writer
        committed an event dated between those two reads, the command is refused by R20 although a
        new reading of the clock would be accepted: that is a lost race, not a rule violation.
        """
        return all(getattr(a, "last_at", moment) <= moment for a in self.loaded.values())

    def customer(self, customer_id: UUID) -> Customer | None:
        return cast("Customer | None", self._get(customer_id, Customer))

    def partner(self, partner_id: str) -> Partner | None:
        return cast("Partner | None", self._get(partner_id_for(partner_id), Partner))

    def purchase_order(self, po_number: str) -> PurchaseOrder | None:
        return cast("PurchaseOrder | None", self._get(purchase_order_id_for(po_number), PurchaseOrder))

    def serial_number(self, serial_number: str) -> SerialNumber | None:
        return cast("SerialNumber | None", self._get(serial_number_id_for(serial_number), SerialNumber))

    def expiry_candidates(self, at: datetime) -> Iterator[UUID]:
        """The application's candidates in the recorded log, and every customer this unit of work
        holds (in a group, earlier commands may have changed them without saving yet), in id order."""
        found = set(self._app.expiry_candidates(at))
        found.update(k for k, a in (*self.loaded.items(), *self.staged.items()) if isinstance(a, Customer))
        return iter(sorted(found))

    def stage(self, *aggregates: Aggregate) -> None:
        for aggregate in aggregates:
            self._mark(aggregate.id)
            self._order.setdefault(aggregate.id, len(self._order))
            self.staged[aggregate.id] = aggregate


class _RegroupError(Exception):
    """A group cannot be committed as one; its commands are run one by one instead."""


def execute_group(
    app: Ledger,
    group: list[tuple[Command, Principal | None]],
    now: datetime | None,
    correlation_ids: list[str] | None = None,
    answers: list[Answer | None] | None = None,
) -> list[Outcome]:
    """Run ``group`` in order on shared aggregates and record all their events in one transaction.

    Each command stays atomic and isolated: its result, or its refusal, is exactly what running the
    commands one by one with ``app.execute`` gives. A refused command changes nothing (checked: if
    it left an aggregate changed, or was decided on a read another writer changed, or the save
    loses a race, the whole group is run again command by command). ``answers``: per command, the
    ``Idempotency-Key`` answer to record in the same transaction as its events (``ledger.answers``).
    """
    ids: list[str | None] = list(correlation_ids) if correlation_ids is not None else [None] * len(group)
    keyed: list[Answer | None] = list(answers) if answers is not None else [None] * len(group)

    def one_by_one() -> list[Outcome]:
        return [
            app.outcome(command, now, principal, cid, answer)
            for (command, principal), cid, answer in zip(group, ids, keyed, strict=True)
        ]

    if len(group) <= 1:
        return one_by_one()
    uow = UnitOfWork(app)
    partial: list[tuple[Outcome, list[Any]]] = []
    pending: list[Pending] = []
    refused = False
    try:
        for (command, principal), cid, answer in zip(group, ids, keyed, strict=True):
            uow.begin()
            try:
                ctx = app.context(command, now, principal)  # may refuse the command's time (R20)
                result = HANDLERS[type(command)](command, uow, ctx)
            except LedgerError as refusal:
                if uow.changed():
                    raise _RegroupError from None
                refused = True
                partial.append((refusal, []))
                continue
            produced = uow.produced()
            tracing.stamp(produced, cid)
            partial.append((result, produced))
            pending.extend(pending_answer(answer, result, produced))
        # A refusal decided on a read that another writer has since changed is decided again,
        # command by command (one query for every aggregate the group read).
        if refused and uow.changed_since_read():
            raise _RegroupError
        # The log keeps the order of the commands: their events go in as they were produced.
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in uow.staged.values():
            aggregate.collect_events()
            processing.aggregates[aggregate.id] = aggregate
        processing.events.extend(e for _, produced in partial for e in produced)
        with recording(pending):
            recordings = app.record(processing) if processing.events else []
    except (_RegroupError, IntegrityError):
        # (also a key of the group recorded meanwhile: one by one, that command alone learns it)
        app.forget(uow)
        return one_by_one()
    except BaseException:
        app.forget(uow)
        raise
    app.after_record(processing, recordings)
    by_event = {(r.domain_event.originator_id, r.domain_event.originator_version): r for r in recordings}
    outcomes: list[Outcome] = []
    for outcome, produced in partial:
        if isinstance(outcome, LedgerError):
            outcomes.append(outcome)
            continue
        outcomes.append(
            command_result(outcome, [by_event[(e.originator_id, e.originator_version)] for e in produced])
        )
    return outcomes
