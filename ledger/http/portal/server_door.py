"""The :class:`~ledger.http.portal.door.Door` of ``ledger serve``: the public entry points of
:class:`ledger.http.app.ServerState` (the same the ``/v1`` routes call), for the portal."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import FastAPI

from commands.auth import Principal, is_owner_admin
from ledger.auth.principal import principal_for_identity
from ledger.config import Settings
from ledger.http.app import ServerState
from ledger.http.portal import install
from ledger.http.portal.door import Answer, SsoChoice, Visible
from ledger.http.portal.settings import load_portal_settings
from projections.queries import sso_for_domain


class ServerDoor:
    """Reads and commands exactly as ``GET /v1/customers/…`` and ``POST /v1/commands`` do them."""

    sso_commands = True

    def __init__(self, state: ServerState, portal_url: str) -> None:
        self.state = state
        self.portal_url = portal_url

    def customers(self, principal: Principal) -> list[Visible]:
        found = self.state.visible_customers(principal)
        return sorted(
            (Visible(str(f.id), f.name, role, is_owner_admin(principal, f)) for f, role in found),
            key=lambda v: (v.name.casefold(), v.customer_id),
        )

    def customer(self, principal: Principal, customer_id: UUID) -> Visible | None:
        found = self.state.visible_customer(principal, customer_id)
        if found is None:
            return None
        facts, role = found
        return Visible(str(facts.id), facts.name, role, is_owner_admin(principal, facts))

    def view(self, principal: Principal, customer_id: UUID, name: str, as_of: datetime | None) -> list[dict[str, Any]]:
        return self.state.view(principal, customer_id, name, as_of)

    def history(self, principal: Principal, customer_id: UUID, as_of: datetime | None) -> list[dict[str, Any]]:
        return self.state.history(principal, customer_id, as_of)

    async def command(self, principal: Principal, raw: dict[str, Any]) -> Answer:
        status, body = await self.state.run_command(raw, principal)
        return Answer(status, body)

    def principal_for_id_token(self, id_token: str) -> Principal:
        return principal_for_identity(self.state.authenticator.verifier.verify(id_token))

    def sso_for_domain(self, domain: str) -> Sequence[SsoChoice]:
        return [SsoChoice(row["issuer"], row["audience"]) for row in sso_for_domain(self.state.engine, domain)]


def portal_configurer(settings: Settings, environ: Mapping[str, str] | None = None) -> Callable[[FastAPI], None]:
    """What ``create_app(configure=…)`` calls to mount the portal on the server of ``settings``."""
    operator = settings.oidc.issuers[0].issuer if settings.oidc.issuers else None
    portal_settings = load_portal_settings(environ, operator, settings.secret_key)

    def configure(api: FastAPI) -> None:
        install(
            api,
            portal_settings,
            door_of=lambda request: ServerDoor(request.app.state.ledger, portal_settings.url),
            countries_of=lambda request: settings.countries,
        )

    return configure
