"""The one place that wires the application from configuration. Nothing connects at import time."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, TypeVar

from ledger.app import LedgerApplication
from ledger.config import Settings, load_settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from ledger.auth.principal import IdTokenVerifier
    from ledger.http.app import ServerState


A = TypeVar("A", bound=LedgerApplication)


def build_app(
    db: str | None = None, environ: Mapping[str, str] | None = None, *, settings: Settings | None = None
) -> LedgerApplication:
    """Create the ledger application for ``db`` (or LEDGER_DB, or ./ledger.db), or for ``settings``."""
    return wire(LedgerApplication, settings if settings is not None else load_settings(db, environ))


def wire(app_class: type[A], settings: Settings) -> A:
    """An application of ``app_class`` (``LedgerApplication`` or a subclass) wired for ``settings``.

    Gives the write path what it needs from the read side without it importing the read side:
    ``ExpireContracts`` finds its candidates in the contracts read model (``ReadModelExpiryCandidates``).
    """
    from ledger.readside import ReadModelExpiryCandidates

    return app_class(settings, expiry_candidates=ReadModelExpiryCandidates(settings.store))


def id_token_verifier(state: ServerState) -> IdTokenVerifier:
    """The OpenID Connect ID-token verifier of the HTTP server (R21, R22), built on start-up.

    ``state`` gives the settings and the store. The operator's issuers come from
    ``LEDGER_OIDC_ISSUERS``; per-customer SSO issuers (R22) from the access read model
    (``ConfigureSso`` / ``RemoveSso`` as projected, current once the command has answered).
    """
    from ledger.auth.oidc import OidcVerifier, ProjectedSso

    return OidcVerifier(state.settings.oidc, sso=ProjectedSso(state.engine))


def build_http_app(db: str | None = None, environ: Mapping[str, str] | None = None) -> FastAPI:
    """The ASGI application of ``ledger serve`` for ``db`` (API and portal); it connects when it starts."""
    from ledger.http.app import create_app
    from ledger.http.portal.server_door import portal_configurer

    settings = load_settings(db, environ)
    return create_app(
        settings,
        verifier=id_token_verifier,
        configure=portal_configurer(settings, environ),
        build=functools.partial(wire, LedgerApplication),
    )
