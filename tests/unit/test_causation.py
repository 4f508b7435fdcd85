"""Causation ids (SPEC 9): which event of one command caused which, as a pure function of the events."""

from __future__ import annotations

from typing import Any

from aggregates.causation import causes
from aggregates.customer import Customer


def event(kind: type, po_number: str | None = "PO-1", reason: str = "first_assignment") -> Any:
    """An event of the given type carrying only the fields `causes` reads (no aggregate needed)."""
    made = object.__new__(kind)
    object.__setattr__(made, "po_number", po_number)
    object.__setattr__(made, "reason", reason)
    return made


def test_r13_every_spare_of_a_large_order_is_caused_by_that_order() -> None:
    events = [event(Customer.OrderPlaced), *(event(Customer.SpareAccrued) for _ in range(5000))]
    found = causes(events)
    assert len(found) == 5000
    assert set(found.values()) == {0}


def test_r8_releases_point_at_the_expiry_of_their_own_contract() -> None:
    events = [
        event(Customer.ContractExpired, "PO-1"),
        event(Customer.ContractExpired, "PO-2"),
        event(Customer.LicenseReleased, "PO-2"),
        event(Customer.LicenseReleased, "PO-1"),
        event(Customer.SpareRevoked),
    ]
    assert causes(events) == {2: 1, 3: 0, 4: 1}


def test_r15_a_superseded_invitation_points_at_the_invitation_that_replaced_it() -> None:
    events = [
        event(Customer.InvitationSuperseded, None),
        event(Customer.LicenseAssigned, "PO-9"),
        event(Customer.UserInvited, None),
        event(Customer.ContractStarted, "PO-9"),
    ]
    assert causes(events) == {0: 2, 3: 1}
