"""The customer's snapshot codec: its state packed into JSON-ready typed records (``StateCodec``)."""

from __future__ import annotations

from typing import Any

from eventsourcing.domain import Snapshot

from aggregates.customer.state import Account, Contract, Device, Invitation, Rma, Room, Spare, SpareSwap, Ticket
from aggregates.packing import StateCodec
from aggregates.sso import SsoConfig

STATE_CLASSES: dict[str, type] = {
    cls.__name__: cls for cls in (Account, Contract, Room, Device, Spare, Invitation, SsoConfig, Ticket, Rma, SpareSwap)
}
STATE_CODEC = StateCodec(
    {
        "accounts": (Account, "account_id"),
        "contracts": (Contract, "po_number"),
        "rooms": (Room, "room_id"),
        "devices": (Device, "serial_number"),
        "spares": (Spare, None),
        "invitations": (Invitation, "invitation_id"),
        "tickets": (Ticket, "ticket_id"),
        "spare_swaps": (SpareSwap, None),
    },
    STATE_CLASSES,
)


class CustomerSnapshot(Snapshot):
    """The customer's state at a version, packed into JSON-ready typed records (see ``StateCodec``)."""

    # The topic stored with every snapshot; it names the class where it was first defined, so
    # snapshots written before the customer module became a package keep resolving.
    TOPIC = "aggregates.customer:CustomerSnapshot"

    @classmethod
    def take(cls, aggregate: Any) -> CustomerSnapshot:
        snapshot = super().take(aggregate)
        return cls(
            originator_id=snapshot.originator_id,
            originator_version=snapshot.originator_version,
            timestamp=snapshot.timestamp,
            topic=snapshot.topic,
            state=STATE_CODEC.pack(snapshot.state),
        )

    def mutate(self, _: None) -> Any:
        unpacked = CustomerSnapshot(
            originator_id=self.originator_id,
            originator_version=self.originator_version,
            timestamp=self.timestamp,
            topic=self.topic,
            state=added_since(STATE_CODEC.unpack(self.state)),
        )
        return Snapshot.mutate(unpacked, None)


def added_since(state: dict[str, Any]) -> dict[str, Any]:
    """State a snapshot taken before support and room import (R24–R28) lacks, as it starts empty."""
    for name in ("tickets", "external_rooms", "room_externals"):
        state.setdefault(name, {})
    state.setdefault("spare_swaps", [])
    return state
