"""Sign-in through OpenID Connect: authorization code with PKCE (S256), the portal a confidential client.

``authlib`` does the protocol (discovery, state, nonce, PKCE, the code exchange with the client
secret, the ID token's signature and claims). The ID token is then verified once more by the
server's own verifier, exactly as a ``Bearer`` token of ``/v1`` would be (R21, R22), and that verdict
decides who is signed in: the portal trusts nothing the API would not.

Which issuer: the operator's first issuer (``LEDGER_OIDC_ISSUERS[0]`` with ``LEDGER_PORTAL_CLIENT_ID``),
or, when the e-mail typed on the sign-in page belongs to a domain for which a customer configured its
own SSO issuer (``ConfigureSso``, R22) and the operator registered the portal's client there
(``LEDGER_PORTAL_SSO_CLIENTS``), that issuer.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from typing import Any

import authlib.deprecate  # noqa: F401 - first: it installs an "always" filter of its own

with warnings.catch_warnings():  # authlib 1.9 announces its move from httpx to httpx2 on this import
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aggregates.errors import LedgerError
from ledger.http.portal.pages import Portal
from ledger.http.portal.session import current_principal, require_csrf, set_flash, sign_in, sign_out
from ledger.http.portal.settings import PortalClient, PortalSettings

logger = logging.getLogger("ledger.portal")
SIGNIN_ISSUER = "signin_issuer"


def safe_next(target: object) -> str:
    """A same-site path to return to after sign-in (never another site: no open redirect)."""
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target[:500]
    return "/"


class SignIn:
    """The sign-in routes and the registered OpenID Connect clients."""

    def __init__(self, settings: PortalSettings, portal: Portal) -> None:
        self.settings = settings
        self.portal = portal
        self.oauth = OAuth()
        self._names: dict[str, str] = {}
        for client in (settings.operator, *settings.sso_clients):
            if client is not None:
                self._register(client)

    def _register(self, client: PortalClient) -> None:
        name = "c" + hashlib.sha256(client.issuer.encode()).hexdigest()[:16]
        self._names[client.issuer] = name
        self.oauth.register(
            name,
            client_id=client.client_id,
            client_secret=client.client_secret,
            server_metadata_url=client.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": "openid email", "code_challenge_method": "S256", "timeout": 10.0},
        )

    def _client(self, issuer: str) -> Any:
        name = self._names.get(issuer)
        return self.oauth.create_client(name) if name else None

    def _issuer_for(self, request: Request, email: str) -> str | None:
        """The customer's own SSO issuer for the e-mail's domain (when the portal has a client there)."""
        domain = email.rpartition("@")[2].strip().lower()
        if domain:
            for choice in self.portal.door_of(request).sso_for_domain(domain):
                if self.settings.sso_client(choice.issuer) is not None:
                    return choice.issuer
        return self.settings.operator.issuer if self.settings.operator else None

    async def page(self, request: Request) -> Response:
        if current_principal(request) is not None and not request.query_params.get("switch"):
            return RedirectResponse(safe_next(request.session.get("next")), status_code=303)
        return self.portal.render(
            request, "signin.html", title="Sign in", available=self.settings.operator is not None,
            next=safe_next(request.session.get("next")), email="",
        )

    async def start(self, request: Request) -> Response:
        await require_csrf(request)
        form = await request.form()
        email = str(form.get("email", "")).strip()[:254]
        request.session["next"] = safe_next(form.get("next") or request.session.get("next"))
        issuer = await run_in_threadpool(self._issuer_for, request, email)
        client = self._client(issuer) if issuer else None
        if client is None:
            return self.portal.render(request, "signin.html", 503, title="Sign in", available=False, next="/", email="")
        request.session[SIGNIN_ISSUER] = issuer
        extra = {"login_hint": email} if email else {}
        if form.get("switch"):
            extra["prompt"] = "login"  # another person at this browser: the provider must ask again
        try:
            response: Response = await client.authorize_redirect(request, self.settings.redirect_uri, **extra)
        except Exception:  # the issuer cannot be reached: say so, never a traceback
            logger.warning("sign-in: the issuer %s did not answer its discovery document", issuer)
            return self._refused(request, 503, "The sign-in service does not answer at the moment; try again shortly.")
        return response

    def _refused(self, request: Request, status: int, message: str) -> HTMLResponse:
        return self.portal.render(
            request, "signin.html", status, title="Sign in", available=self.settings.operator is not None,
            next=safe_next(request.session.get("next")), email="", message=message,
        )

    async def callback(self, request: Request) -> Response:
        issuer = request.session.get(SIGNIN_ISSUER)
        client = self._client(issuer) if isinstance(issuer, str) else None
        if client is None:
            return self._refused(request, 400, "This sign-in was not started here, or it took too long. Sign in again.")
        if "error" in request.query_params:
            return self._refused(request, 401, f"The identity provider refused the sign-in "
                                               f"({request.query_params.get('error', '')[:80]}).")
        try:
            token = await client.authorize_access_token(request)
        except OAuthError as error:
            return self._refused(request, 401, f"The sign-in could not be completed ({error.error}). Sign in again.")
        except Exception:
            logger.warning("sign-in: exchanging the code at %s failed", issuer)
            return self._refused(request, 503, "The sign-in service does not answer at the moment; try again shortly.")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            return self._refused(request, 401, "The identity provider sent no ID token.")
        door = self.portal.door_of(request)
        try:
            principal = await run_in_threadpool(door.principal_for_id_token, id_token)
        except LedgerError as refusal:
            return self._refused(request, 401, f"Sign-in refused: {refusal.message}")
        assert principal.email is not None
        keep = {k: request.session[k] for k in ("invite_token",) if k in request.session}
        target = safe_next(request.session.get("next"))
        only = frozenset(str(c) for c in principal.only_customers) if principal.only_customers is not None else None
        sign_in(request, principal.email, only, self.settings.session_hours, keep)
        if target == "/accept-invitation" and keep.get("invite_token"):
            return await self.portal.accept_with(request, principal, keep["invite_token"])
        return RedirectResponse(target, status_code=303)

    async def signout(self, request: Request) -> Response:
        await require_csrf(request)
        sign_out(request)
        set_flash(request, "You are signed out.")
        return RedirectResponse("/auth/signin", status_code=303)

    def router(self) -> APIRouter:
        r = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
        r.add_api_route("/auth/signin", self.page, methods=["GET"])
        r.add_api_route("/auth/signin", self.start, methods=["POST"])
        r.add_api_route("/auth/callback", self.callback, methods=["GET"])
        r.add_api_route("/auth/signout", self.signout, methods=["POST"])
        return r
