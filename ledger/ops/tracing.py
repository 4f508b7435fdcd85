"""Correlation and causation ids on every event (SPEC 9).

Where they live: as metadata of the stored event, beside the library's own (``timestamp``), not as
fields of the domain events. ``stamp`` sets ``correlation_id`` and ``causation_id`` on each new event
object just before the application records it; the library's mapper stores the event object's
attributes, so they are in the stored state. ``Customer.Event`` declares both as class attributes
defaulting to ``None``, so events recorded before they existed still load (and read as ``None``),
and no event class, schema version or upcaster changes.

- The correlation id is the HTTP request's (``X-Request-Id``, generated when absent or unusable) or
  the ``ledger apply`` run's; a command executed without one gets a new one of its own.
- The causation id of an event caused by another event of the same command is that event's stream
  id (``uuid5(customer id, version)``, as in the envelope): see ``aggregates.causation``.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from aggregates.causation import causes
from aggregates.customer import Customer
from ledger.stream.envelope import event_id

_CORRELATION: ContextVar[str | None] = ContextVar("ledger_correlation_id", default=None)
_USABLE = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")


def new_id() -> str:
    """A new correlation id."""
    return str(uuid.uuid4())


def current() -> str | None:
    """The correlation id of what this context is doing (None outside a request or run)."""
    return _CORRELATION.get()


def usable_request_id(value: str | None) -> str:
    """The caller's ``X-Request-Id`` when it is a short token of safe characters, else a new id
    (a value that could forge log lines or carry a secret is never adopted)."""
    if value is not None and _USABLE.match(value.strip()):
        return value.strip()
    return new_id()


@contextlib.contextmanager
def correlated(correlation_id: str | None = None) -> Iterator[str]:
    """Run the block under ``correlation_id`` (the current one, or a new one, when None)."""
    cid = correlation_id or current() or new_id()
    token = _CORRELATION.set(cid)
    try:
        yield cid
    finally:
        _CORRELATION.reset(token)


def stamp(events: Iterable[Any], correlation_id: str | None = None) -> None:
    """Set the correlation id (given, current, or new) and causation ids on new events, in place."""
    cid = correlation_id or current() or new_id()
    per_customer: dict[Any, list[Any]] = {}
    for domain_event in events:
        object.__setattr__(domain_event, "correlation_id", cid)
        if isinstance(domain_event, Customer.Event):
            per_customer.setdefault(domain_event.originator_id, []).append(domain_event)
    if not per_customer:
        return
    for customer_id, customer_events in per_customer.items():
        for index, cause in causes(customer_events).items():
            caused_by = event_id(customer_id, customer_events[cause].originator_version)
            object.__setattr__(customer_events[index], "causation_id", caused_by)


def correlation_of(domain_event: object) -> str | None:
    value = getattr(domain_event, "correlation_id", None)
    return value if isinstance(value, str) else None


def causation_of(domain_event: object) -> str | None:
    value = getattr(domain_event, "causation_id", None)
    return value if isinstance(value, str) else None
