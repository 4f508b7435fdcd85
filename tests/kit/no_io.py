"""Shut doors for tests that must do no I/O (``tests/unit``): no database, socket or process."""

from __future__ import annotations

from typing import Any


class UnitTestIO(AssertionError):
    """A unit test tried to open a database, a socket or a process."""


def refuse_io(what: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise UnitTestIO(f"tests/unit does no I/O: {what} was called; move the test to tests/rules or integration")

    return refuse
