"""The ledger application: one entry point per use case (``execute``, ``execute_many``, ``history``).

Its parts live beside it: ``ledger.unit_of_work`` (what a handler reads and stages, group commit),
``ledger.library`` (every use of private ``eventsourcing`` API), ``ledger.startup`` (start-up races).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Protocol, cast
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import ApplicationRecorder, EventStore, IntegrityError, Transcoder
from eventsourcing.utils import get_topic

from aggregates.customer import Customer
from aggregates.errors import Conflict, InvalidInput, LedgerError, NotFound
from aggregates.timeutil import as_utc
from commands.auth import Principal
from commands.handlers import Context
from commands.models import Command
from commands.registry import HANDLERS
from ledger import library
from ledger.answers import AlreadyAnswered, Answer, recording
from ledger.cache import EventBoundedCache
from ledger.config import Settings
from ledger.jsonvalues import ENVELOPE_FIELDS, event_data
from ledger.library import LibraryApplication
from ledger.ops import tracing
from ledger.startup import created_concurrently
from ledger.transcoding import ledger_transcoder
from ledger.unit_of_work import Outcome, UnitOfWork, command_result, event_type, execute_group, pending_answer

PORTAL_CLOCK_SKEW = timedelta(minutes=5)
"""R20: how far in the future a principal other than ops (HTTP, the portal) may date a command."""

class ViewStopped(Conflict):
    """A command needs a read model that is stopped at an event it cannot apply (SPEC 9)."""

    code = "view_stopped"


class ExpiryCandidates(Protocol):
    """Finds the customers of the recorded log that may have contracts to start or expire at ``at``."""

    def __call__(self, recorder: Any, mapper: Any, at: datetime) -> Iterable[UUID]: ...

    def close(self) -> None: ...


class LedgerApplication(LibraryApplication):
    """Event-sourced entitlement ledger on the ``eventsourcing`` library (SQLite or PostgreSQL).

    ``execute`` runs one command atomically: every aggregate it changed is saved in one
    transaction, or nothing is when it is refused. Losing an optimistic-concurrency race is retried
    with jitter up to ``settings.max_attempts`` times; a command that still loses is refused.
    """

    name = "Ledger"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Customer: 100}

    def __init__(self, settings: Settings, expiry_candidates: ExpiryCandidates | None = None) -> None:
        self.settings = settings
        env = dict(settings.store.env)
        env.setdefault("CREATE_TABLE", "y")
        # Commands work on the cached aggregate itself (no copy per read); a command that fails or
        # is refused drops what it read from the cache. LEDGER_COPY_ON_READ=y copies instead, for
        # a process that shares one application between threads.
        self.copy_from_cache = settings.copy_on_read
        self._expiry_candidates = expiry_candidates
        super().__init__(env=env)

    def construct_recorder(self) -> ApplicationRecorder:
        """The recorder, creating the tables where missing; retried when other processes do it too
        (``ledger.startup``)."""
        return created_concurrently(super().construct_recorder)

    def construct_repository(self) -> Repository[UUID]:
        """The library's repository with the aggregate cache bounded by the events it holds
        (``LEDGER_AGGREGATE_CACHE_EVENTS``, ``ledger.cache``); none when that is 0."""
        repository = super().construct_repository()
        repository.cache = EventBoundedCache(self.settings.cache_events) if self.settings.cache_events else None
        return repository

    def construct_snapshot_store(self) -> EventStore[UUID]:
        return created_concurrently(super().construct_snapshot_store)

    def construct_transcoder(self) -> Transcoder:
        """The library's JSON format with a faster decoder (``ledger.transcoding``)."""
        return ledger_transcoder()

    def check_future(self, at: datetime, principal: Principal | None = None) -> None:
        """R20: ``at`` lies at most ``LEDGER_MAX_FUTURE_DAYS`` after the moment of recording (so every
        date derived from it is representable), and for a principal other than ops (HTTP) at most
        ``PORTAL_CLOCK_SKEW``."""
        portal = principal is not None and not principal.ops
        bound = PORTAL_CLOCK_SKEW if portal else timedelta(days=self.settings.max_future_days)
        if at - datetime.now(UTC) > bound:
            limit = f"{bound.days} days" if bound >= timedelta(days=1) else f"{int(bound.total_seconds())} seconds"
            raise InvalidInput(
                f"at: {at.isoformat()} lies more than {limit} after the moment of recording; "
                "nothing recorded (R20)",
                rule="R20",
                field="at",
                code="too_far_in_future",
            )

    def context(self, command: Command, now: datetime | None = None, principal: Principal | None = None) -> Context:
        """The command's effective time and actor; refuses an ``at`` too far ahead (R20)."""
        at = as_utc(command.at) if command.at is not None else (now or datetime.now(UTC))
        self.check_future(at, principal)
        return Context(
            at=at,
            actor=command.actor,
            secret_key=self.settings.secret_key,
            countries=self.settings.countries,
            grace_days=self.settings.grace_days,
            principal=principal,
            support_targets=self.settings.support_targets,
        )

    def execute(
        self,
        command: Command,
        now: datetime | None = None,
        principal: Principal | None = None,
        correlation_id: str | None = None,
        answer: Answer | None = None,
    ) -> dict[str, Any]:
        """Run one command; return its result or raise a LedgerError saying why it was refused.

        ``principal`` is who the command is authorized for (HTTP: the authenticated credential);
        without one, the command's ``actor`` (the command line). ``correlation_id`` goes on every
        event it records (the HTTP request's or the ``ledger apply`` run's; default: the current
        one of ``ledger.ops.tracing``, else a new one). ``answer``: the ``Idempotency-Key`` whose
        answer is recorded in the transaction of the events (``ledger.answers``); when another
        request recorded that key meanwhile, nothing is recorded and ``AlreadyAnswered`` is raised.
        """
        with tracing.correlated(correlation_id):
            return self._execute_one(command, now, principal, answer)

    def _execute_one(
        self, command: Command, now: datetime | None, principal: Principal | None, answer: Answer | None = None
    ) -> dict[str, Any]:
        handler = HANDLERS[type(command)]
        attempts = self.settings.max_attempts
        implicit_time = command.at is None and now is None
        for attempt in range(1, attempts + 1):
            if attempt > 1:
                time.sleep(random.uniform(0, 0.005 * 2**attempt))
            # "Now" is read afresh on every attempt: an attempt that follows a lost race must not be
            # dated before the events of the writer that won it (R20).
            uow = UnitOfWork(self)
            try:
                try:
                    ctx = self.context(command, now, principal)  # may refuse the command's time (R20)
                    result = handler(command, uow, ctx)
                    produced = [e for a in uow.staged.values() for e in a.pending_events]
                    with recording(pending_answer(answer, result, produced)):
                        recordings = self.save(*uow.staged.values()) if uow.staged else []
                except BaseException:
                    self.forget(uow)
                    raise
            except LedgerError as refusal:
                if implicit_time and refusal.code == "time_went_backwards" and uow.clock_raced(datetime.now(UTC)):
                    # Another writer committed an event dated after our reading of the clock
                    # but before our read of the aggregate: a lost race, not a rule violation.
                    if attempt == attempts:
                        raise self._lost_race(attempts) from None
                    continue
                if attempt < attempts and uow.changed_since_read():
                    continue  # decided on a torn read: decide again
                raise
            except IntegrityError:
                if answer is not None and answer.recorded():
                    raise AlreadyAnswered(
                        "Idempotency-Key: another request with this key was recorded first; its answer stands",
                        field="Idempotency-Key",
                    ) from None
                if attempt == attempts:
                    raise self._lost_race(attempts) from None
                continue
            return command_result(result, recordings)
        raise AssertionError("unreachable")  # pragma: no cover

    def execute_many(
        self,
        commands: list[Command],
        now: datetime | None = None,
        principals: list[Principal | None] | None = None,
        correlation_ids: list[str | None] | None = None,
        answers: list[Answer | None] | None = None,
    ) -> list[Outcome]:
        """Group commit: run ``commands`` in order on shared aggregates and save them in one transaction
        (``ledger.unit_of_work.execute_group``). ``answers``: per command, its ``Idempotency-Key``
        answer, recorded with its events.
        """
        who = principals if principals is not None else [None] * len(commands)
        ids = [c or tracing.current() or tracing.new_id() for c in (correlation_ids or [None] * len(commands))]
        keyed: list[Answer | None] = answers if answers is not None else [None] * len(commands)
        return execute_group(self, list(zip(commands, who, strict=True)), now, ids, keyed)

    def outcome(
        self,
        command: Command,
        now: datetime | None = None,
        principal: Principal | None = None,
        correlation_id: str | None = None,
        answer: Answer | None = None,
    ) -> Outcome:
        """``execute``'s result, or the refusal it raised."""
        try:
            return self.execute(command, now, principal, correlation_id, answer)
        except LedgerError as refusal:
            return refusal

    def forget(self, uow: UnitOfWork) -> None:
        """Drop from the cache every aggregate a failed command read: it may hold unsaved changes."""
        self.evict([*uow.loaded, *uow.staged])

    @staticmethod
    def _lost_race(attempts: int) -> Conflict:
        return Conflict(
            f"command: other writers changed the same records {attempts} times in a "
            "row; nothing was recorded, submit it again",
            rule="R18",
            field="command",
            code="concurrency_conflict",
        )

    def unsnapshotted(self, aggregate_id: UUID) -> Aggregate:
        """An aggregate that is never snapshotted (reservations, partners), folded from its events in
        one query: the repository would first look for a snapshot, a round trip that finds nothing."""
        aggregate: Any = None
        for domain_event in self.events.get(aggregate_id):
            aggregate = cast("Aggregate.Event", domain_event).mutate(aggregate)
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        return cast("Aggregate", aggregate)

    def latest_versions(self, aggregate_ids: list[UUID]) -> dict[UUID, int]:
        """The latest recorded version of each of ``aggregate_ids`` that has events, in one query."""
        return library.latest_versions(self.recorder, aggregate_ids)

    def expiry_candidates(self, at: datetime) -> Iterator[UUID]:
        """Customers in the recorded log that may have a contract to start or expire at ``at`` (R8).

        Asked of the finder injected at bootstrap (``ledger.readside.ReadModelExpiryCandidates``:
        the contracts read model); without one, every customer is a candidate. The handler decides
        on each customer's own recorded state, so a finder only narrows the search. A finder whose
        view is stopped (SPEC 9) refuses with ``ViewStopped`` rather than act on stale candidates.
        """
        if self._expiry_candidates is None:
            return self.customer_ids()
        return iter(self._expiry_candidates(self.recorder, self.mapper, at))

    def close(self) -> None:
        if self._expiry_candidates is not None:
            self._expiry_candidates.close()
        super().close()

    def customer_ids(self) -> Iterator[UUID]:
        """Every customer, in the order they were first recorded."""
        topic = get_topic(Customer.Registered)
        start = 1
        while True:
            page = self.recorder.select_notifications(start, 500, topics=[topic])
            for notification in page:
                yield UUID(str(notification.originator_id))
            if len(page) < 500:
                return
            start = page[-1].id + 1

    def customer(self, customer_id: UUID) -> Customer:
        aggregate: Aggregate | None
        try:
            aggregate = self.repository.get(customer_id)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, Customer):
            raise NotFound(f"customer_id: no customer {customer_id}", rule="R1", field="customer_id")
        return aggregate

    def customer_events(self, customer_id: UUID) -> list[Customer.Event]:
        """Every event of one customer, read from the store (never the cache, so any thread may call it)."""
        found = list(self.events.get(customer_id))
        if not found or not isinstance(found[0], Customer.Registered):
            raise NotFound(f"customer_id: no customer {customer_id}", rule="R1", field="customer_id")
        return cast("list[Customer.Event]", found)

    def history(self, customer_id: UUID, as_of: datetime | None = None) -> list[dict[str, Any]]:
        """Every event of one customer in order: position, type, effective and recorded time, actor."""
        rows = []
        for domain_event in self.customer_events(customer_id):
            effective = domain_event.at
            if as_of is not None and effective > as_of:
                break
            rows.append(
                {
                    "position": domain_event.originator_version,
                    "type": event_type(domain_event),
                    "effective_at": effective.isoformat(),
                    "recorded_at": domain_event.timestamp.isoformat(),
                    "actor": domain_event.actor,
                    "correlation_id": tracing.correlation_of(domain_event),
                    "causation_id": tracing.causation_of(domain_event),
                    "data": event_data(domain_event),
                }
            )
        return rows


__all__ = [
    "ENVELOPE_FIELDS", "LedgerApplication", "LedgerError", "UnitOfWork", "ViewStopped", "event_data", "event_type",
]
