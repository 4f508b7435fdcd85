"""The customer's rules as pure functions of recorded facts (one home per rule).

The aggregate, the read models, the as-of views and the stream envelope all call these; none of
them restates a rule. No clock is read here: every function takes the moment it is asked about.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import NamedTuple

from aggregates.catalog import CANCELLATION_WINDOW_DAYS, MAX_WARRANTY_YEARS, SELECT_LICENSES_PER_SPARE
from aggregates.support import jumpstart_end
from aggregates.timeutil import add_days, add_years, add_years_to_date

# R11: the services whose contract end bounds a device's warranty coverage.
WARRANTY_SERVICES = ("select", "extended_warranty")


def grace_end(placed_at: datetime, grace_days: int) -> datetime:
    """R6: the moment the term starts at the latest, when no license was assigned before."""
    return add_days(placed_at, grace_days)


def term_start(placed_at: datetime, grace_days: int, started_at: datetime | None, moment: datetime) -> datetime | None:
    """R6: the start of the term as known at ``moment`` (None while pending)."""
    if started_at is not None:
        return started_at
    end = grace_end(placed_at, grace_days)
    return end if end <= moment else None


def term_end(start: datetime | None, years: int | None, service: str = "") -> datetime | None:
    """R6: end = start + term years (None while the term has not started); R27: Jumpstart, 90 days."""
    if start is None:
        return None
    if service == "jumpstart":
        return jumpstart_end(start)
    return add_years(start, years or 0)


def contract_status(
    cancelled_at: datetime | None, expired_at: datetime | None, end: datetime | None, moment: datetime
) -> str:
    """R6–R8: ``cancelled``, ``expired``, ``pending`` or ``active`` at ``moment``."""
    if cancelled_at is not None and cancelled_at <= moment:
        return "cancelled"
    if expired_at is not None and expired_at <= moment:
        return "expired"
    if end is None:
        return "pending"
    return "expired" if end <= moment else "active"


class Term(NamedTuple):
    """R6–R8: a contract's start, end and status as known at one moment."""

    start: datetime | None
    end: datetime | None
    status: str


def term_as_of(
    placed_at: datetime,
    grace_days: int,
    started_at: datetime | None,
    years: int | None,
    service: str,
    moment: datetime,
    cancelled_at: datetime | None = None,
    expired_at: datetime | None = None,
) -> Term:
    """R6–R8, R27: a contract's term at ``moment``, from its recorded facts (the aggregate's state record
    and the read models' rows alike)."""
    start = term_start(placed_at, grace_days, started_at, moment)
    end = term_end(start, years, service)
    return Term(start, end, contract_status(cancelled_at, expired_at, end, moment))


def term_changes(
    placed_at: datetime,
    grace_days: int,
    started_at: datetime | None,
    years: int | None,
    service: str,
    cancelled_at: datetime | None = None,
    expired_at: datetime | None = None,
) -> list[datetime]:
    """R6–R8, R27: the moments at which :func:`term_as_of` of these facts may answer differently than
    just before (it answers the same from one such moment up to the next): the grace end while the term
    has not started, the term's end, a cancellation, an expiry."""
    start = started_at if started_at is not None else grace_end(placed_at, grace_days)
    moments = [start, term_end(start, years, service), cancelled_at, expired_at]
    return [m for m in moments if m is not None]


def next_change(moments: Iterable[datetime], moment: datetime) -> datetime | None:
    """The first of ``moments`` after ``moment`` (None: none): a value that changes only at those moments
    is the same from ``moment`` up to it."""
    return min((m for m in moments if m > moment), default=None)


def days_since_order(placed_at: datetime, moment: datetime) -> int:
    """R7: calendar days from the order's effective date to ``moment``'s."""
    return (moment.date() - placed_at.date()).days


def within_cancellation_window(placed_at: datetime, moment: datetime) -> bool:
    """R7: an order can be cancelled up to and including day 30 after its effective date."""
    return days_since_order(placed_at, moment) <= CANCELLATION_WINDOW_DAYS


def warranty_end(purchased_on: date, coverage_ends: Iterable[datetime | None]) -> date | None:
    """R11: the earlier of the latest covering contract end and purchase date + 5 years."""
    ends = [end for end in coverage_ends if end is not None]
    if not ends:
        return None
    return min(max(ends).date(), add_years_to_date(purchased_on, MAX_WARRANTY_YEARS))


def entitled_spares(active_select_licenses: int) -> int:
    """R13: floor(purchased select licenses of live contracts / 50)."""
    return active_select_licenses // SELECT_LICENSES_PER_SPARE


def invitation_status(state: str, expires_at: datetime, moment: datetime) -> str:
    """R15: a pending invitation is valid until it expires; accepted or superseded stay so."""
    if state != "pending":
        return state
    return "pending" if moment < expires_at else "expired"


def invitation_changes(state: str, expires_at: datetime) -> list[datetime]:
    """R15: the moments at which :func:`invitation_status` may change: a pending invitation's expiry."""
    return [expires_at] if state == "pending" else []
