"""Refusals: every business rule that says no raises a LedgerError carrying the rule id."""

from __future__ import annotations

import re

_RULE_SUFFIX = re.compile(r"\s*\(R\d+(?:,\s*R\d+)*\)\s*$")


def with_rule(message: str, rule: str | None) -> str:
    """A refusal's message: its text, then the rule it names, once (``"at: ... 30 days (R7)"``).

    The suffix is built from ``rule``; a suffix already written at the end of ``message`` is
    replaced, so the message and the rule can never disagree."""
    text = _RULE_SUFFIX.sub("", message)
    return f"{text} ({rule})" if rule else text


class LedgerError(Exception):
    """Root of every refusal. ``code`` is stable, ``rule`` names the SPEC rule, ``field`` the input."""

    code = "refused"

    def __init__(
        self,
        message: str,
        *,
        rule: str | None = None,
        field: str | None = None,
        code: str | None = None,
    ) -> None:
        self.message = with_rule(message, rule)
        super().__init__(self.message)
        self.rule = rule
        self.field = field
        if code is not None:
            self.code = code

    def as_dict(self) -> dict[str, object]:
        error: dict[str, object] = {"code": self.code, "message": self.message, "rule": self.rule}
        if self.field is not None:
            error["field"] = self.field
        return error


class InvalidInput(LedgerError):
    code = "invalid_input"


class NotFound(LedgerError):
    code = "not_found"


class Forbidden(LedgerError):
    code = "forbidden"


class Conflict(LedgerError):
    code = "conflict"


class RuleViolation(LedgerError):
    code = "rule_violation"
