"""What the portal asks of the HTTP application: the same handlers, rules and authorization as ``/v1``.

:class:`Door` is the seam. :class:`ServerDoor` implements it over the running server's state: reads
go through the same visibility check as ``GET /v1/customers/{id}/…`` (a customer the principal may
not see is "not found"), commands through the same group-commit writer and refusal mapping as
``POST /v1/commands``, with the signed-in principal as the actor.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from commands.auth import Principal


@dataclass(frozen=True)
class Visible:
    """A customer the principal may see, with its name and the principal's role there."""

    customer_id: str
    name: str
    role: str  # ops, admin or viewer
    owner_admin: bool  # an admin of the customer itself (may manage access, R17), or ops


@dataclass(frozen=True)
class SsoChoice:
    """A customer's own SSO issuer (R22) that accepts e-mails of a domain."""

    issuer: str
    audience: str


@dataclass(frozen=True)
class Answer:
    """The outcome of one command: HTTP status and the result or the problem body of ``/v1/commands``."""

    status: int
    body: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def words(self) -> str:
        """The refusal in the rule's words (the problem's ``detail``)."""
        return str(self.body.get("detail") or self.body.get("title") or "refused")


class Door(Protocol):
    portal_url: str  # LEDGER_PORTAL_URL: where invitation links point
    sso_commands: bool  # whether ConfigureSso/RemoveSso exist on this server (R22)

    def customers(self, principal: Principal) -> list[Visible]: ...

    def customer(self, principal: Principal, customer_id: UUID) -> Visible | None: ...

    def view(self, principal: Principal, customer_id: UUID, name: str, as_of: datetime | None) -> list[dict[str, Any]]:
        """A view's rows; raises the server's not-found refusal for a customer the principal may not see."""
        ...

    def history(self, principal: Principal, customer_id: UUID, as_of: datetime | None) -> list[dict[str, Any]]: ...

    async def command(self, principal: Principal, raw: dict[str, Any]) -> Answer: ...

    def principal_for_id_token(self, id_token: str) -> Principal:
        """The principal an ID token proves (the server's verifier: R21, R22); raises on a bad token."""
        ...

    def sso_for_domain(self, domain: str) -> Sequence[SsoChoice]: ...
