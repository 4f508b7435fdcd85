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


def _first_by_po(events: Sequence[Any]) -> dict[tuple[str, str], int]:
    """The first index of each (kind of cause, PO number) among one command's events."""
    first: dict[tuple[str, str], int] = {}
    for index, event in enumerate(events):
        po_number = getattr(event, "po_number", None)
        if po_number is None:
            continue
        if isinstance(event, (Customer.OrderCancelled, Customer.ContractExpired)):
            first.setdefault(("ended", po_number), index)
        elif isinstance(event, Customer.LicenseAssigned):
            first.setdefault(("assigned", po_number), index)
        elif isinstance(event, Customer.OrderPlaced):
            first.setdefault(("placed", po_number), index)
    return first


def causes(events: Sequence[Any]) -> dict[int, int]:
    """For one customer's events of one command, in order: index of an event → index of its cause.

    One pass each way over the events (an expiry of a large contract or an order accruing many spares
    records thousands of events in one command, so nothing here may scan the list per event).
    """
    first = _first_by_po(events)
    first_order = next((i for i, e in enumerate(events) if isinstance(e, Customer.OrderPlaced)), None)
    next_invitation: list[int | None] = [None] * len(events)
    upcoming: int | None = None
    for index in range(len(events) - 1, -1, -1):
        next_invitation[index] = upcoming
        if isinstance(events[index], _INVITATIONS):
            upcoming = index
    found: dict[int, int] = {}
    last_driver: int | None = None
    for index, event in enumerate(events):
        cause: int | None = None
        if isinstance(event, Customer.LicenseReleased):
            cause = first.get(("ended", event.po_number))
        elif isinstance(event, (Customer.SpareAccrued, Customer.SpareRevoked)):
            cause = last_driver
        elif isinstance(event, Customer.ContractStarted) and event.reason == "first_assignment":
            cause = first.get(("assigned", event.po_number))
        elif isinstance(event, Customer.AccountOpened):
            cause = first_order
        elif isinstance(event, Customer.InvitationSent) and event.po_number is not None:
            cause = first.get(("placed", event.po_number))
        elif isinstance(event, Customer.InvitationSuperseded):
            cause = next_invitation[index]
        if cause is not None and cause != index:
            found[index] = cause
        if isinstance(event, _SPARE_DRIVERS):
            last_driver = index
    return found
