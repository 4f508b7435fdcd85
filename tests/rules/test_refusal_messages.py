"""A refusal states its rule once, at the end of its message, and that is the rule it carries.

Given a customer (or a mixed workload), when a command is refused, then the refusal (rule, field,
code; nothing recorded, ``tests/kit/rules.py``) names its rule exactly once, as its message's suffix."""

from __future__ import annotations

import re

from aggregates.errors import LedgerError, RuleViolation, with_rule
from commands.parsing import parse_command
from ledger.app import LedgerApplication
from tests.kit.commands import command, order
from tests.kit.contention import mixed_commands, setup_commands
from tests.kit.helpers import position
from tests.kit.rules import Rules

RULE_IDS = re.compile(r"\(R\d+(?:, R\d+)*\)")


def assert_states_its_rule_once(error: LedgerError) -> None:
    assert error.rule, error.as_dict()
    assert RULE_IDS.findall(error.message) == [f"({error.rule})"], error.as_dict()
    assert error.message.endswith(f"({error.rule})"), error.as_dict()


def test_r10_an_unknown_po_on_a_customer_is_refused_naming_r10_once(rules: Rules) -> None:
    (result,) = rules.given(order(po="PO-1"))
    room = rules.when(command("AddRoom", "2026-05-05T09:00:00Z", customer_id=result["customer_id"],
                              account_id=result["account_id"], name="Room", site="HQ", country="US")).then(
        ("RoomAdded", {"account_id": result["account_id"], "name": "Room"})
    )["room_id"]
    error = rules.when(
        command("AssignLicense", "2026-05-05T09:00:00Z", customer_id=result["customer_id"], room_id=room,
                po_number="PO-NONE"),
    ).refused(rule="R10", field="po_number", code="not_found")
    assert_states_its_rule_once(error)


def test_the_suffix_is_built_from_the_rule() -> None:
    assert with_rule("at: too late", "R7") == "at: too late (R7)"
    assert with_rule("at: too late (R5)", "R7") == "at: too late (R7)"
    assert with_rule("room: taken (R2, R10)", "R10") == "room: taken (R10)"
    assert RuleViolation("at: too late (R5)", rule="R7").message == "at: too late (R7)"


def test_every_refusal_of_a_mixed_workload_states_its_rule_once(app: LedgerApplication) -> None:
    refusals = 0
    for raw in [*setup_commands(), *mixed_commands(0, 400, customers=4), *mixed_commands(1, 200, customers=4)]:
        before = position(app)
        try:
            app.execute(parse_command(raw))
        except LedgerError as error:
            refusals += 1
            assert_states_its_rule_once(error)
            assert error.code and error.field, error.as_dict()
            assert position(app) == before, "a refused command must record nothing"
    assert refusals > 50, "the workload must be refused often for this to mean something"
