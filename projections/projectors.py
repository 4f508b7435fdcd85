"""How each customer event changes each projection's rows. Pure SQL on one open connection."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update

from aggregates.customer import Customer
from aggregates.timeutil import add_years
from projections.tables import TableSet

Apply = Callable[[Connection, TableSet, Any], None]


def _cid(e: Any) -> str:
    return str(e.originator_id)


def _t(moment: Any) -> str:
    return str(moment.isoformat())


def _key(table: Any, e: Any, **columns: Any) -> Any:
    clauses = [table.c.customer_id == _cid(e)]
    clauses += [table.c[name] == value for name, value in columns.items()]
    return and_(*clauses)


# ----- contracts


def _c_account(conn: Connection, ts: TableSet, e: Customer.AccountOpened) -> None:
    conn.execute(insert(ts["accounts"]).values(
        customer_id=_cid(e), account_id=str(e.account_id), company=e.company, email=e.email,
        country=e.address.get("country", ""),
    ))


def _c_order(conn: Connection, ts: TableSet, e: Customer.OrderPlaced) -> None:
    conn.execute(insert(ts["contracts"]).values(
        customer_id=_cid(e), po_number=e.po_number, account_id=str(e.account_id), service=e.service,
        years=e.years, quantity=e.quantity, placed_at=_t(e.at), grace_days=e.grace_days, assigned=0,
        grace_ends_at=_t(e.at + timedelta(days=e.grace_days)),
    ))


def _c_started(conn: Connection, ts: TableSet, e: Customer.ContractStarted) -> None:
    t = ts["contracts"]
    row = conn.execute(select(t.c.years).where(_key(t, e, po_number=e.po_number))).first()
    ends_at = _t(add_years(e.start, row.years)) if row is not None else None
    conn.execute(update(t).where(_key(t, e, po_number=e.po_number)).values(started_at=_t(e.start), ends_at=ends_at))


def _contract_update(column: str, value: Callable[[Any], Any]) -> Apply:
    def apply(conn: Connection, ts: TableSet, e: Any) -> None:
        t = ts["contracts"]
        conn.execute(update(t).where(_key(t, e, po_number=e.po_number)).values({column: value(e)}))

    return apply


def _assigned_delta(delta: int) -> Apply:
    def apply(conn: Connection, ts: TableSet, e: Any) -> None:
        t = ts["contracts"]
        conn.execute(update(t).where(_key(t, e, po_number=e.po_number)).values(assigned=t.c.assigned + delta))

    return apply


CONTRACTS: dict[type, Apply] = {
    Customer.AccountOpened: _c_account,
    Customer.OrderPlaced: _c_order,
    Customer.OrderCancelled: _contract_update("cancelled_at", lambda e: _t(e.at)),
    Customer.ContractStarted: _c_started,
    Customer.ContractExpired: _contract_update("expired_at", lambda e: _t(e.at)),
    Customer.LicenseAssigned: _assigned_delta(+1),
    Customer.LicenseReleased: _assigned_delta(-1),
}

# ----- rooms


def _r_order(conn: Connection, ts: TableSet, e: Customer.OrderPlaced) -> None:
    conn.execute(insert(ts["room_contract_terms"]).values(
        customer_id=_cid(e), po_number=e.po_number, years=e.years, placed_at=_t(e.at), grace_days=e.grace_days,
    ))


def _r_started(conn: Connection, ts: TableSet, e: Customer.ContractStarted) -> None:
    t = ts["room_contract_terms"]
    conn.execute(update(t).where(_key(t, e, po_number=e.po_number)).values(started_at=_t(e.start)))


def _r_room(conn: Connection, ts: TableSet, e: Customer.RoomAdded) -> None:
    conn.execute(insert(ts["rooms"]).values(
        customer_id=_cid(e), room_id=str(e.room_id), account_id=str(e.account_id), name=e.name, site=e.site,
        country=e.country,
    ))


def _r_assigned(conn: Connection, ts: TableSet, e: Customer.LicenseAssigned) -> None:
    conn.execute(insert(ts["room_licenses"]).values(
        customer_id=_cid(e), room_id=str(e.room_id), service=e.service, po_number=e.po_number,
    ))


def _r_moved(conn: Connection, ts: TableSet, e: Customer.LicenseMoved) -> None:
    t = ts["room_licenses"]
    conn.execute(update(t).where(_key(t, e, room_id=str(e.from_room_id), service=e.service))
                 .values(room_id=str(e.to_room_id)))


def _r_released(conn: Connection, ts: TableSet, e: Customer.LicenseReleased) -> None:
    t = ts["room_licenses"]
    conn.execute(delete(t).where(_key(t, e, room_id=str(e.room_id), service=e.service)))


def _r_device(conn: Connection, ts: TableSet, e: Customer.DeviceRegistered) -> None:
    conn.execute(insert(ts["devices"]).values(
        customer_id=_cid(e), serial_number=e.serial_number, room_id=str(e.room_id), product=e.product,
        purchased_on=e.purchased_on.isoformat(),
    ))


def _r_device_moved(conn: Connection, ts: TableSet, e: Customer.DeviceMoved) -> None:
    t = ts["devices"]
    conn.execute(update(t).where(_key(t, e, serial_number=e.serial_number)).values(room_id=str(e.to_room_id)))


ROOMS: dict[type, Apply] = {
    Customer.OrderPlaced: _r_order,
    Customer.ContractStarted: _r_started,
    Customer.RoomAdded: _r_room,
    Customer.LicenseAssigned: _r_assigned,
    Customer.LicenseMoved: _r_moved,
    Customer.LicenseReleased: _r_released,
    Customer.DeviceRegistered: _r_device,
    Customer.DeviceMoved: _r_device_moved,
}

# ----- spares


def _s_order(conn: Connection, ts: TableSet, e: Customer.OrderPlaced) -> None:
    if e.service == "select":
        conn.execute(insert(ts["spare_orders"]).values(
            customer_id=_cid(e), po_number=e.po_number, quantity=e.quantity, live=1,
        ))


def _s_ended(conn: Connection, ts: TableSet, e: Any) -> None:
    t = ts["spare_orders"]
    conn.execute(update(t).where(_key(t, e, po_number=e.po_number)).values(live=0))


def _s_accrued(conn: Connection, ts: TableSet, e: Customer.SpareAccrued) -> None:
    conn.execute(insert(ts["spares"]).values(customer_id=_cid(e), spare_no=e.spare_no, accrued_at=_t(e.at)))


def _s_revoked(conn: Connection, ts: TableSet, e: Customer.SpareRevoked) -> None:
    t = ts["spares"]
    conn.execute(update(t).where(_key(t, e, spare_no=e.spare_no)).values(revoked_at=_t(e.at)))


def _s_allocated(conn: Connection, ts: TableSet, e: Customer.SpareAllocated) -> None:
    t = ts["spares"]
    conn.execute(update(t).where(_key(t, e, spare_no=e.spare_no))
                 .values(product=e.product, ship_to=e.ship_to, allocated_at=_t(e.at)))


SPARES: dict[type, Apply] = {
    Customer.OrderPlaced: _s_order,
    Customer.OrderCancelled: _s_ended,
    Customer.ContractExpired: _s_ended,
    Customer.SpareAccrued: _s_accrued,
    Customer.SpareRevoked: _s_revoked,
    Customer.SpareAllocated: _s_allocated,
}

# ----- access


def _a_registered(conn: Connection, ts: TableSet, e: Customer.Registered) -> None:
    conn.execute(insert(ts["access_customers"]).values(customer_id=_cid(e), name=e.name))


def _a_invited(conn: Connection, ts: TableSet, e: Any) -> None:
    conn.execute(insert(ts["invitations"]).values(
        customer_id=_cid(e), invitation_id=str(e.invitation_id), email=e.email, role=e.role, sent_at=_t(e.at),
        expires_at=_t(e.expires_at), state="pending",
    ))


def _invitation_state(state: str) -> Apply:
    def apply(conn: Connection, ts: TableSet, e: Any) -> None:
        t = ts["invitations"]
        conn.execute(update(t).where(_key(t, e, invitation_id=str(e.invitation_id))).values(state=state))

    return apply


def _a_accepted(conn: Connection, ts: TableSet, e: Customer.InvitationAccepted) -> None:
    _invitation_state("accepted")(conn, ts, e)
    t = ts["users"]
    conn.execute(delete(t).where(_key(t, e, email=e.email)))
    conn.execute(insert(t).values(customer_id=_cid(e), email=e.email, role=e.role))


def _a_role(conn: Connection, ts: TableSet, e: Customer.RoleChanged) -> None:
    t = ts["users"]
    conn.execute(update(t).where(_key(t, e, email=e.email)).values(role=e.role))


def _a_removed(conn: Connection, ts: TableSet, e: Customer.UserRemoved) -> None:
    t = ts["users"]
    conn.execute(delete(t).where(_key(t, e, email=e.email)))


def _a_delegated(conn: Connection, ts: TableSet, e: Customer.PartnerDelegated) -> None:
    t = ts["delegations"]
    conn.execute(delete(t).where(_key(t, e, partner_id=e.partner_id)))
    conn.execute(insert(t).values(customer_id=_cid(e), partner_id=e.partner_id, role=e.role))


def _a_revoked(conn: Connection, ts: TableSet, e: Customer.PartnerRevoked) -> None:
    t = ts["delegations"]
    conn.execute(delete(t).where(_key(t, e, partner_id=e.partner_id)))


ACCESS: dict[type, Apply] = {
    Customer.Registered: _a_registered,
    Customer.InvitationSent: _a_invited,
    Customer.UserInvited: _a_invited,
    Customer.InvitationSuperseded: _invitation_state("superseded"),
    Customer.InvitationAccepted: _a_accepted,
    Customer.RoleChanged: _a_role,
    Customer.UserRemoved: _a_removed,
    Customer.PartnerDelegated: _a_delegated,
    Customer.PartnerRevoked: _a_revoked,
}

PROJECTORS: dict[str, dict[type, Apply]] = {
    "contracts": CONTRACTS,
    "rooms": ROOMS,
    "spares": SPARES,
    "access": ACCESS,
}
