"""What every verb of the command line shares: exit codes, usage errors, option parsing, output."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from aggregates.errors import InvalidInput
from commands.parsing import parse_as_of
from ledger.jsonvalues import json_default

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2


class UsageError(Exception):
    """Input the command line cannot use at all (exit status 2)."""


class Verbs(Protocol):
    """The ``add_subparsers`` object a verb module adds its parser to."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=json_default)


def as_of(value: str | None, option: str = "--as-of") -> datetime | None:
    """``--as-of``/``--at`` parsed by the one R20 as-of parser; a bad value is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return parse_as_of(value, option)
    except InvalidInput as refusal:
        raise UsageError(refusal.message) from None


def customer_id(value: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise UsageError(f"--customer: {value!r} is not a customer id (a UUID)") from None


def progress_bar(description: str) -> Any:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
