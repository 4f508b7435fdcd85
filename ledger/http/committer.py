"""Group commit for HTTP: one writer thread commits the commands of every waiting request together.

Requests put ``(command, principal)`` on a queue and wait for their future. The writer takes
whatever is waiting (up to ``max_group``), runs it through ``LedgerApplication.execute_many`` (each
command atomic and refused alone, the same results as one by one), brings the read models up to
the end of the log, and only then resolves the futures: a client that got its answer reads its
own writes in every view, from any server process on the same database.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from aggregates.errors import LedgerError
from commands.auth import Principal
from commands.models import Command
from ledger.answers import Answer
from ledger.app import LedgerApplication
from ledger.auth.principal import Unauthenticated
from ledger.ops import tracing
from ledger.ops.metrics import LedgerMetrics
from projections.store import ReadModels

logger = logging.getLogger("ledger.http")

Outcome = dict[str, Any] | LedgerError


@dataclass
class _Job:
    command: Command
    principal: Principal
    future: Future[Outcome]
    key_id: str | None = None
    correlation_id: str | None = None  # the request's (X-Request-Id), captured on submit
    answer: Answer | None = None  # its Idempotency-Key, recorded with its events (ledger.answers)
    submitted: float = field(default_factory=time.perf_counter)


class Committer:
    """The single writer of one server process."""

    def __init__(
        self,
        app: LedgerApplication,
        models: ReadModels,
        max_group: int = 128,
        active_keys: Callable[[set[str]], set[str]] | None = None,
    ) -> None:
        self.app = app
        self.models = models
        self.active_keys = active_keys
        self.metrics: LedgerMetrics | None = None  # set by the server's middleware (ledger.http.middleware)
        self.max_group = max_group
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="ledger-committer", daemon=True)
        self.groups = 0
        self.commands = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def submit(
        self, command: Command, principal: Principal, key_id: str | None = None, answer: Answer | None = None
    ) -> Future[Outcome]:
        """Queue a command; ``key_id``: the API key it came with, checked to be active before it runs;
        ``answer``: its ``Idempotency-Key``, whose answer is recorded in the transaction of its events."""
        future: Future[Outcome] = Future()
        self._queue.put(_Job(command, principal, future, key_id, tracing.current(), answer=answer))
        return future

    def catch_up(self) -> None:
        self.models.catch_up(self.app.recorder, self.app.mapper)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stopping = False
            while len(jobs) < self.max_group:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            self._commit(jobs)
            if stopping:
                return

    def _refuse_revoked(self, jobs: list[_Job]) -> list[_Job]:
        key_ids = {j.key_id for j in jobs if j.key_id is not None}
        if not key_ids or self.active_keys is None:
            return jobs
        try:
            active = self.active_keys(key_ids)
        except Exception as exc:
            for job in jobs:
                job.future.set_exception(exc)
            return []
        kept = []
        for job in jobs:
            if job.key_id is not None and job.key_id not in active:
                job.future.set_result(Unauthenticated(
                    "authorization: the API key is not valid or has been revoked (R23)", rule="R23",
                    field="authorization",
                ))
            else:
                kept.append(job)
        return kept

    def _commit(self, jobs: list[_Job]) -> None:
        jobs = self._refuse_revoked(jobs)
        if not jobs:
            return
        try:
            commands = [j.command for j in jobs]
            principals: list[Principal | None] = [j.principal for j in jobs]
            if len(jobs) == 1:
                outcomes: list[Outcome]
                try:
                    outcomes = [self.app.execute(commands[0], principal=jobs[0].principal,
                                                 correlation_id=jobs[0].correlation_id, answer=jobs[0].answer)]
                except LedgerError as refusal:
                    outcomes = [refusal]
            else:
                outcomes = self.app.execute_many(commands, principals=principals,
                                                 correlation_ids=[j.correlation_id for j in jobs],
                                                 answers=[j.answer for j in jobs])
            self.groups += 1
            self.commands += len(jobs)
            if any(not isinstance(o, LedgerError) for o in outcomes):
                try:
                    self.catch_up()
                except Exception:  # the events are recorded; the next group or request catches up
                    logger.warning("read models not caught up after a commit", exc_info=True)
        except BaseException as exc:
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            logger.error("group commit failed", exc_info=exc)
            return
        for job, outcome in zip(jobs, outcomes, strict=True):
            self._observe(job, outcome)
            job.future.set_result(outcome)

    def _observe(self, job: _Job, outcome: Outcome) -> None:
        """The command's type, outcome (refusals by rule) and latency from submit to result."""
        if self.metrics is None:
            return
        refused = isinstance(outcome, LedgerError)
        self.metrics.observe_command(
            type(job.command).__name__, "refused" if refused else "accepted", time.perf_counter() - job.submitted,
            outcome.rule if isinstance(outcome, LedgerError) else None,
        )
