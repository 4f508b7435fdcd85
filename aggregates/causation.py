"""Which event of a command caused which other (the causation ids of SPEC 9).

One command records its events on one customer in order; some of them happen *because of* another
one of the same command: the licenses an expiry or a cancellation releases, the spares that an order,
a cancellation or an expiry accrues or revokes, the contract term a first assignment starts, the
account and invitation a first order opens, the pending invitation a new one supersedes.
``causes`` names, for each such event, the event that caused it; the others are caused by the
command itself (they carry its correlation id only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aggregates.customer import Customer

_SPARE_DRIVERS = (Customer.OrderPlaced, Customer.OrderCancelled, Customer.ContractExpired)
_INVITATIONS = (Customer.InvitationSent, Customer.UserInvited)


def _same_po(events: Sequence[Any], po_number: str, kinds: tuple[type, ...]) -> int | None:
    matches = (i for i, e in enumerate(events) if isinstance(e, kinds) and getattr(e, "po_number", None) == po_number)
    return next(matches, None)


def causes(events: Sequence[Any]) -> dict[int, int]:
    """For one customer's events of one command, in order: index of an event → index of its cause."""
    found: dict[int, int] = {}
    for index, event in enumerate(events):
        cause: int | None = None
        if isinstance(event, Customer.LicenseReleased):
            cause = _same_po(events, event.po_number, (Customer.OrderCancelled, Customer.ContractExpired))
        elif isinstance(event, (Customer.SpareAccrued, Customer.SpareRevoked)):
            cause = next((i for i in range(index - 1, -1, -1) if isinstance(events[i], _SPARE_DRIVERS)), None)
        elif isinstance(event, Customer.ContractStarted) and event.reason == "first_assignment":
            cause = _same_po(events, event.po_number, (Customer.LicenseAssigned,))
        elif isinstance(event, Customer.AccountOpened):
            cause = next((i for i, e in enumerate(events) if isinstance(e, Customer.OrderPlaced)), None)
        elif isinstance(event, Customer.InvitationSent) and event.po_number is not None:
            cause = _same_po(events, event.po_number, (Customer.OrderPlaced,))
        elif isinstance(event, Customer.InvitationSuperseded):
            cause = next((i for i in range(index + 1, len(events)) if isinstance(events[i], _INVITATIONS)), None)
        if cause is not None and cause != index:
            found[index] = cause
    return found
