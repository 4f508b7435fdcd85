"""Calendar arithmetic used by the rules (no clock is ever read here).

Derived dates (grace end, term end, invitation expiry, warranty end) saturate at ``BEYOND`` /
``date.max`` instead of overflowing: an event already recorded with a far-future time (before R20
bounded ``at``) must never make a view, a replay or an expiry crash. Read paths report a saturated
date as unrepresentable for that row (``is_beyond``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

BEYOND = datetime.max.replace(tzinfo=UTC)
"""Stands for a derived moment past the end of the calendar (year 9999)."""
EARLIEST_AT = datetime(2000, 1, 1, tzinfo=UTC)
"""R20: an effective time lies after this moment."""


def is_beyond(value: datetime | date | None) -> bool:
    """Whether ``value`` is a saturated (unrepresentable) derived date."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=None) == datetime.max
    return value == date.max


def add_days(moment: datetime, n: int) -> datetime:
    try:
        return moment + timedelta(days=n)
    except OverflowError:
        return BEYOND


def add_years(moment: datetime, years: int) -> datetime:
    if is_beyond(moment) or not 1 <= moment.year + years <= 9999:
        return BEYOND if years >= 0 else moment
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)


def add_years_to_date(day: date, years: int) -> date:
    if day == date.max or not 1 <= day.year + years <= 9999:
        return date.max if years >= 0 else day
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def days(n: int) -> timedelta:
    return timedelta(days=n)


def as_utc(moment: datetime) -> datetime:
    """The same moment in UTC (naive means UTC); OverflowError when UTC falls outside the calendar."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
