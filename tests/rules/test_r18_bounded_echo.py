"""Refusals echo a bounded part of bad input, however large (R18)."""

from __future__ import annotations

import pytest

from ledger.app import LedgerApplication
from tests.kit.commands import order
from tests.kit.helpers import refused

MEGABYTE = 1_000_000


def test_r18_huge_command_name_echo_is_bounded(app: LedgerApplication) -> None:
    error = refused(app, {"command": "X" * MEGABYTE, "actor": "ops"}, rule="R18", field="command",
                    code="unknown_command")
    assert len(error.message) < 1_000
    assert f"({MEGABYTE + 2} characters)" in error.message


def test_r18_huge_unknown_field_name_echo_is_bounded(app: LedgerApplication) -> None:
    raw = {**order(po="PO-1"), "y" * MEGABYTE: 1}
    error = refused(app, raw, rule="R4", field="y" * 80 + "…")
    assert len(error.message) < 2_000


@pytest.mark.parametrize("value", ["Z" * MEGABYTE, "\x00" * 10])
def test_r18_huge_or_control_at_echo_is_bounded(app: LedgerApplication, value: str) -> None:
    error = refused(app, {**order(po="PO-1"), "at": value}, rule="R20", field="at")
    assert len(error.message) < 1_000
