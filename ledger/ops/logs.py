"""Structured logs: plain lines by default, JSON lines with ``LEDGER_LOG_FORMAT=json``; never a secret.

``configure(environ)`` is called once by the command line. Every record gets the current
correlation id (``ledger.ops.tracing``). A redaction filter replaces, in the message and in every
extra field, the secrets the process knows (the ledger's secret key, SMTP password, portal client
secret) and anything shaped like a credential (``Bearer …``, ``token=…``, API keys, JWTs) with
``[redacted]``; secrets are never meant to reach a log call, this is the net under it.

- ``LEDGER_LOG_FORMAT``: ``text`` (default: the message alone, as the verbs always printed) or ``json``
  (one object a line: ``time``, ``level``, ``logger``, ``message``, ``correlation_id`` and the extras).
- ``LEDGER_LOG_LEVEL``: default ``INFO``. Per-command lines (logger ``ledger.commands``) are INFO in
  JSON mode and DEBUG-only in text mode, where the results on stdout already say it.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from ledger.ops.tracing import current

SECRET_VARIABLES = ("LEDGER_SECRET_KEY", "LEDGER_SMTP_PASSWORD", "LEDGER_PORTAL_CLIENT_SECRET")
REDACTED = "[redacted]"
CREDENTIAL_PATTERNS = (
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)\b(token|api[_-]?key|password|secret|client_secret)=([^\s&\"']+)"),
    re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # a JWT
    re.compile(r"\bsk_[A-Za-z0-9_-]{16,}"),  # an API key of `ledger api-key create`
)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "correlation_id"}


class CorrelationFilter(logging.Filter):
    """Adds ``correlation_id`` to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "correlation_id"):
            record.correlation_id = current()
        return True


class RedactFilter(logging.Filter):
    """Replaces known secrets and credential-shaped text in a record's message and extras."""

    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = sorted({s for s in (secrets or []) if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern in CREDENTIAL_PATTERNS:
            text = pattern.sub(lambda m: f"{m.group(1)}={REDACTED}" if m.re.groups == 2 else REDACTED, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        record.msg, record.args = self.redact(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


def known_secrets(environ: Mapping[str, str]) -> list[str]:
    return [environ[name] for name in SECRET_VARIABLES if environ.get(name)]


def configure(environ: Mapping[str, str] | None = None, stream: Any = None) -> logging.Handler:
    """Send the ``ledger`` loggers (and ``projections``) to stderr in the configured format."""
    environ = os.environ if environ is None else environ
    json_lines = environ.get("LEDGER_LOG_FORMAT", "text").strip().lower() == "json"
    handler = logging.StreamHandler(stream or sys.stderr)
    if json_lines:
        handler.setFormatter(JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
        ))
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
    handler.addFilter(CorrelationFilter())
    handler.addFilter(RedactFilter(known_secrets(environ)))
    level = getattr(logging, environ.get("LEDGER_LOG_LEVEL", "INFO").upper(), logging.INFO)
    for name in ("ledger", "projections", "replay"):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not getattr(h, "_ledger", False)]
        handler._ledger = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
    logging.getLogger("ledger.commands").setLevel(level if json_lines else max(level, logging.WARNING))
    return handler
