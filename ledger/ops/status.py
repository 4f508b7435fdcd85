"""The state of each consumer of the log, for ``ledger project``, the metrics and ``/readyz``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.ops.lag import Lag, log_lag
from ledger.ops.metrics import ConsumerStatus
from projections.store import Fault, ReadModels
from projections.tables import PROJECTIONS

STOP_POLICY = PROJECTIONS  # every read model stops at an event it cannot apply (SPEC 9)


def projection_lags(app: Any, models: ReadModels, now: datetime | None = None) -> dict[str, Lag]:
    """The lag of each live projection, in events (rows counted) and seconds."""
    return {name: log_lag(app.recorder, app.mapper, models.position(name), now) for name in PROJECTIONS}


def projection_statuses(app: Any, models: ReadModels) -> list[ConsumerStatus]:
    """What the metrics report of each projection: lag, position, stopped."""
    stopped = {f.projection for f in models.faults()}
    return [
        ConsumerStatus(name, lag.events, lag.seconds, lag.position, stopped=name in stopped)
        for name, lag in projection_lags(app, models).items()
    ]


def fault_report(fault: Fault) -> dict[str, Any]:
    """A stopped projection as JSON: where, which customer and event, and the error."""
    return {
        "projection": fault.projection,
        "position": fault.position,
        "customer_id": fault.customer_id,
        "event_type": fault.event_type,
        "error": fault.error,
        "first_failed_at": fault.first_failed_at,
        "attempts": fault.attempts,
    }
