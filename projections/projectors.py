"""How each customer event changes each projection's rows.

Statements are built once per table set with bind parameters; a ``Writer`` queues them and sends
runs of the same statement as one ``executemany``, in the order the events came, inside the
transaction of the batch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from aggregates.customer import Customer
from aggregates.customer.rules import grace_end, term_end
from projections.tables import TableSet, key_of, table_set, update_by_key
from projections.tickets import projector as tickets_projector
from projections.tickets import statements as ticket_statements


class Writer:
    """Queues parameterised statements; consecutive runs of one statement go as one executemany.

    Statements are compiled once per dialect and sent through the DB-API cursor of the batch's
    connection (inside its transaction), which skips SQLAlchemy's per-call overhead.
    """

    def __init__(self, conn: Connection, tables: TableSet) -> None:
        self.conn = conn
        self.tables = tables
        self.statements = statements(tables.projection, tables.suffix)
        self._cursor: Any = None
        self._current: tuple[str, tuple[str, ...]] | None = None
        self._params: list[dict[str, Any]] = []

    def add(self, statement: str, /, **params: Any) -> None:
        key = (statement, tuple(params))
        if key != self._current:
            self.flush()
            self._current = key
        self._params.append(params)

    def flush(self) -> None:
        if self._current is not None and self._params:
            sql, names = _compiled(self.conn.dialect, self.statements, *self._current)
            cursor = self._dbapi_cursor()
            if names is None:
                rows: list[Any] = self._params
            else:
                rows = list(map(_getter(names), self._params))
            if len(rows) == 1:
                cursor.execute(sql, rows[0])
            else:
                cursor.executemany(sql, rows)
        self._current, self._params = None, []

    def scalar(self, statement: str, /, **params: Any) -> Any:
        """The first column of the first row of a query (fetching waits for every statement sent)."""
        self.flush()
        sql, names = _compiled(self.conn.dialect, self.statements, statement, tuple(params))
        cursor = self._dbapi_cursor()
        cursor.execute(sql, params if names is None else _getter(names)(params))
        row = cursor.fetchone()
        if isinstance(row, dict):  # a cursor with a dict row factory
            return next(iter(row.values()))
        return None if row is None else row[0]

    def _dbapi_cursor(self) -> Any:
        if self._cursor is None:
            self._cursor = self.conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        return self._cursor


_COMPILED: dict[tuple[str, int, str, tuple[str, ...]], tuple[str, tuple[str, ...] | None]] = {}


def _compiled(
    dialect: Any, stmts: dict[str, Any], name: str, keys: tuple[str, ...]
) -> tuple[str, tuple[str, ...] | None]:
    cache_key = (dialect.name, id(stmts), name, keys)
    found = _COMPILED.get(cache_key)
    if found is None:
        stmt = stmts[name]
        compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
        names = tuple(compiled.positiontup) if compiled.positional else None
        found = (str(compiled), names)
        _COMPILED[cache_key] = found
    return found


@cache
def _getter(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """The positional row of a params dict, built in C (``itemgetter`` gives a tuple from 2 names)."""
    if len(names) == 1:
        only = names[0]
        return lambda params: (params[only],)
    return itemgetter(*names)


Apply = Callable[[Writer, Any], None]


@lru_cache(maxsize=64)
def statements(projection: str, suffix: str) -> dict[str, Any]:
    ts = table_set(projection, suffix)
    if projection == "contracts":
        accounts, contracts = ts["accounts"], ts["contracts"]
        return {
            "account": insert(accounts),
            "contract": insert(contracts),
            "cancelled": update_by_key(contracts, ("po_number",), "cancelled_at"),
            "expired": update_by_key(contracts, ("po_number",), "expired_at"),
            "started": update_by_key(contracts, ("po_number",), "started_at", "ends_at"),
            "years": select(contracts.c.years).where(key_of(contracts, "po_number")),
            "assigned": update(contracts).where(key_of(contracts, "po_number"))
            .values(assigned=contracts.c.assigned + bindparam("v_delta")),
        }
    if projection == "rooms":
        rooms, licenses, terms, devices = ts["rooms"], ts["room_licenses"], ts["room_contract_terms"], ts["devices"]
        return {
            "terms": insert(terms),
            "started": update_by_key(terms, ("po_number",), "started_at"),
            "room": insert(rooms),
            "license": insert(licenses),
            "license_moved": update_by_key(licenses, ("room_id", "service"), "room_id"),
            "license_released": delete(licenses).where(key_of(licenses, "room_id", "service")),
            "device": insert(devices),
            "device_moved": update_by_key(devices, ("serial_number",), "room_id"),
            "device_retired": delete(devices).where(key_of(devices, "serial_number")),
            "room_updated": update_by_key(rooms, ("room_id",), "name", "site", "country"),
        }
    if projection == "spares":
        orders, spares = ts["spare_orders"], ts["spares"]
        return {
            "order": insert(orders),
            "ended": update_by_key(orders, ("po_number",), "live"),
            "spare": insert(spares),
            "revoked": update_by_key(spares, ("spare_no",), "revoked_at"),
            "allocated": update_by_key(spares, ("spare_no",), "product", "ship_to", "allocated_at"),
            "swap": insert(ts["spare_swaps"]),
            "replenished": update(ts["spare_swaps"])
            .where(key_of(ts["spare_swaps"], "spare_no"), ts["spare_swaps"].c.replenished_at.is_(None))
            .values(replenished_at=bindparam("v_replenished_at")),
        }
    if projection == "tickets":
        return ticket_statements(ts)
    customers, users, invitations, delegations, sso = (
        ts["access_customers"], ts["users"], ts["invitations"], ts["delegations"], ts["sso"]
    )
    return {
        "customer": insert(customers),
        "invitation": insert(invitations),
        "invitation_state": update_by_key(invitations, ("invitation_id",), "state"),
        "user_delete": delete(users).where(key_of(users, "email")),
        "user": insert(users),
        "role": update_by_key(users, ("email",), "role"),
        "delegation_delete": delete(delegations).where(key_of(delegations, "partner_id")),
        "delegation": insert(delegations),
        "sso_delete": delete(sso).where(key_of(sso)),
        "sso": insert(sso),
    }


def _cid(e: Any) -> str:
    return str(e.originator_id)


def _t(moment: Any) -> str:
    return str(moment.isoformat())


# ----- contracts


def _c_account(w: Writer, e: Customer.AccountOpened) -> None:
    w.add("account", customer_id=_cid(e), account_id=str(e.account_id), company=e.company, email=e.email,
          country=e.address.get("country", ""))


def _c_order(w: Writer, e: Customer.OrderPlaced) -> None:
    w.add("contract", customer_id=_cid(e), po_number=e.po_number, account_id=str(e.account_id), service=e.service,
          years=e.years or 0, quantity=e.quantity, placed_at=_t(e.at), grace_days=e.grace_days, assigned=0,
          started_at=None, cancelled_at=None, expired_at=None, ends_at=None,
          grace_ends_at=_t(grace_end(e.at, e.grace_days)))


def _c_cancelled(w: Writer, e: Customer.OrderCancelled) -> None:
    w.add("cancelled", k_customer_id=_cid(e), k_po_number=e.po_number, v_cancelled_at=_t(e.at))


def _c_expired(w: Writer, e: Customer.ContractExpired) -> None:
    w.add("expired", k_customer_id=_cid(e), k_po_number=e.po_number, v_expired_at=_t(e.at))


def _c_started(w: Writer, e: Customer.ContractStarted) -> None:
    years = w.scalar("years", k_customer_id=_cid(e), k_po_number=e.po_number)
    # A Jumpstart contract (R27) is stored without years (0 here).
    ends_at = None if years is None else _t(term_end(e.start, years, "jumpstart" if years == 0 else ""))
    w.add("started", k_customer_id=_cid(e), k_po_number=e.po_number, v_started_at=_t(e.start), v_ends_at=ends_at)


def _c_assigned(delta: int) -> Apply:
    def apply(w: Writer, e: Any) -> None:
        w.add("assigned", k_customer_id=_cid(e), k_po_number=e.po_number, v_delta=delta)

    return apply


CONTRACTS: dict[type, Apply] = {
    Customer.AccountOpened: _c_account,
    Customer.OrderPlaced: _c_order,
    Customer.OrderCancelled: _c_cancelled,
    Customer.ContractStarted: _c_started,
    Customer.ContractExpired: _c_expired,
    Customer.LicenseAssigned: _c_assigned(+1),
    Customer.LicenseReleased: _c_assigned(-1),
}

# ----- rooms


def _r_order(w: Writer, e: Customer.OrderPlaced) -> None:
    w.add("terms", customer_id=_cid(e), po_number=e.po_number, years=e.years or 0, placed_at=_t(e.at),
          grace_days=e.grace_days, started_at=None)


def _r_started(w: Writer, e: Customer.ContractStarted) -> None:
    w.add("started", k_customer_id=_cid(e), k_po_number=e.po_number, v_started_at=_t(e.start))


def _r_room(w: Writer, e: Customer.RoomAdded) -> None:
    w.add("room", customer_id=_cid(e), room_id=str(e.room_id), account_id=str(e.account_id), name=e.name,
          site=e.site, country=e.country)


def _r_assigned(w: Writer, e: Customer.LicenseAssigned) -> None:
    w.add("license", customer_id=_cid(e), room_id=str(e.room_id), service=e.service, po_number=e.po_number)


def _r_moved(w: Writer, e: Customer.LicenseMoved) -> None:
    w.add("license_moved", k_customer_id=_cid(e), k_room_id=str(e.from_room_id), k_service=e.service,
          v_room_id=str(e.to_room_id))


def _r_released(w: Writer, e: Customer.LicenseReleased) -> None:
    w.add("license_released", k_customer_id=_cid(e), k_room_id=str(e.room_id), k_service=e.service)


def _r_device(w: Writer, e: Customer.DeviceRegistered) -> None:
    w.add("device", customer_id=_cid(e), serial_number=e.serial_number, room_id=str(e.room_id), product=e.product,
          purchased_on=e.purchased_on.isoformat())


def _r_device_moved(w: Writer, e: Customer.DeviceMoved) -> None:
    w.add("device_moved", k_customer_id=_cid(e), k_serial_number=e.serial_number, v_room_id=str(e.to_room_id))


def _r_room_updated(w: Writer, e: Customer.RoomUpdated) -> None:
    w.add("room_updated", k_customer_id=_cid(e), k_room_id=str(e.room_id), v_name=e.name, v_site=e.site,
          v_country=e.country)


def _r_replaced(w: Writer, e: Any) -> None:
    """ReplacementReceived and SpareUsed: the new unit takes the failed one's place (R26)."""
    w.add("device_retired", k_customer_id=_cid(e), k_serial_number=e.serial_number)
    w.add("device", customer_id=_cid(e), serial_number=e.new_serial_number, room_id=str(e.room_id),
          product=e.product, purchased_on=e.purchased_on.isoformat())


ROOMS: dict[type, Apply] = {
    Customer.OrderPlaced: _r_order,
    Customer.ContractStarted: _r_started,
    Customer.RoomAdded: _r_room,
    Customer.LicenseAssigned: _r_assigned,
    Customer.LicenseMoved: _r_moved,
    Customer.LicenseReleased: _r_released,
    Customer.DeviceRegistered: _r_device,
    Customer.DeviceMoved: _r_device_moved,
    Customer.RoomUpdated: _r_room_updated,
    Customer.ReplacementReceived: _r_replaced,
    Customer.SpareUsed: _r_replaced,
}

# ----- spares


def _s_order(w: Writer, e: Customer.OrderPlaced) -> None:
    if e.service == "select":
        w.add("order", customer_id=_cid(e), po_number=e.po_number, quantity=e.quantity, live=1)


def _s_ended(w: Writer, e: Any) -> None:
    w.add("ended", k_customer_id=_cid(e), k_po_number=e.po_number, v_live=0)


def _s_accrued(w: Writer, e: Customer.SpareAccrued) -> None:
    w.add("spare", customer_id=_cid(e), spare_no=e.spare_no, accrued_at=_t(e.at), revoked_at=None, product=None,
          ship_to=None, allocated_at=None)


def _s_revoked(w: Writer, e: Customer.SpareRevoked) -> None:
    w.add("revoked", k_customer_id=_cid(e), k_spare_no=e.spare_no, v_revoked_at=_t(e.at))


def _s_allocated(w: Writer, e: Customer.SpareAllocated) -> None:
    w.add("allocated", k_customer_id=_cid(e), k_spare_no=e.spare_no, v_product=e.product, v_ship_to=e.ship_to,
          v_allocated_at=_t(e.at))


def _s_used(w: Writer, e: Customer.SpareUsed) -> None:
    w.add("swap", customer_id=_cid(e), spare_no=e.spare_no, used_at=_t(e.at), ticket_id=str(e.ticket_id),
          serial_number=e.serial_number, new_serial_number=e.new_serial_number, replenished_at=None)


def _s_replenished(w: Writer, e: Customer.SpareReplenished) -> None:
    w.add("replenished", k_customer_id=_cid(e), k_spare_no=e.spare_no, v_replenished_at=_t(e.at))


SPARES: dict[type, Apply] = {
    Customer.OrderPlaced: _s_order,
    Customer.OrderCancelled: _s_ended,
    Customer.ContractExpired: _s_ended,
    Customer.SpareAccrued: _s_accrued,
    Customer.SpareRevoked: _s_revoked,
    Customer.SpareAllocated: _s_allocated,
    Customer.SpareUsed: _s_used,
    Customer.SpareReplenished: _s_replenished,
}

# ----- access


def _a_registered(w: Writer, e: Customer.Registered) -> None:
    w.add("customer", customer_id=_cid(e), name=e.name)


def _a_invited(w: Writer, e: Any) -> None:
    w.add("invitation", customer_id=_cid(e), invitation_id=str(e.invitation_id), email=e.email, role=e.role,
          sent_at=_t(e.at), expires_at=_t(e.expires_at), state="pending")


def _invitation_state(state: str) -> Apply:
    def apply(w: Writer, e: Any) -> None:
        w.add("invitation_state", k_customer_id=_cid(e), k_invitation_id=str(e.invitation_id), v_state=state)

    return apply


def _a_accepted(w: Writer, e: Customer.InvitationAccepted) -> None:
    _invitation_state("accepted")(w, e)
    w.add("user_delete", k_customer_id=_cid(e), k_email=e.email)
    w.add("user", customer_id=_cid(e), email=e.email, role=e.role)


def _a_role(w: Writer, e: Customer.RoleChanged) -> None:
    w.add("role", k_customer_id=_cid(e), k_email=e.email, v_role=e.role)


def _a_removed(w: Writer, e: Customer.UserRemoved) -> None:
    w.add("user_delete", k_customer_id=_cid(e), k_email=e.email)


def _a_delegated(w: Writer, e: Customer.PartnerDelegated) -> None:
    w.add("delegation_delete", k_customer_id=_cid(e), k_partner_id=e.partner_id)
    w.add("delegation", customer_id=_cid(e), partner_id=e.partner_id, role=e.role)


def _a_revoked(w: Writer, e: Customer.PartnerRevoked) -> None:
    w.add("delegation_delete", k_customer_id=_cid(e), k_partner_id=e.partner_id)


def _a_sso(w: Writer, e: Customer.SsoConfigured) -> None:
    w.add("sso_delete", k_customer_id=_cid(e))
    w.add("sso", customer_id=_cid(e), issuer=e.issuer, audience=e.audience,
          allowed_domains=json.dumps(list(e.allowed_domains)))


def _a_sso_removed(w: Writer, e: Customer.SsoRemoved) -> None:
    w.add("sso_delete", k_customer_id=_cid(e))


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
    Customer.SsoConfigured: _a_sso,
    Customer.SsoRemoved: _a_sso_removed,
}

PROJECTORS: dict[str, dict[type, Apply]] = {
    "contracts": CONTRACTS,
    "rooms": ROOMS,
    "spares": SPARES,
    "access": ACCESS,
    "tickets": tickets_projector(),
}
