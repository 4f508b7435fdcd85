"""R21/R22: ID tokens from the real OpenID provider (idp/, npm oidc-provider) verified by ledger.auth.oidc.

Valid tokens come only from the provider's authorization-code flow with PKCE. The only tokens signed
here are the forged ones of the negative tests (wrong key, ``alg: none``, HS256 keyed with the public
key, tampered claims, made-up key ids).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from ledger.auth.oidc import OidcVerifier, SsoTrust, TokenRejected, VerifiedIdentity
from ledger.config import OidcIssuer, OidcSettings
from tests.kit.idp import Idp, IdpRefused, start_idp
from tests.kit.idp import idp as idp  # the session fixture

pytestmark = [pytest.mark.integration, pytest.mark.backend_independent]


class Directory:
    """Customers' SSO configurations as the read side would publish them."""

    def __init__(self, trusts: Sequence[SsoTrust] = ()) -> None:
        self.trusts = list(trusts)

    def sso_for_issuer(self, issuer: str) -> Sequence[SsoTrust]:
        return [t for t in self.trusts if t.issuer == issuer]


def operator_settings(idp: Idp, **overrides: object) -> OidcSettings:
    values: dict[str, object] = {
        "issuers": (OidcIssuer(issuer=idp.operator.issuer, audience=idp.operator.client_id),),
        "timeout_seconds": 20.0,
    }
    values.update(overrides)
    return OidcSettings(**values)  # type: ignore[arg-type]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, object], dict[str, object]]:
    head, body, _ = token.split(".")
    return (json.loads(base64.urlsafe_b64decode(head + "==")), json.loads(base64.urlsafe_b64decode(body + "==")))


def rejected(verifier: OidcVerifier, token: str) -> str:
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    assert info.value.rule == "R21" and info.value.code == "invalid_token"
    assert len(token) < 8 or token not in str(info.value)
    return info.value.reason


# --- valid tokens from the real flow --------------------------------------------------------------


def test_r21_a_real_id_token_is_verified_and_the_principal_is_the_lower_cased_email(idp: Idp) -> None:
    idp.operator.add_user("Dana.Admin@Example.COM")
    token = idp.operator.login("Dana.Admin@Example.COM")
    header, claims = parts(token)
    assert header["alg"] == "RS256" and claims["email"] == "Dana.Admin@Example.COM"

    identity = OidcVerifier(operator_settings(idp)).verify(token)

    assert identity == VerifiedIdentity(
        email="dana.admin@example.com",
        issuer=idp.operator.issuer,
        subject=str(claims["sub"]),
        audience=idp.operator.client_id,
        expires_at=int(str(claims["exp"])),
        customers=None,
    )
    assert identity.may_act_on("any-customer")


def test_r21_the_provider_requires_pkce(idp: Idp) -> None:
    idp.operator.add_user("nopkce@example.com")
    with pytest.raises(IdpRefused) as info:
        idp.operator.authorization_code("nopkce@example.com", pkce=False)
    assert info.value.error == "invalid_request"


def test_r21_a_code_redeemed_without_its_verifier_is_refused(idp: Idp) -> None:
    idp.operator.add_user("verifier@example.com")
    code, _verifier, _nonce = idp.operator.authorization_code("verifier@example.com")
    with pytest.raises(IdpRefused) as info:
        idp.operator.redeem(code, "a-different-verifier-" + "x" * 30)
    assert info.value.error == "invalid_grant"


def test_r21_a_wrong_password_gets_no_token(idp: Idp) -> None:
    idp.operator.add_user("careful@example.com")
    with pytest.raises(IdpRefused) as info:
        idp.operator.login("careful@example.com", password="guess")
    assert info.value.error == "login_failed"


# --- rejected tokens ------------------------------------------------------------------------------


def test_r21_an_unverified_email_is_rejected(idp: Idp) -> None:
    idp.operator.add_user("unverified@example.com", verified=False)
    token = idp.operator.login("unverified@example.com")
    assert parts(token)[1]["email_verified"] is False
    assert rejected(OidcVerifier(operator_settings(idp)), token) == "the e-mail is not verified"


def test_r21_an_expired_token_is_rejected_beyond_the_leeway(idp: Idp) -> None:
    token = idp.login("late@example.com")
    exp = int(str(parts(token)[1]["exp"]))
    within = OidcVerifier(operator_settings(idp, leeway_seconds=60), clock=lambda: exp + 30)
    assert within.verify(token).email == "late@example.com"
    after = OidcVerifier(operator_settings(idp, leeway_seconds=60), clock=lambda: exp + 61)
    assert rejected(after, token) == "expired"


def test_r21_a_token_issued_in_the_future_is_rejected(idp: Idp) -> None:
    token = idp.login("early@example.com")
    iat = int(str(parts(token)[1]["iat"]))
    verifier = OidcVerifier(operator_settings(idp, leeway_seconds=60), clock=lambda: iat - 120)
    assert rejected(verifier, token).startswith("invalid claim")


def test_r21_a_token_for_another_audience_is_rejected(idp: Idp) -> None:
    token = idp.login("aud@example.com")
    settings = operator_settings(idp, issuers=(OidcIssuer(issuer=idp.operator.issuer, audience="another-app"),))
    assert rejected(OidcVerifier(settings), token).startswith("invalid claim")


def test_r21_a_token_from_an_untrusted_issuer_is_rejected_without_fetching_anything(idp: Idp) -> None:
    token = idp.login("someone@acme.example", "acme")
    fetched: list[str] = []
    client = httpx.Client(event_hooks={"request": [lambda r: fetched.append(str(r.url))]})
    assert rejected(OidcVerifier(operator_settings(idp), http=client), token) == "the issuer is not trusted"
    assert fetched == []


def test_r21_a_token_claiming_the_operator_issuer_but_signed_by_another_issuer_is_rejected(idp: Idp) -> None:
    real = idp.login("mallory@example.com", "acme")
    _header, claims = parts(real)
    # acme's signature over claims rewritten to name the operator issuer and audience
    forged_claims = {**claims, "iss": idp.operator.issuer, "aud": idp.operator.client_id}
    head, _, signature = real.split(".")
    forged = ".".join([head, b64(json.dumps(forged_claims).encode()), signature])
    assert rejected(OidcVerifier(operator_settings(idp)), forged) == "unknown signing key (kid)"


def test_r21_tampered_claims_break_the_signature(idp: Idp) -> None:
    real = idp.login("viewer@example.com")
    head, _, signature = real.split(".")
    claims = {**parts(real)[1], "email": "ops-boss@example.com"}
    forged = ".".join([head, b64(json.dumps(claims).encode()), signature])
    assert rejected(OidcVerifier(operator_settings(idp)), forged).startswith("bad signature")


def test_r21_a_token_signed_with_another_key_under_the_issuers_kid_is_rejected(idp: Idp) -> None:
    header, claims = parts(idp.login("forger@example.com"))
    forged = jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, RSAKey.generate_key(2048))
    assert rejected(OidcVerifier(operator_settings(idp)), forged).startswith("bad signature")


def test_r21_alg_none_is_rejected(idp: Idp) -> None:
    header, claims = parts(idp.login("none@example.com"))
    unsigned = ".".join([b64(json.dumps({"alg": "none", "kid": header["kid"]}).encode()),
                         b64(json.dumps(claims).encode()), ""])
    assert rejected(OidcVerifier(operator_settings(idp)), unsigned) == "algorithm 'none' is not allowed"


def test_r21_hs256_keyed_with_the_issuers_public_key_is_rejected(idp: Idp) -> None:
    header, claims = parts(idp.login("confused@example.com"))
    jwks = httpx.get(idp.operator.issuer + "/jwks").json()
    public = KeySet.import_key_set(jwks).get_by_kid(str(header["kid"]))
    pem = public.as_pem(private=False)  # type: ignore[attr-defined]
    signing_input = ".".join([b64(json.dumps({"alg": "HS256", "kid": header["kid"]}).encode()),
                              b64(json.dumps(claims).encode())])
    mac = hmac.new(pem, signing_input.encode(), hashlib.sha256).digest()
    assert rejected(OidcVerifier(operator_settings(idp)), signing_input + "." + b64(mac)) == (
        "algorithm 'HS256' is not allowed"
    )


@pytest.mark.parametrize("garbage", ["", "abc", "a.b.c", "x" * 20000, "e30.e30.", "..."])
def test_r21_malformed_credentials_are_rejected(idp: Idp, garbage: str) -> None:
    rejected(OidcVerifier(operator_settings(idp)), garbage)


# --- per-customer SSO (R22) -----------------------------------------------------------------------


def sso(idp: Idp, name: str, customer_id: str, *domains: str, audience: str | None = None) -> SsoTrust:
    return SsoTrust(
        customer_id=customer_id,
        issuer=idp[name].issuer,
        audience=audience or idp[name].client_id,
        allowed_domains=tuple(domains),
    )


def test_r22_a_customer_issuers_token_acts_only_on_the_customers_that_trust_it(idp: Idp) -> None:
    directory = Directory([sso(idp, "acme", "cust-a", "acme.example"), sso(idp, "globex", "cust-b", "globex.example")])
    verifier = OidcVerifier(operator_settings(idp), directory)

    from_a = verifier.verify(idp.login("It.Admin@ACME.example", "acme"))
    from_b = verifier.verify(idp.login("it@globex.example", "globex"))

    assert (from_a.email, from_a.issuer, from_a.customers) == ("it.admin@acme.example", idp["acme"].issuer,
                                                                 frozenset({"cust-a"}))
    assert from_a.may_act_on("cust-a") and not from_a.may_act_on("cust-b")
    assert from_b.may_act_on("cust-b") and not from_b.may_act_on("cust-a")


def test_r22_an_email_domain_the_customer_does_not_allow_is_rejected(idp: Idp) -> None:
    verifier = OidcVerifier(operator_settings(idp), Directory([sso(idp, "acme", "cust-a", "acme.example")]))
    token = idp.login("contractor@gmail.example", "acme")
    assert rejected(verifier, token).startswith("the e-mail domain is not allowed")
    # a subdomain is another domain
    assert rejected(verifier, idp.login("x@eu.acme.example", "acme")).startswith("the e-mail domain")


def test_r22_the_customers_audience_must_match(idp: Idp) -> None:
    directory = Directory([sso(idp, "acme", "cust-a", "acme.example", audience="some-other-client")])
    token = idp.login("it@acme.example", "acme")
    assert rejected(OidcVerifier(operator_settings(idp), directory), token).startswith("invalid claim")


def test_r22_an_issuer_trusted_by_two_customers_acts_on_those_allowing_the_domain(idp: Idp) -> None:
    directory = Directory([
        sso(idp, "acme", "cust-a", "acme.example"),
        sso(idp, "acme", "cust-a2", "acme.example", "acme-labs.example"),
        sso(idp, "acme", "cust-c", "other.example"),
    ])
    identity = OidcVerifier(operator_settings(idp), directory).verify(idp.login("lab@acme-labs.example", "acme"))
    assert identity.customers == frozenset({"cust-a2"})


def test_r22_once_sso_is_removed_the_issuers_tokens_are_rejected(idp: Idp) -> None:
    directory = Directory([sso(idp, "acme", "cust-a", "acme.example")])
    verifier = OidcVerifier(operator_settings(idp), directory)
    token = idp.login("it@acme.example", "acme")
    assert verifier.verify(token).customers == frozenset({"cust-a"})
    directory.trusts.clear()
    assert rejected(verifier, token) == "the issuer is not trusted"


def test_r21_the_operator_issuer_is_trusted_for_every_customer_even_beside_sso(idp: Idp) -> None:
    directory = Directory([sso(idp, "acme", "cust-a", "acme.example")])
    identity = OidcVerifier(operator_settings(idp), directory).verify(idp.login("it@acme.example"))
    assert identity.customers is None and identity.may_act_on("cust-a") and identity.may_act_on("cust-b")


# --- keys: cache, rotation, rate limit, timeouts ---------------------------------------------------


@pytest.fixture
def own_idp(tmp_path: Path) -> Iterator[Idp]:
    """A provider of this test alone (its keys are rotated)."""
    provider = start_idp(tmp_path / "idp")
    try:
        yield provider
    finally:
        provider.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_r21_jwks_is_cached_and_an_unknown_kid_after_rotation_refreshes_it_once(own_idp: Idp) -> None:
    fetched: list[str] = []
    client = httpx.Client(timeout=20.0, event_hooks={"request": [lambda r: fetched.append(r.url.path)]})
    monotonic = Clock()
    verifier = OidcVerifier(
        operator_settings(own_idp, refresh_interval_seconds=30, cache_seconds=600), http=client, monotonic=monotonic
    )
    first = own_idp.login("rotating@example.com")
    verifier.verify(first)
    verifier.verify(first)
    assert fetched == ["/.well-known/openid-configuration", "/jwks"]

    own_idp.rotate_keys()
    second = own_idp.login("rotating@example.com")
    assert parts(second)[0]["kid"] != parts(first)[0]["kid"]
    monotonic.now += 31
    assert verifier.verify(second).email == "rotating@example.com"
    assert fetched[2:] == ["/jwks"]
    assert verifier.verify(first).email == "rotating@example.com"  # the old key is still published
    assert len(fetched) == 3


def test_r21_made_up_key_ids_cost_at_most_one_fetch_per_interval(own_idp: Idp) -> None:
    fetched: list[str] = []
    client = httpx.Client(timeout=20.0, event_hooks={"request": [lambda r: fetched.append(r.url.path)]})
    monotonic = Clock()
    verifier = OidcVerifier(operator_settings(own_idp, refresh_interval_seconds=30), http=client, monotonic=monotonic)
    _header, claims = parts(own_idp.login("flood@example.com"))
    key = RSAKey.generate_key(2048)

    def forged(kid: str) -> str:
        return jwt.encode({"alg": "RS256", "kid": kid}, claims, key)

    assert rejected(verifier, forged("made-up-1")) == "unknown signing key (kid)"
    assert fetched == ["/.well-known/openid-configuration", "/jwks"]
    monotonic.now += 31
    for n in range(2, 12):
        assert rejected(verifier, forged(f"made-up-{n}")) == "unknown signing key (kid)"
    assert fetched[2:] == ["/jwks"]
    monotonic.now += 31
    assert rejected(verifier, forged("made-up-99")) == "unknown signing key (kid)"
    assert fetched[3:] == ["/jwks"]


def test_r21_the_cache_expires_and_discovery_is_fetched_again(own_idp: Idp) -> None:
    fetched: list[str] = []
    client = httpx.Client(timeout=20.0, event_hooks={"request": [lambda r: fetched.append(r.url.path)]})
    monotonic = Clock()
    verifier = OidcVerifier(operator_settings(own_idp, cache_seconds=600), http=client, monotonic=monotonic)
    token = own_idp.login("cached@example.com")
    verifier.verify(token)
    monotonic.now += 601
    verifier.verify(token)
    assert fetched == ["/.well-known/openid-configuration", "/jwks"] * 2


def test_r21_keys_stay_usable_when_the_issuer_is_down_after_a_fetch(own_idp: Idp) -> None:
    monotonic = Clock()
    verifier = OidcVerifier(operator_settings(own_idp, cache_seconds=600), monotonic=monotonic)
    token = own_idp.login("outage@example.com")
    verifier.verify(token)
    own_idp.stop()
    monotonic.now += 601
    assert verifier.verify(token).email == "outage@example.com"


@pytest.fixture
def silent_issuer() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


def test_r21_a_silent_issuer_times_out_and_the_token_is_rejected(silent_issuer: str) -> None:
    claims = {"iss": silent_issuer, "aud": "portal", "sub": "s", "email": "a@b.example", "email_verified": True,
              "iat": int(time.time()), "exp": int(time.time()) + 300}
    token = jwt.encode({"alg": "RS256", "kid": "k"}, claims, RSAKey.generate_key(2048))
    settings = OidcSettings(issuers=(OidcIssuer(issuer=silent_issuer, audience="portal"),), timeout_seconds=1.0)
    verifier = OidcVerifier(settings)
    with pytest.raises(TokenRejected) as info:
        verifier.verify(token)
    assert info.value.reason == "the issuer's keys cannot be fetched"


def test_r21_a_discovery_document_naming_another_issuer_is_not_trusted(idp: Idp) -> None:
    # the provider's discovery document names http://127.0.0.1:<port>; trusting "localhost" is another issuer
    alias = idp.operator.issuer.replace("127.0.0.1", "localhost")
    _header, claims = parts(idp.login("alias@example.com"))
    token = jwt.encode({"alg": "RS256", "kid": "k"}, {**claims, "iss": alias}, RSAKey.generate_key(2048))
    settings = OidcSettings(issuers=(OidcIssuer(issuer=alias, audience=idp.operator.client_id),))
    assert rejected(OidcVerifier(settings), token) == "the discovery document names another issuer"
