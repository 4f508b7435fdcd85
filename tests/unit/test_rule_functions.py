"""The pure rule functions the aggregate's state records and the read side share (R6–R8, R25, R27)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from aggregates.customer.rules import (
    Term,
    invitation_changes,
    invitation_status,
    next_change,
    term_as_of,
    term_changes,
)
from aggregates.customer.state import Contract
from aggregates.support import SupportTargets, missed_targets, ticket_targets

PLACED = datetime(2026, 1, 5, 9, tzinfo=UTC)


def _contract(**fields: object) -> Contract:
    base: dict[str, object] = dict(po_number="PO-1", account_id=UUID(int=1), service="select", years=1, quantity=10,
                                   placed_at=PLACED, grace_days=45, end_customer={}, reseller={}, distributor={},
                                   warnings=[])
    return Contract(**{**base, **fields})  # type: ignore[arg-type]


def test_r6_term_as_of_pending_then_active_then_expired() -> None:
    assert term_as_of(PLACED, 45, None, 1, "select", PLACED) == Term(None, None, "pending")
    grace = PLACED + timedelta(days=45)
    assert term_as_of(PLACED, 45, None, 1, "select", grace) == Term(grace, grace.replace(year=2027), "active")
    assert term_as_of(PLACED, 45, None, 1, "select", grace.replace(year=2027)).status == "expired"


def test_r27_term_as_of_jumpstart_is_90_days() -> None:
    start = PLACED + timedelta(days=1)
    assert term_as_of(PLACED, 45, start, None, "jumpstart", start).end == start + timedelta(days=90)


def test_r7_r8_term_as_of_cancelled_or_expired_from_the_recorded_moment() -> None:
    start, later = PLACED + timedelta(days=1), PLACED + timedelta(days=10)
    assert term_as_of(PLACED, 45, start, 1, "select", later, cancelled_at=later).status == "cancelled"
    assert term_as_of(PLACED, 45, start, 1, "select", later - timedelta(days=1), cancelled_at=later).status == "active"
    assert term_as_of(PLACED, 45, start, 1, "select", later, expired_at=later).status == "expired"


moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2032, 1, 1), timezones=st.just(UTC))


@given(
    moment=moments,
    started=st.one_of(st.none(), moments),
    cancelled=st.one_of(st.none(), moments),
    expired=st.one_of(st.none(), moments),
    years=st.sampled_from([None, 1, 3, 5]),
    service=st.sampled_from(["select", "extended_warranty", "jumpstart"]),
    grace=st.integers(0, 120),
)
def test_r6_the_contract_record_answers_with_the_one_rule_function(
    moment: datetime, started: datetime | None, cancelled: datetime | None, expired: datetime | None,
    years: int | None, service: str, grace: int,
) -> None:
    contract = _contract(service=service, years=years, grace_days=grace, started_at=started, cancelled_at=cancelled,
                         expired_at=expired)
    term = term_as_of(PLACED, grace, started, years, service, moment, cancelled, expired)
    assert (contract.start_as_of(moment), contract.end_as_of(moment), contract.status(moment)) == term


def test_r25_ticket_targets_are_the_due_times_and_the_missed_ones() -> None:
    targets = SupportTargets.default()
    opened = datetime(2026, 6, 1, 9, tzinfo=UTC)
    later = opened + timedelta(days=30)
    due, missed = ticket_targets(targets, opened, "select", "critical", None, None, later)
    assert due == targets.due(opened, "select", "critical")
    assert missed == missed_targets(due, None, None, later) == ["first_response", "resolution"]
    assert ticket_targets(targets, opened, "select", "critical", None, None, opened)[1] == []


_moments = st.integers(min_value=0, max_value=6 * 365 * 24).map(lambda h: PLACED + timedelta(hours=h))


@given(
    grace_days=st.integers(min_value=0, max_value=120),
    started=st.none() | _moments,
    years=st.integers(min_value=1, max_value=5),
    service=st.sampled_from(["select", "syncplus", "extended_warranty", "jumpstart", ""]),
    cancelled=st.none() | _moments,
    expired=st.none() | _moments,
    moment=_moments,
    later=st.integers(min_value=0, max_value=6 * 365 * 24 * 60),
)
def test_r6_r8_r27_term_as_of_stays_the_same_until_its_next_change(
    grace_days: int, started: datetime | None, years: int, service: str, cancelled: datetime | None,
    expired: datetime | None, moment: datetime, later: int,
) -> None:
    """What the view cache relies on: between two of ``term_changes`` the term is the same."""
    changes = term_changes(PLACED, grace_days, started, years, service, cancelled, expired)
    until = next_change(changes, moment)
    after = moment + timedelta(minutes=later)
    if until is not None:
        after = min(after, until - timedelta(microseconds=1))
    assert after >= moment
    term = term_as_of(PLACED, grace_days, started, years, service, moment, cancelled, expired)
    assert term_as_of(PLACED, grace_days, started, years, service, after, cancelled, expired) == term


@given(state=st.sampled_from(["pending", "accepted", "superseded"]), moment=_moments, later=st.integers(0, 10**7))
def test_r15_invitation_status_stays_the_same_until_its_next_change(state: str, moment: datetime, later: int) -> None:
    expires = PLACED + timedelta(days=14)
    until = next_change(invitation_changes(state, expires), moment)
    after = moment + timedelta(seconds=later)
    if until is not None:
        after = min(after, until - timedelta(microseconds=1))
    assert invitation_status(state, expires, after) == invitation_status(state, expires, moment)


def test_next_change_is_the_first_moment_after() -> None:
    assert next_change([PLACED, PLACED + timedelta(days=2), PLACED + timedelta(days=1)], PLACED) == PLACED + timedelta(
        days=1)
    assert next_change([PLACED], PLACED) is None
