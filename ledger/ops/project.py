"""``ledger project``: keep the read models current, report stopped projections, expose metrics."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading

from eventsourcing.persistence import PersistenceError

from ledger.bootstrap import build_app
from ledger.ops.metrics import LedgerMetrics, serve
from ledger.ops.status import fault_report, projection_statuses
from ledger.readside import catch_up, open_read_models
from projections.store import INFRASTRUCTURE_ERRORS

logger = logging.getLogger("ledger.project")
EXIT_OK, EXIT_STOPPED = 0, 1
DATABASE_ERRORS: tuple[type[BaseException], ...] = (PersistenceError, *INFRASTRUCTURE_ERRORS)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_projector(
    db: str | None,
    *,
    follow: bool = False,
    interval: float = 0.5,
    metrics_port: int | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Catch up once (or follow until ``stop``, SIGTERM or SIGINT). A projection stopped at an event it cannot
    apply is reported on stderr as JSON (position, customer, event type, error), and the exit status
    is 1; the others go on. Database outages are waited out, with a growing pause."""
    if stop is None:
        stop = threading.Event()
        if follow and threading.current_thread() is threading.main_thread():
            # SIGINT (Ctrl-C) ends a follower like SIGTERM: after the batch in hand, never inside a
            # database call (an interrupt there could leave a connection or a lock behind while closing).
            for signum in (signal.SIGTERM, signal.SIGINT):
                signal.signal(signum, lambda _signum, _frame: stop.set())
    app = build_app(db)
    models = open_read_models(app)
    stop_metrics = None
    if metrics_port is not None:
        metrics = LedgerMetrics()
        metrics.add_consumers(lambda: projection_statuses(app, models))
        stop_metrics = serve(metrics_port, metrics.registry)
        _say(f"project: metrics on http://127.0.0.1:{metrics_port}/metrics")
    reported: dict[str, int] = {}
    pause = interval
    try:
        while True:
            try:
                read = catch_up(app, models)
                faults = models.faults()
            except DATABASE_ERRORS as exc:
                if not follow:
                    raise
                _say(f"project: the database failed ({type(exc).__name__}: {exc}); retrying in {pause:.1f} s")
                if stop.wait(pause):
                    return EXIT_OK
                pause = min(pause * 2, 5.0)
                continue
            pause = interval
            if read:
                print(f"projected {read} notifications; positions {models.positions()}", flush=True)
            for fault in faults:
                if reported.get(fault.projection) != fault.position:
                    reported[fault.projection] = fault.position
                    _say("project: stopped " + json.dumps(fault_report(fault)))
            for name in [n for n in reported if n not in {f.projection for f in faults}]:
                del reported[name]
                _say(f"project: {name} resumed")
            if not follow:
                return EXIT_STOPPED if faults else EXIT_OK
            if stop.wait(interval):
                return EXIT_STOPPED if faults else EXIT_OK
    finally:
        if stop_metrics is not None:
            stop_metrics()
        models.close()
        app.close()
