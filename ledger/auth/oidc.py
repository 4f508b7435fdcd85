"""Verification of OpenID Connect ID tokens (R21) from the operator's and the customers' issuers (R22).

``OidcVerifier.verify(token)`` returns a :class:`VerifiedIdentity` or raises :class:`TokenRejected`.
What is checked, in this order, before anything is trusted:

1. the token is a JWS compact serialization of bounded size whose ``alg`` is on the allow-list
   (public-key algorithms only: never ``none``, never an HMAC);
2. its (still unverified) ``iss`` names a trusted issuer: one of ``LEDGER_OIDC_ISSUERS`` or an issuer
   some customer configured with ``ConfigureSso``. Nothing is fetched for any other issuer;
3. the signature, with the issuer's key named by ``kid``, taken from the JWKS that the issuer's
   discovery document points to. Discovery and keys are cached (``LEDGER_OIDC_JWKS_CACHE``); an unknown
   ``kid`` fetches the JWKS again, at most once per ``LEDGER_OIDC_JWKS_REFRESH`` seconds per issuer.
   Every fetch has bounded connect/read timeouts (``LEDGER_OIDC_TIMEOUT``) and a bounded body;
4. ``iss`` equal to the issuer, ``aud`` naming the audience configured for it (and ``azp`` when there
   are several audiences), ``exp`` in the future, ``iat`` (and ``nbf`` when present) not in the future,
   all with a small leeway (``LEDGER_OIDC_LEEWAY``), ``sub`` and ``email`` present;
5. ``email_verified`` is ``true``.

The principal is ``email`` lower-cased. An operator issuer's identity may act on any customer (where it
holds a role); a customer issuer's identity only on the customers that configured that issuer with
that audience and allow the e-mail's domain (R22): :meth:`VerifiedIdentity.may_act_on`.

The JOSE work (parsing, key import, signature, claim checks) is the ``joserfc`` library's; this module
only decides which keys and which values are trusted.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError, MissingClaimError
from joserfc.jwk import KeySet

from aggregates.errors import LedgerError
from aggregates.sso import domain_allowed
from ledger.config import OidcIssuer, OidcSettings
from projections.queries import sso_for_issuer

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger(__name__)

#: Public-key JWS algorithms an ID token may use (RFC 7518, RFC 8037). ``none`` and ``HS*`` never.
ALLOWED_ALGORITHMS: tuple[str, ...] = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
_PUBLIC_KEY_TYPES = frozenset({"RSA", "EC", "OKP"})
MAX_TOKEN_BYTES = 16 * 1024
MAX_DOCUMENT_BYTES = 512 * 1024


class TokenRejected(LedgerError):
    """An ID token that is malformed, forged, expired, untrusted or unverifiable (R21): HTTP 401.

    ``reason`` says why for logs and tests; the message never contains the token or its claims.
    """

    code = "invalid_token"

    def __init__(self, reason: str) -> None:
        super().__init__(f"authorization: the ID token was rejected: {reason}", rule="R21",
                         field="authorization")
        self.reason = reason


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who a verified ID token proves the caller is.

    ``customers`` is None for an operator issuer (trusted for every customer), or the customer ids
    whose SSO configuration accepts this token (R22).
    """

    email: str
    issuer: str
    subject: str
    audience: str
    expires_at: int
    customers: frozenset[str] | None = None

    def may_act_on(self, customer_id: str) -> bool:
        """True when the issuer of this identity is trusted for ``customer_id`` (R21, R22)."""
        return self.customers is None or customer_id in self.customers


@dataclass(frozen=True)
class SsoTrust:
    """One customer's single sign-on configuration (R22), as the read side publishes it."""

    customer_id: str
    issuer: str
    audience: str
    allowed_domains: tuple[str, ...]


class SsoDirectory(Protocol):
    """Where the verifier looks up which customers trust an issuer (the access read model)."""

    def sso_for_issuer(self, issuer: str) -> Sequence[SsoTrust]:
        """Every customer's SSO configuration naming exactly ``issuer``."""
        ...


class NoSso:
    """An SSO directory without any customer issuer."""

    def sso_for_issuer(self, issuer: str) -> Sequence[SsoTrust]:
        return ()


class ProjectedSso:
    """The SSO directory of the access read model: the customers' ``ConfigureSso`` as projected.

    The read model is current once a command returns (the application catches it up inline), so a
    ``RemoveSso`` stops the issuer's tokens on the next request.
    """

    def __init__(self, engine: Engine, suffix: str = "") -> None:
        self._engine = engine
        self._suffix = suffix

    def sso_for_issuer(self, issuer: str) -> Sequence[SsoTrust]:
        return [
            SsoTrust(
                customer_id=row["customer_id"],
                issuer=row["issuer"],
                audience=row["audience"],
                allowed_domains=tuple(row["allowed_domains"]),
            )
            for row in sso_for_issuer(self._engine, issuer, self._suffix)
        ]


@dataclass
class _IssuerCache:
    discovery: dict[str, Any] | None = None
    keys: KeySet | None = None
    fetched_at: float = float("-inf")
    refreshed_at: float = float("-inf")
    lock: threading.Lock = field(default_factory=threading.Lock)


class OidcVerifier:
    """Verifies ID tokens against trusted issuers; thread-safe, one instance per process.

    Built by the bootstrap from :class:`ledger.config.OidcSettings`; ``http`` may be given to share a
    client (its timeouts are then the caller's), ``clock``/``monotonic`` to control time in tests.
    """

    def __init__(
        self,
        settings: OidcSettings,
        sso: SsoDirectory | None = None,
        *,
        http: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._operator: dict[str, OidcIssuer] = {i.issuer: i for i in settings.issuers}
        self._sso = sso if sso is not None else NoSso()
        self._http = http
        self._owns_http = http is None
        self._clock = clock
        self._monotonic = monotonic
        self._caches: dict[str, _IssuerCache] = {}
        self._caches_lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------------

    def verify(self, token: str) -> VerifiedIdentity:
        """The identity a valid ID token proves, or :class:`TokenRejected`."""
        header, unverified = _peek(token)
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise TokenRejected(f"algorithm {alg!r} is not allowed")
        issuer = unverified.get("iss")
        if not isinstance(issuer, str) or not issuer:
            raise TokenRejected("no issuer")
        operator = self._operator.get(issuer)
        sso = [t for t in self._sso.sso_for_issuer(issuer) if t.issuer == issuer]
        if operator is None and not sso:
            raise TokenRejected("the issuer is not trusted")
        kid = header.get("kid")
        keys = self._keys_for(issuer, kid if isinstance(kid, str) else None)
        try:
            verified = jwt.decode(token, keys, algorithms=list(ALLOWED_ALGORITHMS))
        except JoseError as exc:
            raise TokenRejected(f"bad signature or key ({type(exc).__name__})") from None
        except ValueError:
            raise TokenRejected("no usable key") from None
        claims = verified.claims
        audiences = ({operator.audience} if operator is not None else set()) | {t.audience for t in sso}
        self._check_claims(claims, issuer, audiences)
        email = str(claims["email"]).strip().lower()
        token_audiences = _audiences(claims)
        if operator is not None and operator.audience in token_audiences:
            return self._identity(claims, email, issuer, operator.audience, None)
        customers = frozenset(
            t.customer_id for t in sso if t.audience in token_audiences and domain_allowed(email, t.allowed_domains)
        )
        if not customers:
            raise TokenRejected("the e-mail domain is not allowed by any customer trusting this issuer")
        audience = next(t.audience for t in sso if t.customer_id in customers)
        return self._identity(claims, email, issuer, audience, customers)

    def close(self) -> None:
        """Close the HTTP client this verifier created."""
        if self._http is not None and self._owns_http:
            self._http.close()
            self._http = None

    # -- claims ---------------------------------------------------------------------------------

    def _check_claims(self, claims: dict[str, Any], issuer: str, audiences: set[str]) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=lambda: int(self._clock()),
            leeway=self._settings.leeway_seconds,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "values": sorted(audiences)},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            email={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenRejected("expired") from None
        except MissingClaimError as exc:
            raise TokenRejected(f"missing claim {exc.description}") from None
        except JoseError as exc:
            raise TokenRejected(f"invalid claim ({exc.description})") from None
        token_audiences = _audiences(claims)
        if len(token_audiences) > 1 and claims.get("azp") not in audiences:
            raise TokenRejected("several audiences and no authorized party (azp) of ours")
        if claims.get("email_verified") is not True:
            raise TokenRejected("the e-mail is not verified")
        email = claims.get("email")
        if not isinstance(email, str) or email.count("@") != 1 or not email.rpartition("@")[2]:
            raise TokenRejected("the email claim is not an e-mail address")

    @staticmethod
    def _identity(
        claims: dict[str, Any], email: str, issuer: str, audience: str, customers: frozenset[str] | None
    ) -> VerifiedIdentity:
        return VerifiedIdentity(
            email=email,
            issuer=issuer,
            subject=str(claims["sub"]),
            audience=audience,
            expires_at=int(claims["exp"]),
            customers=customers,
        )

    # -- keys -----------------------------------------------------------------------------------

    def _cache(self, issuer: str) -> _IssuerCache:
        with self._caches_lock:
            cache = self._caches.get(issuer)
            if cache is None:
                cache = self._caches[issuer] = _IssuerCache()
            return cache

    def _keys_for(self, issuer: str, kid: str | None) -> KeySet:
        cache = self._cache(issuer)
        with cache.lock:
            now = self._monotonic()
            if cache.keys is None or now - cache.fetched_at >= self._settings.cache_seconds:
                self._fetch(issuer, cache, now, discovery=True)
            elif (
                kid is not None
                and not _has_kid(cache.keys, kid)
                and now - max(cache.fetched_at, cache.refreshed_at) >= self._settings.refresh_interval_seconds
            ):
                cache.refreshed_at = now
                self._fetch(issuer, cache, now, discovery=False)
            if cache.keys is None:
                raise TokenRejected("the issuer's keys cannot be fetched")
            if kid is not None and not _has_kid(cache.keys, kid):
                raise TokenRejected("unknown signing key (kid)")
            return cache.keys

    def _fetch(self, issuer: str, cache: _IssuerCache, now: float, *, discovery: bool) -> None:
        try:
            if discovery or cache.discovery is None:
                document = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
                if document.get("issuer") != issuer:
                    raise TokenRejected("the discovery document names another issuer")
                if not isinstance(document.get("jwks_uri"), str):
                    raise TokenRejected("the discovery document has no jwks_uri")
                cache.discovery = document
            jwks_uri = str(cache.discovery["jwks_uri"])
            cache.keys = _public_keys(self._get_json(jwks_uri))
            cache.fetched_at = now
        except TokenRejected:
            if cache.keys is None:
                raise
            log.warning("OIDC issuer %s: refresh failed; keeping the keys fetched before", issuer)
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            log.warning("OIDC issuer %s: fetching keys failed: %s", issuer, type(exc).__name__)
            if cache.keys is None:
                raise TokenRejected("the issuer's keys cannot be fetched") from None

    def _client(self) -> httpx.Client:
        if self._http is None:
            timeout = self._settings.timeout_seconds
            self._http = httpx.Client(timeout=httpx.Timeout(timeout, connect=timeout), follow_redirects=False)
        return self._http

    def _get_json(self, url: str) -> dict[str, Any]:
        with self._client().stream("GET", url, headers={"accept": "application/json"}) as response:
            response.raise_for_status()
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise ValueError("document too large")
        document = json.loads(bytes(body))
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        return document


def _peek(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims of a JWS before verification: only to choose the issuer and the key."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
        raise TokenRejected("not a token of acceptable size")
    try:
        obj = jws.extract_compact(token.encode("ascii"))
        header = obj.headers()
        claims = json.loads(obj.payload or b"")
    except (JoseError, ValueError, UnicodeError):
        raise TokenRejected("malformed") from None
    if not isinstance(claims, dict):
        raise TokenRejected("malformed claims")
    return dict(header), claims


def _audiences(claims: dict[str, Any]) -> set[str]:
    aud = claims.get("aud")
    if isinstance(aud, str):
        return {aud}
    if isinstance(aud, list):
        return {a for a in aud if isinstance(a, str)}
    return set()


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys)


def _public_keys(document: dict[str, Any]) -> KeySet:
    """The signature keys of a JWKS: public-key types only (an ``oct`` key is never trusted)."""
    entries: Iterable[Any] = document.get("keys") or []
    usable = [
        k
        for k in entries
        if isinstance(k, dict) and k.get("kty") in _PUBLIC_KEY_TYPES and k.get("use", "sig") == "sig"
        and "d" not in k
    ]
    return KeySet.import_key_set({"keys": usable})
