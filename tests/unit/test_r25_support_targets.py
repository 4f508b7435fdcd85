"""R25/R27 support targets as operator data, business-day due times, the ticket lifecycle; R26 RMA due dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.errors import RuleViolation
from aggregates.support import (
    SEVERITIES,
    TRANSITIONS,
    BusinessCalendar,
    SupportTargets,
    check_transition,
    missed_targets,
    rma_due,
)

FRIDAY_5PM = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
WEEKDAYS_ONLY = BusinessCalendar(frozenset({5, 6}), frozenset())


def test_r25_default_table_has_every_tier_and_severity_and_jumpstart_is_longer() -> None:
    table = SupportTargets.default()
    opened = datetime(2026, 12, 1, 9, tzinfo=UTC)
    for severity in SEVERITIES:
        select = table.due(opened, "select", severity)
        jumpstart = table.due(opened, "jumpstart", severity)
        assert select["first_response"] < jumpstart["first_response"], severity
        assert select["resolution"] < jumpstart["resolution"], severity


def test_r25_business_days_skip_the_weekend() -> None:
    assert WEEKDAYS_ONLY.add_business_days(FRIDAY_5PM, 1) == datetime(2026, 12, 7, 17, tzinfo=UTC)
    assert WEEKDAYS_ONLY.add_business_days(FRIDAY_5PM, 5) == datetime(2026, 12, 11, 17, tzinfo=UTC)


def test_r25_a_ticket_opened_on_a_saturday_counts_from_monday() -> None:
    saturday = datetime(2026, 12, 5, 11, tzinfo=UTC)
    assert WEEKDAYS_ONLY.add_business_days(saturday, 1) == datetime(2026, 12, 8, 0, tzinfo=UTC)


def test_r25_holidays_are_not_business_days() -> None:
    calendar = BusinessCalendar(frozenset({5, 6}), frozenset({date(2026, 12, 7)}))
    assert calendar.add_business_days(FRIDAY_5PM, 1) == datetime(2026, 12, 8, 17, tzinfo=UTC)


def test_r25_hour_targets_run_round_the_clock() -> None:
    due = SupportTargets.default().due(FRIDAY_5PM, "select", "critical")
    assert due["first_response"] == datetime(2026, 12, 4, 18, tzinfo=UTC)


def test_r25_overrides_replace_only_the_targets_they_name() -> None:
    table = SupportTargets.default().with_overrides(
        {"select": {"critical": {"first_response": {"minutes": 30}}}, "calendar": {"holidays": ["2026-12-25"]}}
    )
    due = table.due(FRIDAY_5PM, "select", "critical")
    assert due["first_response"] == datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
    assert due["resolution"] == SupportTargets.default().due(FRIDAY_5PM, "select", "critical")["resolution"]
    assert not table.calendar.is_business_day(date(2026, 12, 25))


@pytest.mark.parametrize(
    ("overrides", "where"),
    [
        ({"select": {"critical": {"first_response": {"weeks": 1}}}}, "select.critical.first_response"),
        ({"select": {"critical": {"resolution": {"hours": 0}}}}, "select.critical.resolution.hours"),
        ({"select": {"urgent": {}}}, "select.urgent"),
        ({"gold": {}}, "gold"),
        ({"calendar": {"holidays": ["christmas"]}}, "calendar.holidays"),
        ({"calendar": {"weekend": ["Sat", "Funday"]}}, "calendar.weekend"),
    ],
)
def test_r25_a_malformed_targets_table_names_the_key(overrides: dict[str, object], where: str) -> None:
    with pytest.raises(ValueError, match=where.replace(".", r"\.")):
        SupportTargets.default().with_overrides(overrides)


def test_r25_missed_targets_as_of_the_time_asked() -> None:
    due = {"first_response": FRIDAY_5PM, "resolution": datetime(2026, 12, 7, 17, tzinfo=UTC)}
    before = datetime(2026, 12, 4, 16, tzinfo=UTC)
    after = datetime(2026, 12, 4, 18, tzinfo=UTC)
    assert missed_targets(due, None, None, before) == []
    assert missed_targets(due, None, None, after) == ["first_response"]
    assert missed_targets(due, before, None, after) == []
    assert missed_targets(due, after, None, datetime(2026, 12, 8, tzinfo=UTC)) == ["first_response", "resolution"]
    # a response recorded after the moment asked about is not yet known then
    assert missed_targets(due, after, None, before) == []


def test_r25_lifecycle_allows_the_spec_moves_only() -> None:
    check_transition("open", "in_progress")
    check_transition("in_progress", "waiting_on_customer")
    check_transition("waiting_on_customer", "in_progress")
    check_transition("waiting_on_customer", "resolved")
    check_transition("resolved", "closed")
    for current, new in [("open", "closed"), ("closed", "in_progress"), ("resolved", "in_progress")]:
        with pytest.raises(RuleViolation) as info:
            check_transition(current, new)
        assert (info.value.rule, info.value.field) == ("R25", "status")


@given(st.sampled_from(sorted(TRANSITIONS)), st.sampled_from(sorted(TRANSITIONS)))
def test_r25_closed_is_final_and_every_state_is_reachable_from_open(current: str, new: str) -> None:
    if current == "closed":
        with pytest.raises(RuleViolation):
            check_transition(current, new)
    reachable = {"open"}
    frontier = ["open"]
    while frontier:
        for nxt in TRANSITIONS[frontier.pop()]:
            if nxt not in reachable:
                reachable.add(nxt)
                frontier.append(nxt)
    assert reachable == set(TRANSITIONS)


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=30))
def test_r25_business_day_due_is_a_business_day_after_the_opening(moment: datetime, count: int) -> None:
    due = WEEKDAYS_ONLY.add_business_days(moment, count)
    assert due > moment
    assert WEEKDAYS_ONLY.is_business_day(due.date())
    # at least count calendar days later, at most count + 2 per week (+2 for a weekend start)
    assert count <= (due - moment).days + 1 <= count + 2 * (count // 5 + 1) + 2


def test_r26_rma_due_follows_the_country_terms() -> None:
    assert rma_due(FRIDAY_5PM, "next-business-day", WEEKDAYS_ONLY) == date(2026, 12, 7)
    assert rma_due(FRIDAY_5PM, "2-5-business-days", WEEKDAYS_ONLY) == date(2026, 12, 11)
