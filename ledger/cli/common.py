"""What every verb of the command line shares: exit codes, usage errors, option parsing, output."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from aggregates.timeutil import as_utc

EXIT_OK, EXIT_REFUSED, EXIT_UNUSABLE = 0, 1, 2


class UsageError(Exception):
    """Input the command line cannot use at all (exit status 2)."""


class Verbs(Protocol):
    """The ``add_subparsers`` object a verb module adds its parser to."""

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser: ...


def dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def as_of(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(f"--as-of: {value[:60]!r} is not an ISO 8601 date or time") from None
    try:
        return as_utc(moment)
    except OverflowError:
        raise UsageError(
            f"--as-of: {value[:60]!r} lies outside the representable range (years 1 to 9999 in UTC) (R20)"
        ) from None


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
