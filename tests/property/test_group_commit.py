"""Group commit: ``execute_many`` gives exactly what ``execute`` one by one gives, and the same log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregates.errors import LedgerError
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from ledger.bootstrap import build_app
from ledger.demo import generate, seed_example
from ledger.jsonvalues import ENVELOPE_FIELDS


def _outcome(value: dict[str, Any] | LedgerError) -> Any:
    return value.as_dict() if isinstance(value, LedgerError) else value


def _log(app: LedgerApplication) -> list[tuple[Any, ...]]:
    rows = []
    for n in app.recorder.select_notifications(1, 1_000_000):
        e = app.mapper.to_domain_event(n)
        data = {k: v for k, v in vars(e).items() if k not in ENVELOPE_FIELDS or k in ("at", "actor")}
        rows.append((n.id, n.topic, e.originator_id, e.originator_version, repr(sorted(data.items()))))
    return rows


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    customers=st.integers(1, 4),
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=30),
)
def test_r18_group_commit_equals_one_by_one(
    fresh_url: Callable[[], str], seed: int, customers: int, sizes: list[int]
) -> None:
    raws = list(generate(customers=customers, seed=seed, expiry_days=90, extra=seed_example()))
    # resubmissions and duplicates inside one group
    raws += raws[2:6]
    commands = [parse_command(r) for r in raws]
    environ = {"LEDGER_SECRET_KEY": "group"}
    one = build_app(fresh_url(), environ)
    many = build_app(fresh_url(), environ)
    try:
        expected = []
        for command in commands:
            try:
                expected.append(one.execute(command))
            except LedgerError as refusal:
                expected.append(refusal)
        actual: list[dict[str, Any] | LedgerError] = []
        i = 0
        for size in sizes * (len(commands) // max(1, sum(sizes)) + 1):
            if i >= len(commands):
                break
            actual.extend(many.execute_many(commands[i : i + size]))
            i += size
        assert [_outcome(a) for a in actual] == [_outcome(e) for e in expected]
        assert _log(many) == _log(one)
    finally:
        one.close()
        many.close()
