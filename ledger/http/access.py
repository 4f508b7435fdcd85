"""Who may see which customer, for the read routes: :func:`commands.auth.role_of` on the access read model.

Commands are authorized on the customer aggregate they act on; reads use the same rule function on
the same facts (own users and partner delegations) as the access projection holds them. Commands
answer only after the read models have caught up with them, so a removed user or a revoked
delegation is refused by the next read too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from sqlalchemy import Connection, Engine, bindparam, literal, select, union_all

from aggregates.ids import partner_id_for
from aggregates.partner import Partner
from commands.auth import Principal, role_of
from ledger.app import LedgerApplication
from projections.tables import table_set


@dataclass(frozen=True)
class CustomerAccess:
    """The access facts of one customer (satisfies :class:`commands.auth.AccessFacts`)."""

    id: UUID
    name: str
    users: Mapping[str, str]
    partners: Mapping[str, str]


def partner_lookup(app: LedgerApplication) -> Callable[[str], Partner | None]:
    """Partners read from the store (no cache: safe from any thread), memoised for one request."""
    seen: dict[str, Partner | None] = {}

    def lookup(partner_id: str) -> Partner | None:
        if partner_id not in seen:
            try:
                aggregate = app.unsnapshotted(partner_id_for(partner_id))
            except AggregateNotFoundError:
                aggregate = None
            seen[partner_id] = aggregate if isinstance(aggregate, Partner) else None
        return seen[partner_id]

    return lookup


def _load(engine: Engine, customer_ids: list[str] | None) -> list[CustomerAccess]:
    ts = table_set("access")
    customers, users, delegations = ts["access_customers"], ts["users"], ts["delegations"]

    def scoped(table: object, stmt: object) -> object:
        return stmt if customer_ids is None else stmt.where(table.c.customer_id.in_(customer_ids))  # type: ignore[attr-defined]

    with engine.connect() as conn:
        rows = conn.execute(scoped(customers, select(customers.c.customer_id, customers.c.name))).all()  # type: ignore[call-overload]
        if not rows:
            return []
        user_rows = conn.execute(scoped(users, select(users.c.customer_id, users.c.email, users.c.role))).all()  # type: ignore[call-overload]
        partner_rows = conn.execute(
            scoped(delegations, select(delegations.c.customer_id, delegations.c.partner_id, delegations.c.role))  # type: ignore[call-overload]
        ).all()
    by_users: dict[str, dict[str, str]] = {}
    for r in user_rows:
        by_users.setdefault(r.customer_id, {})[r.email] = r.role
    by_partners: dict[str, dict[str, str]] = {}
    for r in partner_rows:
        by_partners.setdefault(r.customer_id, {})[r.partner_id] = r.role
    return [
        CustomerAccess(UUID(r.customer_id), r.name, by_users.get(r.customer_id, {}), by_partners.get(r.customer_id, {}))
        for r in sorted(rows, key=lambda r: r.customer_id)
    ]


@lru_cache(maxsize=1)
def _one_customer_statement() -> Any:
    ts = table_set("access")
    customers, users, delegations = ts["access_customers"], ts["users"], ts["delegations"]
    cid: Any = bindparam("cid")
    return union_all(
        select(literal("c").label("kind"), customers.c.name.label("k"), literal("").label("v"))
        .where(customers.c.customer_id == cid),
        select(literal("u"), users.c.email, users.c.role).where(users.c.customer_id == cid),
        select(literal("p"), delegations.c.partner_id, delegations.c.role).where(delegations.c.customer_id == cid),
    )


def customer_access(engine: Engine, customer_id: UUID) -> CustomerAccess | None:
    """One customer's access facts in one query (its name, own users, partner delegations)."""
    with engine.connect() as conn:
        return customer_access_on(conn, customer_id)


def customer_access_on(conn: Connection, customer_id: UUID) -> CustomerAccess | None:
    """:func:`customer_access` on an open connection (the caller reads more on it)."""
    rows = conn.execute(_one_customer_statement(), {"cid": str(customer_id)}).all()
    name = next((r.k for r in rows if r.kind == "c"), None)
    if name is None:
        return None
    users = {r.k: r.v for r in rows if r.kind == "u"}
    partners = {r.k: r.v for r in rows if r.kind == "p"}
    return CustomerAccess(customer_id, name, users, partners)


def visible_role(
    app: LedgerApplication, engine: Engine, principal: Principal, customer_id: UUID
) -> tuple[CustomerAccess, str] | None:
    """The customer's access facts and the principal's role on it; None if absent or not visible."""
    return role_on(app, principal, customer_access(engine, customer_id))


def role_on(
    app: LedgerApplication, principal: Principal, facts: CustomerAccess | None
) -> tuple[CustomerAccess, str] | None:
    """:func:`visible_role` on access facts read already (None: no such customer)."""
    if facts is None:
        return None
    role = role_of(principal, facts, partner_lookup(app))
    return (facts, role) if role is not None else None


def _candidates(app: LedgerApplication, engine: Engine, principal: Principal) -> list[str] | None:
    """Customer ids the principal may hold a role on (a superset; None: every customer)."""
    if principal.only_customers is not None:
        return sorted(str(c) for c in principal.only_customers)
    if principal.ops:
        return None
    ts = table_set("access")
    users, delegations = ts["users"], ts["delegations"]
    found: set[str] = set()
    with engine.connect() as conn:
        if principal.email is not None:
            found.update(conn.execute(select(users.c.customer_id).where(users.c.email == principal.email)).scalars())
        rows = conn.execute(select(delegations.c.customer_id, delegations.c.partner_id)).all()
    if principal.customer_id is not None:
        found.add(str(principal.customer_id))
    by_partner: dict[str, set[str]] = {}
    for r in rows:
        by_partner.setdefault(r.partner_id, set()).add(r.customer_id)
    lookup = partner_lookup(app)
    for partner_id, customer_ids in by_partner.items():
        if principal.partner_id is not None and partner_id.casefold() == principal.partner_id.casefold():
            found |= customer_ids
        elif principal.email is not None:
            partner = lookup(partner_id)
            if partner is not None and principal.email in partner.users:
                found |= customer_ids
    return sorted(found)


def visible_customers(app: LedgerApplication, engine: Engine, principal: Principal) -> list[tuple[CustomerAccess, str]]:
    """Every customer the principal may see, with its role, in customer-id order.

    The candidates are narrowed with the access read model (own users, delegations to the
    principal's partners); the role is then decided for each by :func:`commands.auth.role_of`.
    """
    ids = _candidates(app, engine, principal)
    if ids is not None and not ids:
        return []
    lookup = partner_lookup(app)
    found = []
    for facts in _load(engine, ids):
        role = role_of(principal, facts, lookup)
        if role is not None:
            found.append((facts, role))
    return found
