"""Refusals echo a bounded part of bad input, however large (R18).

Given an empty ledger, when a command with a huge or control-character value, then its refusal (rule,
field, code), recording nothing, with a message of bounded length (``tests/kit/rules.py``)."""

from __future__ import annotations

import pytest

from tests.kit.commands import order
from tests.kit.rules import Rules

MEGABYTE = 1_000_000


def test_r18_huge_command_name_echo_is_bounded(rules: Rules) -> None:
    error = rules.refused({"command": "X" * MEGABYTE, "actor": "ops"}, rule="R18", field="command",
                          code="unknown_command")
    assert len(error.message) < 1_000
    assert f"({MEGABYTE + 2} characters)" in error.message


def test_r18_huge_unknown_field_name_echo_is_bounded(rules: Rules) -> None:
    raw = {**order(po="PO-1"), "y" * MEGABYTE: 1}
    error = rules.refused(raw, rule="R4", field="y" * 80 + "…", code="invalid_input")
    assert len(error.message) < 2_000


@pytest.mark.parametrize("value", ["Z" * MEGABYTE, "\x00" * 10])
def test_r18_huge_or_control_at_echo_is_bounded(rules: Rules, value: str) -> None:
    error = rules.refused({**order(po="PO-1"), "at": value}, rule="R20", field="at", code="invalid_input")
    assert len(error.message) < 1_000
