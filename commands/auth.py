"""Authorization (R16–R18): who may do what, for the command line and HTTP alike.

A command is authorized for a :class:`Principal`: operations (``ops``), a portal user (an e-mail:
a customer's own user, or a user of a service partner the customer delegated to), or an API key
scoped to operations, one customer (with a role) or one partner (R23). The command line acts for
the ``actor`` its lines name (whoever can open the database is operations staff); over HTTP the
principal is the authenticated credential. One function, :func:`role_of`, decides every role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from aggregates.errors import Forbidden
from aggregates.partner import Partner

OPS = "ops"
NO_ACCESS = "no_access"  # the principal holds no role on the customer (HTTP answers as if it did not exist)
KEY_PREFIX = "key:"

PartnerLookup = Callable[[str], Partner | None]


class AccessFacts(Protocol):
    """What authorization reads of a customer: its id, its own users and its partner delegations.

    A ``Customer`` aggregate is one; the HTTP read side builds one from the access read model.
    """

    @property
    def id(self) -> UUID: ...
    @property
    def users(self) -> Mapping[str, str]: ...
    @property
    def partners(self) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class Principal:
    """Who acts, and what grants they hold.

    ``actor`` is what events record (``ops``, an e-mail, ``key:<name>``). ``email`` is set for a
    portal user; ``customer_id``/``role`` for a customer-scoped key; ``partner_id`` for a partner
    key. ``only_customers``, when set, restricts every grant to those customers (a token of one
    customer's own SSO issuer acts on that customer only, R22).
    """

    actor: str
    ops: bool = False
    email: str | None = None
    customer_id: UUID | None = None
    role: str | None = None
    partner_id: str | None = None
    only_customers: frozenset[UUID] | None = None

    @classmethod
    def from_actor(cls, actor: str) -> Principal:
        """The principal a command-line line names: ``ops``, or a portal user's e-mail."""
        if actor == OPS:
            return cls(actor=OPS, ops=True)
        if actor.startswith(KEY_PREFIX):
            return cls(actor=actor)  # a key's name alone grants nothing
        return cls(actor=actor, email=actor.lower())

    @classmethod
    def user(cls, email: str, only_customers: frozenset[UUID] | None = None) -> Principal:
        email = email.lower()
        return cls(actor=email, email=email, only_customers=only_customers)

    @classmethod
    def ops_key(cls, name: str) -> Principal:
        return cls(actor=KEY_PREFIX + name, ops=True)

    @classmethod
    def customer_key(cls, name: str, customer_id: UUID, role: str) -> Principal:
        return cls(actor=KEY_PREFIX + name, customer_id=customer_id, role=role)

    @classmethod
    def partner_key(cls, name: str, partner_id: str) -> Principal:
        return cls(actor=KEY_PREFIX + name, partner_id=partner_id)


def as_principal(who: str | Principal) -> Principal:
    return who if isinstance(who, Principal) else Principal.from_actor(who)


def trusted_here(principal: Principal, customer: AccessFacts) -> bool:
    """Whether the principal's credential may act on this customer at all (R22: per-customer issuers)."""
    return principal.only_customers is None or customer.id in principal.only_customers


_allowed_here = trusted_here


def role_of(who: str | Principal, customer: AccessFacts, partners: PartnerLookup) -> str | None:
    """The strongest role the principal holds on this customer: ops, admin, viewer or None."""
    principal = as_principal(who)
    if not _allowed_here(principal, customer):
        return None
    if principal.ops:
        return OPS
    roles: set[str] = set()
    if principal.email is not None:
        own = customer.users.get(principal.email)
        if own is not None:
            roles.add(own)
        for partner_id, role in customer.partners.items():
            partner = partners(partner_id)
            if partner is not None and principal.email in partner.users:
                roles.add(role)
    if principal.customer_id is not None and principal.customer_id == customer.id and principal.role:
        roles.add(principal.role)
    if principal.partner_id is not None:
        wanted = principal.partner_id.casefold()
        roles.update(role for pid, role in customer.partners.items() if pid.casefold() == wanted)
    if "admin" in roles:
        return "admin"
    return "viewer" if roles else None


def is_owner_admin(who: str | Principal, customer: AccessFacts) -> bool:
    """Ops, or an admin of the customer itself (its own user, or its own admin key), never a partner."""
    principal = as_principal(who)
    if not _allowed_here(principal, customer):
        return False
    if principal.ops:
        return True
    if principal.email is not None and customer.users.get(principal.email) == "admin":
        return True
    return principal.customer_id == customer.id and principal.role == "admin"


def require_ops(who: str | Principal, command: str) -> None:
    principal = as_principal(who)
    if not principal.ops:
        raise Forbidden(
            f"actor: only operations (ops) may {command}; {principal.actor} may not",
            rule="R18",
            field="actor",
        )


def require_manager(who: str | Principal, customer: AccessFacts, partners: PartnerLookup, command: str) -> None:
    principal = as_principal(who)
    role = role_of(principal, customer, partners)
    if role in (OPS, "admin"):
        return
    if role == "viewer":
        raise Forbidden(
            f"actor: {principal.actor} is a viewer of this customer and may not {command}; viewers are "
            "read-only",
            rule="R16",
            field="actor",
        )
    raise Forbidden(
        f"actor: {principal.actor} has no access to this customer, neither as its user nor through a "
        "delegating partner",
        rule="R17",
        field="actor",
        code=NO_ACCESS,
    )


def require_reader(who: str | Principal, customer: AccessFacts, partners: PartnerLookup) -> None:
    principal = as_principal(who)
    if role_of(principal, customer, partners) is None:
        raise Forbidden(
            f"actor: {principal.actor} has no access to this customer", rule="R17", field="actor",
            code=NO_ACCESS,
        )


def require_access_manager(
    who: str | Principal, customer: AccessFacts, partners: PartnerLookup, command: str
) -> None:
    """The customer's own access (inviting users, roles, removing users, delegations, SSO) is for
    ops and the customer's own admins only: a delegated partner's users and keys, even with the
    admin role, never touch it, so a revocation leaves nothing of the partner behind (R17)."""
    principal = as_principal(who)
    if is_owner_admin(principal, customer):
        return
    role = role_of(principal, customer, partners)
    if role is None:
        require_reader(principal, customer, partners)
    own_viewer = (principal.email is not None and customer.users.get(principal.email) == "viewer") or (
        principal.customer_id == customer.id and principal.role == "viewer"
    )
    if own_viewer:
        raise Forbidden(
            f"actor: {principal.actor} is a viewer of this customer and may not {command}; viewers are "
            "read-only (R16)",
            rule="R16",
            field="actor",
        )
    raise Forbidden(
        f"actor: {principal.actor} acts for this customer through a service partner, and a partner never "
        f"touches the customer's own access; only ops or the customer's own admins may {command} (R17)",
        rule="R17",
        field="actor",
    )


def require_owner_admin(
    who: str | Principal, customer: AccessFacts, command: str, partners: PartnerLookup | None = None
) -> None:
    """Delegations are the customer's own decision: ops or one of its own admins."""
    if is_owner_admin(who, customer):
        return
    if partners is not None:
        require_reader(who, customer, partners)
    raise Forbidden(
        f"actor: only ops or an admin of the customer itself may {command}",
        rule="R17",
        field="actor",
    )
