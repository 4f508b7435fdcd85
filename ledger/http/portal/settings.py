"""Settings of the Service Portal, read from the environment (none is an event; secrets stay here).

``LEDGER_PORTAL_URL``
    Where browsers reach the portal (default ``http://127.0.0.1:8000``). The OpenID Connect redirect
    URI is ``<LEDGER_PORTAL_URL>/auth/callback``; the session cookie is ``Secure`` unless this URL is
    on a loopback host.
``LEDGER_PORTAL_CLIENT_ID`` / ``LEDGER_PORTAL_CLIENT_SECRET``
    The portal's confidential client at the operator's first issuer (``LEDGER_OIDC_ISSUERS[0]``).
    Without them the portal answers its sign-in page with an explanation and signs nobody in.
``LEDGER_PORTAL_SSO_CLIENTS``
    The clients customers' admins registered at their own SSO issuers (R22): a JSON list of
    ``{"issuer", "client_id", "client_secret"}``. The issuer and its allowed e-mail domains come from
    the customer's ``ConfigureSso``; the secret is a setting, never an event.
``LEDGER_PORTAL_SESSION_HOURS``
    How long a signed-in session lasts (default 8, at most 24).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ledger.config import ConfigurationError

DEFAULT_PORTAL_URL = "http://127.0.0.1:8000"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class PortalClient:
    """A confidential OpenID Connect client of the portal at one issuer."""

    issuer: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # the secret never reaches a log line
        return f"PortalClient(issuer={self.issuer!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class PortalSettings:
    """What the portal needs besides the server's settings."""

    url: str = DEFAULT_PORTAL_URL
    operator: PortalClient | None = None
    sso_clients: tuple[PortalClient, ...] = ()
    session_hours: int = 8
    session_key: str = ""

    @property
    def redirect_uri(self) -> str:
        return self.url + "/auth/callback"

    @property
    def secure_cookie(self) -> bool:
        """``Secure`` unless the portal is reached on a loopback host (plain http there)."""
        return (urlsplit(self.url).hostname or "") not in LOOPBACK_HOSTS

    def sso_client(self, issuer: str) -> PortalClient | None:
        return next((c for c in self.sso_clients if c.issuer == issuer), None)


def _client(item: object, where: str) -> PortalClient:
    if not isinstance(item, dict) or set(item) != {"issuer", "client_id", "client_secret"}:
        raise ConfigurationError(f"{where}: expected exactly the keys issuer, client_id and client_secret")
    values = [item["issuer"], item["client_id"], item["client_secret"]]
    if not all(isinstance(v, str) and v.strip() for v in values):
        raise ConfigurationError(f"{where}: issuer, client_id and client_secret must be non-empty strings")
    issuer = urlsplit(item["issuer"])
    if issuer.scheme != "https" and not (issuer.scheme == "http" and issuer.hostname in LOOPBACK_HOSTS):
        raise ConfigurationError(f"{where}.issuer: {item['issuer']!r} must be an https URL (http only on loopback)")
    return PortalClient(item["issuer"], item["client_id"], item["client_secret"])


def load_portal_settings(
    environ: Mapping[str, str] | None, operator_issuer: str | None, secret_key: bytes
) -> PortalSettings:
    """Resolve the portal's settings; ConfigurationError names the variable that cannot be used.

    ``operator_issuer`` is the first of ``LEDGER_OIDC_ISSUERS`` (None when none is configured);
    ``secret_key`` the ledger's key, from which the session-signing key is derived.
    """
    environ = os.environ if environ is None else environ
    url = environ.get("LEDGER_PORTAL_URL", DEFAULT_PORTAL_URL).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigurationError(f"LEDGER_PORTAL_URL: {url!r} must be an absolute http(s) URL without query")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ConfigurationError(f"LEDGER_PORTAL_URL: {url!r} must use https (http only on a loopback host)")
    client_id = environ.get("LEDGER_PORTAL_CLIENT_ID", "").strip()
    client_secret = environ.get("LEDGER_PORTAL_CLIENT_SECRET", "")
    operator = None
    if client_id or client_secret:
        if not (client_id and client_secret):
            raise ConfigurationError("LEDGER_PORTAL_CLIENT_ID and LEDGER_PORTAL_CLIENT_SECRET: set both or neither")
        if operator_issuer is None:
            raise ConfigurationError("LEDGER_PORTAL_CLIENT_ID: needs an operator issuer in LEDGER_OIDC_ISSUERS")
        operator = PortalClient(operator_issuer, client_id, client_secret)
    raw = environ.get("LEDGER_PORTAL_SSO_CLIENTS", "").strip()
    sso: list[PortalClient] = []
    if raw:
        try:
            items = json.loads(raw)
        except ValueError:
            raise ConfigurationError("LEDGER_PORTAL_SSO_CLIENTS: not JSON") from None
        if not isinstance(items, list):
            raise ConfigurationError("LEDGER_PORTAL_SSO_CLIENTS: expected a JSON list")
        sso = [_client(item, f"LEDGER_PORTAL_SSO_CLIENTS[{i}]") for i, item in enumerate(items)]
    hours_raw = environ.get("LEDGER_PORTAL_SESSION_HOURS", "8")
    try:
        hours = int(hours_raw)
    except ValueError:
        raise ConfigurationError(f"LEDGER_PORTAL_SESSION_HOURS: {hours_raw!r} is not a whole number") from None
    if not 1 <= hours <= 24:
        raise ConfigurationError("LEDGER_PORTAL_SESSION_HOURS: must be 1–24")
    key = hmac.new(secret_key, b"select-ledger portal session v1", hashlib.sha256).hexdigest()
    return PortalSettings(url=url, operator=operator, sso_clients=tuple(sso), session_hours=hours, session_key=key)
