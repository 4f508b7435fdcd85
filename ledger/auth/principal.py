"""The bearer-credential seam: a credential becomes a :class:`~commands.auth.Principal`.

``Authorization: Bearer <credential>``. A credential of three dot-separated base64url parts is an
OpenID Connect ID token and goes to an :class:`IdTokenVerifier` (``ledger.auth.oidc`` implements
it and defines :class:`VerifiedIdentity`); anything else is an API key (R23,
``ledger.auth.apikeys``). Failures raise :class:`Unauthenticated` or ``TokenRejected`` (HTTP
401); nothing about why a credential failed beyond a short reason is returned, and the
credential itself never enters a message or a log line.
"""

from __future__ import annotations

import re
from typing import Protocol
from uuid import UUID

from aggregates.errors import LedgerError
from commands.auth import Principal
from ledger.auth.oidc import TokenRejected, VerifiedIdentity

_B64URL_PART = r"[A-Za-z0-9_-]+={0,2}"
_JWT = re.compile(rf"^{_B64URL_PART}\.{_B64URL_PART}\.{_B64URL_PART}$|^{_B64URL_PART}\.{_B64URL_PART}\.$")


class Unauthenticated(LedgerError):
    """No credential, or one that is missing, expired, forged, revoked or from an untrusted issuer (R21)."""

    code = "unauthenticated"


class IdTokenVerifier(Protocol):
    """Verifies an OpenID Connect ID token (signature, iss, aud, exp, iat/nbf, alg, email_verified).

    Raises :class:`~ledger.auth.oidc.TokenRejected` (or :class:`Unauthenticated`) for any token it
    does not accept; both answer 401. Called from worker threads
    (it may do blocking I/O such as a JWKS fetch, with bounded timeouts) and must be thread-safe.
    """

    def verify(self, token: str) -> VerifiedIdentity: ...


class NoIdTokens:
    """The verifier when no issuer is trusted: every ID token is refused."""

    def verify(self, token: str) -> VerifiedIdentity:
        raise TokenRejected("no OpenID Connect issuer is trusted by this server")


class ApiKeyResolver(Protocol):
    def principal_for(self, key: str) -> Principal: ...


def looks_like_id_token(credential: str) -> bool:
    """A JWT in compact serialization: three base64url parts separated by dots."""
    return bool(_JWT.match(credential))


def principal_for_identity(identity: VerifiedIdentity) -> Principal:
    """The principal of a verified token: its e-mail, restricted to the customers trusting a customer issuer."""
    only = None if identity.customers is None else frozenset(UUID(c) for c in identity.customers)
    return Principal.user(identity.email, only_customers=only)


UNAUTHENTICATED_CODES = frozenset({Unauthenticated.code, TokenRejected.code})


def bearer_credential(authorization: str | None) -> str:
    """The credential of an ``Authorization: Bearer …`` header, or Unauthenticated."""
    if not authorization:
        raise Unauthenticated(
            "authorization: send Authorization: Bearer <ID token or API key> (R21)",
            rule="R21",
            field="authorization",
        )
    scheme, _, credential = authorization.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "bearer" or not credential:
        raise Unauthenticated(
            "authorization: only the Bearer scheme is accepted (R21)", rule="R21", field="authorization"
        )
    return credential


class Authenticator:
    """Turns an ``Authorization`` header into a principal: ID tokens to the verifier, else an API key."""

    def __init__(self, verifier: IdTokenVerifier, api_keys: ApiKeyResolver) -> None:
        self.verifier = verifier
        self.api_keys = api_keys

    def authenticate(self, authorization: str | None) -> Principal:
        credential = bearer_credential(authorization)
        if looks_like_id_token(credential):
            return self.id_token_principal(credential)
        return self.api_keys.principal_for(credential)

    def id_token_principal(self, token: str) -> Principal:
        """The principal of an ID token (may fetch the issuer's keys: call it off the event loop)."""
        return principal_for_identity(self.verifier.verify(token))
