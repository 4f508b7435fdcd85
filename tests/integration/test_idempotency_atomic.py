"""R18 Idempotency-Key: the answer of an accepted command is recorded in the transaction of its events.

Through the application and the HTTP layer's key table, on the selected backend: an answer that
cannot be written takes the events down with it; a key recorded already makes a second recording
fail whole (nothing of it recorded) and say so; group commit records each key once.
"""

from __future__ import annotations

from typing import Any

import pytest

from commands.parsing import parse_command
from ledger.answers import AlreadyAnswered, Answer
from ledger.app import LedgerApplication
from ledger.http.idempotency import IdempotencyStore, fingerprint
from ledger.readside import open_read_models
from tests.kit.app import SECRET
from tests.kit.commands import order

pytestmark = pytest.mark.integration


@pytest.fixture
def keys(app: LedgerApplication) -> Any:
    models = open_read_models(app)
    store = IdempotencyStore(models.engine, SECRET.encode())
    yield store
    models.close()


def _order(n: int) -> Any:
    return parse_command(order(po=f"PO-AT{n}", company=f"Atomic {n}", email=f"a{n}@atomic{n}.example"))


def _answer(keys: IdempotencyStore, key: str, n: int) -> Answer:
    return keys.answer("ops", key, fingerprint("POST", "/v1/commands", {"n": n}))


def _events(app: LedgerApplication) -> int:
    return app.recorder.max_notification_id() or 0


def test_r18_the_answer_is_recorded_with_the_events_and_replays_them(app: LedgerApplication, keys: Any) -> None:
    answer = _answer(keys, "k-1", 1)
    result = app.execute(_order(1), answer=answer)
    stored = keys.lookup("ops", "k-1", answer.fingerprint)
    assert stored is not None and stored[0] == 200
    # the stored answer is the one the client got, positions included (the invitation token derived again)
    assert stored[1] == result
    assert [e["position"] for e in stored[1]["events"]] == list(range(1, _events(app) + 1))


def test_r18_an_answer_that_cannot_be_written_takes_the_events_with_it(app: LedgerApplication, keys: Any) -> None:
    def broken(_: dict[str, Any]) -> str:
        raise RuntimeError("disk gone while writing the answer")

    good = _answer(keys, "k-2", 2)
    answer = Answer(good.principal, good.key, good.fingerprint, broken, good.recorded)
    with pytest.raises(RuntimeError, match="disk gone"):
        app.execute(_order(2), answer=answer)
    assert _events(app) == 0, "events recorded without their Idempotency-Key answer"
    assert keys.lookup("ops", "k-2", good.fingerprint) is None
    # and the retry runs afresh, once
    app.execute(_order(2), answer=good)
    assert keys.lookup("ops", "k-2", good.fingerprint) is not None
    assert _events(app) > 0


def test_r18_a_key_recorded_already_refuses_the_second_recording_whole(app: LedgerApplication, keys: Any) -> None:
    answer = _answer(keys, "k-3", 3)
    app.execute(_order(3), answer=answer)
    head = _events(app)
    with pytest.raises(AlreadyAnswered) as refused:
        app.execute(_order(4), answer=answer)  # another request, same key: its events are not recorded
    assert refused.value.field == "Idempotency-Key"
    assert _events(app) == head


def test_r18_group_commit_records_each_key_once(app: LedgerApplication, keys: Any) -> None:
    a, b = _answer(keys, "k-5", 5), _answer(keys, "k-6", 6)
    outcomes = app.execute_many([_order(5), _order(6), _order(7)], answers=[a, b, a])
    assert not isinstance(outcomes[0], Exception) and not isinstance(outcomes[1], Exception)
    assert isinstance(outcomes[2], AlreadyAnswered)
    assert keys.lookup("ops", "k-5", a.fingerprint) == (200, outcomes[0])
    assert keys.lookup("ops", "k-6", b.fingerprint) == (200, outcomes[1])
    registered = [
        n for n in app.recorder.select_notifications(1, 1000) if n.topic.endswith("Customer.Registered")
    ]
    assert len(registered) == 2, "the third command, whose key was taken, recorded something"


def test_r18_a_legacy_pending_claim_is_forgotten_not_stuck(app: LedgerApplication, keys: Any) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from ledger.http.idempotency import idempotency

    answer = _answer(keys, "k-8", 8)
    with keys.engine.begin() as conn:
        conn.execute(insert(idempotency).values(
            principal="ops", key="k-8", fingerprint=answer.fingerprint, state="pending",
            created_at=datetime.now(UTC).isoformat(),
        ))
    assert keys.lookup("ops", "k-8", answer.fingerprint) is None
    app.execute(_order(8), answer=answer)
    assert keys.lookup("ops", "k-8", answer.fingerprint) is not None
