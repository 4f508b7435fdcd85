"""R16-R18 for principals with grants (API keys, SSO-restricted users), and the bearer seam (R21, R23)."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID, uuid4

import pytest

from aggregates.errors import Forbidden
from aggregates.partner import Partner
from commands import auth
from commands.auth import Principal
from ledger.auth.oidc import TokenRejected, VerifiedIdentity
from ledger.auth.principal import Authenticator, Unauthenticated, looks_like_id_token


@dataclass
class Facts:
    id: UUID
    users: dict[str, str] = field(default_factory=dict)
    partners: dict[str, str] = field(default_factory=dict)


def no_partners(partner_id: str) -> Partner | None:
    return None


ACME = Facts(uuid4(), users={"jane@acme.example": "admin", "vic@acme.example": "viewer"}, partners={"AVP": "admin"})
GLOBEX = Facts(uuid4(), users={"hank@globex.example": "admin"})


def test_r18_ops_key_acts_as_ops_but_records_its_name() -> None:
    key = Principal.ops_key("nightly")
    assert key.actor == "key:nightly"
    assert auth.role_of(key, ACME, no_partners) == "ops"
    auth.require_ops(key, "PlaceOrder")


@pytest.mark.parametrize("role", ["admin", "viewer"])
def test_r17_customer_key_holds_its_role_on_its_customer_only(role: str) -> None:
    key = Principal.customer_key("mdm", ACME.id, role)
    assert auth.role_of(key, ACME, no_partners) == role
    assert auth.role_of(key, GLOBEX, no_partners) is None
    with pytest.raises(Forbidden) as refused:
        auth.require_manager(key, GLOBEX, no_partners, "AddRoom")
    assert refused.value.code == auth.NO_ACCESS


def test_r16_customer_viewer_key_may_not_manage() -> None:
    with pytest.raises(Forbidden) as refused:
        auth.require_manager(Principal.customer_key("ro", ACME.id, "viewer"), ACME, no_partners, "AddRoom")
    assert refused.value.rule == "R16" and refused.value.code == "forbidden"


def test_r18_customer_key_is_not_ops() -> None:
    with pytest.raises(Forbidden):
        auth.require_ops(Principal.customer_key("mdm", ACME.id, "admin"), "PlaceOrder")


def test_r17_partner_key_holds_the_delegated_role_and_never_owner_rights() -> None:
    key = Principal.partner_key("avp-int", "avp")  # partner ids compare case-insensitively
    assert auth.role_of(key, ACME, no_partners) == "admin"
    assert auth.role_of(key, GLOBEX, no_partners) is None
    assert not auth.is_owner_admin(key, ACME)
    with pytest.raises(Forbidden) as refused:
        auth.require_owner_admin(key, ACME, "RevokePartner", no_partners)
    assert refused.value.code == "forbidden"
    with pytest.raises(Forbidden) as hidden:
        auth.require_owner_admin(key, GLOBEX, "RevokePartner", no_partners)
    assert hidden.value.code == auth.NO_ACCESS


def test_r17_customer_admin_key_is_an_owner_admin_of_its_customer() -> None:
    assert auth.is_owner_admin(Principal.customer_key("k", ACME.id, "admin"), ACME)
    assert not auth.is_owner_admin(Principal.customer_key("k", ACME.id, "viewer"), ACME)
    assert not auth.is_owner_admin(Principal.customer_key("k", ACME.id, "admin"), GLOBEX)


def test_r22_sso_restricted_user_acts_only_on_trusting_customers() -> None:
    both = Facts(uuid4(), users={"jane@acme.example": "admin"})
    jane = Principal.user("Jane@Acme.example", only_customers=frozenset({ACME.id}))
    assert jane.actor == "jane@acme.example"
    assert auth.role_of(jane, ACME, no_partners) == "admin"
    assert auth.role_of(jane, both, no_partners) is None
    assert auth.role_of(Principal.user("jane@acme.example"), both, no_partners) == "admin"


def test_r18_actor_strings_keep_their_meaning() -> None:
    assert auth.role_of("ops", ACME, no_partners) == "ops"
    assert auth.role_of("vic@acme.example", ACME, no_partners) == "viewer"
    assert auth.role_of("key:whatever", ACME, no_partners) is None  # a key's name alone grants nothing


class _Keys:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def principal_for(self, key: str) -> Principal:
        self.seen.append(key)
        if key == "lsk_good":
            return Principal.ops_key("good")
        raise Unauthenticated("authorization: bad key (R23)", rule="R23", field="authorization")


class _Verifier:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def verify(self, token: str) -> VerifiedIdentity:
        self.seen.append(token)
        if token.startswith("good"):
            return VerifiedIdentity(email="Jane@Acme.example", issuer="https://idp", subject="1", audience="a",
                                    expires_at=0, customers=frozenset({str(ACME.id)}))
        raise TokenRejected("forged")


def test_r21_three_part_credentials_go_to_the_verifier_others_to_api_keys() -> None:
    keys, verifier = _Keys(), _Verifier()
    authn = Authenticator(verifier, keys)
    jane = authn.authenticate("Bearer good.eyJ4IjoxfQ.c2ln")
    assert jane.email == "jane@acme.example" and jane.only_customers == frozenset({ACME.id})
    assert authn.authenticate("bearer lsk_good").actor == "key:good"
    assert verifier.seen == ["good.eyJ4IjoxfQ.c2ln"] and keys.seen == ["lsk_good"]
    with pytest.raises(TokenRejected):
        authn.authenticate("Bearer bad.eyJ4IjoxfQ.c2ln")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic dXNlcjpwYXNz", "Bearer  "])
def test_r21_missing_or_non_bearer_credentials_are_unauthenticated(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        Authenticator(_Verifier(), _Keys()).authenticate(header)


def test_r21_jwt_shape() -> None:
    assert looks_like_id_token("eyJh.eyJi.c2ln")
    assert looks_like_id_token("eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.")
    assert not looks_like_id_token("lsk_0123456789abcdef_secret")
    assert not looks_like_id_token("a.b")
    assert not looks_like_id_token("a.b.c.d")
