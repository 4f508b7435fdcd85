"""Authorization (R16–R18): operations, customer admins and viewers, and delegated partners."""

from __future__ import annotations

from collections.abc import Callable

from aggregates.customer import Customer
from aggregates.errors import Forbidden
from aggregates.partner import Partner

OPS = "ops"

PartnerLookup = Callable[[str], Partner | None]


def role_of(actor: str, customer: Customer, partners: PartnerLookup) -> str | None:
    """The strongest role the actor holds on this customer: ops, admin, viewer or None."""
    if actor == OPS:
        return OPS
    roles: set[str] = set()
    own = customer.users.get(actor)
    if own is not None:
        roles.add(own)
    for partner_id, role in customer.partners.items():
        partner = partners(partner_id)
        if partner is not None and actor in partner.users:
            roles.add(role)
    if "admin" in roles:
        return "admin"
    return "viewer" if roles else None


def require_ops(actor: str, command: str) -> None:
    if actor != OPS:
        raise Forbidden(
            f"actor: only operations (ops) may {command}; {actor} may not (R18)",
            rule="R18",
            field="actor",
        )


def require_manager(actor: str, customer: Customer, partners: PartnerLookup, command: str) -> None:
    role = role_of(actor, customer, partners)
    if role in (OPS, "admin"):
        return
    if role == "viewer":
        raise Forbidden(
            f"actor: {actor} is a viewer of this customer and may not {command}; viewers are "
            "read-only (R16)",
            rule="R16",
            field="actor",
        )
    raise Forbidden(
        f"actor: {actor} has no access to this customer, neither as its user nor through a "
        "delegating partner (R17)",
        rule="R17",
        field="actor",
    )


def require_reader(actor: str, customer: Customer, partners: PartnerLookup) -> None:
    if role_of(actor, customer, partners) is None:
        raise Forbidden(
            f"actor: {actor} has no access to this customer (R17)", rule="R17", field="actor"
        )


def require_owner_admin(actor: str, customer: Customer, command: str) -> None:
    """Delegations are the customer's own decision: ops or one of its own admins."""
    if actor == OPS or customer.users.get(actor) == "admin":
        return
    raise Forbidden(
        f"actor: only ops or an admin of the customer itself may {command} (R17)",
        rule="R17",
        field="actor",
    )
