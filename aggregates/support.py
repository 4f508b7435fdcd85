"""Support tickets, RMA and Jumpstart as data and pure functions (R24–R27).

The support-targets table (first response and resolution per support tier and severity) is
operator data like the country table; due times and missed targets are computed from it for the
time asked about, by the write side and the read side alike. No clock is read here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any, Literal, get_args
from uuid import UUID, uuid5

from aggregates.errors import RuleViolation
from aggregates.timeutil import BEYOND, add_days

# The one list of ticket severities and sources (R24): the command models use these literals.
Severity = Literal["critical", "high", "normal", "low"]
SEVERITIES: tuple[str, ...] = get_args(Severity)
Source = Literal["portal", "sync", "api"]
SOURCES: tuple[str, ...] = get_args(Source)
SUPPORT_TIERS: tuple[str, ...] = ("select", "jumpstart", "rma_only")
TARGET_NAMES: tuple[str, ...] = ("first_response", "resolution")
TARGET_UNITS: tuple[str, ...] = ("minutes", "hours", "business_days")
TICKET_STATUSES: tuple[str, ...] = ("open", "in_progress", "waiting_on_customer", "resolved", "closed")
REOPEN_WINDOW_DAYS = 14
JUMPSTART_DAYS = 90
RMA_STATUSES: tuple[str, ...] = ("requested", "received", "swapped")
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# R25: the moves support staff make with UpdateTicket; a reopen (resolved → in_progress) is its own command.
TRANSITIONS: dict[str, frozenset[str]] = {
    "open": frozenset({"in_progress"}),
    "in_progress": frozenset({"waiting_on_customer", "resolved"}),
    "waiting_on_customer": frozenset({"in_progress", "resolved"}),
    "resolved": frozenset({"closed"}),
    "closed": frozenset(),
}
ACTIVE_STATUSES = frozenset({"open", "in_progress", "waiting_on_customer"})

# Business days an RMA replacement takes to arrive, per the country's RMA terms (R12, R26).
RMA_BUSINESS_DAYS: dict[str, int] = {"next-business-day": 1, "2-5-business-days": 5}
DEFAULT_RMA_BUSINESS_DAYS = 5


def ticket_id_for(customer_id: UUID, version: int) -> UUID:
    return uuid5(customer_id, f"ticket:{version}")


def check_transition(current: str, status: str) -> None:
    """R25: refuse a status change the ticket lifecycle does not allow."""
    if status == current:
        raise RuleViolation(
            f"status: the ticket is already {current} (R25)", rule="R25", field="status", code="same_status"
        )
    if status not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none (closed is final)"
        raise RuleViolation(
            f"status: a ticket that is {current} cannot move to {status}; allowed: {allowed} (R25)",
            rule="R25",
            field="status",
            code="invalid_transition",
        )


@dataclass(frozen=True)
class Target:
    """One target: an amount of calendar minutes or hours (24x7), or of business days."""

    amount: int
    unit: str

    def as_dict(self) -> dict[str, int]:
        return {self.unit: self.amount}


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days are not business days: weekdays of the weekend, and holidays (UTC dates)."""

    weekend: frozenset[int]
    holidays: frozenset[date]

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and day not in self.holidays

    def add_business_days(self, moment: datetime, count: int) -> datetime:
        """``count`` business days after ``moment``, at the same time of day (UTC).

        A moment on a day off counts from the start of the next business day.
        """
        moment = moment.astimezone(UTC)
        if not self.is_business_day(moment.date()):
            day = moment.date()
            while not self.is_business_day(day):
                day += timedelta(days=1)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for _ in range(count):
            moment += timedelta(days=1)
            while not self.is_business_day(moment.date()):
                moment += timedelta(days=1)
        return moment


def _target(where: str, raw: Any) -> Target:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise ValueError(f"{where}: a target is one of {{{', '.join(TARGET_UNITS)}: N}}")
    ((unit, amount),) = raw.items()
    if unit not in TARGET_UNITS:
        raise ValueError(f"{where}: unit {unit!r} is not one of {', '.join(TARGET_UNITS)}")
    if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= 10_000:
        raise ValueError(f"{where}.{unit}: {amount!r} is not a whole number from 1 to 10000")
    return Target(amount, unit)


def _calendar(raw: Any) -> BusinessCalendar:
    if not isinstance(raw, Mapping):
        raise ValueError("calendar: must be an object with weekend and holidays")
    weekend = raw.get("weekend", ["Sat", "Sun"])
    if not isinstance(weekend, list) or any(d not in WEEKDAYS for d in weekend) or len(set(weekend)) >= 7:
        raise ValueError(f"calendar.weekend: a list of some of {', '.join(WEEKDAYS)} (not all)")
    holidays = raw.get("holidays", [])
    if not isinstance(holidays, list):
        raise ValueError("calendar.holidays: a list of ISO dates")
    try:
        days_off = frozenset(date.fromisoformat(h) for h in holidays)
    except (TypeError, ValueError):
        raise ValueError("calendar.holidays: a list of ISO dates (YYYY-MM-DD)") from None
    return BusinessCalendar(frozenset(WEEKDAYS.index(d) for d in weekend), days_off)


class SupportTargets:
    """First-response and resolution targets per support tier and severity (R25, R27).

    Data the operator edits: the built-in table (``aggregates/data/support_targets.json``), merged
    with overrides (``LEDGER_SUPPORT_TARGETS``). A malformed table raises ``ValueError`` naming the key.
    """

    def __init__(self, rows: Mapping[str, Any]) -> None:
        self.raw = {k: v for k, v in rows.items()}
        self.calendar = _calendar(rows.get("calendar", {}))
        unknown = sorted(set(rows) - {"calendar", *SUPPORT_TIERS})
        if unknown:
            raise ValueError(f"{unknown[0]}: not a support tier ({', '.join(SUPPORT_TIERS)}) nor 'calendar'")
        self._targets: dict[tuple[str, str, str], Target] = {}
        for tier in SUPPORT_TIERS:
            per_severity = rows.get(tier)
            if not isinstance(per_severity, Mapping):
                raise ValueError(f"{tier}: missing; one object per severity is needed")
            for severity in SEVERITIES:
                row = per_severity.get(severity)
                if not isinstance(row, Mapping):
                    raise ValueError(f"{tier}.{severity}: missing")
                for name in TARGET_NAMES:
                    self._targets[(tier, severity, name)] = _target(f"{tier}.{severity}.{name}", row.get(name))
            extra = sorted(set(per_severity) - set(SEVERITIES))
            if extra:
                raise ValueError(f"{tier}.{extra[0]}: not a severity ({', '.join(SEVERITIES)})")

    @classmethod
    def default(cls) -> SupportTargets:
        text = resources.files("aggregates").joinpath("data/support_targets.json").read_text("utf-8")
        return cls(json.loads(text))

    def with_overrides(self, overrides: Mapping[str, Any]) -> SupportTargets:
        """A table with ``overrides`` merged in key by key (a target replaces the one it names)."""
        merged = json.loads(json.dumps(self.raw))
        for key, value in overrides.items():
            if key == "calendar" and isinstance(value, Mapping):
                merged.setdefault("calendar", {}).update(value)
            elif isinstance(value, Mapping) and isinstance(merged.get(key), dict):
                for severity, row in value.items():
                    if isinstance(row, Mapping) and isinstance(merged[key].get(severity), dict):
                        merged[key][severity].update(row)
                    else:
                        merged[key][severity] = row
            else:
                merged[key] = value
        return SupportTargets(merged)

    def target(self, tier: str, severity: str, name: str) -> Target:
        return self._targets[(tier, severity, name)]

    def due(self, opened_at: datetime, tier: str, severity: str) -> dict[str, datetime]:
        """When each target of a ticket opened at ``opened_at`` falls due."""
        out = {}
        for name in TARGET_NAMES:
            t = self.target(tier, severity, name)
            try:
                if t.unit == "business_days":
                    out[name] = self.calendar.add_business_days(opened_at, t.amount)
                else:
                    out[name] = opened_at + timedelta(**{t.unit: t.amount})
            except OverflowError:
                out[name] = BEYOND  # saturates like every derived date (R20)
        return out

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(self.raw))  # type: ignore[no-any-return]


def missed_targets(
    due: Mapping[str, datetime],
    first_response_at: datetime | None,
    resolved_at: datetime | None,
    at: datetime,
) -> list[str]:
    """Names of the targets missed as of ``at``: met late, or not met and already past due."""
    done = {"first_response": first_response_at, "resolution": resolved_at}
    missed = []
    for name in TARGET_NAMES:
        when = done[name]
        if when is None or when > at:
            when = at
        if when > due[name]:
            missed.append(name)
    return missed


def ticket_targets(
    targets: SupportTargets, opened_at: datetime, tier: str, severity: str, first_response_at: datetime | None,
    resolved_at: datetime | None, moment: datetime,
) -> tuple[dict[str, datetime], list[str]]:
    """R25: a ticket's due times (from the targets table) and the targets it has missed as of ``moment``."""
    due = targets.due(opened_at, tier, severity)
    return due, missed_targets(due, first_response_at, resolved_at, moment)


def rma_due(requested_at: datetime, rma_terms: str | None, calendar: BusinessCalendar) -> date:
    """The date a replacement is due by on the room country's RMA terms (R12, R26)."""
    count = RMA_BUSINESS_DAYS.get(rma_terms or "", DEFAULT_RMA_BUSINESS_DAYS)
    return calendar.add_business_days(requested_at, count).date()


def jumpstart_end(placed_at: datetime) -> datetime:
    """R27: Jumpstart covers 90 days from the order."""
    return add_days(placed_at, JUMPSTART_DAYS)
