"""Turning raw JSON objects into command models, and validation errors into refusals."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from aggregates.errors import InvalidInput
from aggregates.timeutil import as_utc
from commands.models import Command
from commands.registry import COMMANDS_BY_NAME

FIELD_RULES = {"actor": "R18", "at": "R20"}
KIND_RULES = {"control_character": "R1"}
ECHO_LIMIT = 80
"""At most this many characters of a bad input are echoed back in a refusal."""


def _bounded(value: object) -> str:
    text = repr(value)
    return text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}… ({len(text)} characters)"


# Python reads "+00:00:00.000001" as +00:00, silently: an offset with seconds is refused from its text
_OFFSET_WITH_SECONDS = re.compile(r"[+-](\d{2}:\d{2}:\d{2}|\d{6})(\.\d+)?$")


def parse_as_of(value: str, field: str = "as_of") -> datetime:
    """The moment a view or history is asked about (R20), in UTC: ISO 8601 with a time zone or none (UTC),
    a date alone meaning its midnight. Anything else, or a moment outside the calendar once in UTC
    (``9999-12-31T23:59:59-05:00``), is InvalidInput naming ``field`` — the one parser of the CLI's
    ``--as-of`` and the API's ``as_of``."""
    text = value.strip()
    try:
        moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    except ValueError:
        raise InvalidInput(
            f"{field}: {_bounded(value)} is not an ISO 8601 date or time (R20)", rule="R20", field=field
        ) from None
    if _OFFSET_WITH_SECONDS.search(text):
        raise InvalidInput(
            f"{field}: {_bounded(value)} has a time zone offset of seconds; ISO 8601 offsets are hours and "
            "minutes (R20)", rule="R20", field=field,
        )
    try:
        return as_utc(moment)
    except OverflowError:
        raise InvalidInput(
            f"{field}: {_bounded(value)} lies outside the representable range (years 1 to 9999 in UTC) (R20)",
            rule="R20",
            field=field,
        ) from None


def _part(part: object) -> str:
    text = str(part)
    return text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}…"


def _describe(error: Any) -> tuple[str, str]:
    loc = ".".join(_part(part) for part in error["loc"]) or "command"
    kind = error["type"]
    if kind == "missing":
        text = "is required"
    elif kind == "extra_forbidden":
        text = "is not a field of this command"
    else:
        text = error["msg"]
        if text.startswith("Value error, "):
            text = text[len("Value error, ") :]
        text = text[0].lower() + text[1:] if text else text
    return loc, text[: 4 * ECHO_LIMIT]


def parse_command(raw: Any) -> Command:
    """Validate one decoded JSON value as a command; raise InvalidInput naming the field and rule."""
    if not isinstance(raw, dict):
        raise InvalidInput(
            "command: each line must be a JSON object with a 'command' field",
            rule="R18",
            field="command",
            code="malformed",
        )
    name = raw.get("command")
    model = COMMANDS_BY_NAME.get(name) if isinstance(name, str) else None
    if model is None:
        known = ", ".join(sorted(COMMANDS_BY_NAME))
        what = "is missing" if name is None else f"{_bounded(name)} is not a known command"
        raise InvalidInput(
            f"command: {what}; expected one of {known}",
            rule="R18",
            field="command",
            code="unknown_command",
        )
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        field, text = _describe(errors[0])
        rule = KIND_RULES.get(errors[0]["type"]) or FIELD_RULES.get(field.split(".")[0], model.rule)
        message = f"{field}: {text}"
        others = [f"{f}: {t}" for f, t in (_describe(e) for e in errors[1:])]
        if others:
            message += "; also " + "; ".join(others)
        raise InvalidInput(message, rule=rule, field=field) from None
