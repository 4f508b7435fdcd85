"""``/readyz``: the checks that say whether a server can answer correctly, each listed in the body.

- ``store``: the event store answers (its head position is read);
- ``schema``: the read-model tables exist in the shape this code writes;
- one check per stop-policy projection: not stopped at an event it cannot apply, and its lag in
  seconds within ``LEDGER_READY_MAX_LAG_SECONDS`` (default 30).
Ready only when every check passes; the HTTP server answers 200 or 503 with the same JSON body.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect

from ledger.ops.lag import log_lag
from ledger.ops.status import STOP_POLICY
from projections.store import ReadModels
from projections.tables import table_set

DEFAULT_MAX_LAG_SECONDS = 30.0


def max_lag_seconds(environ: Mapping[str, str] | None = None) -> float:
    environ = os.environ if environ is None else environ
    try:
        return float(environ.get("LEDGER_READY_MAX_LAG_SECONDS", DEFAULT_MAX_LAG_SECONDS))
    except ValueError:
        return DEFAULT_MAX_LAG_SECONDS


def readiness(app: Any, models: ReadModels, bound: float | None = None) -> tuple[bool, dict[str, Any]]:
    """(ready, body): every check with ``name``, ``ok`` and what it found."""
    bound = max_lag_seconds() if bound is None else bound
    checks: list[dict[str, Any]] = []
    try:
        head = app.recorder.max_notification_id() or 0
        checks.append({"name": "store", "ok": True, "position": head})
    except Exception as exc:
        checks.append({"name": "store", "ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]})
        return False, {"status": "not_ready", "checks": checks}
    try:
        inspector = inspect(models.engine)
        missing = []
        for name in STOP_POLICY:
            for table in table_set(name).tables.values():
                if not inspector.has_table(table.name):
                    missing.append(table.name)
                    continue
                columns = {c["name"] for c in inspector.get_columns(table.name)}
                if columns != {c.name for c in table.columns}:
                    missing.append(f"{table.name} (other columns)")
        checks.append({"name": "schema", "ok": not missing, **({"stale": missing} if missing else {})})
        faults = {f.projection: f for f in models.faults()}
        positions = models.positions()
    except Exception as exc:
        checks.append({"name": "schema", "ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]})
        return False, {"status": "not_ready", "checks": checks}
    for name in STOP_POLICY:
        lag = log_lag(app.recorder, app.mapper, positions.get(name, 0))
        check: dict[str, Any] = {
            "name": f"projection:{name}", "position": lag.position, "lag_events": lag.events,
            "lag_seconds": round(lag.seconds, 3), "max_lag_seconds": bound,
        }
        fault = faults.get(name)
        if fault is not None:
            check["stopped"] = {"position": fault.position, "customer_id": fault.customer_id,
                                "event_type": fault.event_type, "error": fault.error}
        check["ok"] = fault is None and lag.seconds <= bound
        checks.append(check)
    ready = all(c["ok"] for c in checks)
    return ready, {"status": "ready" if ready else "not_ready", "position": head, "projections": positions,
                   "checks": checks}
