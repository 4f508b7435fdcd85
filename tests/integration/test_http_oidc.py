"""R15/R21/R22 through a real ``ledger serve`` (uvicorn) and the real OpenID provider (idp/).

ID tokens come from the provider's authorization-code flow with PKCE; the server trusts the operator
issuer (and the short-lived one) through ``LEDGER_OIDC_ISSUERS`` and a customer's own issuer once its
admin ran ``ConfigureSso``. The only tokens made here are the forged ones, all answered 401.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from tests.kit.commands import order
from tests.kit.http import Client, Server, create_key, ledger_cli, without_actor
from tests.kit.idp import SHORT_TTL, Idp
from tests.kit.idp import idp as idp  # the session fixture

pytestmark = pytest.mark.integration

_n = itertools.count(1)


@pytest.fixture(scope="module")
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, idp: Idp) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("http-oidc")
    if request.config.getoption("--backend") == "postgres":
        from tests.kit.pg import fresh_database_url

        db = fresh_database_url()
    else:
        db = str(tmp / "ledger.db")
    ledger_cli(db, "api-key", "list")
    env = {"LEDGER_OIDC_ISSUERS": idp.operator_settings("operator", "shortlived"), "LEDGER_OIDC_LEEWAY": "0"}
    srv = Server(db, env=env, log=tmp / "serve.log").start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def ops(server: Server) -> Iterator[Client]:
    client = Client(server.url, create_key(server.db, "ops-oidc", "--role", "ops"))
    yield client
    client.close()


def as_token(server: Server, token: str) -> Client:
    return Client(server.url, token)


def new_customer(ops: Client) -> dict[str, Any]:
    """A customer placed by ops; its end-customer admin has a pending invitation."""
    company = f"Oidc{next(_n)}x{uuid.uuid4().hex[:6]}"
    domain = f"{company.lower()}.example"
    placed_now = without_actor(order(po=f"PO-{company}", company=company, email=f"admin@{domain}"))
    del placed_now["at"]  # now: the invitation is pending (valid 30 days, R15)
    placed = ops.ok(placed_now)
    return {"customer_id": placed["customer_id"], "account_id": placed["account_id"], "domain": domain,
            "admin": f"admin@{domain}", "token": placed["invitation"]["token"]}


def history(ops: Client, cid: str) -> list[dict[str, Any]]:
    response = ops.get(f"/v1/customers/{cid}/history", limit=500)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def signed_in_admin(server: Server, ops: Client, idp: Idp) -> tuple[dict[str, Any], Client]:
    customer = new_customer(ops)
    idp.operator.add_user(customer["admin"].upper())  # the IdP spells the e-mail in capitals
    admin = as_token(server, idp.operator.login(customer["admin"].upper()))
    admin.ok({"command": "AcceptInvitation", "token": customer["token"]})
    return customer, admin


def room(cid: str, aid: str, name: str) -> dict[str, Any]:
    return {"command": "AddRoom", "customer_id": cid, "account_id": aid, "name": name, "site": "HQ", "country": "US"}


# --- the principal is the verified e-mail ------------------------------------------------------------


def test_r21_an_id_token_principals_commands_record_the_email_as_actor(server: Server, ops: Client, idp: Idp) -> None:
    customer, admin = signed_in_admin(server, ops, idp)
    cid = customer["customer_id"]
    added = admin.ok(room(cid, customer["account_id"], "Board Room"))
    assert added["room_id"]
    actors = {(row["type"], row["actor"]) for row in history(ops, cid)}
    assert ("InvitationAccepted", customer["admin"]) in actors
    assert ("RoomAdded", customer["admin"]) in actors
    listed = admin.get("/v1/customers")
    assert listed.status_code == 200
    assert [c["customer_id"] for c in listed.json()] == [cid]


def test_r15_r22_a_forwarded_invitation_fails_even_with_a_valid_token(server: Server, ops: Client, idp: Idp) -> None:
    customer = new_customer(ops)
    before = len(history(ops, customer["customer_id"]))
    colleague = as_token(server, idp.login(f"colleague@{customer['domain']}"))
    response = colleague.command({"command": "AcceptInvitation", "token": customer["token"]})
    assert response.status_code == 403, response.text
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert (body["code"], body["rule"]) == ("invitation_not_for_you", "R15")
    assert len(history(ops, customer["customer_id"])) == before
    # the invited person's own token still works afterwards
    as_token(server, idp.login(customer["admin"])).ok({"command": "AcceptInvitation", "token": customer["token"]})


# --- rejected tokens: 401 and nothing recorded ----------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    return json.loads(base64.urlsafe_b64decode(head + "==")), json.loads(base64.urlsafe_b64decode(body + "=="))


def forged(idp: Idp, kind: str, email: str) -> str:
    """A token the provider did not issue (or one it issued, that this server must not accept)."""
    if kind == "unverified_email":
        idp.operator.add_user(email, verified=False)
        return idp.operator.login(email)
    if kind == "wrong_audience":
        return idp.login(email, client_id=idp.operator.other_client_id)
    if kind == "untrusted_issuer":
        return idp.login(email, "globex")
    real = idp.login(email)
    header, claims = parts(real)
    if kind == "wrong_key":
        return jwt.encode({"alg": "RS256", "kid": header["kid"]}, claims, RSAKey.generate_key(2048))
    if kind == "alg_none":
        return ".".join([b64(json.dumps({"alg": "none"}).encode()), b64(json.dumps(claims).encode()), ""])
    if kind == "hs256_public_key":
        jwks = httpx.get(idp.operator.issuer + "/jwks").json()
        pem = KeySet.import_key_set(jwks).get_by_kid(header["kid"]).as_pem(private=False)  # type: ignore[attr-defined]
        signing_input = ".".join([b64(json.dumps({"alg": "HS256", "kid": header["kid"]}).encode()),
                                  b64(json.dumps(claims).encode())])
        return signing_input + "." + b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    if kind == "tampered":
        head, _, signature = real.split(".")
        return ".".join([head, b64(json.dumps({**claims, "email": "ops@select.example"}).encode()), signature])
    raise ValueError(kind)


KINDS = ["wrong_key", "alg_none", "hs256_public_key", "tampered", "wrong_audience", "untrusted_issuer",
         "unverified_email"]


@pytest.mark.parametrize("kind", KINDS)
def test_r21_forged_or_untrusted_tokens_are_401_and_record_nothing(
    server: Server, ops: Client, idp: Idp, kind: str
) -> None:
    customer, _admin = signed_in_admin(server, ops, idp)
    cid = customer["customer_id"]
    before = len(history(ops, cid))
    client = as_token(server, forged(idp, kind, customer["admin"]))
    response = client.command(room(cid, customer["account_id"], "Forged Room"))
    assert response.status_code == 401, (kind, response.text)
    body = response.json()
    assert body["status"] == 401 and body["rule"] == "R21"
    assert client.get(f"/v1/customers/{cid}/rooms").status_code == 401
    assert len(history(ops, cid)) == before


def test_r21_an_expired_token_is_401(server: Server, ops: Client, idp: Idp) -> None:
    customer = new_customer(ops)
    token = idp.login(customer["admin"], "shortlived")
    fresh = as_token(server, token)
    assert fresh.ok({"command": "AcceptInvitation", "token": customer["token"]})
    time.sleep(SHORT_TTL + 1.5)
    response = fresh.command(room(customer["customer_id"], customer["account_id"], "Late Room"))
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "invalid_token"


# --- per-customer SSO through HTTP ----------------------------------------------------------------------


def test_r22_a_customer_issuers_token_acts_only_on_the_customer_that_configured_it(
    server: Server, ops: Client, idp: Idp
) -> None:
    a, a_admin = signed_in_admin(server, ops, idp)
    b, b_admin = signed_in_admin(server, ops, idp)
    it = f"it@{a['domain']}"
    # the same person is a user of both customers (invited by each admin)
    for customer, admin in ((a, a_admin), (b, b_admin)):
        invited = admin.ok({"command": "InviteUser", "customer_id": customer["customer_id"], "email": it,
                            "role": "admin"})
        customer["it_token"] = invited["invitation"]["token"]
    # before A trusts its IdP, that IdP's tokens are 401
    assert as_token(server, idp.login(it, "acme")).get("/v1/customers").status_code == 401

    configured = a_admin.ok({"command": "ConfigureSso", "customer_id": a["customer_id"], "issuer": idp["acme"].issuer,
                             "audience": idp["acme"].client_id, "allowed_domains": [a["domain"]]})
    assert configured["customer_id"] == a["customer_id"]
    sso = as_token(server, idp.login(it, "acme"))

    sso.ok({"command": "AcceptInvitation", "token": a["it_token"]})
    refused = sso.command({"command": "AcceptInvitation", "token": b["it_token"]})
    assert refused.status_code == 403, refused.text
    assert [c["customer_id"] for c in sso.get("/v1/customers").json()] == [a["customer_id"]]
    assert sso.ok(room(a["customer_id"], a["account_id"], "SSO Room"))["room_id"]
    assert sso.get(f"/v1/customers/{b['customer_id']}/rooms").status_code == 404
    before_b = len(history(ops, b["customer_id"]))
    on_b = sso.command(room(b["customer_id"], b["account_id"], "Not Yours"))
    assert on_b.status_code == 404, on_b.text
    assert len(history(ops, b["customer_id"])) == before_b
    assert ("RoomAdded", it) in {(r["type"], r["actor"]) for r in history(ops, a["customer_id"])}
    access = a_admin.get(f"/v1/customers/{a['customer_id']}/access").json()[0]["sso"]
    assert access == {"issuer": idp["acme"].issuer, "audience": idp["acme"].client_id,
                      "allowed_domains": [a["domain"]]}

    # the operator's issuer vouching for the same e-mail acts on B (where it was invited)
    operator = as_token(server, idp.login(it))
    operator.ok({"command": "AcceptInvitation", "token": b["it_token"]})

    # a domain A does not allow: 401 even from A's issuer
    assert as_token(server, idp.login(f"it@{b['domain']}", "acme")).get("/v1/customers").status_code == 401

    a_admin.ok({"command": "RemoveSso", "customer_id": a["customer_id"]})
    assert sso.get("/v1/customers").status_code == 401


def test_r17_r22_only_the_customers_own_admin_or_ops_configure_sso(server: Server, ops: Client, idp: Idp) -> None:
    customer, admin = signed_in_admin(server, ops, idp)
    cid = customer["customer_id"]
    invited = admin.ok({"command": "InviteUser", "customer_id": cid, "email": f"viewer@{customer['domain']}",
                        "role": "viewer"})
    viewer = as_token(server, idp.login(f"viewer@{customer['domain']}"))
    viewer.ok({"command": "AcceptInvitation", "token": invited["invitation"]["token"]})
    body = {"command": "ConfigureSso", "customer_id": cid, "issuer": idp["acme"].issuer,
            "audience": idp["acme"].client_id, "allowed_domains": [customer["domain"]]}
    assert viewer.command(body).status_code == 403
    secret = admin.command({**body, "client_secret": "never-in-an-event"})
    assert secret.status_code == 422 and secret.json()["field"] == "client_secret"
    assert "never-in-an-event" not in secret.text
    assert ops.ok(body)["customer_id"] == cid
