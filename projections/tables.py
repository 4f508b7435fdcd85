"""The read-model tables (SQLAlchemy Core; the same code on SQLite and PostgreSQL).

Every table of a customer-scoped view has ``customer_id`` first in its primary key, so a view of
one customer is a primary-key range scan. Times are stored as ISO 8601 UTC strings (they sort as
times); time-dependent values such as a contract's status are computed when a view is asked for.
Tables can be built under a suffix (``contracts__r1a2b``) so that a rebuild never touches the live
ones until it swaps them in.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    and_,
    bindparam,
    select,
    update,
)

PROJECTIONS: tuple[str, ...] = ("contracts", "rooms", "spares", "access", "tickets")


def _contracts(md: MetaData, s: str) -> dict[str, Table]:
    return {
        "accounts": Table(
            f"accounts{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("account_id", String(36), primary_key=True),
            Column("company", Text, nullable=False),
            Column("email", Text, nullable=False),
            Column("country", String(2), nullable=False),
        ),
        "contracts": Table(
            f"contracts{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("po_number", String(64), primary_key=True),
            Column("account_id", String(36), nullable=False),
            Column("service", String(32), nullable=False),
            Column("years", Integer, nullable=False),
            Column("quantity", Integer, nullable=False),
            Column("placed_at", String(40), nullable=False),
            Column("grace_days", Integer, nullable=False),
            Column("started_at", String(40)),
            Column("cancelled_at", String(40)),
            Column("expired_at", String(40)),
            Column("assigned", Integer, nullable=False),
            Column("grace_ends_at", String(40), nullable=False),
            Column("ends_at", String(40)),
        ),
    }


def _rooms(md: MetaData, s: str) -> dict[str, Table]:
    return {
        "rooms": Table(
            f"rooms{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("room_id", String(36), primary_key=True),
            Column("account_id", String(36), nullable=False),
            Column("name", Text, nullable=False),
            Column("site", Text, nullable=False),
            Column("country", String(2), nullable=False),
        ),
        "room_licenses": Table(
            f"room_licenses{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("room_id", String(36), primary_key=True),
            Column("service", String(32), primary_key=True),
            Column("po_number", String(64), nullable=False),
        ),
        "room_contract_terms": Table(
            f"room_contract_terms{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("po_number", String(64), primary_key=True),
            Column("years", Integer, nullable=False),
            Column("placed_at", String(40), nullable=False),
            Column("grace_days", Integer, nullable=False),
            Column("started_at", String(40)),
        ),
        "devices": Table(
            f"devices{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("serial_number", String(64), primary_key=True),
            Column("room_id", String(36), nullable=False),
            Column("product", Text, nullable=False),
            Column("purchased_on", String(10), nullable=False),
        ),
    }


def _spares(md: MetaData, s: str) -> dict[str, Table]:
    return {
        "spare_orders": Table(
            f"spare_orders{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("po_number", String(64), primary_key=True),
            Column("quantity", Integer, nullable=False),
            Column("live", Integer, nullable=False),
        ),
        "spares": Table(
            f"spares{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("spare_no", Integer, primary_key=True),
            Column("accrued_at", String(40), nullable=False),
            Column("revoked_at", String(40)),
            Column("product", Text),
            Column("ship_to", Text),
            Column("allocated_at", String(40)),
        ),
        "spare_swaps": Table(
            f"spare_swaps{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("spare_no", Integer, primary_key=True),
            Column("used_at", String(40), primary_key=True),
            Column("ticket_id", String(36), nullable=False),
            Column("serial_number", String(64), nullable=False),
            Column("new_serial_number", String(64), nullable=False),
            Column("replenished_at", String(40)),
        ),
    }


def _access(md: MetaData, s: str) -> dict[str, Table]:
    return {
        "access_customers": Table(
            f"access_customers{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("name", Text, nullable=False),
        ),
        "users": Table(
            f"users{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("email", String(254), primary_key=True),
            Column("role", String(16), nullable=False),
        ),
        "invitations": Table(
            f"invitations{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("invitation_id", String(36), primary_key=True),
            Column("email", String(254), nullable=False),
            Column("role", String(16), nullable=False),
            Column("sent_at", String(40), nullable=False),
            Column("expires_at", String(40), nullable=False),
            Column("state", String(16), nullable=False),
        ),
        "delegations": Table(
            f"delegations{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("partner_id", String(64), primary_key=True),
            Column("role", String(16), nullable=False),
        ),
        "sso": Table(
            f"sso{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("issuer", String(400), nullable=False, index=True),
            Column("audience", String(255), nullable=False),
            Column("allowed_domains", Text, nullable=False),
        ),
    }


def _tickets(md: MetaData, s: str) -> dict[str, Table]:
    return {
        "tickets": Table(
            f"tickets{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("ticket_id", String(36), primary_key=True),
            Column("room_id", String(36), nullable=False),
            Column("external_room_id", Text),
            Column("severity", String(16), nullable=False),
            Column("summary", Text, nullable=False),
            Column("source", String(16), nullable=False),
            Column("support", String(16), nullable=False),
            Column("opened_at", String(40), nullable=False),
            Column("opened_by", String(254), nullable=False),
            Column("room", Text, nullable=False),
            Column("serial_numbers", Text, nullable=False),
            Column("status", String(24), nullable=False),
            Column("first_response_at", String(40)),
            Column("resolved_at", String(40)),
            Column("closed_at", String(40)),
            Column("comments", Integer, nullable=False),
        ),
        "ticket_rmas": Table(
            f"ticket_rmas{s}", md,
            Column("customer_id", String(36), primary_key=True),
            Column("ticket_id", String(36), primary_key=True),
            Column("serial_number", String(64), primary_key=True),
            Column("requested_at", String(40), nullable=False),
            Column("status", String(16), nullable=False),
            Column("due", String(10)),
            Column("new_serial_number", String(64)),
            Column("spare_no", Integer),
            Column("done_at", String(40)),
        ),
    }


_BUILDERS = {"contracts": _contracts, "rooms": _rooms, "spares": _spares, "access": _access, "tickets": _tickets}


@dataclass(frozen=True)
class TableSet:
    """The tables of one projection, live (no suffix) or a rebuild's shadow copy."""

    projection: str
    suffix: str
    metadata: MetaData
    tables: dict[str, Table]

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]


def key_of(table: Any, *columns: str) -> Any:
    """The where-clause of one row of a customer's ``table``: ``customer_id`` and ``columns``, bound as
    ``k_customer_id``, ``k_<column>`` (the projectors' statements)."""
    return and_(table.c.customer_id == bindparam("k_customer_id"),
                *[table.c[c] == bindparam(f"k_{c}") for c in columns])


def update_by_key(table: Any, key: tuple[str, ...], *columns: str) -> Any:
    """An update of ``columns`` (bound as ``v_<column>``) on the row ``key_of(table, *key)``."""
    return update(table).where(key_of(table, *key)).values({c: bindparam(f"v_{c}") for c in columns})


@lru_cache(maxsize=512)
def _rows_statement(table: Table, by_customer: bool, after: bool, limit: bool, of_rooms: bool) -> Select[Any]:
    """Built once per shape: a statement's cache key costs more than the query it runs."""
    stmt = select(table)
    if by_customer:
        stmt = stmt.where(table.c.customer_id == bindparam("customer_id"))
    if after:
        stmt = stmt.where(table.c.room_id > bindparam("after"))
    if of_rooms:
        stmt = stmt.where(table.c.room_id.in_(bindparam("room_ids", expanding=True)))
    stmt = stmt.order_by(*table.primary_key.columns)
    return stmt.limit(bindparam("limit")) if limit else stmt


def read_rows(
    conn: Connection, table: Table, customer_id: str | None, *, after: str | None = None, limit: int | None = None,
    room_ids: list[str] | None = None,
) -> Any:
    """The rows of a read-model ``table`` in key order, as mappings (a ``Row``'s attribute costs some 40
    times a mapping's item): of one customer if given; of the rooms whose id sorts after ``after``, at
    most ``limit``, or of ``room_ids`` (tables with a ``room_id``) when those are given."""
    params = {"customer_id": customer_id, "after": after, "limit": limit, "room_ids": room_ids}
    stmt = _rows_statement(table, customer_id is not None, after is not None, limit is not None, room_ids is not None)
    return conn.execute(stmt, {k: v for k, v in params.items() if v is not None}).mappings().all()


@lru_cache(maxsize=64)
def table_set(projection: str, suffix: str = "") -> TableSet:
    """The tables of ``projection`` under ``suffix``, built once per process (SQL compiles are cached)."""
    md = MetaData()
    return TableSet(projection, suffix, md, _BUILDERS[projection](md, suffix))


tracking_metadata = MetaData()
tracking = Table(
    "projection_tracking", tracking_metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("suffix", String(32)),
)
# A stop-policy projection that cannot apply an event stops before it and records why here (SPEC 9).
faults = Table(
    "projection_faults", tracking_metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
    Column("customer_id", String(36), nullable=False),
    Column("event_type", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("first_failed_at", String(40), nullable=False),
    Column("last_failed_at", String(40), nullable=False),
    Column("attempts", Integer, nullable=False),
)
